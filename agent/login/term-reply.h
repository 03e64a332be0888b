/* Answers the queries a terminal program sends to its terminal (the Codex
 * CLI asks for the cursor position with ESC[6n and waits for ESC[<r>;<c>R
 * before it draws anything), and applies a provider's prompt → keystroke
 * rules.  The runner feeds the CLI's output here and writes the answers
 * back to the PTY.  Pure: no syscalls. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ansi.h"
#include "provider-def.h"

typedef struct TermReply {
        AnsiParser ansi;
        unsigned flags; /* TermReplyFlags */
        unsigned rows, cols;
        unsigned row, col; /* 1-based, tracked from the output */
} TermReply;

void term_reply_init(TermReply *t, unsigned flags, unsigned rows, unsigned cols);
/* Feeds output; appends the answers to out.  Returns the number of bytes
 * written to out (0: nothing to answer), or -ENOBUFS when outsize is too
 * small (then the answers that fit are still written, and the count is
 * lost: use outsize >= 64 per feed of a few KB to be safe). */
ssize_t term_reply_feed(TermReply *t, const char *buf, size_t n, char *out, size_t outsize);

#define PROMPT_WINDOW 4096

/* Prompt rules match against the ANSI-stripped text printed since the last
 * answered prompt (a sliding window of PROMPT_WINDOW bytes), so a prompt
 * split across reads or drawn with colour codes still matches, and an
 * answered prompt does not match again on the same text. */
typedef struct PromptMatcher {
        AnsiParser ansi;
        const ProviderPrompt *prompts; /* borrowed */
        size_t n_prompts;
        bool answered[PROVIDER_LIST_MAX];
        char window[PROMPT_WINDOW + 1];
        size_t n;
} PromptMatcher;

void prompt_matcher_init(PromptMatcher *m, const ProviderPrompt *prompts, size_t n_prompts);
/* Feeds output.  Returns the keystrokes to send (borrowed from the rules)
 * when a rule matched, else NULL.  Call again with n=0 after a match: one
 * chunk may complete several prompts. */
const char *prompt_matcher_feed(PromptMatcher *m, const char *buf, size_t n);
