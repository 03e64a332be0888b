/* capture_read() never hands a credential file's bytes back to the
 * allocator unwiped: free() and realloc() are wrapped at link time
 * (-Wl,--wrap, see tests/unit/meson.build) and every block our code
 * frees or moves is searched for the secret.  jansson's own frees go
 * through its shared library and are seen only once json_wipe_on_free()
 * routes them through ours (test_jansson_buffers).  Cases: a small file,
 * one large enough that a growing read buffer would be reallocated, a
 * half-written file, one over CAPTURE_MAX, jansson's buffers. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/login/capture.h"
#include "fileio.h"
#include "json-wipe.h"

#define SECRET "SECRET-WIPE-4c1d"

static int leaks, frees;

void __real_free(void *p);
void *__real_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_realloc(void *p, size_t n);

static void check(const void *p) {
        if (p && memmem(p, malloc_usable_size((void *)p), SECRET, strlen(SECRET)))
                leaks++;
}

void __wrap_free(void *p) {
        frees++;
        check(p);
        __real_free(p);
}

void *__wrap_realloc(void *p, size_t n) {
        check(p);
        return __real_realloc(p, n);
}

/* A file holding SECRET: JSON padded to about size bytes, or cut short. */
static void make_file(const char *path, size_t size, bool complete) {
        size_t pad = size > 64 ? size - 64 : 1;
        char *s = malloc(pad + 128);
        int fd, n;

        assert_non_null(s);
        n = snprintf(s, 128, "{\"access_token\": \"%s\", \"padding\": \"", SECRET);
        memset(s + n, 'p', pad);
        strcpy(s + n + pad, complete ? "\"}" : "");
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(loop_write(fd, s, strlen(s)), 0);
        close(fd);
        explicit_bzero(s, pad + 128);
        __real_free(s);
}

static void read_case(size_t size, bool complete, int expect) {
        char path[] = "/tmp/test-capture-wipe-XXXXXX";
        int fd = mkstemp(path);
        json_t *j = NULL;

        assert_true(fd >= 0);
        close(fd);
        make_file(path, size, complete);
        leaks = 0;
        assert_int_equal(capture_read("/tmp", path + 5, &j, NULL), expect);
        assert_int_equal(leaks, 0);
        if (j) {
                json_wipe(j);
                json_decref(j);
        }
        unlink(path);
}

static void test_small(void **state) {
        read_case(200, true, 0);
}

static void test_grows(void **state) {
        read_case(64 * 1024, true, 0);
}

static void test_half_written(void **state) {
        read_case(64 * 1024, false, -ENODATA);
}

static void test_too_big(void **state) {
        read_case(CAPTURE_MAX + 4096, true, -EFBIG);
}

/* jansson's own buffers: the parser's and json_dumps()'s grow with the
 * secret in them.  With json_wipe_on_free() they reach free() through
 * us (frees counted), zeroed. */
static void test_jansson_buffers(void **state) {
        char path[] = "/tmp/test-capture-wipe-XXXXXX";
        int fd = mkstemp(path);
        json_t *j = NULL;
        char *text;

        assert_true(fd >= 0);
        close(fd);
        make_file(path, 64 * 1024, true);
        json_wipe_on_free();
        leaks = frees = 0;
        assert_int_equal(capture_read("/tmp", path + 5, &j, NULL), 0);
        text = json_dumps(j, JSON_COMPACT);
        assert_non_null(text);
        explicit_bzero(text, strlen(text));
        __real_free(text);
        json_decref(j); /* values not wiped by json_wipe(): the allocator does it */
        assert_true(frees > 10);
        assert_int_equal(leaks, 0);
        unlink(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_small),
                cmocka_unit_test(test_grows),
                cmocka_unit_test(test_half_written),
                cmocka_unit_test(test_too_big),
                cmocka_unit_test(test_jansson_buffers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
