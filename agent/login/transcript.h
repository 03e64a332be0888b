/* The bounded, secret-free record of what a CLI printed: ANSI sequences
 * stripped, each line redacted before it is kept (query parameters and JSON
 * fields named like secrets: code, state, token, *_token, secret, password,
 * key, verifier...; "Bearer x"), the head kept up to a limit and the rest
 * counted.  This is what the host sees as `cliOutput` and what goes to the
 * debug log.  It reads the byte stream, not the rendered screen
 * (screen.h): a record keeps everything printed, in order, also what a TUI
 * drew over a moment later, and no line may be kept before it is
 * redacted.  Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ansi.h"
#include "macro.h"

#define TRANSCRIPT_LINE_MAX 8192

typedef struct Transcript {
        AnsiParser ansi;
        char *text;       /* committed, redacted lines */
        size_t n, max;
        size_t dropped;   /* bytes not kept because of max */
        char line[TRANSCRIPT_LINE_MAX + 1]; /* the current line, raw */
        size_t n_line;
        bool skip;        /* the current line overflowed: dropped up to its end */
        bool moved;       /* the cursor moved since the last byte kept (\r, an erase...) */
} Transcript;

int transcript_new(size_t max, Transcript **ret);
Transcript *transcript_free(Transcript *t); /* wipes what it held */
DEFINE_TRIVIAL_CLEANUP_FUNC(Transcript *, transcript_free);
void transcript_feed(Transcript *t, const char *buf, size_t n);
/* The text so far, with the unfinished line redacted too, in valid
 * UTF-8 (what is not becomes '?').  Owned by the caller; NULL on ENOMEM. */
char *transcript_text(const Transcript *t);

/* A copy of s with secret values replaced ("code=abc&x" ->
 * "code=[REDACTED]&x"); owned by the caller, NULL on ENOMEM. */
char *redact_secrets(const char *s);
