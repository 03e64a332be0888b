/* Saying which option getopt_long() refused without echoing what came
 * with it: "--token=..." is an option nobody has, and its value is a
 * secret all the same.  glibc's own message ("unrecognized option
 * '--token=...'") shows it, so callers set opterr = 0 and log this. */
#pragma once

#include <stddef.h>

/* After getopt_long() returned '?' (or ':'): "-x" for a short option, or
 * the long one as given up to its '=', written into buf (size > 0).
 * Returns buf. */
const char *getopt_refused(char *const *argv, char *buf, size_t size);
