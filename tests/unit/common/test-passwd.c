/* Unit tests for common/passwd-util.c: /etc/passwd text → the entry of
 * one user, as glibc's files backend reads it (passwd(5)); each case says
 * whose behaviour it follows.  /etc/group text → a group's members. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "macro.h"
#include "passwd-util.h"

static const char debian[] =
        "root:x:0:0:root:/root:/bin/bash\n"
        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        "vmba-browser:x:998:998::/var/lib/vm-browser-agent/browser:/usr/sbin/nologin";

typedef struct Case {
        const char *what;
        const char *text;
        const char *name;
        int r;
        uid_t uid;
        gid_t gid;
        const char *home, *shell;
} Case;

static const Case cases[] = {
        { "Debian's file, a system user", debian, "nobody", 0, 65534, 65534, "/nonexistent", "/usr/sbin/nologin" },
        { "the last line without a newline", debian, "vmba-browser", 0, 998, 998,
          "/var/lib/vm-browser-agent/browser", "/usr/sbin/nologin" },
        { "root is found (refusing it is the caller's policy)", debian, "root", 0, 0, 0, "/root", "/bin/bash" },
        { "absent", debian, "vmba", -ENOENT },
        { "a prefix of a name is not the name", debian, "nob", -ENOENT },
        { "a name longer than an entry's", debian, "nobodyx", -ENOENT },
        { "empty text", "", "nobody", -ENOENT },
        { "empty name", debian, "", -EINVAL },
        { "a name with ':' could match across fields", debian, "nobody:x", -EINVAL },
        { "a name with a newline", debian, "a\nb", -EINVAL },
        /* glibc skips lines it cannot parse and keeps reading. */
        { "six fields: skipped, the next entry wins",
          "u:x:1:1:gecos:/h\nu:x:2:2::/h2:/bin/sh\n", "u", 0, 2, 2, "/h2", "/bin/sh" },
        { "eight fields: skipped", "u:x:1:1::/h:/bin/sh:extra\n", "u", -ENOENT },
        { "a uid that is not a number", "u:x:1a:1::/h:/bin/sh\n", "u", -ENOENT },
        { "a negative uid", "u:x:-1:1::/h:/bin/sh\n", "u", -ENOENT },
        { "an empty gid", "u:x:1::::/bin/sh\n", "u", -ENOENT },
        { "uid 4294967295 is (uid_t)-1, no id", "u:x:4294967295:1::/h:/s\n", "u", -ENOENT },
        { "uid 4294967294 is the largest", "u:x:4294967294:1::/h:/s\n", "u", 0, 4294967294u, 1, "/h", "/s" },
        { "an id with more digits than fit", "u:x:99999999999:1::/h:/s\n", "u", -ENOENT },
        { "leading zeros are decimal, not octal (strtoul base 10)", "u:x:010:010::/h:/s\n", "u", 0, 10, 10, "/h", "/s" },
        /* The first entry wins, as getpwnam() returns it. */
        { "duplicates: the first", "u:x:5:5::/a:/s\nu:x:6:6::/b:/s\n", "u", 0, 5, 5, "/a", "/s" },
        /* NIS compat lines name no local user (nsswitch "compat"). */
        { "+name lines are NIS", "+u:x:1:1::/h:/s\n", "+u", -ENOENT },
        { "-name lines are NIS", "-u::::::\nu:x:3:3::/h:/s\n", "u", 0, 3, 3, "/h", "/s" },
        { "blank lines", "\n\nu:x:3:4::/h:/s\n\n", "u", 0, 3, 4, "/h", "/s" },
        { "empty home and shell", "u:x:3:4:::\n", "u", 0, 3, 4, "", "" },
};

static void test_cases(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const Case *c = &cases[i];
                PasswdEntry e = {};
                int r = passwd_find(c->text, strlen(c->text), c->name, &e);

                if (r != c->r)
                        fail_msg("%s: %d, expected %d", c->what, r, c->r);
                if (r < 0)
                        continue;
                if (e.uid != c->uid || e.gid != c->gid || !streq(e.home, c->home) || !streq(e.shell, c->shell))
                        fail_msg("%s: %u:%u %s %s", c->what, (unsigned)e.uid, (unsigned)e.gid, e.home, e.shell);
                passwd_entry_done(&e);
        }
}

static void test_size_bounds(void **state) {
        PasswdEntry e = {};
        /* Only size bytes are read: the entry cut off is not there. */
        const char text[] = "a:x:1:1::/h:/s\nb:x:2:2::/h:/s\n";

        assert_int_equal(passwd_find(text, 15, "b", &e), -ENOENT);
        assert_int_equal(passwd_find(text, 15, "a", &e), 0);
        assert_int_equal(e.uid, 1);
        passwd_entry_done(&e);
        /* A NUL inside a line: that line never matches, the next one does. */
        assert_int_equal(passwd_find("a:x:1:1::/h\0:/s\na:x:7:7::/h:/s\n", 31, "a", &e), 0);
        assert_int_equal(e.uid, 7);
        passwd_entry_done(&e);
        passwd_entry_done(NULL);
}

