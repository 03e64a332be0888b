/* Implementation of id-util.h. */
#include <string.h>

#include "id-util.h"

bool provider_id_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}
