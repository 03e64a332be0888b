/* Access control primitives for the HTTP server, kept pure (no syscalls,
 * no MHD) so they are unit tested and fuzzed alone: the `Authorization:
 * Bearer` parser (the constant-time comparison: common/secret-util.h;
 * addresses and allow_from CIDRs: common/in-addr-util.h).  http.c applies them in one
 * place before any handler runs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The token of an `Authorization: Bearer <token>` header value (scheme
 * case-insensitive, RFC 6750; surrounding blanks skipped, trailing blanks
 * excluded through *ret_len).  Returns NULL when the header is NULL, of
 * another scheme, or has an empty token.  Borrowed from value. */
const char *http_bearer_token(const char *value, size_t *ret_len);

