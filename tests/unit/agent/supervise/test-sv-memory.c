/* Unit tests for agent/supervise/sv-memory.c: the reads of a READY
 * service's memory.events "max" counter, in order, each with when the
 * next read is due and the line due now, if any; and that line's exact
 * text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "macro.h"
#include "agent/supervise/sv-memory.h"

#define S USEC_PER_SEC
#define PERIOD (10 * S)
#define INTERVAL (300 * S)

typedef struct Read {
        usec_t at;          /* since the service became READY (its counter then: 7) */
        uint64_t reclaims;  /* the counter read */
        usec_t next;        /* when to read next: 0 at its next change */
        uint64_t line;      /* the line's count, 0: none */
        usec_t span;
} Read;

static void check(const char *name, const Read *reads, size_t n) {
        SvMemoryWatch w = sv_memory_watch_init(7);
        const usec_t ready = 1000 * S; /* monotonic: never 0 */

        for (size_t i = 0; i < n; i++) {
                SvMemoryLine l;
                usec_t next = sv_memory_next(&w, reads[i].reclaims, ready + reads[i].at, PERIOD, INTERVAL, &l);

                if (next != reads[i].next || l.reclaims != reads[i].line || (l.reclaims && l.span != reads[i].span))
                        fail_msg("%s, read %zu: next %llu, line %llu over %llu; expected %llu, %llu over %llu", name,
                                 i, (unsigned long long)next, (unsigned long long)l.reclaims,
                                 (unsigned long long)l.span, (unsigned long long)reads[i].next,
                                 (unsigned long long)reads[i].line, (unsigned long long)reads[i].span);
        }
}

#define CHECK(name, ...) \
        check(name, (const Read[]){ __VA_ARGS__ }, sizeof((const Read[]){ __VA_ARGS__ }) / sizeof(Read))

static void test_reads(void **state) {
        (void)state;
        /* A change that is not a rise ("high", "low"): watched again. */
        CHECK("unchanged", { 5 * S, 7, 0, 0, 0 });
        /* Reached once (its file cache full, a reclaim that found
         * enough): the run it begins ends at the next read. */
        CHECK("once", { 60 * S, 9, PERIOD, 0, 0 }, { 70 * S, 9, 0, 0, 0 });
        /* Thrashing: the first line a period after the first rise, counting
         * from the counter before it; then one per interval while it keeps
         * rising, each counting since the one before. */
        CHECK("thrashing", { 60 * S, 100, PERIOD, 0, 0 }, { 70 * S, 24100, INTERVAL, 24093, PERIOD },
              { 370 * S, 800100, INTERVAL, 776000, INTERVAL }, { 670 * S, 900000, INTERVAL, 99900, INTERVAL },
              /* Stopped: back to the watch. */
              { 970 * S, 900000, 0, 0, 0 });
        /* A run that begins soon after a line waits for the interval to
         * end (read once then, not each period), and its line counts from
         * the run's start. */
        CHECK("rate limited", { 60 * S, 100, PERIOD, 0, 0 }, { 70 * S, 2000, INTERVAL, 1993, PERIOD },
              { 80 * S, 2000, 0, 0, 0 }, { 100 * S, 2100, PERIOD, 0, 0 }, { 110 * S, 3000, 260 * S, 0, 0 },
              { 370 * S, 4000, INTERVAL, 2000, 270 * S });
        /* A counter below the one seen (another cgroup's): from it. */
        CHECK("went back", { 60 * S, 3, 0, 0, 0 }, { 70 * S, 5, PERIOD, 0, 0 }, { 80 * S, 8, INTERVAL, 5, PERIOD });
}

static void test_line(void **state) {
        char buf[256];

        (void)state;
        assert_string_equal(sv_memory_line_to_string("firefox", UINT64_C(1536) << 20,
                                                      &(SvMemoryLine){ .reclaims = 24093, .span = 10 * S + 4000 },
                                                      "browser_memory_max_mb", buf, sizeof buf),
                            "Service firefox is at its memory.max 1536 MiB: the kernel reclaimed its memory 24093 "
                            "times in the last 10 s, its code too, which it reads from disk again as it runs; raise "
                            "browser_memory_max_mb.");
        /* Rounded to whole seconds; one reclaim is "time". */
        assert_string_equal(sv_memory_line_to_string("web", UINT64_C(300) << 20,
                                                     &(SvMemoryLine){ .reclaims = 1, .span = 299 * S + S / 2 },
                                                     "its memory_max_mb in the services_file", buf, sizeof buf),
                            "Service web is at its memory.max 300 MiB: the kernel reclaimed its memory 1 time in "
                            "the last 300 s, its code too, which it reads from disk again as it runs; raise its "
                            "memory_max_mb in the services_file.");
        /* Cut to the buffer. */
        assert_string_equal(sv_memory_line_to_string("firefox", UINT64_C(1536) << 20,
                                                      &(SvMemoryLine){ .reclaims = 2, .span = S }, "k", buf, 16),
                            "Service firefox");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reads),
                cmocka_unit_test(test_line),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