static const char *gid_user(const char *text, size_t size, gid_t gid, const char *const *skip) {
        static char out[64];
        char *name = NULL;
        int r = passwd_find_gid(text, size, gid, skip, &name);

        if (r < 0)
                snprintf(out, sizeof out, "%d", r);
        else
                snprintf(out, sizeof out, "%s", name);
        free(name);
        return out;
}

/* Who else has a group as their primary one: the valid entries alone, as
 * passwd_find() reads them, in file order, but for the names skipped. */
static void test_find_gid(void **state) {
        const char text[] = "root:x:0:0:root:/root:/bin/bash\n"
                            "+nis:x:5:5::/h:/s\n"
                            "bad:x:9:5::/h\n"
                            ":x:9:5::/h:/s\n"
                            "x:x:3:5::/h:/s\n"
                            "v:x:4:5::/h:/s\n"
                            "w:x:6:6::/h:/s";

        assert_string_equal(gid_user(text, strlen(text), 5, NULL), "x");
        assert_string_equal(gid_user(text, strlen(text), 5, (const char *[]){ "x", NULL }), "v");
        assert_string_equal(gid_user(text, strlen(text), 5, (const char *[]){ "x", "v", NULL }), "-2");
        assert_string_equal(gid_user(text, strlen(text), 6, NULL), "w");
        assert_string_equal(gid_user(text, strlen(text), 0, NULL), "root");
        assert_string_equal(gid_user(text, strlen(text), 7, NULL), "-2");
        /* A prefix of a skipped name is not that name. */
        assert_string_equal(gid_user(text, strlen(text), 6, (const char *[]){ "ww", NULL }), "w");
        /* Only size bytes are read. */
        assert_string_equal(gid_user(text, strlen(text) - 1, 6, NULL), "w");
        assert_string_equal(gid_user(text, strlen(text) - 15, 6, NULL), "-2");
        assert_string_equal(gid_user("", 0, 5, NULL), "-2");
}

static const char *member(const char *text, size_t size, gid_t gid, const char *const *skip) {
        static char out[64];
        char *name = NULL;
        int r = group_find_member(text, size, gid, skip, &name);

        if (r < 0)
                snprintf(out, sizeof out, "%d", r);
        else
                snprintf(out, sizeof out, "%s", name);
        free(name);
        return out;
}

/* Who is listed as a member of a group in /etc/group: every valid entry
 * with that gid, in file order, but for the names skipped. */
static void test_group_members(void **state) {
        const char text[] = "root:x:0:\n"
                            "+nis:x:5:n\n"
                            "-nis:x:5:n\n"
                            "bad:x:5a:b\n"
                            "short:x:5\n"
                            "vmba-x:x:5:\n"
                            "sys:x:3:vmba-x\n"
                            "alias:x:5:vmba-x,,vmba-vnc, eve\n"
                            "w:x:6:a:b\n"
                            "t:x:7:\tt1\r\n"
                            "last:x:8:z";
        size_t n = strlen(text);
        const char *const display[] = { "vmba-x", "vmba-vnc", NULL };

        /* Debian's groups list no members. */
        assert_string_equal(member(text, n, 0, NULL), "-2");
        /* A second entry with the same gid counts: the kernel sees the number. */
        assert_string_equal(member(text, n, 5, NULL), "vmba-x");
        assert_string_equal(member(text, n, 5, display), "eve");
        assert_string_equal(member(text, n, 5, (const char *[]){ "vmba-x", "vmba-vnc", "eve", NULL }), "-2");
        assert_string_equal(member(text, n, 3, NULL), "vmba-x");
        assert_string_equal(member(text, n, 3, display), "-2");
        /* Past a ':' in the list, blanks and a carriage return: still names. */
        assert_string_equal(member(text, n, 6, (const char *[]){ "a", NULL }), "b");
        assert_string_equal(member(text, n, 7, NULL), "t1");
        /* A prefix of a skipped name is not that name; the last line without a newline. */
        assert_string_equal(member(text, n, 8, (const char *[]){ "zz", NULL }), "z");
        /* Only size bytes are read. */
        assert_string_equal(member(text, n - 1, 8, NULL), "-2");
        assert_string_equal(member("g:x:9:a\0b\ng:x:9:c\n", 20, 9, NULL), "c");
        assert_string_equal(member("", 0, 5, NULL), "-2");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cases),
                cmocka_unit_test(test_size_bounds),
                cmocka_unit_test(test_find_gid),
                cmocka_unit_test(test_group_members),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
