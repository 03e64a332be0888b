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
 * *ret_line and *ret_n; false at the end.  An embedded NUL: with cut, the
 * line ends there, as glibc reads it (a C string); without, the line is
 * skipped, so that it never matches (no name holds a NUL). */
static bool next_line(const char *text, size_t size, bool cut, size_t *pos, const char **ret_line, size_t *ret_n) {
        while (*pos < size) {
                const char *line = text + *pos;
                const char *nl = memchr(line, '\n', size - *pos);
                size_t n = nl ? (size_t)(nl - line) : size - *pos;
                const char *nul = memchr(line, '\0', n);

                *pos += n + 1;
                if (nul && !cut)
                        continue;
                *ret_line = line;
                *ret_n = nul ? (size_t)(nul - line) : n;
                return true;
        }
        return false;
}

int passwd_find(const char *text, size_t size, const char *name, PasswdEntry *ret) {
        const char *line;
        size_t pos = 0, n;

        if (isempty(name) || strpbrk(name, ":\n"))
                return -EINVAL;
        while (next_line(text, size, false, &pos, &line, &n)) {
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

/* How many bytes of s[0..n) come before the first c (n when none). */
static size_t span_to(const char *s, size_t n, char c) {
        const char *p = memchr(s, c, n);

        return p ? (size_t)(p - s) : n;
}

static bool is_blank(char c) {
        return c && strchr(" \t\n\v\f\r", c);
}

/* A gid as glibc's files backend reads it (strtoul, base 10, checked to
 * fit): blanks and a sign may come first, any number of leading zeros,
 * nothing after; negative, only -0 fits.  (uint32_t)-1 is no id. */
static int parse_id_lax(const char *s, size_t n, uint32_t *ret) {
        size_t i = 0;
        uint64_t v = 0;
        bool minus = false;

        while (i < n && is_blank(s[i]))
                i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
                minus = s[i++] == '-';
        if (i == n)
                return -EINVAL;
        for (; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(s[i] - '0');
                if (v >= UINT32_MAX || (minus && v > 0))
                        return -EINVAL;
        }
        *ret = (uint32_t)v;
        return 0;
}

/* Field i (from 0) of line[0..n), split at ':', in *ret and *ret_n; with
 * rest, it runs to the end of the line.  -EINVAL when there are fewer. */
static int field(const char *line, size_t n, size_t i, bool rest, const char **ret, size_t *ret_n) {
        size_t start = 0;

        for (; i > 0; i--) {
                size_t k = span_to(line + start, n - start, ':');

                if (start + k == n)
                        return -EINVAL;
                start += k + 1;
        }
        *ret = line + start;
        *ret_n = rest ? n - start : span_to(line + start, n - start, ':');
        return 0;
}

/* Whether field i of line[0..n) reads as gid to glibc. */
static bool field_is_gid(const char *line, size_t n, size_t i, gid_t gid) {
        const char *f;
        size_t len;
        uint32_t g;

        return field(line, n, i, false, &f, &len) >= 0 && parse_id_lax(f, len, &g) >= 0 && g == gid;
}

int passwd_find_gid(const char *text, size_t size, gid_t gid, const char *const *skip, char **ret_name) {
        const char *line;
        size_t pos = 0, n;

        while (next_line(text, size, true, &pos, &line, &n)) {
                size_t name_n = span_to(line, n, ':');

                if (name_n == 0 || !field_is_gid(line, n, 3, gid) || in_list(line, name_n, skip))
                        continue;
                *ret_name = strndup(line, name_n);
                return *ret_name ? 0 : -ENOMEM;
        }
        return -ENOENT;
}

/* The first name in a group's member list[0..n) not in skip: split at
 * ',', each without its leading blanks, as glibc reads it (a name may so
 * hold a blank or a ':': nobody's, and reported all the same). */
static int first_member(const char *list, size_t n, const char *const *skip, char **ret_name) {
        size_t i = 0;

        while (i < n) {
                size_t k = span_to(list + i, n - i, ','), b = 0;

                while (b < k && is_blank(list[i + b]))
                        b++;
                if (b < k && !in_list(list + i + b, k - b, skip)) {
                        *ret_name = strndup(list + i + b, k - b);
                        return *ret_name ? 0 : -ENOMEM;
                }
                i += k + 1;
        }
        return -ENOENT;
}

int group_find_member(const char *text, size_t size, gid_t gid, const char *const *skip, char **ret_name) {
        const char *line, *list;
        size_t pos = 0, n, list_n;

        while (next_line(text, size, true, &pos, &line, &n)) {
                int r;

                if (!field_is_gid(line, n, 2, gid) || field(line, n, 3, true, &list, &list_n) < 0)
                        continue;
                r = first_member(list, list_n, skip, ret_name);
                if (r != -ENOENT)
                        return r;
        }
        return -ENOENT;
}
