/* Unit tests for common/shebang.c: "#!" lines read as fs/binfmt_script.c
 * reads them (each case says which of its steps it takes), and the
 * program env(1) runs from one, as GNU coreutils' env takes its
 * arguments. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "shebang.h"

/* A line of c repeated n times after prefix, then suffix. */
static size_t fill(char *buf, const char *prefix, char c, size_t n, const char *suffix) {
        size_t p = strlen(prefix), s = strlen(suffix);

        memcpy(buf, prefix, p);
        memset(buf + p, c, n);
        memcpy(buf + p + n, suffix, s);
        return p + n + s;
}

static void test_parse(void **state) {
        static const struct {
                const char *text;
                size_t n; /* 0: strlen(text) */
                int r;
                const char *interpreter, *arg;
        } cases[] = {
                { "#!/bin/sh\necho\n", 0, 1, "/bin/sh", "" },
                { "#!/usr/bin/env node\n", 0, 1, "/usr/bin/env", "node" },
                /* Blanks before the name and around the argument go. */
                { "#! \t/bin/sh \t-e \t\n", 0, 1, "/bin/sh", "-e" },
                /* One argument: the blanks inside are kept. */
                { "#!/usr/bin/env -S node --x  y\n", 0, 1, "/usr/bin/env", "-S node --x  y" },
                /* No newline: a short file, zeros after it. */
                { "#!/bin/sh", 0, 1, "/bin/sh", "" },
                { "#!/bin/sh -x", 0, 1, "/bin/sh", "-x" },
                /* A NUL ends the name, and with it the line's argument. */
                { "#!/bin/sh\0 -x\n", 14, 1, "/bin/sh", "" },
                /* ... and an argument; blanks before that NUL stay (the
                 * kernel drops those before the line's end only). */
                { "#!/bin/sh -x\0y\n", 15, 1, "/bin/sh", "-x" },
                { "#!/bin/sh -x \t\0y\n", 17, 1, "/bin/sh", "-x \t" },
                /* CR is part of the name (a file with DOS line ends). */
                { "#!/bin/sh\r\n", 0, 1, "/bin/sh\r", "" },
                { "#!/bin/sh -e\r\n", 0, 1, "/bin/sh", "-e\r" },
                /* A relative name is the kernel's to open from the cwd. */
                { "#!sh\n", 0, 1, "sh", "" },
                /* Only the first line counts. */
                { "#!/a\n#!/b\n", 0, 1, "/a", "" },
                /* No name: ENOEXEC. */
                { "#!\n", 0, -ENOEXEC, NULL, NULL },
                { "#! \t \n", 0, -ENOEXEC, NULL, NULL },
                /* A file that ends after the blanks: zeros, an empty
                 * name (the kernel tries "" and fails: EACCES on 6.x). */
                { "#!", 0, -ENOEXEC, NULL, NULL },
                { "#! ", 0, -ENOEXEC, NULL, NULL },
                { "#! \0/bin/sh\n", 12, -ENOEXEC, NULL, NULL },
                /* Not a script. */
                { "", 0, 0, NULL, NULL },
                { "#", 0, 0, NULL, NULL },
                { "!#/bin/sh\n", 0, 0, NULL, NULL },
                { " #!/bin/sh\n", 0, 0, NULL, NULL },
                { "\177ELF\2\1\1", 0, 0, NULL, NULL },
        };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Shebang s = { .interpreter = "x", .arg = "y" };
                size_t n = cases[i].n ?: strlen(cases[i].text);
                int r = shebang_parse(cases[i].text, n, &s);

                if (r != cases[i].r)
                        fail_msg("case %zu: %d, not %d", i, r, cases[i].r);
                if (r > 0 && (!streq(s.interpreter, cases[i].interpreter) || !streq(s.arg, cases[i].arg)))
                        fail_msg("case %zu: \"%s\" \"%s\"", i, s.interpreter, s.arg);
                if (r <= 0 && (!streq(s.interpreter, "x") || !streq(s.arg, "y")))
                        fail_msg("case %zu: written on failure", i);
        }
}

/* The kernel reads SHEBANG_BUF_SIZE bytes, and takes a line without a
 * newline in them when a blank or NUL in them ends its name (the line,
 * and the argument with it, cut short at SHEBANG_BUF_SIZE - 1); else the
 * name may be cut: ENOEXEC. */
