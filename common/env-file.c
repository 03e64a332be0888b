/* Implementation of env-file.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "env-file.h"
#include "macro.h"

/* The value of one "KEY=VALUE" line if it assigns key: start and length,
 * quotes removed. */
static bool line_value(const char *line, size_t len, const char *key, const char **ret, size_t *ret_len) {
        size_t klen = strlen(key), n;
        const char *p = line, *end = line + len;

        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        if ((size_t)(end - p) > 7 && strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
                p += 7;
                while (p < end && (*p == ' ' || *p == '\t'))
                        p++;
        }
        if ((size_t)(end - p) <= klen || strncmp(p, key, klen) != 0 || p[klen] != '=')
                return false;
        p += klen + 1;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                end--;
        n = (size_t)(end - p);
        if (n >= 2 && (p[0] == '"' || p[0] == '\'') && end[-1] == p[0]) {
                p++;
                n -= 2;
        }
        *ret = p;
        *ret_len = n;
        return true;
}

int env_file_get(const char *text, const char *key, char **ret) {
        const char *found = NULL;
        size_t found_len = 0;

        if (isempty(key))
                return -EINVAL;
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                const char *v;
                size_t vlen;

                if (line_value(line, len, key, &v, &vlen)) {
                        found = v;
                        found_len = vlen;
                }
                line = nl ? nl + 1 : NULL;
        }
        if (!found)
                return -ENOENT;
        *ret = strndup(found, found_len);
        return *ret ? 0 : -ENOMEM;
}
