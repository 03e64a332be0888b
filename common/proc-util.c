/* Implementation of proc-util.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "proc-util.h"

/* The value of "Name:\t..." at the start of a line of text, or NULL. */
static const char *field(const char *text, const char *name) {
        size_t n = strlen(name);

        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
                if (strncmp(l, name, n) == 0 && l[n] == ':')
                        return l + n + 1 + strspn(l + n + 1, " \t");
        return NULL;
}

/* The number at s, up to a blank or the line's end. */
static bool number(const char *s, uint64_t max, uint64_t *ret) {
        return s && parse_unsigned_span(s, strcspn(s, " \t\n"), max, ret) == 0;
}

int proc_status_parse(const char *text, ProcStatus *ret) {
        const char *state = field(text, "State"), *ppid = field(text, "PPid"), *uid = field(text, "Uid");
        const char *threads = field(text, "Threads");
        uint64_t p, u, t = 1;

        if (!state || !*state || *state == '\n' || !number(ppid, 0x7fffffff, &p) || !number(uid, 0xfffffffe, &u) ||
            (threads && !number(threads, UINT32_MAX, &t)))
                return -EINVAL;
        *ret = (ProcStatus){ .state = *state, .ppid = (pid_t)p, .uid = (uid_t)u, .threads = (unsigned)t };
        return 0;
}

bool proc_status_exited(const ProcStatus *st) {
        return st->state == 'Z' && st->threads <= 1;
}

/* The n-th space-separated field (1-based) of the line at l, or NULL when
 * the line ends first. */
static const char *line_field(const char *l, int n) {
        for (int i = 1; i < n; i++) {
                l += strcspn(l, " \n");
                if (*l != ' ')
                        return NULL;
                l++;
        }
        return l;
}

/* The last line of mountinfo for the mount on path (the one a lookup
 * sees), or NULL. */
static const char *mountinfo_line(const char *mountinfo, const char *path) {
        size_t plen = strlen(path);
        const char *found = NULL;

        for (const char *l = mountinfo; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                /* Mount points are octal-escaped: one never holds a space. */
                const char *where = line_field(l, 5);
                if (where && strncmp(where, path, plen) == 0 && where[plen] == ' ')
                        found = l;
        }
        return found;
}

int proc_mountinfo_find(const char *mountinfo, const char *path, char **ret_options) {
        const char *line = mountinfo_line(mountinfo, path), *sep, *opts;
        size_t len;

        if (!line)
                return -ENOENT;
        len = strcspn(line, "\n");
        sep = strstr(line_field(line, 6), " - ");
        if (!sep || sep >= line + len)
                return -EINVAL;
        opts = line_field(sep + 3, 3); /* past the type and the source */
        if (!opts)
                return -EINVAL;
        if (ret_options && !(*ret_options = strndup(opts, strcspn(opts, "\n"))))
                return -ENOMEM;
        return 0;
}

int proc_mountinfo_root(const char *mountinfo, const char *path, char **ret_root) {
        const char *line = mountinfo_line(mountinfo, path), *root;

        if (!line)
                return -ENOENT;
        root = line_field(line, 4);
        if (!root || *root != '/')
                return -EINVAL;
        *ret_root = strndup(root, strcspn(root, " \n"));
        return *ret_root ? 0 : -ENOMEM;
}

int proc_cgroup2_path(const char *text, char **ret) {
        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                char *path;

                /* v1 hierarchies have an id other than 0 and a controller list. */
                if (strncmp(l, "0::", 3) != 0)
                        continue;
                l += 3;
                if (*l != '/')
                        return -EINVAL;
                path = strndup(l, strcspn(l, "\n"));
                if (!path)
                        return -ENOMEM;
                *ret = path;
                return 0;
        }
        return -ENOENT;
}

bool proc_options_hide_pids(const char *options) {
        for (const char *o = options; o && *o; o += strcspn(o, ","), o += *o == ',') {
                size_t n = strcspn(o, ",");

                if (n > 8 && strncmp(o, "hidepid=", 8) == 0)
                        /* The kernel shows a name (5.8+) or a number. */
                        return !(n == 11 && strncmp(o + 8, "off", 3) == 0) && !(n == 9 && o[8] == '0');
        }
        return false;
}

int proc_keyed_value(const char *text, const char *key, uint64_t *ret) {
        size_t k = strlen(key);

        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                const char *v = l + k + 1;
                uint64_t n;

                if (strncmp(l, key, k) != 0 || l[k] != ' ')
                        continue;
                if (parse_unsigned_span(v, strcspn(v, "\n"), UINT64_MAX, &n) < 0)
                        return -EINVAL;
                *ret = n;
                return 0;
        }
        return -ENOENT;
}

int proc_cpu_stat_usage(const char *text, uint64_t *ret) {
        return proc_keyed_value(text, "usage_usec", ret);
}

bool proc_controllers_have(const char *text, const char *name) {
        size_t k = strlen(name);

        for (const char *w = text; w && *w; w += strcspn(w, " \n")) {
                w += strspn(w, " \n");
                if (strncmp(w, name, k) == 0 && strchr(" \n", w[k]))
                        return true;
        }
        return false;
}
