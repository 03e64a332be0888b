/* Tests of agent/supervise/sv-output.c: what a service's over-long line
 * becomes in the log.  The line is split every SV_OUTPUT_LINE_MAX bytes;
 * a known secret over the place of a split is still redacted whole, never
 * logged as two halves in clear, wherever it falls; a line beginning with
 * a secret longer than the split is logged as the mark alone.  The output
 * goes through a real pipe, read when the reader is freed (its drain), the
 * log (stderr) into a file. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/supervise/sv-output.h"
#include "fileio.h"
#include "macro.h"

#define SECRET "s3cret-desktop-value"

static const char *long_secret; /* set by the test that needs it */

static const char *const *test_secrets(void *userdata) {
        static const char *secrets[4];

        secrets[0] = SECRET;
        secrets[1] = "s3cret-d"; /* its VNC password, listed too */
        secrets[2] = long_secret;
        secrets[3] = NULL;
        return secrets;
}

/* What the reader logs for text written to its pipe and then closed:
 * the lines it wrote to stderr, owned by the caller. */
static char *logged(const char *text) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        char path[] = "/tmp/test-sv-output-XXXXXX";
        int fds[2], saved, log_fd;
        SvOutput *o = NULL;
        char *log = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        assert_true(strlen(text) <= SV_OUTPUT_DRAIN_MAX);
        assert_int_equal(write(fds[1], text, strlen(text)), (ssize_t)strlen(text));
        close(fds[1]);
        assert_int_equal(sv_output_new(e, fds[0], "svc", NULL, test_secrets, NULL, NULL, &o), 0);
        log_fd = mkstemp(path);
        assert_true(log_fd >= 0);
        fflush(stderr);
        saved = dup(2);
        assert_true(dup2(log_fd, 2) == 2);
        sv_output_free(o); /* reads what is in the pipe, logs it */
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        close(log_fd);
        assert_int_equal(read_full_file(path, 1 << 20, &log, NULL), 0);
        unlink(path);
        return log;
}

/* The log's lines put together, each's "<6>vm-browser-agent: svc: " and
 * newline taken out, in place. */
static char *joined(char *log) {
        static const char head[] = "<6>vm-browser-agent: svc: ";
        char *o = log;

        for (char *p = log, *nl; *p; p = nl + 1) {
                assert_true(strncmp(p, head, strlen(head)) == 0);
                p += strlen(head);
                nl = strchr(p, '\n');
                assert_non_null(nl);
                memmove(o, p, (size_t)(nl - p));
                o += nl - p;
        }
        *o = '\0';
        return log;
}

/* The secret at each place around the split: from just before it (whole
 * in the first piece) to just after it (whole in the second). */
static void test_secret_over_the_split(void **state) {
        for (size_t at = SV_OUTPUT_LINE_MAX - strlen(SECRET); at <= SV_OUTPUT_LINE_MAX; at++) {
                char text[SV_OUTPUT_LINE_MAX + 64];
                _cleanup_(freep) char *log = NULL;

                memset(text, 'x', at);
                snprintf(text + at, sizeof text - at, "%s tail\n", SECRET);
                log = logged(text);
                /* Two pieces, put together the line redacted whole:
                 * nothing of the secret, not even halves of it. */
                assert_non_null(strstr(log, "\n<6>vm-browser-agent: svc: "));
                text[at] = '\0';
                assert_true(startswith(joined(log), text));
                assert_string_equal(log + at, "[REDACTED] tail");
        }
}

/* The 8-character VNC password ending at the split, the secret after it:
 * the password may be the start of the secret, so it waits for what
 * follows, and both are redacted. */
static void test_short_secret_before_the_split(void **state) {
        char text[2 * SV_OUTPUT_LINE_MAX + 64];
        _cleanup_(freep) char *log = NULL;
        size_t at = SV_OUTPUT_LINE_MAX - strlen("s3cret-d");

        memset(text, 'y', at);
        snprintf(text + at, sizeof text - at, "s3cret-d%s\n", SECRET);
        log = logged(text);
        assert_null(strstr(log, "s3cret"));
        assert_non_null(strstr(log, "y\n<6>vm-browser-agent: svc: [REDACTED][REDACTED]\n"));
}

/* A secret longer than the split at the start of a line: the mark, and
 * nothing of the line after it; the next line is logged again. */
static void test_secret_longer_than_the_split(void **state) {
        char secret[SV_OUTPUT_LINE_MAX + 32], text[sizeof secret + 64];
        _cleanup_(freep) char *log = NULL;

        memset(secret, 'T', sizeof secret - 1);
        secret[sizeof secret - 1] = '\0';
        long_secret = secret;
        snprintf(text, sizeof text, "%s end\nnext\n", secret);
        log = logged(text);
        long_secret = NULL;
        assert_null(strstr(log, "TT"));
        assert_null(strstr(log, "end"));
        assert_non_null(strstr(log, "svc: [REDACTED]\n<6>vm-browser-agent: svc: next\n"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_secret_over_the_split),
                cmocka_unit_test(test_short_secret_before_the_split),
                cmocka_unit_test(test_secret_longer_than_the_split),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
