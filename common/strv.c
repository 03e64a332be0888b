/* Implementation of strv.h. */
#include <stdlib.h>
#include <string.h>

#include "strv.h"

char **strv_free(char **l) {
        for (char **p = l; p && *p; p++)
                free(*p);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

char **strv_concat(char *const *a, char *const *b) {
        size_t na = strv_length(a), nb = strv_length(b);
        char **l = calloc(na + nb + 1, sizeof *l);

        if (!l)
                return NULL;
        for (size_t i = 0; i < na + nb; i++) {
                l[i] = strdup(i < na ? a[i] : b[i - na]);
                if (!l[i])
                        return strv_free(l);
        }
        return l;
}
