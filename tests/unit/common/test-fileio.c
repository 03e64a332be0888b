/* Unit tests for common/fileio.c: whole-file reads and atomic writes
 * (over a symlink the link is replaced, never followed), directories made
 * with an owner and a mode, rm_rf_at() that removes symlinks and not what
 * they point to and stays bounded in fds however deep the tree, the checks
 * of relative paths and file names, whether a uid can pass through a
 * path, or open a file, by the mode bits, and symlinks followed to where they lead.  Works in a directory of its own under /tmp, as
 * whoever runs it. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "macro.h"

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

/* Links followed to where they lead, as the kernel reads them (a
 * relative one from its own directory); a link to nothing leads to the
 * name it holds; only the owner's links are followed, and at most
 * LINKS_FOLLOWED_MAX of them. */
static void test_path_follow_links(void **state) {
        static const struct {
                const char *path, *expected;
                int r;
        } t[] = {
                { "f", "f", 0 },
                { "missing", "missing", 0 },
                { "abs", "f", 0 },                 /* -> <dir>/f */
                { "sub/rel", "f", 0 },             /* -> ../abs -> <dir>/f */
                { "dangling", "gone", 0 },         /* -> gone */
                { "sub/dangling", "sub/../gone", 0 }, /* -> ../gone */
                { "loop", NULL, -ELOOP },          /* -> loop */
                { "l39", "f", 0 },                 /* 40 links */
                { "l40", NULL, -ELOOP },           /* 41 */
        };
        char dir[] = "/tmp/test-links-XXXXXX", p[128], q[128];
        uid_t other = getuid() == 0 ? 65534 : 0;
        _cleanup_(freep) char *got = NULL;
        _cleanup_(closep) int dfd = -EBADF;

        (void)state;
        assert_non_null(mkdtemp(dir));
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        snprintf(p, sizeof p, "%s/sub", dir);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof p, "%s/f", dir);
        assert_int_equal(write_file_atomic(p, "x\n", 2, 0600), 0);
        snprintf(q, sizeof q, "%s/abs", dir);
        assert_int_equal(symlink(p, q), 0);
        assert_int_equal(symlinkat("../abs", dfd, "sub/rel"), 0);
        assert_int_equal(symlinkat("gone", dfd, "dangling"), 0);
        assert_int_equal(symlinkat("../gone", dfd, "sub/dangling"), 0);
        assert_int_equal(symlinkat("loop", dfd, "loop"), 0);
        assert_int_equal(symlinkat("f", dfd, "l0"), 0);
        for (int i = 1; i <= 40; i++) {
                snprintf(p, sizeof p, "l%d", i - 1);
                snprintf(q, sizeof q, "l%d", i);
                assert_int_equal(symlinkat(p, dfd, q), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                print_message("%s\n", t[i].path);
                snprintf(p, sizeof p, "%s/%s", dir, t[i].path);
                free(TAKE_PTR(got));
                assert_int_equal(path_follow_links(p, getuid(), &got), t[i].r);
                if (t[i].r < 0) {
                        assert_null(got);
                        continue;
                }
                snprintf(q, sizeof q, "%s/%s", dir, t[i].expected);
                assert_string_equal(got, q);
        }
        /* Someone else's link is not followed; no link, nothing to refuse. */
        snprintf(p, sizeof p, "%s/sub/rel", dir);
        assert_int_equal(path_follow_links(p, other, &got), -EPERM);
        snprintf(p, sizeof p, "%s/f", dir);
        assert_int_equal(path_follow_links(p, other, &got), 0);
        close(TAKE_FD(dfd));
        dfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(rm_rf_at(dfd, dir + strlen("/tmp/")), 0);
}

/* An ACL granting uid u r-x beyond the mode bits it leaves (0750):
 * system.posix_acl_access as the kernel stores it (version 2, then
 * tag, perm, id little-endian: user::rwx user:u:r-x group::--- mask::r-x
 * other::---).  false where the file system keeps none. */
static bool acl_grant(const char *path, uid_t u) {
        const uint16_t tags[] = { 0x01, 0x02, 0x04, 0x10, 0x20 }, perms[] = { 7, 5, 0, 5, 0 };
        uint8_t b[4 + 5 * 8] = { 2 };

        for (size_t i = 0; i < ELEMENTSOF(tags); i++) {
                uint32_t id = tags[i] == 0x02 ? (uint32_t)u : UINT32_MAX;
                uint8_t *e = b + 4 + i * 8;

                e[0] = (uint8_t)tags[i];
                e[1] = (uint8_t)(tags[i] >> 8);
                e[2] = (uint8_t)perms[i];
                for (int k = 0; k < 4; k++)
                        e[4 + k] = (uint8_t)(id >> (8 * k));
        }
        return setxattr(path, "system.posix_acl_access", b, sizeof b, 0) == 0;
}

/* The files of test_path_access_denied() in dir, made or removed; no
 * mode: a symlink to to. */
