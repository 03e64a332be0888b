/* Comparing secrets (bearer tokens, OAuth states) without telling by the
 * time taken where they differ, checking the desktop secret's alphabet,
 * and taking known secrets out of text that is about to be logged.  Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Compares given[0..given_len) with expected in time that depends only on
 * the lengths, never on where the bytes differ.  An empty expected secret
 * never matches: "no secret configured" is the caller's case to handle,
 * not something any input may pass. */
bool secret_equal(const char *given, size_t given_len, const char *expected);

/* What a child's output line becomes when it holds a secret: every
 * occurrence of any of secrets (NULL-terminated; NULL and "" entries are
 * skipped) is replaced by REDACTED_MARK, the longest one matching at a
 * position first (a secret and its prefix both listed: the whole goes).
 * Writes at most size bytes, NUL-terminated (truncated when the marks
 * make the line longer than that); returns the length written. */
#define REDACTED_MARK "[REDACTED]"
size_t secret_redact(const char *in, const char *const *secrets, char *out, size_t size);

/* Where a line still being read, s[0..len), may be cut so that its head
 * s[0..cut) is redacted and logged on its own: no secret that
 * secret_redact() would replace in the whole line (what comes after s
 * included) crosses the cut, so the redacted pieces put together are the
 * redacted whole line.  The tail s[cut..len) that waits for more is
 * shorter than the longest secret.  0 when s may be the start of a
 * secret longer than len. */
size_t secret_redact_cut(const char *s, size_t len, const char *const *secrets);

/* The desktop secret goes into a URL (noVNC's ?token=), websockify's token
 * file ("SECRET: host:port", split at ": ") and x11vnc's password file
 * (one line): 8 to 256 of [A-Za-z0-9._~-], the URL's unreserved characters,
 * so it needs no escaping anywhere, and none of the words x11vnc reads in
 * that file (__SKIP__ or __COMM__ in it, __EMPTY__ or __BEGIN_VIEWONLY__
 * as the whole).  VNC uses its first 8 characters. */
#define DESKTOP_SECRET_MIN 8
#define DESKTOP_SECRET_MAX 256
bool desktop_secret_is_valid(const char *s);

/* Below this many bytes a control token is logged as guessable. */
#define CONTROL_TOKEN_STRONG_MIN 16
