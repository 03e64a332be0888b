/* Implementation of passwd-util.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "passwd-util.h"

#define PASSWD_FIELDS 7

void passwd_entry_done(PasswdEntry *e) {
        if (!e)
                return;
        free(e->home);
        free(e->shell);
        *e = (PasswdEntry){};
}

/* A uid or gid: decimal digits, no sign, no leading junk, below
 * (uint32_t)-1, which means "no id" to the kernel. */
static int parse_id(const char *s, size_t n, uint32_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 10)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (v >= UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

/* Splits line[0..n) at ':' into exactly PASSWD_FIELDS fields. */
static int split_fields(const char *line, size_t n, const char *f[PASSWD_FIELDS], size_t len[PASSWD_FIELDS]) {
        size_t k = 0, start = 0;

        for (size_t i = 0; i <= n; i++) {
                if (i < n && line[i] != ':')
                        continue;
                if (k == PASSWD_FIELDS)
                        return -EINVAL;
                f[k] = line + start;
                len[k++] = i - start;
                start = i + 1;
        }
        return k == PASSWD_FIELDS ? 0 : -EINVAL;
}

/* One entry as glibc reads it: its fields (f, len) and ids, or -EINVAL
 * for a line that names nobody (NIS compat, not 7 fields, a bad id). */
static int parse_entry(const char *line, size_t n, const char *f[PASSWD_FIELDS], size_t len[PASSWD_FIELDS],
                       uint32_t *ret_uid, uint32_t *ret_gid) {
        if (n == 0 || line[0] == '+' || line[0] == '-' || split_fields(line, n, f, len) < 0 ||
            parse_id(f[2], len[2], ret_uid) < 0 || parse_id(f[3], len[3], ret_gid) < 0)
                return -EINVAL;
        return 0;
}

static int parse_line(const char *line, size_t n, const char *name, PasswdEntry *ret) {
        const char *f[PASSWD_FIELDS];
        size_t len[PASSWD_FIELDS];
        uint32_t uid, gid;
        char *home, *shell;

        if (parse_entry(line, n, f, len, &uid, &gid) < 0)
                return -EINVAL;
        if (len[0] != strlen(name) || memcmp(f[0], name, len[0]) != 0)
                return -ENOENT;
        home = strndup(f[5], len[5]);
        shell = strndup(f[6], len[6]);
        if (!home || !shell) {
                free(home);
                free(shell);
                return -ENOMEM;
        }
        *ret = (PasswdEntry){ .uid = uid, .gid = gid, .home = home, .shell = shell };
        return 0;
}

/* The next line of text[0..size) from *pos on, without its newline, in
 * *ret_line and *ret_n; false at the end.  An embedded NUL ends nothing
 * here: such a line just never matches (no name holds a NUL). */
static bool next_line(const char *text, size_t size, size_t *pos, const char **ret_line, size_t *ret_n) {
        while (*pos < size) {
                const char *line = text + *pos;
                const char *nl = memchr(line, '\n', size - *pos);
                size_t n = nl ? (size_t)(nl - line) : size - *pos;

                *pos += n + 1;
                if (memchr(line, '\0', n))
                        continue;
                *ret_line = line;
                *ret_n = n;
                return true;
        }
        return false;
}

int passwd_find(const char *text, size_t size, const char *name, PasswdEntry *ret) {
        const char *line;
        size_t pos = 0, n;

        if (isempty(name) || strpbrk(name, ":\n"))
                return -EINVAL;
        while (next_line(text, size, &pos, &line, &n)) {
                int r = parse_line(line, n, name, ret);

                if (r == 0 || r == -ENOMEM)
                        return r;
        }
        return -ENOENT;
}

static bool in_list(const char *s, size_t n, const char *const *list) {
        for (; list && *list; list++)
                if (strlen(*list) == n && memcmp(*list, s, n) == 0)
                        return true;
        return false;
}

int passwd_find_gid(const char *text, size_t size, gid_t gid, const char *const *skip, char **ret_name) {
        const char *line, *f[PASSWD_FIELDS];
        size_t pos = 0, n, len[PASSWD_FIELDS];
        uint32_t uid, g;

        while (next_line(text, size, &pos, &line, &n)) {
                if (parse_entry(line, n, f, len, &uid, &g) < 0 || len[0] == 0 || g != gid ||
                    in_list(f[0], len[0], skip))
                        continue;
                *ret_name = strndup(f[0], len[0]);
                return *ret_name ? 0 : -ENOMEM;
        }
        return -ENOENT;
}
