/* Unit tests for agent/supervise/sv-memory.c: the reads of a READY
 * service's memory.events "max" counter and memory.stat refaults, in
 * order, each with when the next read is due and the line due now, if
 * any; and that line's exact text. */
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
        usec_t at;          /* since the service became READY (its counters then: 7, 40) */
        uint64_t reclaims;  /* memory.events "max" read */
        uint64_t refaults;  /* memory.stat's refaults read */
        usec_t next;        /* when to read next: 0 at its next change */
        uint64_t line;      /* the line's count of "max", 0: none */
        uint64_t line_refaults;
        usec_t span;
} Read;

static void check(const char *name, const Read *reads, size_t n) {
        SvMemoryWatch w = sv_memory_watch_init((SvMemoryCounters){ .reclaims = 7, .refaults = 40 });
        const usec_t ready = 1000 * S; /* monotonic: never 0 */

        for (size_t i = 0; i < n; i++) {
                const Read *r = &reads[i];
                SvMemoryLine l;
                usec_t next = sv_memory_next(&w, (SvMemoryCounters){ .reclaims = r->reclaims, .refaults = r->refaults },
                                             ready + r->at, PERIOD, INTERVAL, &l);

                if (next != r->next || l.reclaims != r->line ||
                    (l.reclaims && (l.refaults != r->line_refaults || l.span != r->span)))
                        fail_msg("%s, read %zu: next %llu, line %llu, %llu over %llu; expected %llu, %llu, %llu over "
                                 "%llu", name, i, (unsigned long long)next, (unsigned long long)l.reclaims,
                                 (unsigned long long)l.refaults, (unsigned long long)l.span,
                                 (unsigned long long)r->next, (unsigned long long)r->line,
                                 (unsigned long long)r->line_refaults, (unsigned long long)r->span);
        }
}

#define CHECK(name, ...) \
        check(name, (const Read[]){ __VA_ARGS__ }, sizeof((const Read[]){ __VA_ARGS__ }) / sizeof(Read))

static void test_reads(void **state) {
        (void)state;
        /* A change that is not a rise ("high", "low"): watched again. */
        CHECK("unchanged", { 5 * S, 7, 40, 0, 0, 0, 0 });
        /* Reached once (a reclaim that found enough): the run it begins
         * ends at the next read. */
        CHECK("once", { 60 * S, 9, 40, PERIOD, 0, 0, 0 }, { 70 * S, 9, 40, 0, 0, 0, 0 });
        /* Thrashing, both rising: the first line a period after the first
         * rise, "max" counting from the counter before it, the refaults
         * from the read then; one per interval while both keep rising, each
         * counting since the one before. */
        CHECK("thrashing", { 60 * S, 100, 50, PERIOD, 0, 0, 0 }, { 70 * S, 24100, 9050, INTERVAL, 24093, 9000, PERIOD },
              { 370 * S, 800100, 300000, INTERVAL, 776000, 290950, INTERVAL },
              { 670 * S, 900000, 310000, INTERVAL, 99900, 10000, INTERVAL },
              /* Stopped: back to the watch. */
              { 970 * S, 900000, 310000, 0, 0, 0, 0 });
        /* Its limit full of file cache (a large download): "max" rising
         * as fast, nothing read back: no line, read each period while it
         * lasts.  Refaults before the run (read at its first rise) are
         * not in it. */
        CHECK("file cache", { 60 * S, 100, 90, PERIOD, 0, 0, 0 }, { 70 * S, 24100, 90, PERIOD, 0, 0, 0 },
              { 80 * S, 48100, 90, PERIOD, 0, 0, 0 }, { 90 * S, 48100, 90, 0, 0, 0, 0 });
        /* A cache given back, then thrashing: the line counts from the
         * last read that found no refaults. */
        CHECK("cache, then thrashing", { 60 * S, 100, 40, PERIOD, 0, 0, 0 }, { 70 * S, 24100, 40, PERIOD, 0, 0, 0 },
              { 80 * S, 30000, 100, INTERVAL, 5900, 60, PERIOD });
        /* Refaults without "max" rising (another program's reads of
         * the same file, a change of "low"): no run, no line. */
        CHECK("refaults alone", { 60 * S, 7, 500, 0, 0, 0, 0 }, { 70 * S, 7, 900, 0, 0, 0, 0 },
              { 80 * S, 100, 900, PERIOD, 0, 0, 0 }, { 90 * S, 100, 1500, 0, 0, 0, 0 });
        /* A run that begins soon after a line waits for the interval to
         * end (read once then, not each period), and its line counts from
         * the run's start. */
        CHECK("rate limited", { 60 * S, 100, 40, PERIOD, 0, 0, 0 }, { 70 * S, 2000, 60, INTERVAL, 1993, 20, PERIOD },
              { 80 * S, 2000, 60, 0, 0, 0, 0 }, { 100 * S, 2100, 70, PERIOD, 0, 0, 0 },
              { 110 * S, 3000, 80, 260 * S, 0, 0, 0 }, { 370 * S, 4000, 95, INTERVAL, 2000, 25, 270 * S });
        /* The wait ends with no refaults since the read before it: no
         * line; the next counts from there. */
        CHECK("rate limited, then cache", { 60 * S, 100, 40, PERIOD, 0, 0, 0 },
              { 70 * S, 2000, 60, INTERVAL, 1993, 20, PERIOD }, { 80 * S, 3000, 70, 290 * S, 0, 0, 0 },
              { 370 * S, 4000, 70, PERIOD, 0, 0, 0 }, { 380 * S, 5000, 75, INTERVAL, 1000, 5, PERIOD });
        /* Counters below the ones seen (another cgroup's): from them. */
        CHECK("went back", { 60 * S, 3, 40, 0, 0, 0, 0 }, { 70 * S, 5, 40, PERIOD, 0, 0, 0 },
              { 80 * S, 8, 41, INTERVAL, 5, 1, PERIOD });
        CHECK("refaults went back", { 60 * S, 9, 10, 0, 0, 0, 0 }, { 70 * S, 12, 10, PERIOD, 0, 0, 0 },
              { 80 * S, 15, 12, INTERVAL, 6, 2, PERIOD });
}

static void test_line(void **state) {
        char buf[256];

        (void)state;
        assert_string_equal(sv_memory_line_to_string("firefox", UINT64_C(1536) << 20,
                                                      &(SvMemoryLine){ .reclaims = 24093, .refaults = 51234,
                                                                      .span = 10 * S + 4000 },
                                                      "browser_memory_max_mb", buf, sizeof buf),
                            "Service firefox is at its memory.max 1536 MiB: the kernel reclaimed its memory 24093 "
                            "times in the last 10 s and read back 51234 pages it had evicted, its code too, as it "
                            "runs; raise browser_memory_max_mb.");
        /* Rounded to whole seconds; one reclaim is "time", one page "page". */
        assert_string_equal(sv_memory_line_to_string("web", UINT64_C(300) << 20,
                                                     &(SvMemoryLine){ .reclaims = 1, .refaults = 1,
                                                                     .span = 299 * S + S / 2 },
                                                     "its memory_max_mb in the services_file", buf, sizeof buf),
                            "Service web is at its memory.max 300 MiB: the kernel reclaimed its memory 1 time in "
                            "the last 300 s and read back 1 page it had evicted, its code too, as it runs; raise "
                            "its memory_max_mb in the services_file.");
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