static void test_parse_long(void **state) {
        char buf[2 * SHEBANG_BUF_SIZE];
        Shebang s;
        size_t n;

        (void)state;
        /* A name of 253 bytes ended by the newline at byte 255. */
        n = fill(buf, "#!/", 'a', SHEBANG_BUF_SIZE - 4, "\n");
        assert_int_equal(n, SHEBANG_BUF_SIZE);
        assert_int_equal(shebang_parse(buf, n, &s), 1);
        assert_int_equal(strlen(s.interpreter), SHEBANG_BUF_SIZE - 3);
        /* One byte more: no newline, no end of the name in the buffer. */
        n = fill(buf, "#!/", 'a', SHEBANG_BUF_SIZE - 3, "\n");
        assert_int_equal(shebang_parse(buf, n, &s), -ENOEXEC);
        /* The same name, the file ending there: no blank or NUL in the
         * 256 bytes to end it. */
        assert_int_equal(shebang_parse(buf, SHEBANG_BUF_SIZE, &s), -ENOEXEC);
        /* A name of 253 bytes ended by the buffer's last byte, which the
         * kernel's search for its end includes (Linux 6.18 runs both):
         * the NUL after a file of 255 bytes, or a blank. */
        n = fill(buf, "#!/", 'a', SHEBANG_BUF_SIZE - 4, "");
        assert_int_equal(shebang_parse(buf, n, &s), 1);
        assert_int_equal(strlen(s.interpreter), SHEBANG_BUF_SIZE - 3);
        assert_string_equal(s.arg, "");
        n = fill(buf, "#!/", 'a', SHEBANG_BUF_SIZE - 4, " xx");
        assert_int_equal(shebang_parse(buf, n, &s), 1);
        assert_int_equal(strlen(s.interpreter), SHEBANG_BUF_SIZE - 3);
        assert_string_equal(s.arg, "");
        /* Blanks up to the last byte, the name starting there: no end. */
        n = fill(buf, "#!", ' ', SHEBANG_BUF_SIZE - 3, "/bin/sh");
        assert_int_equal(shebang_parse(buf, n, &s), -ENOEXEC);
        /* All blanks after "#!": no name. */
        n = fill(buf, "#!", ' ', SHEBANG_BUF_SIZE, "/bin/sh\n");
        assert_int_equal(shebang_parse(buf, n, &s), -ENOEXEC);
        /* A name that ends early, a long argument: cut at byte 255. */
        n = fill(buf, "#!/bin/sh ", 'b', SHEBANG_BUF_SIZE, "\n");
        assert_int_equal(shebang_parse(buf, n, &s), 1);
        assert_string_equal(s.interpreter, "/bin/sh");
        assert_int_equal(strlen(s.arg), SHEBANG_BUF_SIZE - 1 - strlen("#!/bin/sh "));
        /* ... with blanks where it is cut: they go too. */
        n = fill(buf, "#!/bin/sh b", ' ', SHEBANG_BUF_SIZE, "\n");
        assert_int_equal(shebang_parse(buf, n, &s), 1);
        assert_string_equal(s.arg, "b");
}

static void test_env_program(void **state) {
        static const struct {
                const char *interpreter, *arg;
                int r;
                const char *program;
        } cases[] = {
                { "/usr/bin/env", "node", 1, "node" },
                { "/bin/env", "python3", 1, "python3" },
                { "env", "node", 1, "node" },
                { "/usr/bin/env", "/tmp/node", 1, "/tmp/node" },
                /* One argument: env looks for a program named so. */
                { "/usr/bin/env", "node --x", 1, "node --x" },
                /* -S splits it; assignments before the program are skipped. */
                { "/usr/bin/env", "-S node --x", 1, "node" },
                { "/usr/bin/env", "-Snode", 1, "node" },
                { "/usr/bin/env", "-S \tA=1 B=2 node --x", 1, "node" },
                { "/usr/bin/env", "--split-string=node --x", 1, "node" },
                /* Not to be told without env: options, expansions. */
                { "/usr/bin/env", "-S -i node", 0, NULL },
                { "/usr/bin/env", "-S ${NODE} x", 0, NULL },
                { "/usr/bin/env", "-S \"node\"", 0, NULL },
                { "/usr/bin/env", "-S no\\_de", 0, NULL },
                { "/usr/bin/env", "-S #node", 0, NULL },
                { "/usr/bin/env", "-S A=1", 0, NULL },
                { "/usr/bin/env", "-S", 0, NULL },
                { "/usr/bin/env", "-i node", 0, NULL },
                { "/usr/bin/env", "--split-string node", 0, NULL },
                /* An assignment, and no program: env prints the environment. */
                { "/usr/bin/env", "A=1", 0, NULL },
                { "/usr/bin/env", "", 0, NULL },
                /* Not env. */
                { "/bin/sh", "node", 0, NULL },
                { "/usr/bin/envx", "node", 0, NULL },
                { "/usr/bin/env/", "node", 0, NULL },
        };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Shebang s = {};
                char got[64] = "unset";
                int r;

                snprintf(s.interpreter, sizeof s.interpreter, "%s", cases[i].interpreter);
                snprintf(s.arg, sizeof s.arg, "%s", cases[i].arg);
                r = shebang_env_program(&s, got, sizeof got);
                if (r != cases[i].r || (r > 0 && !streq(got, cases[i].program)))
                        fail_msg("case %zu: %d \"%s\"", i, r, got);
        }
}

static void test_env_program_too_long(void **state) {
        Shebang s = { .interpreter = "/usr/bin/env", .arg = "node" };
        char got[5];

        (void)state;
        assert_int_equal(shebang_env_program(&s, got, 4), -ENAMETOOLONG);
        assert_int_equal(shebang_env_program(&s, got, 5), 1);
        assert_string_equal(got, "node");
        snprintf(s.arg, sizeof s.arg, "-S nodes");
        assert_int_equal(shebang_env_program(&s, got, sizeof got), -ENAMETOOLONG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_parse_long),
                cmocka_unit_test(test_env_program),
                cmocka_unit_test(test_env_program_too_long),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
