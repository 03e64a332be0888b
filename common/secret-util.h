/* Comparing secrets (bearer tokens, OAuth states) without telling by the
 * time taken where they differ.  Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Compares given[0..given_len) with expected in time that depends only on
 * the lengths, never on where the bytes differ.  An empty expected secret
 * never matches: "no secret configured" is the caller's case to handle,
 * not something any input may pass. */
bool secret_equal(const char *given, size_t given_len, const char *expected);
