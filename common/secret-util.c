/* Implementation of secret-util.h. */
#include <string.h>

#include "secret-util.h"

bool secret_equal(const char *given, size_t given_len, const char *expected) {
        size_t n = strlen(expected);
        volatile unsigned char diff = given_len != n;

        /* Walk the expected token's length whatever was given, reading the
         * given one cyclically, so neither content nor the position of the
         * first mismatch changes the time taken. */
        for (size_t i = 0; i < n; i++) {
                unsigned char g = given_len ? (unsigned char)given[i % given_len] : 0;
                diff |= g ^ (unsigned char)expected[i];
        }
        return n > 0 && diff == 0;
}
