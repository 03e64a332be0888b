/* Unit tests for agent/login/capture.c: a half-written credential file is not a
 * capture, the complete one is (once, 0600), a symlink is never followed
 * (the file's or a directory's on the way), a hard link is refused,
 * a file that existed before the watch counts only once it changes, and a
 * file the check refuses (written before the real content) is not one,
 * nor one of more values than CAPTURE_VALUES_MAX; a write whose event the
 * kernel dropped (its queue overran) is still captured.
 * Runs a private sd-event loop; no root needed. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "agent/login/capture.h"
#include "fileio.h"
#include "macro.h"

typedef struct Result {
        int n;
        char *dump;
} Result;

static void on_capture(Capture *c, json_t *j, usec_t modified, void *userdata) {
        Result *r = userdata;

        r->n++;
        free(r->dump);
        r->dump = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        assert_true(modified > 0);
        json_decref(j);
}

static void write_raw(const char *path, const char *s) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(loop_write(fd, s, strlen(s)), 0);
        close(fd);
}

/* Dispatches what is pending without waiting. */
static void drain(sd_event *e) {
        while (sd_event_run(e, 0) > 0)
                ;
}

static void test_half_then_complete(void **state) {
        char dir[] = "/tmp/test-capture-XXXXXX", path[128], link[128];
        sd_event *e = NULL;
        Capture *c = NULL;
        Result res = {};
        struct stat st;
        json_t *j = NULL;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/sub/dir/creds.json", dir);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(capture_start(e, dir, "sub/dir/creds.json", getuid(), getgid(), NULL, on_capture, &res, &c), 0);
        /* Directories were created for the watch. */
        snprintf(link, sizeof link, "%s/sub/dir", dir);
        assert_int_equal(stat(link, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);

        write_raw(path, "{\"access_token\": \"abc\", \"refr");
        drain(e);
        assert_int_equal(res.n, 0);
        assert_int_equal(capture_read(dir, "sub/dir/creds.json", &j, NULL), -ENODATA);

        write_raw(path, "[1, 2]"); /* JSON, but not an object */
        drain(e);
        assert_int_equal(res.n, 0);

        write_raw(path, "{\"access_token\": \"abc\", \"refresh_token\": \"def\"}");
        drain(e);
        assert_int_equal(res.n, 1);
        assert_string_equal(res.dump, "{\"access_token\":\"abc\",\"refresh_token\":\"def\"}");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        /* Once. */
        write_raw(path, "{\"x\": 1}");
        drain(e);
        assert_int_equal(res.n, 1);

        capture_free(c);
        free(res.dump);
        sd_event_unref(e);
        unlink(path);
        rmdir(link);
        snprintf(link, sizeof link, "%s/sub", dir);
        rmdir(link);
        rmdir(dir);
}

static void test_symlink_and_old_file(void **state) {
        char dir[] = "/tmp/test-capture-XXXXXX", path[128], target[128];
        sd_event *e = NULL;
        Capture *c = NULL;
        Result res = {};
        json_t *j = NULL;
        struct stat st;
        mode_t old = umask(022);

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/creds.json", dir);
        snprintf(target, sizeof target, "%s/other.json", dir);
        write_raw(target, "{\"not\": \"yours\"}");
        assert_int_equal(symlink(target, path), 0);
        assert_int_equal(capture_read(dir, "creds.json", &j, NULL), -ELOOP);
        assert_int_equal(stat(target, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0644); /* the target's mode untouched */
        unlink(path);

        /* Read directly (the CLI's exit came before the inotify event):
         * made 0600 too. */
        write_raw(path, "{\"direct\": true}");
        assert_int_equal(capture_read(dir, "creds.json", &j, NULL), 0);
        json_decref(TAKE_PTR(j));
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        unlink(path);

        /* Left over from before the login: not a capture until rewritten. */
        write_raw(path, "{\"old\": true}");
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(capture_start(e, dir, "creds.json", getuid(), getgid(), NULL, on_capture, &res, &c), 0);
        drain(e);
        assert_int_equal(res.n, 0);
        /* A rename over it (how most CLIs write) is. */
        write_raw(target, "{\"new\": true}");
        assert_int_equal(rename(target, path), 0);
        drain(e);
        assert_int_equal(res.n, 1);
        assert_string_equal(res.dump, "{\"new\":true}");

        capture_free(c);
        free(res.dump);
        sd_event_unref(e);
        unlink(path);
        rmdir(dir);
        umask(old);
}

typedef struct CheckedResult {
        int checks;
        Result res;
} CheckedResult;

/* As a provider's credential_keys check: the object must hold "tokens". */
static bool has_tokens(const json_t *j, void *userdata) {
        ((CheckedResult *)userdata)->checks++;
        return json_object_get(j, "tokens") != NULL;
}

static void on_checked_capture(Capture *c, json_t *j, usec_t modified, void *userdata) {
        on_capture(c, j, modified, &((CheckedResult *)userdata)->res);
}

static void test_check_refuses_first_write(void **state) {
        char dir[] = "/tmp/test-capture-XXXXXX", path[128], tmp[128];
        sd_event *e = NULL;
        Capture *c = NULL;
        CheckedResult cr = {};

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/creds.json", dir);
        snprintf(tmp, sizeof tmp, "%s/creds.json.tmp", dir);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(capture_start(e, dir, "creds.json", getuid(), getgid(), has_tokens, on_checked_capture, &cr, &c), 0);

        /* Claude Code's order: "{}" renamed into place, then the tokens. */
        write_raw(tmp, "{}");
        assert_int_equal(rename(tmp, path), 0);
        drain(e);
        assert_int_equal(cr.checks, 1);
        assert_int_equal(cr.res.n, 0);
        /* Refused on demand too (the CLI's exit reads the file). */
        assert_int_equal(capture_poll(c), 0);
        assert_int_equal(cr.checks, 2);

        write_raw(tmp, "{\"tokens\": {\"refresh_token\": \"r\"}}");
        assert_int_equal(rename(tmp, path), 0);
        drain(e);
        assert_int_equal(cr.res.n, 1);
        assert_string_equal(cr.res.dump, "{\"tokens\":{\"refresh_token\":\"r\"}}");

        capture_free(c);
        free(cr.res.dump);
        sd_event_unref(e);
        unlink(path);
        rmdir(dir);
}

/* The CLI swaps a directory on the file's path for a symlink to another
 * one, or links another file in by a hard link: neither is read, nor has
 * its mode changed. */
static void test_links_on_the_way(void **state) {
        char dir[] = "/tmp/test-capture-XXXXXX", p[160], q[160];
        json_t *j = NULL;
        struct stat st;
        mode_t old = umask(022);

        assert_non_null(mkdtemp(dir));
        snprintf(p, sizeof p, "%s/other", dir);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof p, "%s/other/creds.json", dir);
        write_raw(p, "{\"not\": \"yours\"}");
        snprintf(q, sizeof q, "%s/.cli", dir);
        assert_int_equal(symlink("other", q), 0);
        assert_int_equal(capture_read(dir, ".cli/creds.json", &j, NULL), -ENOTDIR);
        assert_null(j);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0644);
        /* The same file through the real directory is read. */
        assert_int_equal(capture_read(dir, "other/creds.json", &j, NULL), 0);
        json_decref(TAKE_PTR(j));
        assert_int_equal(chmod(p, 0644), 0);

        /* A hard link to it, where the credentials go. */
        unlink(q);
        assert_int_equal(mkdir(q, 0700), 0);
        snprintf(q, sizeof q, "%s/.cli/creds.json", dir);
        assert_int_equal(link(p, q), 0);
        assert_int_equal(capture_read(dir, ".cli/creds.json", &j, NULL), -EMLINK);
        assert_null(j);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0644);

        /* Not a regular file. */
        unlink(q);
        assert_int_equal(mkfifo(q, 0600), 0);
        assert_int_equal(capture_read(dir, ".cli/creds.json", &j, NULL), -EBADFD);

        unlink(q);
        unlink(p);
        snprintf(q, sizeof q, "%s/.cli", dir);
        rmdir(q);
        snprintf(p, sizeof p, "%s/other", dir);
        rmdir(p);
        rmdir(dir);
        umask(old);
}

