/* Splitting a kernel command line as the kernel does (see cmdline-util.c). */
#pragma once

#include <stdbool.h>

/* Takes the next token from args (modified in place: NULs are written),
 * sets *param to its name and *val to what follows the first '=' (NULL when
 * there is none), and returns where the next token starts.  Loop while
 * *args; a bare "--" (param "--", val NULL) ends the kernel's part of the
 * line and is the caller's to check. */
char *cmdline_next_arg(char *args, char **param, char **val);
