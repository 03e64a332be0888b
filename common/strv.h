/* NULL-terminated string lists that own their strings: the few helpers the
 * config key table, the service definitions and the display stack share
 * (each had its own copy). */
#pragma once

#include <stddef.h>

/* Frees the strings and the list; accepts NULL; returns NULL. */
char **strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
size_t strv_length(char *const *l);
/* Copies a followed by b (either may be NULL) into a new list; NULL on OOM. */
char **strv_concat(char *const *a, char *const *b);