/* The directories made for the watch are the CLI's (uid:gid; as root,
 * another user's), and none is made through a symlink the HOME holds. */
static void test_dirs_made_for_the_cli(void **state) {
        char dir[] = "/tmp/test-capture-XXXXXX", p[160], q[160];
        uid_t uid = getuid() == 0 ? 65534 : getuid();
        gid_t gid = getuid() == 0 ? 65534 : getgid();
        sd_event *e = NULL;
        Capture *c = NULL;
        Result res = {};
        struct stat st;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(capture_start(e, dir, "a/b/creds.json", uid, gid, NULL, on_capture, &res, &c), 0);
        c = capture_free(c);
        snprintf(p, sizeof p, "%s/a", dir);
        snprintf(q, sizeof q, "%s/a/b", dir);
        assert_int_equal(stat(p, &st), 0);
        assert_true(st.st_uid == uid && st.st_gid == gid && (st.st_mode & 0777) == 0700);
        assert_int_equal(stat(q, &st), 0);
        assert_true(st.st_uid == uid && st.st_gid == gid && (st.st_mode & 0777) == 0700);
        rmdir(q);

        /* a/b a symlink to a directory elsewhere: refused, nothing made there. */
        snprintf(p, sizeof p, "%s/elsewhere", dir);
        assert_int_equal(mkdir(p, 0755), 0);
        assert_int_equal(symlink(p, q), 0);
        assert_int_equal(capture_start(e, dir, "a/b/c/creds.json", uid, gid, NULL, on_capture, &res, &c), -ENOTDIR);
        assert_null(c);
        snprintf(p, sizeof p, "%s/elsewhere/c", dir);
        assert_int_equal(access(p, F_OK), -1);

        unlink(q);
        snprintf(p, sizeof p, "%s/elsewhere", dir);
        rmdir(p);
        snprintf(p, sizeof p, "%s/a", dir);
        rmdir(p);
        rmdir(dir);
        sd_event_unref(e);
}

