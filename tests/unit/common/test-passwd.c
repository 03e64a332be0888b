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
#include <grp.h>
#include <pwd.h>
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

/* Every name a finder reports for gid in text[0..size), in order: asked
 * again with the names found so far skipped, until it finds none.  The
 * names joined with '|' in out. */
static void all_found(int (*find)(const char *, size_t, gid_t, const char *const *, char **), const char *text,
                      size_t size, gid_t gid, char *out, size_t out_size) {
        const char *skip[16] = { NULL };
        size_t k = 0;
        char *name;

        out[0] = '\0';
        while (k < ELEMENTSOF(skip) - 1 && find(text, size, gid, skip, &name) == 0) {
                snprintf(out + strlen(out), out_size - strlen(out), "%s%s", k ? "|" : "", name);
                skip[k++] = name;
        }
        for (size_t i = 0; i < k; i++)
                free((char *)skip[i]);
}

/* Appends name to the '|'-joined out unless it is there already. */
static void append_once(char *out, size_t out_size, const char *name) {
        char *p = out;
        size_t n = strlen(name);

        for (; *p; p += strcspn(p, "|") + (p[strcspn(p, "|")] ? 1 : 0))
                if (strncmp(p, name, n) == 0 && (p[n] == '|' || p[n] == '\0'))
                        return;
        snprintf(out + strlen(out), out_size - strlen(out), "%s%s", out[0] ? "|" : "", name);
}

/* The same, as glibc reads text: the names (fgetpwent) whose primary
 * group is gid, or (fgetgrent) the members of every group with gid, in
 * order, each once.  The real parser decides what the checks must see. */
static void glibc_found(bool group, const char *text, size_t size, gid_t gid, char *out, size_t out_size) {
        FILE *f = fmemopen((void *)text, size, "r");
        struct passwd *p;
        struct group *g;

        assert_non_null(f);
        out[0] = '\0';
        while (group && (g = fgetgrent(f)))
                for (char **m = g->gr_mem; g->gr_gid == gid && m && *m; m++)
                        append_once(out, out_size, *m);
        while (!group && (p = fgetpwent(f)))
                if (p->pw_gid == gid && p->pw_name[0])
                        append_once(out, out_size, p->pw_name);
        fclose(f);
}

/* Lines glibc reads (or not), each a way a name could hide from a check
 * that reads less than glibc does. */
static const char passwd_text[] = "root:x:0:0:root:/root:/bin/bash\n"
                                  "x:x:3:5::/h:/s\n"
                                  "+nis:x:5:5::/h:/s\n"   /* an entry like any other to the files backend */
                                  "-neg:x:5:5::/h:/s\n"
                                  "six:x:9:5::/h\n"       /* no shell */
                                  "four:x:9:5\n"          /* nor anything after the gid */
                                  "nine:x:9:5:g:/h:/s:e:f\n"
                                  "blank:x:9: 5::/h:/s\n"
                                  "plus:x:9:+5::/h:/s\n"
                                  "zeros:x:9:000000000005::/h:/s\n"
                                  "cut:x:9:5::/h:/s\0junk\n" /* glibc stops at the NUL */
                                  ":x:9:5::/h:/s\n"        /* no name: nobody logs in as it */
                                  "trail:x:9:5 ::/h:/s\n"  /* not a number to glibc */
                                  "hex:x:9:0x5::/h:/s\n"
                                  "big:x:9:4294967301::/h:/s\n"
                                  "negative:x:9:-4294967291::/h:/s\n"
                                  "three:x:9\n"
                                  "w:x:6:6::/h:/s";
static const char group_text[] = "root:x:0:\n"
                                 "vmba-x:x:5:\n"
                                 "sys:x:3:vmba-x\n"
                                 "alias:x:5:vmba-x,,vmba-vnc, eve\n" /* a second entry with the gid */
                                 "+nis:x:5:n1\n"
                                 "-nis:x:5:n2\n"
                                 "b:x: 5:n3\n"
                                 "p:x:+5:n4\n"
                                 "z:x:00000000005:n5\n"
                                 "c:x:5:n6\0junk\n"
                                 ":x:5:n7\n"
                                 "s:x:5:a b,c\td,\te\n"
                                 "l:x:5:x:y\n"
                                 "e:x:5::\n"
                                 "m:x:5\n"
                                 "t:x:5 :n8\n"
                                 "h:x:0x5:n9\n"
                                 "g:x:4294967301:n10\n"
                                 "n:x:-4294967291:n11\n"
                                 "zero:x:-0:n12\n"
                                 "last:x:8:q";

static void check_against_glibc(bool group, const char *text, size_t size, gid_t gid) {
        char ours[512], theirs[512];

        all_found(group ? group_find_member : passwd_find_gid, text, size, gid, ours, sizeof ours);
        glibc_found(group, text, size, gid, theirs, sizeof theirs);
        if (!streq(ours, theirs))
                fail_msg("%s, gid %u: found '%s', glibc '%s'", group ? "group" : "passwd", (unsigned)gid, ours, theirs);
}

static void test_as_glibc_reads(void **state) {
        for (gid_t gid = 0; gid <= 9; gid++) {
                check_against_glibc(false, passwd_text, sizeof passwd_text - 1, gid);
                check_against_glibc(true, group_text, sizeof group_text - 1, gid);
        }
        /* Only size bytes are read. */
        check_against_glibc(true, group_text, sizeof group_text - 2, 8);
        check_against_glibc(false, passwd_text, sizeof passwd_text - 2, 6);
}

/* What the two checks answer, beside glibc's reading: names in file
 * order, the skipped ones left out, and nothing for an empty text. */
static void test_checks(void **state) {
        char out[256];
        const char *const display[] = { "vmba-x", "vmba-vnc", NULL };
        char *name = NULL;

        all_found(passwd_find_gid, passwd_text, sizeof passwd_text - 1, 5, out, sizeof out);
        assert_string_equal(out, "x|+nis|-neg|six|four|nine|blank|plus|zeros|cut");
        all_found(group_find_member, group_text, sizeof group_text - 1, 5, out, sizeof out);
        assert_string_equal(out, "vmba-x|vmba-vnc|eve|n1|n2|n3|n4|n5|n6|n7|a b|c\td|e|x:y|:");
        assert_int_equal(group_find_member(group_text, sizeof group_text - 1, 3, display, &name), -ENOENT);
        assert_int_equal(group_find_member(group_text, sizeof group_text - 1, 5, display, &name), 0);
        assert_string_equal(name, "eve");
        free(name);
        assert_int_equal(passwd_find_gid(passwd_text, sizeof passwd_text - 1, 6, (const char *[]){ "ww", NULL },
                                         &name), 0);
        assert_string_equal(name, "w");
        free(name);
        assert_int_equal(passwd_find_gid("", 0, 5, NULL, &name), -ENOENT);
        assert_int_equal(group_find_member("", 0, 5, NULL, &name), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cases),
                cmocka_unit_test(test_size_bounds),
                cmocka_unit_test(test_as_glibc_reads),
                cmocka_unit_test(test_checks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
