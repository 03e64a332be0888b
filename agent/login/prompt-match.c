/* See prompt-match.h.  A look is at most a screenful plus the rows pushed
 * off since the last one (screen.h bounds both), so every rule is searched
 * in the whole view each time; the places answered are what keeps a
 * prompt from being answered twice. */
#include "macro.h"
#include "prompt-match.h"

typedef struct Found {
        size_t at; /* in the view's text */
        PromptPlace place;
} Found;

void prompt_matcher_init(PromptMatcher *m, const ProviderPrompt *prompts, size_t n_prompts) {
        *m = (PromptMatcher) {
                .prompts = prompts,
                .n_prompts = MIN(n_prompts, (size_t)PROVIDER_LIST_MAX),
        };
}

/* The length of the match of rule at text + i, or 0: a run of blanks in
 * the rule matches a run of one or more blanks in the text. */
static size_t match_at(const char *text, size_t i, const char *rule) {
        size_t j = i;

        while (*rule) {
                if (*rule == ' ') {
                        if (text[j] != ' ')
                                return 0;
                        while (text[j] == ' ')
                                j++;
                        while (*rule == ' ')
                                rule++;
                        continue;
                }
                if (text[j] != *rule)
                        return 0;
                j++;
                rule++;
        }
        return j - i;
}

static size_t find(const char *text, size_t from, const char *rule) {
        for (const char *p = text + from; (p = strchr(p, rule[0])); p++)
                if (match_at(text, (size_t)(p - text), rule) > 0)
                        return (size_t)(p - text);
        return SIZE_MAX;
}

/* The index of the row holding offset at: the last one starting at or
 * before it (0 in a view without rows). */
static size_t row_of(const ScreenView *v, size_t at) {
        size_t lo = 0, hi = v->n_rows;

        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (v->rows[mid].offset <= at)
                        lo = mid;
                else
                        hi = mid;
        }
        return lo;
}

/* Where the row holding offset at ends: at its line break, or where the
 * next row starts when it continues there (a row filled to the edge, as
 * every row of a full-width box is, is joined to the next). */
static size_t row_end(const ScreenView *v, size_t at) {
        size_t end = at + strcspn(v->text + at, "\n"), i = row_of(v, at);

        if (i + 1 < v->n_rows)
                end = MIN(end, v->rows[i + 1].offset);
        return end;
}

/* The place of the text at offset at: its row, and the characters (not
 * bytes: a spinner glyph may change width) before it on that row. */
static PromptPlace place_of(const ScreenView *v, size_t at, size_t rule) {
        size_t lo = row_of(v, at), column = 0;

        for (size_t i = v->n_rows > 0 ? v->rows[lo].offset : 0; i < at; i++)
                if (((unsigned char)v->text[i] & 0xc0) != 0x80)
                        column++;
        return (PromptPlace) { .row = v->n_rows > 0 ? v->rows[lo].number : 0, .column = column, .rule = rule };
}

static bool answered_at(const PromptMatcher *m, const PromptPlace *p) {
        for (size_t i = 0; i < m->n_places; i++)
                if (m->places[i].rule == p->rule && m->places[i].row == p->row && m->places[i].column == p->column)
                        return true;
        return false;
}

static void remember(PromptMatcher *m, const PromptPlace *p) {
        if (m->n_places == PROMPT_PLACES_MAX) {
                memmove(m->places, m->places + 1, (PROMPT_PLACES_MAX - 1) * sizeof *m->places);
                m->n_places--;
        }
        m->places[m->n_places++] = *p;
}

/* Whether row is still on the screen: rows above the first one of a
 * view were shown for the last time (a view without rows tells nothing). */
static bool row_shown(const ScreenView *v, uint64_t row) {
        return v->n_rows == 0 || row >= v->rows[0].number;
}

static void forget_gone(PromptMatcher *m, const ScreenView *v) {
        size_t k = 0;

        for (size_t i = 0; i < m->n_places; i++)
                if (row_shown(v, m->places[i].row))
                        m->places[k++] = m->places[i];
        m->n_places = k;
}

/* The first place where rule j shows a prompt not answered yet. */
static size_t first_new(const PromptMatcher *m, const ScreenView *v, size_t j, PromptPlace *ret) {
        const ProviderPrompt *p = &m->prompts[j];

        if (m->answered[j] && !p->repeat)
                return SIZE_MAX;
        for (size_t at = find(v->text, 0, p->match); at != SIZE_MAX; at = find(v->text, at + 1, p->match)) {
                PromptPlace place = place_of(v, at, j);

                if (!p->repeat || !answered_at(m, &place)) {
                        *ret = place;
                        return at;
                }
        }
        return SIZE_MAX;
}

size_t prompt_matcher_look(PromptMatcher *m, const ScreenView *v, const char *keys[static PROVIDER_LIST_MAX]) {
        Found found[PROVIDER_LIST_MAX];
        size_t n = 0;

        forget_gone(m, v);
        for (size_t j = 0; j < m->n_prompts; j++) {
                found[n].at = first_new(m, v, j, &found[n].place);
                if (found[n].at == SIZE_MAX)
                        continue;
                /* In screen order: insert, rules in their order on a tie. */
                for (size_t i = n++; i > 0 && found[i - 1].at > found[i].at; i--) {
                        Found t = found[i];
                        found[i] = found[i - 1];
                        found[i - 1] = t;
                }
        }
        for (size_t i = 0; i < n; i++) {
                const PromptPlace *p = &found[i].place;

                m->answered[p->rule] = true;
                if (m->prompts[p->rule].repeat)
                        remember(m, p);
                keys[i] = m->prompts[p->rule].send;
        }
        return n;
}

