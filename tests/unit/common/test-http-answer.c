/* Unit tests for common/http-answer.c: what counts as an answer, where
 * its body ends, and header lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http-answer.h"
#include "macro.h"

static int parse(const char *text, HttpAnswer *a) {
        static char buf[256];

        snprintf(buf, sizeof buf, "%s", text);
        return http_answer_parse(buf, strlen(buf), a);
}

static void test_answer_parse(void **state) {
        HttpAnswer a;

        assert_int_equal(parse("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\nbody", &a), 0);
        assert_int_equal(a.status, 302);
        assert_int_equal(a.body_size, 4);
        assert_memory_equal(a.body, "body", 4);
        assert_int_equal(parse("HTTP/1.0 599 X\r\n\r\n", &a), 0);
        /* An interim answer is not the answer: one exchange asks for none. */
        assert_int_equal(parse("HTTP/1.1 100 Continue\r\n\r\n", &a), -EBADMSG);
        assert_int_equal(parse("HTTP/1.1 199 X\r\n\r\n", &a), -EBADMSG);
        assert_int_equal(parse("HTTP/1.1 101 Switching Protocols\r\n\r\n", &a), -EBADMSG);
        assert_int_equal(parse("HTTP/1.1 600 X\r\n\r\n", &a), -EBADMSG);
        assert_int_equal(parse("HTTP/1.1 200 OK\r\n", &a), -EBADMSG);
        assert_int_equal(parse("HTTP/2 200 OK\r\n\r\n", &a), -EBADMSG);
}

/* The body its Content-Length announces: an answer that ends short of
 * it was cut off (its connection ended mid-body) and is never taken
 * for the whole one; bytes past it are not this answer's. */
static void test_answer_content_length(void **state) {
        HttpAnswer a;

        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody", &a), 0);
        assert_int_equal(a.body_size, 4);
        assert_string_equal(a.body, "body");
        assert_int_equal(parse("HTTP/1.1 200 OK\r\ncontent-length:  0 \r\n\r\n", &a), 0);
        assert_int_equal(a.body_size, 0);
        /* A JSON body that parses, cut all the same. */
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"a\":1}", &a), -EPIPE);
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nbody", &a), -EPIPE);
        assert_int_equal(parse("HTTP/1.1 500 X\r\nContent-Length: 1\r\n\r\n", &a), -EPIPE);
        /* A server that sent more than it announced: cut to it, the
         * body still NUL-terminated. */
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nbody", &a), 0);
        assert_int_equal(a.body_size, 2);
        assert_string_equal(a.body, "bo");
        /* Not a length (RFC 9112 6.3): where the body ends is unknown. */
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 4x\r\n\r\nbody", &a), -EBADMSG);
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nbody", &a), -EBADMSG);
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 4, 4\r\n\r\nbody", &a), -EBADMSG);
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nbody", &a), -EBADMSG);
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", &a),
                         -EBADMSG);
        /* Said twice: one length, or where the body ends is unknown. */
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 4\r\ncontent-length: 4\r\n\r\nbody", &a), 0);
        assert_int_equal(a.body_size, 4);
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\nbody", &a),
                         -EBADMSG);
        /* No body in a 204 or 304, whatever the header says. */
        assert_int_equal(parse("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", &a), 0);
        assert_int_equal(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", &a), 0);
        /* Without one, the body runs to where the connection ended. */
        assert_int_equal(parse("HTTP/1.0 200 OK\r\n\r\nall of it", &a), 0);
        assert_int_equal(a.body_size, 9);
}

/* The one rule a reader waiting for an answer's end and the parser share. */
static void test_body_length(void **state) {
        uint64_t n = 7;

        assert_int_equal(http_answer_body_length(200, "Content-Length: 12\r\n", &n), 0);
        assert_int_equal(n, 12);
        assert_int_equal(http_answer_body_length(204, "Content-Length: 12\r\n", &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(http_answer_body_length(304, "", &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(http_answer_body_length(200, "X: 1\r\n", &n), -ENOENT);
        assert_int_equal(http_answer_body_length(200, "Content-Length: 1\r\nContent-Length: 2\r\n", &n), -EBADMSG);
        assert_int_equal(http_answer_body_length(200, "Content-Length: 0x10\r\n", &n), -EBADMSG);
}

static void test_header_get(void **state) {
        char buf[8] = "unset";
        HttpAnswer a;

        assert_int_equal(parse("HTTP/1.1 200 OK\r\nlocation:  /abc \t\r\nX: y\r\nE:\r\n\r\n", &a), 0);
        assert_int_equal(http_header_get(a.headers, "Location", buf, sizeof buf), 4);
        assert_string_equal(buf, "/abc");
        assert_int_equal(http_header_get(a.headers, "E", buf, sizeof buf), 0);
        assert_string_equal(buf, "");
        assert_int_equal(http_header_get(a.headers, "Content-Type", buf, sizeof buf), -ENOENT);
        /* A prefix of a name is another name. */
        assert_int_equal(http_header_get(a.headers, "Loc", buf, sizeof buf), -ENOENT);
        /* A value of exactly size - 1 bytes fits; one more does not, and is
         * refused rather than cut (buf keeps what it had). */
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nLocation: /abcdef\r\n\r\n", &a), 0);
        assert_int_equal(http_header_get(a.headers, "Location", buf, sizeof buf), 7);
        assert_string_equal(buf, "/abcdef");
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nLocation: /abcdefg\r\n\r\n", &a), 0);
        assert_int_equal(http_header_get(a.headers, "Location", buf, sizeof buf), -ENOBUFS);
        assert_string_equal(buf, "/abcdef");
        assert_int_equal(http_header_get(a.headers, "Location", buf, 0), -ENOBUFS);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_answer_parse),
                cmocka_unit_test(test_answer_content_length),
                cmocka_unit_test(test_body_length),
                cmocka_unit_test(test_header_get),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
