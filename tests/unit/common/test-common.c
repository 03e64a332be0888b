/* Unit tests for common/: file helpers, logging levels, string lists,
 * enum tables, ISO 8601 and URLs. */
#include <ctype.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "env-file.h"
#include "errbuf.h"
#include "fileio.h"
#include "id-util.h"
#include "launch.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "secret-util.h"
#include "string-table.h"
#include "strv.h"
#include "time-util.h"
#include "url-util.h"

/* mkdir_owned() and write_file_atomic_owned(): our own uid (no root
 * needed); a directory another uid owns is refused, never taken over. */
static void test_owned(void **state) {
        char dir[] = "/tmp/test-common-XXXXXX", p[96], q[96];
        uid_t me = getuid(), other = me == 0 ? 65534 : 0;
        struct stat st;

        assert_non_null(mkdtemp(dir));
        snprintf(p, sizeof p, "%s/a/b", dir);
        assert_int_equal(mkdir_owned(p, 0700, me, getgid()), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(st.st_uid, me);
        /* Exists and ours: the mode is put back. */
        assert_int_equal(chmod(p, 0755), 0);
        assert_int_equal(mkdir_owned(p, 0700, me, getgid()), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        /* Exists and someone else's: refused, untouched. */
        assert_int_equal(mkdir_owned(p, 0700, other, other), -EPERM);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_uid, me);
        /* A symlink is not followed. */
        snprintf(q, sizeof q, "%s/link", dir);
        assert_int_equal(symlink(p, q), 0);
        assert_true(mkdir_owned(q, 0700, me, getgid()) < 0);
        assert_int_equal(mkdir_owned("/tmp", 0700, me, getgid()), -EINVAL);
        assert_int_equal(mkdir_owned("relative/x", 0700, me, getgid()), -EINVAL);
        assert_int_equal(mkdir_owned("/tmp/x/", 0700, me, getgid()), -EINVAL);
        /* A file written over a symlink replaces the link, and is ours. */
        snprintf(q, sizeof q, "%s/file-link", dir);
        assert_int_equal(symlink("/etc/hostname", q), 0);
        assert_int_equal(write_file_atomic_owned(q, "x\n", 2, 0600, me, getgid(), 0), 0);
        assert_int_equal(lstat(q, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        unlink(q);
        snprintf(q, sizeof q, "%s/link", dir);
        unlink(q);
        rmdir(p);
        snprintf(p, sizeof p, "%s/a", dir);
        rmdir(p);
        rmdir(dir);
}

static void test_read_write_atomic(void **state) {
        char dir[] = "/tmp/test-common-XXXXXX", path[64];
        _cleanup_(freep) char *buf = NULL;
        size_t n;
        struct stat st;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/f", dir);
        assert_int_equal(write_file_atomic(path, "hello\n", 6, 0600), 0);
        assert_int_equal(read_full_file(path, 100, &buf, &n), 0);
        assert_int_equal(n, 6);
        assert_string_equal(buf, "hello\n");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        /* Larger than the limit: refused, not truncated. */
        free(TAKE_PTR(buf));
        assert_int_equal(read_full_file(path, 5, &buf, &n), -EFBIG);
        assert_null(buf);
        assert_int_equal(read_full_file("/nonexistent/x", 5, &buf, NULL), -ENOENT);
        unlink(path);
        rmdir(dir);
}

static void test_mkdir_all(void **state) {
        char dir[] = "/tmp/test-common-XXXXXX", path[96];
        struct stat st;
        mode_t old = umask(0);

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/a/b/c", dir);
        assert_int_equal(mkdir_all(path, 0755, 0700), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        snprintf(path, sizeof path, "%s/a/b", dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0755);
        /* Again: existing directories are fine and keep their modes. */
        snprintf(path, sizeof path, "%s/a/b/c", dir);
        assert_int_equal(mkdir_all(path, 0700, 0711), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        /* A file in the way. */
        snprintf(path, sizeof path, "%s/f", dir);
        assert_int_equal(write_file_atomic(path, "x", 1, 0600), 0);
        snprintf(path, sizeof path, "%s/f/g", dir);
        assert_int_equal(mkdir_all(path, 0755, 0700), -ENOTDIR);
        umask(old);
        for (size_t i = 0; i < 4; i++) {
                static const char *const rm[] = { "f", "a/b/c", "a/b", "a" };
                snprintf(path, sizeof path, "%s/%s", dir, rm[i]);
                assert_int_equal(i == 0 ? unlink(path) : rmdir(path), 0);
        }
        rmdir(dir);
}

static void at(char *buf, size_t size, const char *dir, const char *rel) {
        assert_true(snprintf(buf, size, "%s/%s", dir, rel) < (int)size);
}

static void put(const char *dir, const char *rel, const char *text) {
        char path[256];

        at(path, sizeof path, dir, rel);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0600), 0);
}

static void link_to(const char *dir, const char *rel, const char *target) {
        char path[256];

        at(path, sizeof path, dir, rel);
        assert_int_equal(symlink(target, path), 0);
}

static bool exists(const char *dir, const char *rel) {
        char path[256];
        struct stat st;

        at(path, sizeof path, dir, rel);
        return lstat(path, &st) == 0;
}

/* A HOME a CLI filled with symlinks out of the tree: the links go, what
 * they point to stays. */
static void test_rm_rf_at_symlinks(void **state) {
        char dir[] = "/tmp/test-common-XXXXXX", path[256];
        _cleanup_(closep) int fd = -EBADF;

        assert_non_null(mkdtemp(dir));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        at(path, sizeof path, dir, "outside/deep");
        assert_int_equal(mkdir_all(path, 0700, 0700), 0);
        put(dir, "outside/secret", "keep");
        put(dir, "outside/deep/secret", "keep");
        at(path, sizeof path, dir, "home/.codex/sub");
        assert_int_equal(mkdir_all(path, 0700, 0700), 0);
        put(dir, "home/.codex/auth.json", "{}");
        put(dir, "home/.codex/sub/f", "x");
        link_to(dir, "home/dir-abs", dir);                       /* the parent, absolute */
        link_to(dir, "home/dir-rel", "../outside");              /* a sibling, relative */
        link_to(dir, "home/.codex/file", "../../outside/secret"); /* a file */
        link_to(dir, "home/dangling", "/nonexistent/x");
        at(path, sizeof path, dir, "home/fifo");
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(rm_rf_at(fd, "home"), 0);
        assert_false(exists(dir, "home"));
        assert_true(exists(dir, "outside/secret"));
        assert_true(exists(dir, "outside/deep/secret"));
        /* The name itself a symlink to a directory: only the link goes. */
        link_to(dir, "ln", "outside");
        assert_int_equal(rm_rf_at(fd, "ln"), 0);
        assert_false(exists(dir, "ln"));
        assert_true(exists(dir, "outside/deep/secret"));
        /* Gone already: removed. */
        assert_int_equal(rm_rf_at(fd, "home"), 0);
        /* One path component, below dirfd: nothing else. */
        assert_int_equal(rm_rf_at(fd, ""), -EINVAL);
        assert_int_equal(rm_rf_at(fd, "."), -EINVAL);
        assert_int_equal(rm_rf_at(fd, ".."), -EINVAL);
        assert_int_equal(rm_rf_at(fd, "outside/deep"), -EINVAL);
        assert_true(exists(dir, "outside/deep/secret"));
        assert_int_equal(rm_rf_at(fd, "outside"), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* All of the string, digits only: no blank, sign or anything after. */
static void test_parse_unsigned(void **state) {
        static const struct {
                const char *s;
                uint64_t max;
                int r;
                uint64_t v;
        } cases[] = {
                { "0", 10, 0, 0 },      { "10", 10, 0, 10 },   { "11", 10, -EINVAL, 0 },
                { "", 10, -EINVAL, 0 }, { "-1", 10, -EINVAL, 0 }, { "1x", 10, -EINVAL, 0 },
                { "x", 10, -EINVAL, 0 }, { " -1", UINT32_MAX, -EINVAL, 0 }, { "+1", 10, -EINVAL, 0 },
                { " 1", 10, -EINVAL, 0 }, { "1 ", 10, -EINVAL, 0 }, { "007", 10, 0, 7 },
                { "7", 5, -EINVAL, 0 },  { "5", 5, 0, 5 },     { "0", 0, 0, 0 },      { "1", 0, -EINVAL, 0 },
                { "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
                { "18446744073709551616", UINT64_MAX, -EINVAL, 0 },
                { "4294967295", UINT32_MAX, 0, UINT32_MAX }, { "4294967296", UINT32_MAX, -EINVAL, 0 },
                { "99999999999999999999999", UINT64_MAX, -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 12345;

                assert_int_equal(parse_unsigned(cases[i].s, cases[i].max, &v), cases[i].r);
                assert_true(v == (cases[i].r == 0 ? cases[i].v : 12345));
        }
        assert_int_equal(parse_unsigned(NULL, 10, &(uint64_t){ 0 }), -EINVAL);
}

/* A field inside a longer text: exactly its n bytes. */
static void test_parse_unsigned_span(void **state) {
        uint64_t v = 12345;

        assert_int_equal(parse_unsigned_span("1000 0 12", 4, UINT32_MAX, &v), 0);
        assert_int_equal(v, 1000);
        assert_int_equal(parse_unsigned_span("1000 0 12", 5, UINT32_MAX, &v), -EINVAL);
        assert_int_equal(parse_unsigned_span("12x", 2, 99, &v), 0);
        assert_int_equal(v, 12);
        assert_int_equal(parse_unsigned_span("123", 3, 99, &v), -EINVAL);
        assert_int_equal(parse_unsigned_span("-1", 2, 99, &v), -EINVAL);
        assert_int_equal(parse_unsigned_span("1", 0, 99, &v), -EINVAL);
        assert_int_equal(v, 12);
}

static void test_write_file_atomic_at(void **state) {
        char dir[] = "/tmp/test-common-XXXXXX", path[256];
        _cleanup_(closep) int fd = -EBADF;
        struct stat st;
        char *text = NULL;

        assert_non_null(mkdtemp(dir));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        put(dir, "victim", "keep");
        link_to(dir, "user.js", "victim");
        assert_int_equal(write_file_atomic_at(fd, "user.js", "new\n", 4, 0644), 0);
        at(path, sizeof path, dir, "user.js");
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(read_full_file(path, 64, &text, NULL), 0);
        assert_string_equal(text, "new\n");
        free(text);
        at(path, sizeof path, dir, "victim");
        assert_int_equal(read_full_file(path, 64, &text, NULL), 0);
        assert_string_equal(text, "keep");
        free(text);
        assert_int_equal(write_file_atomic_at(fd, "a/b", "x", 1, 0644), -EINVAL);
        assert_int_equal(write_file_atomic_at(fd, "..", "x", 1, 0644), -EINVAL);
        assert_int_equal(write_file_atomic_at(fd, "", "x", 1, 0644), -EINVAL);
        assert_int_equal(unlinkat(fd, "user.js", 0), 0);
        assert_int_equal(unlinkat(fd, "victim", 0), 0);
        assert_int_equal(rmdir(dir), 0); /* empty: no temporary file left */
}

/* A chain of depth directories below dir/name, with a file "f" in each. */
static void make_chain(const char *dir, const char *name, size_t depth) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), next;

        assert_true(fd >= 0);
        for (size_t i = 0; i < depth; i++) {
                assert_int_equal(mkdirat(fd, i == 0 ? name : "d", 0700), 0);
                next = openat(fd, i == 0 ? name : "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                assert_true(next >= 0);
                close(fd);
                fd = next;
                int f = openat(fd, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                assert_true(f >= 0);
                close(f);
        }
        close(fd);
}

/* Nesting holds one fd per level entered, and is bounded: what lies
 * deeper is moved up and removed too, nothing stays behind. */
static void test_rm_rf_at_depth(void **state) {
        char dir[] = "/tmp/test-common-XXXXXX";
        _cleanup_(closep) int fd = -EBADF;

        assert_non_null(mkdtemp(dir));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        /* RM_RF_DEPTH_MAX levels, then one more, then many more. */
        for (size_t depth = RM_RF_DEPTH_MAX; depth <= RM_RF_DEPTH_MAX + 1; depth++) {
                make_chain(dir, "t", depth);
                assert_int_equal(rm_rf_at(fd, "t"), 0);
                assert_false(exists(dir, "t"));
        }
        make_chain(dir, "t", 20 * RM_RF_DEPTH_MAX + 7);
        /* The names it moves directories to, taken already. */
        make_chain(dir, "t/.rm-rf-0", 2);
        make_chain(dir, "t/.rm-rf-1", RM_RF_DEPTH_MAX + 3);
        assert_int_equal(rm_rf_at(fd, "t"), 0);
        assert_false(exists(dir, "t"));
        assert_int_equal(rmdir(dir), 0);
}

static void test_log_level_from_string(void **state) {
        assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
        assert_int_equal(log_level_from_string("err"), LOG_ERR);
        assert_int_equal(log_level_from_string("error"), LOG_ERR);
        assert_int_equal(log_level_from_string("3"), 3);
        assert_int_equal(log_level_from_string("8"), -EINVAL);
        assert_int_equal(log_level_from_string("loud"), -EINVAL);
        assert_int_equal(log_level_from_string(NULL), -EINVAL);
}

static void test_log_returns_negative(void **state) {
        log_set_max_level(LOG_EMERG); /* keep test output quiet */
        assert_int_equal(log_error_errno(EIO, "x"), -EIO);
        assert_int_equal(log_error_errno(-ENOENT, "x"), -ENOENT);
        log_set_max_level(LOG_INFO);
}

/* What one log call writes to stderr, captured through a pipe. */
static void log_captured(LogTarget t, char *buf, size_t size) {
        int p[2], saved = dup(STDERR_FILENO);
        ssize_t n;

        assert_int_equal(pipe(p), 0);
        assert_true(dup2(p[1], STDERR_FILENO) >= 0);
        log_set_target(t);
        log_set_ident("tst");
        log_warning("one\ntwo\rthree %d\x1b[2J\tend\x7f 1…2 é \xc2\x9b" "1m", 3);
        log_set_ident("vm-browser-agent");
        log_set_target(LOG_TARGET_STDERR);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        close(p[1]);
        n = read(p[0], buf, size - 1);
        close(p[0]);
        assert_true(n >= 0);
        buf[n] = '\0';
}

static void test_log_format(void **state) {
        char buf[256];

        /* A message is one line: an embedded newline cannot forge a record,
         * an escape sequence cannot redraw a terminal; UTF-8 stays whole. */
        log_captured(LOG_TARGET_STDERR, buf, sizeof buf);
        assert_string_equal(buf, "<4>tst: one two three 3?[2J end? 1…2 é ??1m\n");
        log_captured(LOG_TARGET_TERMINAL, buf, sizeof buf);
        assert_string_equal(buf, "tst: one two three 3?[2J end? 1…2 é ??1m\n");
}

static void test_path_checks(void **state) {
        static const struct {
                const char *s;
                bool relative, filename;
        } t[] = {
                { "a", true, true },
                { ".codex", true, true },
                { "..x", true, true },
                { "a/b/c.json", true, false },
                { ".gemini/oauth_creds.json", true, false },
                { "a/..b/c", true, false },
                { "", false, false },
                { NULL, false, false },
                { ".", false, false },
                { "..", false, false },
                { "/a", false, false },
                { "a/", false, false },
                { "a//b", false, false },
                { "a/./b", false, false },
                { "a/../b", false, false },
                { "a/..", false, false },
                { "./a", false, false },
        };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                print_message("%s\n", t[i].s ?: "(null)");
                assert_int_equal(path_is_safe_relative(t[i].s), t[i].relative);
                assert_int_equal(filename_is_valid(t[i].s), t[i].filename);
        }
}

/* wait()'s statuses as the kernel makes them: exit code << 8, or the
 * signal with 0x80 for a core. */
static void test_wstatus_to_string(void **state) {
        char buf[64];

        (void)state;
        assert_string_equal(wstatus_to_string(0, buf, sizeof buf), "exited 0");
        assert_string_equal(wstatus_to_string(127 << 8, buf, sizeof buf), "exited 127");
        assert_string_equal(wstatus_to_string(SIGKILL, buf, sizeof buf), "killed by SIGKILL");
        assert_string_equal(wstatus_to_string(SIGSEGV | 0x80, buf, sizeof buf), "dumped core, killed by SIGSEGV");
        assert_string_equal(wstatus_to_string(0x137f, buf, sizeof buf), "status 0x137f"); /* stopped by SIGSTOP */
        assert_string_equal(wstatus_to_string(0x7e, buf, sizeof buf), "killed by SIG?"); /* no such signal */
        assert_string_equal(wstatus_to_string(SIGTERM, buf, 8), "killed "); /* cut to the buffer */
}

static void test_env_file(void **state) {
        static const char text[] =
                "# written by the host\n"
                "SESSION_ID=network-fix-test-1\n"
                "DISPLAY=:1\n"
                "HTTP_PROXY=http://10.0.0.1:3128\n"
                "export HTTPS_PROXY=\"http://u:p@proxy:8080\"\n"
                "  NO_PROXY='localhost,127.0.0.1'  \r\n"
                "EMPTY=\n"
                "TWICE=first\n"
                "TWICE=second\n"
                "HTTP_PROXY_X=not this\n"
                "not an assignment\n"
                "Q=\"unbalanced\n"
                "LAST=no newline";
        static const struct { const char *key, *value; } t[] = {
                { "SESSION_ID", "network-fix-test-1" },
                { "HTTP_PROXY", "http://10.0.0.1:3128" },
                { "HTTPS_PROXY", "http://u:p@proxy:8080" },
                { "NO_PROXY", "localhost,127.0.0.1" },
                { "EMPTY", "" },
                { "TWICE", "second" },
                { "Q", "\"unbalanced" },
                { "LAST", "no newline" },
        };
        char *v = NULL;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                assert_int_equal(env_file_get(text, t[i].key, &v), 0);
                assert_string_equal(v, t[i].value);
                free(v);
        }
        assert_int_equal(env_file_get(text, "http_proxy", &v), -ENOENT);
        assert_int_equal(env_file_get(text, "HTTP", &v), -ENOENT);
        assert_int_equal(env_file_get(text, "not an assignment", &v), -ENOENT);
        assert_int_equal(env_file_get("", "A", &v), -ENOENT);
        assert_int_equal(env_file_get(text, "", &v), -EINVAL);
}

static void test_startswith(void **state) {
        assert_string_equal(startswith("vmba.token=x", "vmba."), "token=x");
        assert_null(startswith("vmb", "vmba."));
        assert_true(streq_ptr(NULL, NULL));
        assert_false(streq_ptr("a", NULL));
}

/* starttime is field 22 of /proc/self/stat; field 21 (itrealvalue) is
 * always 0, which an off-by-one used to return. */
static void test_unhexchar(void **state) {
        static const char digits[] = "0123456789abcdef";

        for (int i = 0; i < 16; i++) {
                assert_int_equal(unhexchar(digits[i]), i);
                assert_int_equal(unhexchar((char)toupper(digits[i])), i);
        }
        assert_int_equal(unhexchar('g'), -EINVAL);
        assert_int_equal(unhexchar('G'), -EINVAL);
        assert_int_equal(unhexchar('/'), -EINVAL);
        assert_int_equal(unhexchar(':'), -EINVAL);
        assert_int_equal(unhexchar('@'), -EINVAL);
        assert_int_equal(unhexchar('`'), -EINVAL);
        assert_int_equal(unhexchar('\0'), -EINVAL);
        assert_int_equal(unhexchar((char)0xc1), -EINVAL);
}

static void test_strv(void **state) {
        char *a[] = { (char *)"x", (char *)"y", NULL }, *b[] = { (char *)"z", NULL };
        char **l = strv_concat(a, b);

        assert_non_null(l);
        assert_int_equal(strv_length(l), 3);
        assert_string_equal(l[0], "x");
        assert_string_equal(l[2], "z");
        assert_null(l[3]);
        assert_ptr_not_equal(l[0], a[0]); /* copies */
        assert_null(strv_free(l));
        l = strv_concat(NULL, NULL); /* an empty list, not NULL */
        assert_non_null(l);
        assert_int_equal(strv_length(l), 0);
        strv_free(l);
        assert_int_equal(strv_length(NULL), 0);
        assert_null(strv_free(NULL));
}

static void test_process_start_boottime(void **state) {
        usec_t t = process_start_boottime();
        assert_true(t > 0);
        assert_true(t <= now(CLOCK_BOOTTIME));
}

/* 2026-11-21T23:59:01.123Z */
#define REALTIME ((usec_t)1795305541 * USEC_PER_SEC + 123456)

static void test_iso8601(void **state) {
        char buf[ISO8601_MAX];

        assert_string_equal(format_iso8601(REALTIME, buf), "2026-11-21T23:59:01.123Z");
        assert_string_equal(format_iso8601(0, buf), "1970-01-01T00:00:00.000Z");
        /* Leap day, last millisecond of the second. */
        assert_string_equal(format_iso8601((usec_t)1709251199 * USEC_PER_SEC + 999999, buf),
                            "2024-02-29T23:59:59.999Z");
        /* Not a leap year (divisible by 100), and a year 2100 date. */
        assert_string_equal(format_iso8601((usec_t)4107542400 * USEC_PER_SEC, buf), "2100-03-01T00:00:00.000Z");
}

typedef enum Colour {
        COLOUR_RED,
        COLOUR_GREEN,
        COLOUR_UNNAMED, /* a hole in the table */
        COLOUR_BLUE,
        _COLOUR_MAX,
        _COLOUR_INVALID = -EINVAL,
} Colour;

static const char *const colour_table[_COLOUR_MAX] = {
        [COLOUR_RED] = "red", [COLOUR_GREEN] = "green", [COLOUR_BLUE] = "blue",
};
static const char *colour_to_string(Colour c);
static Colour colour_from_string(const char *s);
DEFINE_STRING_TABLE_LOOKUP(colour, Colour);

static void test_string_table(void **state) {
        assert_string_equal(colour_to_string(COLOUR_RED), "red");
        assert_string_equal(colour_to_string(COLOUR_BLUE), "blue");
        assert_null(colour_to_string(COLOUR_UNNAMED));
        assert_null(colour_to_string(_COLOUR_MAX));
        assert_null(colour_to_string(_COLOUR_INVALID));
        assert_int_equal(colour_from_string("green"), COLOUR_GREEN);
        assert_int_equal(colour_from_string("blue"), COLOUR_BLUE);
        assert_int_equal(colour_from_string("Blue"), _COLOUR_INVALID);
        assert_int_equal(colour_from_string(""), _COLOUR_INVALID);
        assert_int_equal(colour_from_string(NULL), _COLOUR_INVALID);
}

static void test_provider_id_is_valid(void **state) {
        static const char *const good[] = { "codex", "claude_code", "gemini-cli", "oauth", "a", "0" };
        static const char *const bad[] = { "", "Codex", "a b", "a.b", "x)\nreceived: /etc/shadow (y", "caf\xc3\xa9",
                                           "a/b", "a:b" };
        char longest[66];

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(provider_id_is_valid(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(provider_id_is_valid(bad[i]));
        assert_false(provider_id_is_valid(NULL));
        memset(longest, 'a', 64);
        longest[64] = '\0';
        assert_true(provider_id_is_valid(longest));
        longest[64] = 'a';
        longest[65] = '\0';
        assert_false(provider_id_is_valid(longest));
}

static void test_url_loggable_len(void **state) {
        static const struct {
                const char *url, *logged;
        } cases[] = {
                { "https://a.example/authorize?code=SECRET#frag", "https://a.example" },
                { "https://a.example#access_token=SECRET", "https://a.example" },
                /* A path may hold a secret too (a sign-in link's token). */
                { "http://a.example:8080/verify/SECRET", "http://a.example:8080" },
                { "https://[::1]:9/p", "https://[::1]:9" },
                { "https://a.example?x=@y", "https://a.example" },
                { "https://a.example", "https://a.example" },
                /* Not http(s): only what precedes any '/', '?' or '#'. */
                { "file:///etc/passwd", "file:" },
                { "", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t n = url_loggable_len(cases[i].url);
                assert_int_equal(n, strlen(cases[i].logged));
                assert_memory_equal(cases[i].url, cases[i].logged, n);
        }
}

static void test_http_url_is_valid(void **state) {
        assert_true(http_url_is_valid("https://a.example/x?y=1"));
        assert_true(http_url_is_valid("http://127.0.0.1:8/"));
        assert_false(http_url_is_valid("https://"));
        assert_false(http_url_is_valid("https://@x/"));
        assert_false(http_url_is_valid("file:///etc/passwd"));
        assert_false(http_url_is_valid("javascript:alert(1)"));
        assert_false(http_url_is_valid("https://a/$(touch /tmp/x)"));
        assert_false(http_url_is_valid("https://a/\n"));
        assert_false(http_url_is_valid("-https://a/"));
        assert_false(http_url_is_valid("https://a/\xc3\xa9"));
        assert_false(http_url_is_valid(NULL));
        /* The authority: hosts, IPv6 literals and ports as browsers take
         * them; userinfo never (what follows the '@' is the real host). */
        assert_true(http_url_is_valid("https://a.example"));
        assert_true(http_url_is_valid("https://a.example?x=@y"));
        assert_true(http_url_is_valid("https://a.example/p@q#r@s"));
        assert_true(http_url_is_valid("http://[::1]:8080/"));
        assert_true(http_url_is_valid("http://[fd00::2]/"));
        assert_true(http_url_is_valid("http://127.0.0.1:65535/"));
        assert_false(http_url_is_valid("http://127.0.0.1:80@evil.example/x"));
        assert_false(http_url_is_valid("https://claude.com@evil.example/"));
        assert_false(http_url_is_valid("https://user:pw@a.example/"));
        assert_false(http_url_is_valid("http://127.0.0.1:80.evil.example/"));
        assert_false(http_url_is_valid("http://127.0.0.1:/"));
        assert_false(http_url_is_valid("http://127.0.0.1:123456/"));
        assert_false(http_url_is_valid("http://127.0.0.1:65536/"));
        assert_false(http_url_is_valid("http://a[b/"));
        assert_false(http_url_is_valid("http://a]:80/"));
        assert_false(http_url_is_valid("http://a:b:80/"));
        assert_false(http_url_is_valid("http://:80/"));
        assert_false(http_url_is_valid("http://[]/"));
        assert_false(http_url_is_valid("http://[::1/"));
        assert_false(http_url_is_valid("http://[::1]x/"));
        assert_false(http_url_is_valid("http://[::1]:/"));
        /* A browser reads a backslash as '/': the host would be evil.example. */
        assert_false(http_url_is_valid("https://evil.example\\claude.com/"));
        assert_false(http_url_is_valid("https://a.example/\\x"));
}

static void test_secret_redact(void **state) {
        /* What websockify prints for the desktop secret, and the VNC
         * password (its first 8 characters) listed too. */
        const char *const secrets[] = { "abcdefgh", "abcdefgh-rest-of-it", NULL, "x" };
        const char *const none[] = { NULL };
        const char *const empty[] = { "", NULL };
        char out[64];

        assert_int_equal(secret_redact("Path: '/websockify?token=abcdefgh-rest-of-it'", secrets, out, sizeof out), 36);
        assert_string_equal(out, "Path: '/websockify?token=[REDACTED]'");
        assert_int_equal(secret_redact("pw abcdefgh and abcdefgh-rest-of-itabcdefgh", secrets, out, sizeof out), 38);
        assert_string_equal(out, "pw [REDACTED] and [REDACTED][REDACTED]");
        /* A near miss stays; nothing listed after NULL counts. */
        assert_int_equal(secret_redact("abcdefgX x", secrets, out, sizeof out), 10);
        assert_string_equal(out, "abcdefgX x");
        assert_int_equal(secret_redact("plain", none, out, sizeof out), 5);
        assert_int_equal(secret_redact("plain", empty, out, sizeof out), 5);
        assert_int_equal(secret_redact("plain", NULL, out, sizeof out), 5);
        /* Too long for out: cut before a mark that would not fit, never
         * leaving part of the secret or of the mark. */
        assert_int_equal(secret_redact("12345abcdefgh", secrets, out, 12), 5);
        assert_string_equal(out, "12345");
        assert_int_equal(secret_redact("12345678901234", secrets, out, 12), 11);
        assert_string_equal(out, "12345678901");
        assert_int_equal(secret_redact("x", secrets, out, 0), 0);
}

static void test_desktop_secret_valid(void **state) {
        assert_true(desktop_secret_is_valid("vmba-test-desktop-secret-0123"));
        assert_true(desktop_secret_is_valid("Abc.~_-9"));
        assert_false(desktop_secret_is_valid("short7c"));              /* < 8: VNC's 8 would be padding */
        assert_false(desktop_secret_is_valid("has: colon-space"));     /* the token file's separator */
        assert_false(desktop_secret_is_valid("with&amp=query"));       /* would need URL escaping */
        assert_false(desktop_secret_is_valid("percent%41encoded"));
        assert_false(desktop_secret_is_valid("two\nlines-of-it"));
        assert_false(desktop_secret_is_valid(""));
        assert_false(desktop_secret_is_valid(NULL));
        char big[DESKTOP_SECRET_MAX + 2];
        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        assert_false(desktop_secret_is_valid(big));
        big[DESKTOP_SECRET_MAX] = '\0';
        assert_true(desktop_secret_is_valid(big));
}

static void test_secret_equal(void **state) {
        assert_true(secret_equal("s3cret", 6, "s3cret"));
        /* Only the first given_len bytes count: the parser passes a length. */
        assert_true(secret_equal("s3cret  ", 6, "s3cret"));
        assert_false(secret_equal("s3creT", 6, "s3cret"));
        assert_false(secret_equal("S3cret", 6, "s3cret"));
        assert_false(secret_equal("s3cre", 5, "s3cret"));
        assert_false(secret_equal("s3crets", 7, "s3cret"));
        /* A prefix repeated cyclically must not pass for the whole. */
        assert_false(secret_equal("ab", 2, "abab"));
        assert_false(secret_equal("", 0, "s3cret"));
        /* An empty expected token never matches: "no token" is handled by
         * the caller, not by accepting anything. */
        assert_false(secret_equal("", 0, ""));
        /* An OAuth state compared with its own length. */
        assert_true(secret_equal("abc", 3, "abc"));
        assert_false(secret_equal("abd", 3, "abc"));
        assert_false(secret_equal("ab", 2, "abc"));
}

/* The parsers' message convention: prefix, one line, truncated, -EINVAL. */
static void test_errbuf_fail(void **state) {
        char buf[32];

        assert_int_equal(errbuf_fail(buf, sizeof buf, "provider", "x\ny", "key \"%s\"", "a\tb\x7f"), -EINVAL);
        assert_string_equal(buf, "provider x?y: key \"a?b?\"");
        assert_int_equal(errbuf_fail(buf, sizeof buf, "clis", NULL, "bad"), -EINVAL);
        assert_string_equal(buf, "clis ?: bad");
        assert_int_equal(errbuf_fail(buf, sizeof buf, NULL, NULL, "line %d:\r\n%s", 3, "end"), -EINVAL);
        assert_string_equal(buf, "line 3:??end");
        /* Truncated to the buffer, still terminated. */
        assert_int_equal(errbuf_fail(buf, 8, NULL, NULL, "%s", "0123456789"), -EINVAL);
        assert_string_equal(buf, "0123456");
        /* No buffer: nothing written, the error all the same. */
        assert_int_equal(errbuf_fail(NULL, 0, "what", "n", "x"), -EINVAL);
        buf[0] = 'k';
        assert_int_equal(errbuf_fail(buf, 0, NULL, NULL, "x"), -EINVAL);
        assert_int_equal(buf[0], 'k');
        /* UTF-8 and printable bytes stay. */
        char s[] = "caf\xc3\xa9 ~";
        string_one_line(s);
        assert_string_equal(s, "caf\xc3\xa9 ~");
        /* C1 controls in UTF-8 go (U+009B is CSI); U+00A0 and on stay. */
        char c1[] = "a\xc2\x80" "b\xc2\x9f" "c\xc2\xa0" "d\xc2";
        string_one_line(c1);
        assert_string_equal(c1, "a??b??c\xc2\xa0" "d?");
        string_one_line(NULL);
}

/* The model string_one_line() is held to, written the other way round:
 * decode the code point by its lead bits, then reject the forms RFC 3629
 * forbids.  Returns the length of a printable character at s, else 0. */
static size_t model_printable_len(const unsigned char *s) {
        static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc0 && s[0] < 0xe0 ? 2 : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
                 : s[0] >= 0xf0 && s[0] < 0xf8 ? 4 : 0;
        uint32_t cp;

        if (n == 0)
                return 0;
        cp = n == 1 ? s[0] : s[0] & (0x7f >> n);
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
                return 0;
        /* Bidirectional controls, separators, zero-width ones, the BOM. */
        static const uint32_t invisible[][2] = { { 0x061c, 0x061c }, { 0x200b, 0x200f }, { 0x2028, 0x202e },
                                                 { 0x2060, 0x2064 }, { 0x2066, 0x2069 }, { 0xfeff, 0xfeff } };
        for (size_t i = 0; i < ELEMENTSOF(invisible); i++)
                if (cp >= invisible[i][0] && cp <= invisible[i][1])
                        return 0;
        return n;
}

static void model_one_line(unsigned char *s) {
        while (*s) {
                size_t n = model_printable_len(s);

                if (n == 0)
                        *s++ = '?';
                else
                        s += n;
        }
}

static void check_one_line(const unsigned char *in, size_t len) {
        unsigned char got[8] = { 0 }, want[8] = { 0 };

        memcpy(got, in, len);
        memcpy(want, in, len);
        string_one_line((char *)got);
        model_one_line(want);
        if (memcmp(got, want, sizeof got) != 0)
                fail_msg("string_one_line(%02x %02x %02x %02x) differs from the model",
                         in[0], in[1], in[2], in[3]);
}

/* Every string of one to three bytes, and every four-byte string whose
 * lead can start a four-byte sequence with the continuation bytes at their
 * edges and just outside them: the output is printable UTF-8, and a valid
 * printable character is left as it was. */
static void test_string_one_line_utf8(void **state) {
        static const unsigned char edge[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff };
        unsigned char in[4];

        for (unsigned a = 1; a < 256; a++)
                for (unsigned b = 0; b < 256; b++)
                        for (unsigned c = 0; c < 256; c++) {
                                in[0] = a, in[1] = b, in[2] = c, in[3] = 0;
                                check_one_line(in, b == 0 ? 1 : c == 0 ? 2 : 3);
                        }
        for (unsigned a = 0xf0; a < 0xf8; a++)
                for (unsigned b = 0x80; b < 0xc0; b++)
                        for (size_t i = 0; i < ELEMENTSOF(edge); i++)
                                for (size_t j = 0; j < ELEMENTSOF(edge); j++) {
                                        in[0] = a, in[1] = b, in[2] = edge[i], in[3] = edge[j];
                                        check_one_line(in, 4);
                                }
        /* A raw CSI (0x9b outside UTF-8) and a surrogate go; U+10FFFF stays. */
        char s[] = "a\x9b" "31m\xed\xa0\x80" "b\xf4\x8f\xbf\xbf";
        string_one_line(s);
        assert_string_equal(s, "a?31m???b\xf4\x8f\xbf\xbf");
        /* RIGHT-TO-LEFT OVERRIDE and LINE SEPARATOR go; U+2030 (per mille) stays. */
        char bidi[] = "x\xe2\x80\xae" "y\xe2\x80\xa8" "z\xe2\x80\xb0";
        string_one_line(bidi);
        assert_string_equal(bidi, "x???y???z\xe2\x80\xb0");
}

/* Passing through by the mode bits: owner, then group, then others. */
static void test_path_passable(void **state) {
        char dir[] = "/tmp/test-passable-XXXXXX", sub[64], sock[96], blocked[96];
        uid_t me = getuid(), other = getuid() == 65534 ? 65533 : 65534;
        gid_t mine = getgid();

        assert_non_null(mkdtemp(dir));
        snprintf(sub, sizeof sub, "%s/sub", dir);
        snprintf(sock, sizeof sock, "%s/control.sock", sub);
        assert_int_equal(mkdir(sub, 0700), 0);
        assert_int_equal(path_passable(sock, me, mine, blocked, sizeof blocked), 0);
        /* Another uid outside the group: not through sub/. */
        assert_int_equal(chmod(dir, 0711), 0);
        assert_int_equal(path_passable(sock, other, (gid_t)-2, blocked, sizeof blocked), -EACCES);
        assert_true(startswith(blocked, sub));
        /* In the group, with group x: through. */
        assert_int_equal(chmod(sub, 0710), 0);
        assert_int_equal(path_passable(sock, other, mine, blocked, sizeof blocked), 0);
        assert_int_equal(path_passable(sock, other, (gid_t)-2, NULL, 0), -EACCES);
        /* Others x: anyone. */
        assert_int_equal(chmod(sub, 0701), 0);
        assert_int_equal(path_passable(sock, other, (gid_t)-2, blocked, sizeof blocked), 0);
        /* The owner's bits are the owner's, even with others' x. */
        assert_int_equal(chmod(sub, 0071), 0);
        assert_int_equal(path_passable(sock, me, mine, blocked, sizeof blocked), -EACCES);
        assert_int_equal(path_passable("relative/x", me, mine, NULL, 0), -EINVAL);
        assert_int_equal(path_passable("/nonexistent-dir-vmba/x/y", me, mine, NULL, 0), -ENOENT);
        assert_int_equal(chmod(sub, 0700), 0);
        rmdir(sub);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_write_atomic),
                cmocka_unit_test(test_owned),
                cmocka_unit_test(test_secret_redact),
                cmocka_unit_test(test_desktop_secret_valid),
                cmocka_unit_test(test_mkdir_all),
                cmocka_unit_test(test_rm_rf_at_symlinks),
                cmocka_unit_test(test_write_file_atomic_at),
                cmocka_unit_test(test_rm_rf_at_depth),
                cmocka_unit_test(test_log_level_from_string),
                cmocka_unit_test(test_log_returns_negative),
                cmocka_unit_test(test_log_format),
                cmocka_unit_test(test_path_checks),
                cmocka_unit_test(test_wstatus_to_string),
                cmocka_unit_test(test_env_file),
                cmocka_unit_test(test_startswith),
                cmocka_unit_test(test_unhexchar),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_process_start_boottime),
                cmocka_unit_test(test_iso8601),
                cmocka_unit_test(test_string_table),
                cmocka_unit_test(test_http_url_is_valid),
                cmocka_unit_test(test_provider_id_is_valid),
                cmocka_unit_test(test_url_loggable_len),
                cmocka_unit_test(test_parse_unsigned),
                cmocka_unit_test(test_parse_unsigned_span),
                cmocka_unit_test(test_secret_equal),
                cmocka_unit_test(test_errbuf_fail),
                cmocka_unit_test(test_string_one_line_utf8),
                cmocka_unit_test(test_path_passable),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