static void access_files(const char *dir, bool make) {
        static const struct { const char *name; mode_t mode; const char *to; } files[] = {
                { "sub", 0700 | S_IFDIR, NULL }, { "sub/f", 0755, NULL }, { "f700", 0700, NULL },
                { "f705", 0705, NULL }, { "f711", 0711, NULL }, { "acl", 0700, NULL },
                { "link", 0, "sub" }, { "flink", 0, "sub/f" },
                /* chain -> closed/l2 -> ../open/f: only the link on the
                 * way is below closed. */
                { "open", 0755 | S_IFDIR, NULL }, { "open/f", 0755, NULL }, { "closed", 0700 | S_IFDIR, NULL },
                { "closed/l2", 0, "../open/f" }, { "chain", 0, "closed/l2" }, { "open-chain", 0, "open/f" },
        };

        for (size_t k = 0; k < ELEMENTSOF(files); k++) {
                size_t i = make ? k : ELEMENTSOF(files) - 1 - k;
                char p[96];

                snprintf(p, sizeof p, "%s/%s", dir, files[i].name);
                if (!make)
                        assert_int_equal(S_ISDIR(files[i].mode) ? rmdir(p) : unlink(p), 0);
                else if (files[i].to)
                        assert_int_equal(symlink(files[i].to, p), 0);
                else if (S_ISDIR(files[i].mode))
                        assert_int_equal(mkdir(p, 0700), 0);
                else
                        assert_int_equal(write_file_atomic(p, "x", 1, 0600), 0);
                if (make && !files[i].to)
                        assert_int_equal(chmod(p, files[i].mode & 07777), 0);
        }
}

/* Opening a file for R_OK or X_OK by the mode bits: each directory on the
 * way (as written, where a symlink leads, and to each link on the way)
 * needs search, the file the
 * bits asked for, the owner's, the group's or the others' as the kernel
 * picks them; one with an ACL is not judged. */
static void test_path_access_denied(void **state) {
        static const struct { const char *name; bool group; int want, r; const char *where; mode_t mode; } cases[] = {
                { "sub/f", false, X_OK, 1, "sub", 0700 },
                { "link/f", false, X_OK, 1, "sub", 0700 },   /* link -> sub */
                { "flink", false, X_OK, 1, "sub", 0700 },    /* flink -> sub/f */
                { "f700", false, X_OK, 1, "f700", 0700 },
                { "f705", false, X_OK, 0, NULL, 0 },
                /* The group's bits for the group, though others' allow. */
                { "f705", true, X_OK, 1, "f705", 0705 },
                { "f711", false, X_OK, 0, NULL, 0 },
                { "f711", false, R_OK, 1, "f711", 0711 },
                { "f711", false, R_OK | X_OK, 1, "f711", 0711 },
                { "missing", false, X_OK, -ENOENT, NULL, 0 },
                { "f700/x", false, X_OK, -ENOTDIR, NULL, 0 },
                /* The kernel searches closed to read the link l2 on the way. */
                { "chain", false, X_OK, 1, "closed", 0700 },
                { "open-chain", false, X_OK, 0, NULL, 0 },
        };
        char dir[] = "/tmp/test-access-XXXXXX", p[96];
        uid_t other = getuid() == 65534 ? 65533 : 65534;
        PathDenial d;

        (void)state;
        assert_non_null(mkdtemp(dir));
        assert_int_equal(chmod(dir, 0755), 0);
        access_files(dir, true);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char where[96];
                int r;

                snprintf(p, sizeof p, "%s/%s", dir, cases[i].name);
                d = (PathDenial){};
                r = path_access_denied(p, other, cases[i].group ? getegid() : (gid_t)-2, cases[i].want, &d);
                print_message("%s %d\n", cases[i].name, cases[i].want);
                assert_int_equal(r, cases[i].r);
                if (r <= 0)
                        continue;
                snprintf(where, sizeof where, "%s/%s", dir, cases[i].where);
                assert_string_equal(d.where, where);
                assert_int_equal(d.is_dir, streq(cases[i].where, "sub") || streq(cases[i].where, "closed"));
                assert_int_equal(d.mode, cases[i].mode);
                assert_int_equal(d.owner, getuid());
                assert_int_equal(d.group, getegid());
        }
        assert_int_equal(path_access_denied("relative/x", other, 0, X_OK, &d), -EINVAL);
        /* The mode bits keep other out, the ACL lets it in. */
        snprintf(p, sizeof p, "%s/acl", dir);
        if (acl_grant(p, other))
                assert_int_equal(path_access_denied(p, other, (gid_t)-2, X_OK, &d), 0);
        else
                print_message("no ACL on %s: not tried\n", dir);
        access_files(dir, false);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_write_atomic),
                cmocka_unit_test(test_owned),
                cmocka_unit_test(test_mkdir_all),
                cmocka_unit_test(test_rm_rf_at_symlinks),
                cmocka_unit_test(test_write_file_atomic_at),
                cmocka_unit_test(test_rm_rf_at_depth),
                cmocka_unit_test(test_path_checks),
                cmocka_unit_test(test_path_passable),
                cmocka_unit_test(test_path_access_denied),
                cmocka_unit_test(test_path_follow_links),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
