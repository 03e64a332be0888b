/* libFuzzer target for what the CLI runner does with a CLI's output: the
 * terminal (screen.c over libvterm), the prompt rules and the URL scan on
 * its rendered view, and the transcript, fed the same bytes in
 * input-chosen chunk sizes (a sequence split across reads is the common
 * case).  Beyond "no crash": answers and views stay within their bounds,
 * the view is well formed (NUL-terminated, rows in order, the cursor
 * inside), a found URL starts with a pattern and is bounded, a look
 * answers each rule at most once; the failure watch finds nothing in a
 * look it was just told to ignore (unless more failures showed than it
 * keeps) and what it finds starts with a failure text; the transcript stays
 * within its limit and never contains the value of a code= parameter it
 * was fed on a line of its own. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/login/prompt-match.h"
#include "agent/login/screen.h"
#include "agent/login/transcript.h"
#include "agent/login/url-scan.h"
#include "fuzz.h"

static char *const patterns[] = { (char *)"https://auth.example.com/", (char *)"http://127.0.0.1:", NULL };
static char *const failures[] = { (char *)"Failed  to sign", (char *)"Error:", NULL };

static size_t count(const char *s, const char *needle) {
        size_t n = 0;

        for (; (s = strstr(s, needle)); s++)
                n++;
        return n;
}

static void check_view(const ScreenView *v) {
        CHECK(v->text[v->size] == '\0' && strlen(v->text) == v->size);
        for (size_t i = 0; i < v->n_rows; i++) {
                CHECK(v->rows[i].offset <= v->size);
                CHECK(i == 0 || (v->rows[i].offset >= v->rows[i - 1].offset && v->rows[i].number > v->rows[i - 1].number));
        }
        CHECK(v->cursor == SIZE_MAX || v->cursor <= v->size);
}

static void check_url(const char *u) {
        CHECK(strlen(u) <= URL_SCAN_MAX);
        CHECK(!strncmp(u, patterns[0], strlen(patterns[0])) || !strncmp(u, patterns[1], strlen(patterns[1])));
}

/* Before the URL the runner ignores what failures show, after it finds. */
static void look_for_failures(FailureWatch *w, const ScreenView *v, bool before_url) {
        char buf[64];

        if (before_url) {
                failure_watch_ignore(w, v);
                CHECK(!failure_watch_find(w, v, buf, sizeof buf) || w->n_ignored == FAILURES_IGNORED_MAX);
        } else if (failure_watch_find(w, v, buf, sizeof buf)) {
                CHECK(strlen(buf) < sizeof buf);
                CHECK(!strncmp(buf, "Failed ", 7) || !strncmp(buf, "Error:", 6));
        }
        CHECK(w->n_ignored <= FAILURES_IGNORED_MAX);
}

static void look(Screen *s, PromptMatcher *pm, FailureWatch *w, bool final, bool before_url) {
        char *url = NULL;
        ScreenView v;

        CHECK(screen_look(s, &v) == 0);
        check_view(&v);
        const char *keys[PROVIDER_LIST_MAX];
        size_t n = prompt_matcher_look(pm, &v, keys);

        CHECK(n <= pm->n_prompts);
        for (size_t i = 0; i < n; i++)
                CHECK(keys[i] && keys[i][0]);
        look_for_failures(w, &v, before_url);
        if (url_scan(patterns, &v, final, &url) == 1) {
                check_url(url);
                free(url);
        }
}

static void check_transcript(Transcript *t) {
        char *text = transcript_text(t);

        CHECK(text && strlen(text) <= 4096);
        /* A fixed secret after the fuzz input, on its own line, adds no
         * occurrence of it (the input itself may contain the string). */
        size_t before = count(text, "FUZZSECRET1");
        free(text);
        transcript_feed(t, "\nhttp://x/cb?code=FUZZSECRET1&x=1\n", 34);
        text = transcript_text(t);
        CHECK(text && count(text, "FUZZSECRET1") <= before);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const ProviderPrompt prompts[] = { { (char *)"Press Enter", (char *)"\r", false },
                                                  { (char *)"[y/N]", (char *)"y\r", true },
                                                  { (char *)"Do you  trust", (char *)"\r", false } };
        Screen *s = NULL;
        Transcript *t = NULL;
        PromptMatcher pm;
        FailureWatch w;
        size_t chunk, off = 1;

        if (size < 1 || size > 256 * 1024)
                return 0;
        /* Small screens scroll and wrap more for the same input. */
        chunk = (data[0] % 64) + 1;
        CHECK(screen_new(data[0] & 0x40 ? 5 : 24, data[0] & 0x80 ? 20 : 80, data[0] & 1 ? SCREEN_NEWLINE : 0, &s) == 0);
        CHECK(transcript_new(4096, &t) == 0);
        prompt_matcher_init(&pm, prompts, ELEMENTSOF(prompts));
        failure_watch_init(&w, failures);
        while (off < size) {
                size_t n = size - off < chunk ? size - off : chunk, k;
                const char *p = (const char *)data + off;

                screen_feed(s, p, n);
                (void)screen_take_replies(s, &k);
                CHECK(k <= SCREEN_REPLIES_MAX);
                look(s, &pm, &w, false, off < size / 2);
                transcript_feed(t, p, n);
                off += n;
        }
        look(s, &pm, &w, true, false);
        check_transcript(t);
        screen_free(s);
        transcript_free(t);
        return 0;
}
