/* libFuzzer target for the CLI output scanners: the URL scanner, the
 * terminal replies, the prompt rules and the transcript, fed the same
 * bytes in input-chosen chunk sizes (a sequence split across reads is the
 * common case).  Beyond "no crash": a found URL starts with a pattern and
 * is bounded; the transcript stays within its limit and never contains
 * the value of a code= parameter it was fed on a line of its own. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/login/term-reply.h"
#include "agent/login/transcript.h"
#include "agent/login/url-scan.h"
#include "fuzz.h"

static char *const patterns[] = { (char *)"https://auth.example.com/", (char *)"http://127.0.0.1:", NULL };

static size_t count(const char *s, const char *needle) {
        size_t n = 0;

        for (; (s = strstr(s, needle)); s++)
                n++;
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const ProviderPrompt prompts[] = { { (char *)"Press Enter", (char *)"\r", false },
                                                  { (char *)"[y/N]", (char *)"y\r", true } };
        UrlScan *scan = NULL;
        Transcript *t = NULL;
        TermReply term;
        PromptMatcher pm;
        char out[256];
        size_t chunk, off = 1;

        if (size < 1 || size > 256 * 1024)
                return 0;
        chunk = (data[0] % 64) + 1;
        CHECK(url_scan_new(patterns, data[0] % 2 ? 80 : 0, &scan) == 0);
        CHECK(transcript_new(4096, &t) == 0);
        term_reply_init(&term, ~0u, 24, 80);
        prompt_matcher_init(&pm, prompts, 2);
        while (off < size) {
                size_t n = size - off < chunk ? size - off : chunk;
                const char *p = (const char *)data + off;
                ssize_t k = term_reply_feed(&term, p, n, out, sizeof out);
                CHECK(k >= 0 || k == -ENOBUFS);
                for (const char *keys = prompt_matcher_feed(&pm, p, n); keys; keys = prompt_matcher_feed(&pm, "", 0))
                        CHECK(keys[0]);
                CHECK(url_scan_feed(scan, p, n) >= 0);
                transcript_feed(t, p, n);
                off += n;
        }
        if (url_scan_flush(scan) == 1) {
                const char *u = url_scan_url(scan);
                CHECK(strlen(u) <= URL_SCAN_MAX);
                CHECK(!strncmp(u, patterns[0], strlen(patterns[0])) || !strncmp(u, patterns[1], strlen(patterns[1])));
        }
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
        url_scan_free(scan);
        transcript_free(t);
        return 0;
}
