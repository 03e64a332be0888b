/* Decimal numbers, one convention for all of them: digits only (no blank
 * or sign before, nothing after), in 0..max, else -EINVAL with *ret
 * untouched.  From the command line, the configuration, query strings,
 * /proc and HTTP headers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* All of s. */
int parse_unsigned(const char *s, uint64_t max, uint64_t *ret);
/* The n bytes at s (a field inside a longer text). */
int parse_unsigned_span(const char *s, size_t n, uint64_t max, uint64_t *ret);
