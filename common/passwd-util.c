/* Implementation of passwd-util.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "passwd-util.h"

#define PASSWD_FIELDS 7
/* name:password:gid, then the member list (group(5)). */
#define GROUP_FIELDS 3

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

/* Splits line[0..n) at ':' into exactly count fields, or, with rest, into
 * count fields and the rest of the line after the count-th ':' (which must
 * be there) in *rest and *rest_n. */
static int split_fields(const char *line, size_t n, size_t count, const char **f, size_t *len, const char **rest,
                        size_t *rest_n) {
        size_t k = 0, start = 0;

        for (size_t i = 0; i <= n; i++) {
                if (i < n && line[i] != ':')
                        continue;
                if (k == count) {
                        if (!rest)
                                return -EINVAL;
                        break;
                }
                f[k] = line + start;
                len[k++] = i - start;
                start = i + 1;
        }
        if (k != count || (rest && start > n))
                return -EINVAL;
        if (rest) {
                *rest = line + start;
                *rest_n = n - start;
        }
        return 0;
}

/* One entry as glibc reads it: its fields (f, len) and ids, or -EINVAL
 * for a line that names nobody (NIS compat, not 7 fields, a bad id). */
static int parse_entry(const char *line, size_t n, const char *f[PASSWD_FIELDS], size_t len[PASSWD_FIELDS],
                       uint32_t *ret_uid, uint32_t *ret_gid) {
        if (n == 0 || line[0] == '+' || line[0] == '-' || split_fields(line, n, PASSWD_FIELDS, f, len, NULL, NULL) < 0 ||
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

/* How many bytes of s[0..n) come before the first of seps. */
static size_t span_to(const char *s, size_t n, const char *seps) {
        size_t i = 0;

        while (i < n && !strchr(seps, s[i]))
                i++;
        return i;
}

/* The first name in list[0..n) not in skip.  Names are split at ',' as
 * glibc does, and also at blanks and ':', so that no spelling of the list
 * hides a member from this check (over-reporting is the safe side). */
static int first_member(const char *list, size_t n, const char *const *skip, char **ret_name) {
        size_t i = 0;

        while (i < n) {
                size_t k = span_to(list + i, n - i, ",: \t\r");

                if (k > 0 && !in_list(list + i, k, skip)) {
                        *ret_name = strndup(list + i, k);
                        return *ret_name ? 0 : -ENOMEM;
                }
                i += k + 1;
        }
        return -ENOENT;
}

int group_find_member(const char *text, size_t size, gid_t gid, const char *const *skip, char **ret_name) {
        const char *line, *f[GROUP_FIELDS], *list;
        size_t pos = 0, n, len[GROUP_FIELDS], list_n;
        uint32_t g;

        while (next_line(text, size, &pos, &line, &n)) {
                int r;

                if (n == 0 || line[0] == '+' || line[0] == '-' ||
                    split_fields(line, n, GROUP_FIELDS, f, len, &list, &list_n) < 0 || parse_id(f[2], len[2], &g) < 0 ||
                    g != gid)
                        continue;
                r = first_member(list, list_n, skip, ret_name);
                if (r != -ENOENT)
                        return r;
        }
        return -ENOENT;
}
