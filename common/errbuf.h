/* Error messages into a caller's buffer: the convention of the parsers of
 * files an operator writes (services, providers, CLI pins).  What comes
 * from the file may hold control bytes, and the message ends up in one
 * log line or one line of an HTTP answer: each such byte becomes '?'. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "macro.h"

/* Leaves s printable UTF-8: every control byte (below 0x20, 0x7f) becomes
 * '?', each C1 control in UTF-8 (U+0080..U+009F, two bytes) "??", each
 * invisible bidirectional, zero-width or separator character (errbuf.c)
 * a '?' per byte, and each byte of an invalid sequence '?' (a raw 0x9b is
 * CSI to a terminal that is not in UTF-8).  Other valid characters from
 * U+00A0 on stay. */
void string_one_line(char *s);

/* Length of the UTF-8 character at s (RFC 3629: no overlong form, no
 * surrogate, nothing past U+10FFFF; 1 for any ASCII byte but NUL), else
 * 0: a stray or missing continuation byte, a byte never used, NUL. */
size_t utf8_char_len(const char *s);
/* Leaves s valid UTF-8, as a JSON string must be: each byte that starts
 * no character (utf8_char_len()) becomes '?'; controls stay. */
void string_valid_utf8(char *s);

/* Writes "WHAT NAME: message" (NAME NULL: "?"; WHAT NULL: the message
 * alone) into buf, truncated to size and made one line; buf may be NULL
 * or size 0 (nothing written).  Returns -EINVAL, so a parser can
 * `return errbuf_fail(...)`. */
int errbuf_vfail(char *buf, size_t size, const char *what, const char *name, const char *fmt, va_list ap)
        _printf_(5, 0);
int errbuf_fail(char *buf, size_t size, const char *what, const char *name, const char *fmt, ...) _printf_(5, 6);
