/* A provider's prompt → keystroke rules, applied to the CLI's rendered
 * screen (screen.h): the runner looks at the screen after each read and
 * types the answers of the prompts it shows.  Pure: no syscalls.
 *
 * Contract:
 * - A rule matches where its text appears in a look: on a visible row or
 *   on a row that scrolled off since the previous look, so a prompt is
 *   found wherever it falls in a read, however much follows it, and a
 *   prompt drawn over several reads matches once it is whole.
 * - A blank in the rule matches one or more blanks on the screen (TUIs
 *   lay words out at columns); text does not match across a line break.
 * - A rule without `repeat` is answered at most once.
 * - A rule with `repeat` is answered once per place: the row (counted
 *   from the start of the output, so a row keeps its place while it
 *   scrolls) and the column where its text starts.  A redraw that shows
 *   the answered prompt in the same place is the same prompt; the same
 *   text on another row (a line-by-line CLI asking again, a new screen
 *   further down) is a new one.  The same text drawn again in the very
 *   same place after a clear screen counts as the same prompt.
 * - One look may show several prompts: all are answered, in screen order
 *   (top to bottom), each rule at most once per look (a CLI asks one
 *   question at a time; a screen full of the same question is not a
 *   thousand answers). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provider-def.h"
#include "screen.h"

#define PROMPT_PLACES_MAX 64 /* answered places of repeat rules remembered */

typedef struct PromptPlace {
        uint64_t row;   /* ScreenRow.number */
        size_t column;  /* characters before the match on its row */
        size_t rule;
} PromptPlace;

typedef struct PromptMatcher {
        const ProviderPrompt *prompts; /* borrowed */
        size_t n_prompts;
        bool answered[PROVIDER_LIST_MAX];
        PromptPlace places[PROMPT_PLACES_MAX];
        size_t n_places;
} PromptMatcher;

void prompt_matcher_init(PromptMatcher *m, const ProviderPrompt *prompts, size_t n_prompts);
/* Stores in keys[] the keystrokes to send (borrowed from the rules) for
 * the prompts on the screen not answered yet, in screen order; returns
 * how many (0..PROVIDER_LIST_MAX). */
size_t prompt_matcher_look(PromptMatcher *m, const ScreenView *v, const char *keys[static PROVIDER_LIST_MAX]);

/* Failed sign-ins on the CLI's screen.  A failure the screen showed
 * before the sign-in began (a start-up race of the CLI, a message left by
 * an earlier attempt) is not the login's outcome; it may stay on the
 * screen, and be redrawn in place, for as long as the CLI runs.
 *
 * Contract:
 * - Failures are texts matched as prompts are (a blank matches a run).
 * - failure_watch_ignore() remembers the failures a look shows, each by
 *   its place (as a prompt's: row and column) and the text from the
 *   match to the end of its row.  The same text in the same column is
 *   the same failure until its row scrolls off, on its row or another
 *   (a TUI lays its frame out again with something above it; the new row
 *   is then its place), unless its place still shows it: then the one on
 *   the other row is a second one, new.  Another text there, or the same
 *   text in another column, is a new one.  Past FAILURES_IGNORED_MAX, the
 *   one on the topmost row is forgotten first.
 * - failure_watch_find() reports the earliest new failure on the screen. */
#define FAILURES_IGNORED_MAX 64

typedef struct FailureSeen {
        PromptPlace place; /* .rule unused */
        uint64_t hash;     /* of the text from the match to the end of its row */
        bool held;         /* failure_watch_find(): the view shows it in its place, it cannot move */
} FailureSeen;

typedef struct FailureWatch {
        char *const *failures; /* borrowed, NULL-terminated; NULL: none */
        FailureSeen ignored[FAILURES_IGNORED_MAX];
        size_t n_ignored;
} FailureWatch;

void failure_watch_init(FailureWatch *w, char *const *failures);
/* Remembers the failures v shows as not the login's outcome. */
void failure_watch_ignore(FailureWatch *w, const ScreenView *v);
/* The earliest failure on v not ignored: true, with the text from the
 * match to the end of its row in buf (NUL-terminated, cut at size - 1
 * bytes on a character boundary, trailing blanks dropped); false when
 * none shows. */
bool failure_watch_find(FailureWatch *w, const ScreenView *v, char *buf, size_t size);
