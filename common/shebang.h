/* A script's "#!" line as the kernel reads it (fs/binfmt_script.c), and
 * the program env(1) runs from one ("#!/usr/bin/env node"): what a
 * program that is a script needs besides itself to start.  Pure: the
 * caller reads the file's first SHEBANG_BUF_SIZE bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The kernel reads this much of a file to find its "#!" line
 * (BINPRM_BUF_SIZE). */
#define SHEBANG_BUF_SIZE 256

typedef struct Shebang {
        char interpreter[SHEBANG_BUF_SIZE]; /* as written: absolute, or relative to the cwd */
        char arg[SHEBANG_BUF_SIZE];         /* the one optional argument, blanks inside kept; "" none */
} Shebang;

/* The first n bytes of a file (n may be more than SHEBANG_BUF_SIZE; the
 * rest is not read, as the kernel does not; fewer is a short file).  1
 * and *ret when it starts with "#!" and names an interpreter; 0 when it
 * does not start with "#!" (not a script: another binary format);
 * -ENOEXEC when it does and the kernel fails it (no name, an empty one,
 * or, without a newline, a name that no blank or NUL in the
 * SHEBANG_BUF_SIZE bytes ends).  *ret is
 * written only on success.  As the kernel: the line ends at
 * '\n' or after SHEBANG_BUF_SIZE - 1 bytes; the name is what follows "#!"
 * and blanks (' ', '\t') up to a blank or NUL; the argument is the rest,
 * blanks around it dropped, up to a NUL. */
int shebang_parse(const char *buf, size_t n, Shebang *ret);

/* The program env(1) runs when s's interpreter is env ("/usr/bin/env"),
 * as env would look it up (on PATH when it has no '/'): 1 and the name in
 * ret; 0 when the interpreter is not env or when the program cannot be
 * told without running env (an option other than -S, a "$" or a quote in
 * a -S string, no program at all); -ENAMETOOLONG when ret is too small.
 * Without -S the whole argument is one name ("node --x" included), as the
 * kernel passes it; with "-S" (or "--split-string=") the first word that
 * is not NAME=VALUE. */
int shebang_env_program(const Shebang *s, char *ret, size_t size);