void failure_watch_init(FailureWatch *w, char *const *failures) {
        *w = (FailureWatch) { .failures = failures };
}

/* The earliest match of any failure rule at or after from, or SIZE_MAX. */
static size_t next_failure(char *const *failures, const char *text, size_t from) {
        size_t best = SIZE_MAX;

        for (char *const *f = failures; f && *f; f++)
                if (**f)
                        best = MIN(best, find(text, from, *f));
        return best;
}

/* end, moved back over the blanks before it, not past at. */
static size_t trim_end(const char *text, size_t at, size_t end) {
        while (end > at && text[end - 1] == ' ')
                end--;
        return end;
}

/* Where the text that tells the failure at offset at ends: with the row
 * its match ends on.  The rows of a full-width box are one line, and what
 * the rows below it show meanwhile (a spinner, another question) does
 * not make it another failure. */
static size_t failure_end(char *const *failures, const ScreenView *v, size_t at) {
        size_t n = 1;

        for (char *const *f = failures; f && *f; f++)
                if (**f)
                        n = MAX(n, match_at(v->text, at, *f));
        return row_end(v, at + n - 1);
}

/* The failure at offset at: its place, and a hash of its text to the end
 * of its row (a new message drawn where an old one was is a new failure). */
static FailureSeen failure_at(char *const *failures, const ScreenView *v, size_t at) {
        size_t end = trim_end(v->text, at, failure_end(failures, v, at));
        uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */

        for (size_t i = at; i < end; i++)
                h = (h ^ (unsigned char)v->text[i]) * UINT64_C(0x100000001b3);
        return (FailureSeen) { .place = place_of(v, at, 0), .hash = h };
}

static bool failure_same(const FailureSeen *a, const FailureSeen *b) {
        return a->hash == b->hash && a->place.column == b->place.column;
}

/* Whether the watch ignores f: the same text in the same place, or (with
 * relayout) in the same column on another row (the frame was laid out
 * again, something drawn above it), which is then its place, unless its
 * place still shows it (held). */
static bool failure_ignored(FailureWatch *w, const FailureSeen *f, bool relayout) {
        FailureSeen *moved = NULL;

        for (size_t i = 0; i < w->n_ignored; i++) {
                FailureSeen *g = &w->ignored[i];

                if (!failure_same(g, f))
                        continue;
                if (g->place.row == f->place.row)
                        return true;
                if (!g->held)
                        moved = moved ?: g;
        }
        if (!moved || !relayout)
                return false;
        moved->place.row = f->place.row;
        moved->held = true; /* a second copy elsewhere is new */
        return true;
}

/* Marks the ignored failures v still shows in their places. */
static void failure_hold_shown(FailureWatch *w, const ScreenView *v) {
        for (size_t i = 0; i < w->n_ignored; i++)
                w->ignored[i].held = false;
        for (size_t at = next_failure(w->failures, v->text, 0); at != SIZE_MAX;
             at = next_failure(w->failures, v->text, at + 1)) {
                FailureSeen f = failure_at(w->failures, v, at);

                for (size_t i = 0; i < w->n_ignored; i++)
                        if (failure_same(&w->ignored[i], &f) && w->ignored[i].place.row == f.place.row)
                                w->ignored[i].held = true;
        }
}

static void failure_forget_gone(FailureWatch *w, const ScreenView *v) {
        size_t k = 0;

        for (size_t i = 0; i < w->n_ignored; i++)
                if (row_shown(v, w->ignored[i].place.row))
                        w->ignored[k++] = w->ignored[i];
        w->n_ignored = k;
}

/* When full, in place of the one on the topmost row: it scrolls off first. */
static void failure_remember(FailureWatch *w, const FailureSeen *f) {
        size_t top = 0;

        if (w->n_ignored < FAILURES_IGNORED_MAX) {
                w->ignored[w->n_ignored++] = *f;
                return;
        }
        for (size_t i = 1; i < w->n_ignored; i++)
                if (w->ignored[i].place.row < w->ignored[top].place.row)
                        top = i;
        w->ignored[top] = *f;
}

void failure_watch_ignore(FailureWatch *w, const ScreenView *v) {
        failure_forget_gone(w, v);
        for (size_t at = next_failure(w->failures, v->text, 0); at != SIZE_MAX;
             at = next_failure(w->failures, v->text, at + 1)) {
                FailureSeen f = failure_at(w->failures, v, at);

                /* Each one shown has a place of its own to follow. */
                if (!failure_ignored(w, &f, false))
                        failure_remember(w, &f);
        }
}

bool failure_watch_find(FailureWatch *w, const ScreenView *v, char *buf, size_t size) {
        size_t at, end;

        failure_forget_gone(w, v);
        failure_hold_shown(w, v);
        for (at = next_failure(w->failures, v->text, 0); at != SIZE_MAX; at = next_failure(w->failures, v->text, at + 1)) {
                FailureSeen f = failure_at(w->failures, v, at);
                if (!failure_ignored(w, &f, true))
                        break;
        }
        if (at == SIZE_MAX || size == 0)
                return false;
        end = at + strcspn(v->text + at, "\n"); /* a message the terminal wrapped is whole */
        if (end - at > size - 1) {
                end = at + size - 1;
                while (end > at && ((unsigned char)v->text[end] & 0xc0) == 0x80)
                        end--; /* not inside a character */
        }
        end = trim_end(v->text, at, end);
        memcpy(buf, v->text + at, end - at);
        buf[end - at] = '\0';
        return true;
}