/* A file of many small values: a few bytes each in the file, some 200 in
 * memory once parsed.  Refused before parsing over CAPTURE_VALUES_MAX;
 * what is inside a string (a ',' or an escaped '"') counts for nothing. */
static void test_many_values(void **state) {
        char dir[] = "/tmp/test-capture-XXXXXX", path[128];
        size_t size = 3 * CAPTURE_VALUES_MAX + 64, n = 0;
        char *s = malloc(size);
        json_t *j = NULL;

        assert_non_null(s);
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/creds.json", dir);

        /* Its top object, "tokens"'s object and its string, "pad"'s array:
         * 4 values, and one per "{}", CAPTURE_VALUES_MAX in all. */
        n += (size_t)snprintf(s, size, "{\"tokens\": {\"r\": \"x\"}, \"pad\": [{}");
        for (size_t i = 0; i < CAPTURE_VALUES_MAX - 5; i++)
                n += (size_t)snprintf(s + n, size - n, ",{}");
        snprintf(s + n, size - n, "]}");
        write_raw(path, s);
        assert_int_equal(capture_read(dir, "creds.json", &j, NULL), 0);
        json_decref(TAKE_PTR(j));
        /* One more. */
        snprintf(s + n, size - n, ",{}]}");
        write_raw(path, s);
        assert_int_equal(capture_read(dir, "creds.json", &j, NULL), -E2BIG);
        assert_null(j);

        /* The same bytes in a string are one value. */
        n = (size_t)snprintf(s, size, "{\"tokens\": \"\\\"");
        for (size_t i = 0; i < CAPTURE_VALUES_MAX; i++)
                n += (size_t)snprintf(s + n, size - n, ",{}");
        snprintf(s + n, size - n, "\"}");
        write_raw(path, s);
        assert_int_equal(capture_read(dir, "creds.json", &j, NULL), 0);
        assert_int_equal(json_object_size(j), 1);
        json_decref(TAKE_PTR(j));

        free(s);
        unlink(path);
        rmdir(dir);
}

/* The kernel's inotify queue, one for every watch of the loop (every
 * login's), can overrun: a CLI that closes files in its directory faster
 * than the loop reads them makes the kernel drop the events after, another
 * login's credential file included.  The overrun's own event is a reason
 * to look. */
static void test_events_lost(void **state) {
        char dir[] = "/tmp/test-capture-XXXXXX", path[128], junk[2][128];
        _cleanup_(freep) char *text = NULL;
        unsigned long max = 0;
        sd_event *e = NULL;
        Capture *c = NULL;
        Result res = {};

        if (read_full_file("/proc/sys/fs/inotify/max_queued_events", 64, &text, NULL) < 0 ||
            sscanf(text, "%lu", &max) != 1 || max > 1024 * 1024)
                skip();
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/creds.json", dir);
        snprintf(junk[0], sizeof junk[0], "%s/junk0", dir);
        snprintf(junk[1], sizeof junk[1], "%s/junk1", dir);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(capture_start(e, dir, "creds.json", getuid(), getgid(), NULL, on_capture, &res, &c), 0);
        /* The queue filled (two names: the kernel merges an event equal to
         * the last one queued), then the credentials written: dropped. */
        for (unsigned long i = 0; i <= max; i++)
                write_raw(junk[i % 2], "");
        write_raw(path, "{\"tokens\": \"t\"}");
        drain(e);
        assert_int_equal(res.n, 1);
        assert_string_equal(res.dump, "{\"tokens\":\"t\"}");

        capture_free(c);
        free(res.dump);
        sd_event_unref(e);
        unlink(path);
        unlink(junk[0]);
        unlink(junk[1]);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_half_then_complete),
                cmocka_unit_test(test_symlink_and_old_file),
                cmocka_unit_test(test_check_refuses_first_write),
                cmocka_unit_test(test_links_on_the_way),
                cmocka_unit_test(test_dirs_made_for_the_cli),
                cmocka_unit_test(test_many_values),
                cmocka_unit_test(test_events_lost),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
