/* See shebang.h.  shebang_parse() follows fs/binfmt_script.c (Linux 5.1
 * on) step by step, so a line the kernel runs differently from how it
 * reads here is a bug of this file's. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "shebang.h"

static bool blank(char c) {
        return c == ' ' || c == '\t';
}

/* The first byte in [p, end) that is no blank, or NULL. */
static const char *skip_blanks(const char *p, const char *end) {
        for (; p < end; p++)
                if (!blank(*p))
                        return p;
        return NULL;
}

/* The first blank or NUL in [p, end), or NULL. */
static const char *find_terminator(const char *p, const char *end) {
        for (; p < end; p++)
                if (blank(*p) || *p == '\0')
                        return p;
        return NULL;
}

int shebang_parse(const char *buf, size_t n, Shebang *ret) {
        char b[SHEBANG_BUF_SIZE] = {}; /* the kernel's buffer: zeros past a short file */
        const char *end = b + sizeof b - 1, *i_end, *name, *sep, *arg = NULL;

        memcpy(b, buf, MIN(n, sizeof b));
        if (b[0] != '#' || b[1] != '!')
                return 0;
        i_end = memchr(b, '\n', sizeof b);
        if (!i_end) {
                /* No newline: the line is the whole buffer, as long as the
                 * name ends in it (else it may be cut short).  Its last
                 * byte counts for that end (the kernel's loops include
                 * buf_end): a blank there, or the NUL after a file of
                 * SHEBANG_BUF_SIZE - 1 bytes, ends a name that fills the
                 * rest. */
                i_end = skip_blanks(b + 2, b + sizeof b);
                if (!i_end || !find_terminator(i_end, b + sizeof b))
                        return -ENOEXEC;
                i_end = end;
        }
        while (blank(i_end[-1]))
                i_end--;
        name = skip_blanks(b + 2, i_end);
        if (!name || name == i_end)
                return -ENOEXEC;
        sep = find_terminator(name, i_end);
        if (sep && *sep != '\0')
                arg = skip_blanks(sep, i_end);
        /* Each a C string in the kernel's buffer: a NUL ends it early.
         * An empty name (a NUL right after the blanks) the kernel tries
         * to open, and fails to (EACCES on 6.x). */
        if (*name == '\0')
                return -ENOEXEC;
        *ret = (Shebang){};
        memcpy(ret->interpreter, name, strnlen(name, (size_t)((sep ?: i_end) - name)));
        if (arg)
                memcpy(ret->arg, arg, strnlen(arg, (size_t)(i_end - arg)));
        return 1;
}

static bool is_env(const char *interpreter) {
        const char *base = strrchr(interpreter, '/');

        return streq(base ? base + 1 : interpreter, "env");
}

/* The command of an env -S string: its first word that is not NAME=VALUE,
 * when env would take it as it is written (no escape, variable, quote or
 * comment to expand, no option). */
static int split_string_program(const char *s, char *ret, size_t size) {
        for (;;) {
                size_t n;

                s += strspn(s, " \t");
                n = strcspn(s, " \t");
                if (n == 0 || s[0] == '-' || s[0] == '#' || strcspn(s, "\\$'\"") < n)
                        return 0;
                if (memchr(s, '=', n)) {
                        s += n;
                        continue;
                }
                if (n >= size)
                        return -ENAMETOOLONG;
                memcpy(ret, s, n);
                ret[n] = '\0';
                return 1;
        }
}

int shebang_env_program(const Shebang *s, char *ret, size_t size) {
        const char *split;
        size_t n;

        if (!is_env(s->interpreter) || s->arg[0] == '\0')
                return 0;
        split = startswith(s->arg, "-S") ?: startswith(s->arg, "--split-string=");
        if (split)
                return split_string_program(split, ret, size);
        /* One argument: an option, an assignment, or the program's name. */
        if (s->arg[0] == '-' || strchr(s->arg, '='))
                return 0;
        n = strlen(s->arg);
        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(ret, s->arg, n + 1);
        return 1;
}
