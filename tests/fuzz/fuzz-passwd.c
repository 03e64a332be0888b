/* Fuzzes common/passwd-util.c: any bytes as /etc/passwd, looked up under
 * a few names, one of them taken from the input's first line, and by two
 * primary groups, and as /etc/group for the members of two groups.  Checks that
 * a found entry's fields are sane strings and no read goes past size. */
#include <errno.h>

#include "fuzz.h"
#include "passwd-util.h"

static void lookup(const uint8_t *data, size_t size, const char *name) {
        PasswdEntry e = {};
        int r = passwd_find((const char *)data, size, name, &e);

        CHECK(r == 0 || r == -ENOENT || r == -EINVAL || r == -ENOMEM);
        if (r == 0) {
                CHECK(e.home && e.shell && !strchr(e.home, ':') && !strchr(e.shell, '\n'));
                CHECK(e.uid != (uid_t)-1 && e.gid != (gid_t)-1);
        }
        passwd_entry_done(&e);
}

/* Whoever has gid as primary group: a name, never empty, without ':' or a
 * newline. */
static void lookup_gid(const uint8_t *data, size_t size, gid_t gid) {
        char *name = NULL;
        int r = passwd_find_gid((const char *)data, size, gid, (const char *[]){ "root", NULL }, &name);

        CHECK(r == 0 || r == -ENOENT || r == -ENOMEM);
        if (r == 0)
                CHECK(name && name[0] && !strpbrk(name, ":\n") && strcmp(name, "root") != 0);
        free(name);
}

/* The same bytes as /etc/group: a member's name, never empty, without a
 * ',' or a newline, not starting with a blank, not skipped. */
static void lookup_member(const uint8_t *data, size_t size, gid_t gid) {
        char *name = NULL;
        int r = group_find_member((const char *)data, size, gid, (const char *[]){ "root", NULL }, &name);

        CHECK(r == 0 || r == -ENOENT || r == -ENOMEM);
        if (r == 0)
                CHECK(name && name[0] && !strpbrk(name, ",\n") && !strchr(" \t\v\f\r", name[0]) &&
                      strcmp(name, "root") != 0);
        free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* An exact-size copy, so ASan sees any read past size. */
        uint8_t *copy = malloc(size ? size : 1);
        const uint8_t *colon = memchr(data, ':', size);
        char name[64] = "";

        if (!copy)
                return 0;
        memcpy(copy, data, size);
        if (colon && (size_t)(colon - data) < sizeof name) {
                memcpy(name, data, (size_t)(colon - data));
                name[colon - data] = '\0';
        }
        lookup(copy, size, "root");
        lookup(copy, size, "vmba-browser");
        if (name[0])
                lookup(copy, size, name);
        lookup_gid(copy, size, 0);
        lookup_gid(copy, size, 65534);
        lookup_member(copy, size, 0);
        lookup_member(copy, size, 5);
        free(copy);
        return 0;
}
