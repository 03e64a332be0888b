/* Numbers from the command line and from query strings. */
#pragma once

#include <stdint.h>

/* s as a decimal number in 0..max, all of s (no sign, nothing after it):
 * 0, or -EINVAL. */
int parse_unsigned(const char *s, uint64_t max, uint64_t *ret);
