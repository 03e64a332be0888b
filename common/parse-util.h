/* Numbers from the command line, the configuration and query strings. */
#pragma once

#include <stdint.h>

/* s as a decimal number in 0..max, all of s digits (no blank or sign
 * before, nothing after): 0, or -EINVAL (*ret untouched). */
int parse_unsigned(const char *s, uint64_t max, uint64_t *ret);
