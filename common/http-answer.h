/* An HTTP/1.x answer as one exchange reads it whole: its status line,
 * header block and body, and a header's value.  Pure (libc only): the
 * answers come from a provider CLI's listener and from Firecracker's
 * metadata service, and are fuzzed (tests/fuzz/fuzz-http-answer.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct HttpAnswer {
        unsigned status;
        const char *headers;  /* "Name: value\r\n"..., NUL-terminated; borrowed */
        const char *body;     /* borrowed; NUL-terminated (not counted in body_size) */
        size_t body_size;
} HttpAnswer;

/* Splits a whole answer (NUL-terminated at size) into status, headers and
 * body, pointing into text (the header block is NUL-terminated in place).
 * -EBADMSG unless "HTTP/1.x NNN ...\r\n...\r\n\r\n" with 200 <= NNN <= 599: a
 * request is one exchange that asks for no interim answer, so a 1xx is
 * not the answer (passed on as one, it would put the caller's connection
 * out of step with its requests).  With a Content-Length (not for a 204
 * or 304), the body is that long: -EPIPE when text ends before it (the
 * connection ended mid-answer: a truncated body is never passed on as
 * the whole one), cut to it (and NUL-terminated there) when more
 * follows, -EBADMSG when the value is not a decimal length.  Without
 * one the body runs to size. */
int http_answer_parse(char *text, size_t size, HttpAnswer *ret);
/* The length of the body an answer with status and its header block
 * announces (the one rule for where an answer ends, for http_answer_parse()
 * and for a reader that waits for it): 0 for a 204 or 304, which have no
 * body whatever their headers say; -ENOENT without a Content-Length (the
 * body ends with the connection); -EBADMSG when Content-Length is not one
 * decimal length (not a number, or several values that differ: RFC 9112
 * 6.3, where the body ends is unknown). */
int http_answer_body_length(unsigned status, const char *headers, uint64_t *ret);
/* The value of header name (case-insensitive) in a header block, its
 * blanks trimmed, copied into buf NUL-terminated: its length, -ENOENT
 * when absent, -ENOBUFS when it does not fit in size - 1 bytes (buf
 * untouched: a cut value is never taken for the whole one). */
int http_header_get(const char *headers, const char *name, char *buf, size_t size);
