/* Implementation of id-util.h. */
#include <string.h>

#include "id-util.h"

bool provider_id_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

bool session_id_is_valid(const char *s) {
        size_t n = s ? strnlen(s, SESSION_ID_MAX + 1) : 0;

        return n > 0 && n <= SESSION_ID_MAX &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}
