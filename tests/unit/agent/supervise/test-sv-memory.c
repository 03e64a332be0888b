/* Unit tests for agent/supervise/sv-memory.c: the reads of a READY
 * service's memory.events "max" counter and memory.stat refaults, in
 * order, each with when the next read is due and the line due now, if
 * any; and that line's exact text. */
#include <errno.h>
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
         * rise, both counting from the read then; one per interval while
         * both keep rising, each counting since the one before. */
        CHECK("thrashing", { 60 * S, 100, 50, PERIOD, 0, 0, 0 }, { 70 * S, 24100, 9050, INTERVAL, 24000, 9000, PERIOD },
              { 370 * S, 800100, 300000, INTERVAL, 776000, 290950, INTERVAL },
              { 670 * S, 900000, 310000, INTERVAL, 99900, 10000, INTERVAL },
              /* Stopped: back to the watch. */
              { 970 * S, 900000, 310000, 0, 0, 0, 0 });
        /* A first rise long after the read before (READY, 300 s ago):
         * the line says "in the last 10 s", so it counts from the first
         * rise's read, "max" as the refaults, not the 93 reclaims from
         * any time in the 300 s before. */
        CHECK("first rise late", { 300 * S, 100, 50, PERIOD, 0, 0, 0 },
              { 310 * S, 24100, 9050, INTERVAL, 24000, 9000, PERIOD });
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
        CHECK("rate limited", { 60 * S, 100, 40, PERIOD, 0, 0, 0 }, { 70 * S, 2000, 60, INTERVAL, 1900, 20, PERIOD },
              { 80 * S, 2000, 60, 0, 0, 0, 0 }, { 100 * S, 2100, 70, PERIOD, 0, 0, 0 },
              { 110 * S, 3000, 80, 260 * S, 0, 0, 0 }, { 370 * S, 4000, 95, INTERVAL, 1900, 25, 270 * S });
        /* The wait ends with no refaults since the read before it: no
         * line; the next counts from there. */
        CHECK("rate limited, then cache", { 60 * S, 100, 40, PERIOD, 0, 0, 0 },
              { 70 * S, 2000, 60, INTERVAL, 1900, 20, PERIOD }, { 80 * S, 3000, 70, 290 * S, 0, 0, 0 },
              { 370 * S, 4000, 70, PERIOD, 0, 0, 0 }, { 380 * S, 5000, 75, INTERVAL, 1000, 5, PERIOD });
        /* Counters below the ones seen (another cgroup's): from them. */
        CHECK("went back", { 60 * S, 3, 40, 0, 0, 0, 0 }, { 70 * S, 5, 40, PERIOD, 0, 0, 0 },
              { 80 * S, 8, 41, INTERVAL, 3, 1, PERIOD });
        CHECK("refaults went back", { 60 * S, 9, 10, 0, 0, 0, 0 }, { 70 * S, 12, 10, PERIOD, 0, 0, 0 },
              { 80 * S, 15, 12, INTERVAL, 3, 2, PERIOD });
}

/* A read for sv_memory_step(), the watch's thrash kill on. */
typedef struct Step {
        usec_t at;          /* since READY (its counters then: 7, 40) */
        uint64_t reclaims;
        uint64_t refaults;
        int stall;          /* memory.pressure full avg10, 1/100 % (-1: no PSI) */
        usec_t next;
        uint64_t kill;      /* the kill's count of "max", 0: none */
        uint64_t kill_refaults;
        usec_t span;
} Step;

#define KILL_AFTER (60 * S)

static void check_steps(const char *name, const Step *steps, size_t n) {
        SvMemoryWatch w = sv_memory_watch_init((SvMemoryCounters){ .reclaims = 7, .refaults = 40 });
        const SvMemoryStep p = { .period = PERIOD, .interval = INTERVAL, .kill_after = KILL_AFTER };
        const usec_t ready = 1000 * S;

        for (size_t i = 0; i < n; i++) {
                const Step *r = &steps[i];
                SvMemoryLine l, k;
                usec_t next = sv_memory_step(&w, (SvMemoryCounters){ .reclaims = r->reclaims,
                                                                     .refaults = r->refaults, .stall = r->stall },
                                             ready + r->at, &p, &l, &k);

                if (next != r->next || k.reclaims != r->kill ||
                    (k.reclaims && (k.refaults != r->kill_refaults || k.span != r->span)))
                        fail_msg("%s, read %zu: next %llu, kill %llu, %llu over %llu; expected %llu, %llu, %llu over "
                                 "%llu", name, i, (unsigned long long)next, (unsigned long long)k.reclaims,
                                 (unsigned long long)k.refaults, (unsigned long long)k.span,
                                 (unsigned long long)r->next, (unsigned long long)r->kill,
                                 (unsigned long long)r->kill_refaults, (unsigned long long)r->span);
        }
}

#define CHECK_STEPS(name, ...) \
        check_steps(name, (const Step[]){ __VA_ARGS__ }, sizeof((const Step[]){ __VA_ARGS__ }) / sizeof(Step))

static void test_kill(void **state) {
        (void)state;
        /* Thrashing at every read, a period apart, for 60 s since the
         * run's first rise (whose refaults may be from before): killed at
         * the sixth read after it, counted over those six periods (one
         * stalled just above 10%).  Read each period though the line (at
         * the first) limits the next. */
        CHECK_STEPS("thrashing", { 60 * S, 100, 50, 9000, PERIOD, 0, 0, 0 },
                    { 70 * S, 1100, 150, 9000, PERIOD, 0, 0, 0 }, { 80 * S, 2100, 250, 9000, PERIOD, 0, 0, 0 },
                    { 90 * S, 3100, 350, 9000, PERIOD, 0, 0, 0 }, { 100 * S, 4100, 450, 1001, PERIOD, 0, 0, 0 },
                    { 110 * S, 5100, 550, 9000, PERIOD, 0, 0, 0 },
                    { 120 * S, 6100, 650, 9000, PERIOD, 6000, 600, 60 * S });
        /* One read below 10% stalled (a program working at its limit,
         * some of it running): the span begins again after it. */
        CHECK_STEPS("stall dips", { 60 * S, 100, 50, 9000, PERIOD, 0, 0, 0 },
                    { 70 * S, 1100, 150, 9000, PERIOD, 0, 0, 0 }, { 80 * S, 2100, 250, 999, PERIOD, 0, 0, 0 },
                    { 90 * S, 3100, 350, 9000, PERIOD, 0, 0, 0 }, { 100 * S, 4100, 450, 9000, PERIOD, 0, 0, 0 },
                    { 110 * S, 5100, 550, 9000, PERIOD, 0, 0, 0 }, { 120 * S, 6100, 650, 9000, PERIOD, 0, 0, 0 },
                    { 130 * S, 7100, 750, 9000, PERIOD, 0, 0, 0 },
                    { 140 * S, 8100, 850, 9000, PERIOD, 6000, 600, 60 * S });
        /* 10.00% itself is not above the limit (avg10 > limit, as
         * systemd-oomd compares): the span begins again after it too. */
        CHECK_STEPS("stall at the limit", { 60 * S, 100, 50, 9000, PERIOD, 0, 0, 0 },
                    { 70 * S, 1100, 150, 9000, PERIOD, 0, 0, 0 }, { 80 * S, 2100, 250, 1000, PERIOD, 0, 0, 0 },
                    { 90 * S, 3100, 350, 1001, PERIOD, 0, 0, 0 }, { 100 * S, 4100, 450, 9000, PERIOD, 0, 0, 0 },
                    { 110 * S, 5100, 550, 9000, PERIOD, 0, 0, 0 }, { 120 * S, 6100, 650, 9000, PERIOD, 0, 0, 0 },
                    { 130 * S, 7100, 750, 9000, PERIOD, 0, 0, 0 },
                    { 140 * S, 8100, 850, 9000, PERIOD, 6000, 600, 60 * S });
        /* A period without refaults (a cache given back) or without a
         * rise of "max" (the run over) begins it again too. */
        CHECK_STEPS("refaults pause", { 60 * S, 100, 50, 9000, PERIOD, 0, 0, 0 },
                    { 70 * S, 1100, 150, 9000, PERIOD, 0, 0, 0 }, { 80 * S, 1200, 150, 9000, PERIOD, 0, 0, 0 },
                    { 90 * S, 2200, 250, 9000, PERIOD, 0, 0, 0 }, { 100 * S, 3200, 350, 9000, PERIOD, 0, 0, 0 },
                    { 110 * S, 4200, 450, 9000, PERIOD, 0, 0, 0 }, { 120 * S, 5200, 550, 9000, PERIOD, 0, 0, 0 },
                    { 130 * S, 6200, 650, 9000, PERIOD, 0, 0, 0 },
                    { 140 * S, 7200, 750, 9000, PERIOD, 6000, 600, 60 * S });
        CHECK_STEPS("run ends", { 60 * S, 100, 50, 9000, PERIOD, 0, 0, 0 },
                    { 70 * S, 1100, 150, 9000, PERIOD, 0, 0, 0 }, { 80 * S, 1100, 150, 9000, 0, 0, 0, 0 },
                    { 90 * S, 1200, 160, 9000, PERIOD, 0, 0, 0 }, { 100 * S, 2200, 260, 9000, PERIOD, 0, 0, 0 },
                    { 110 * S, 3200, 360, 9000, PERIOD, 0, 0, 0 }, { 120 * S, 4200, 460, 9000, PERIOD, 0, 0, 0 },
                    { 130 * S, 5200, 560, 9000, PERIOD, 0, 0, 0 }, { 140 * S, 6200, 660, 9000, PERIOD, 0, 0, 0 },
                    { 150 * S, 7200, 760, 9000, PERIOD, 6000, 600, 60 * S });
        /* A read late by more than avg10's 10 s (the loop held up): its
         * stall says nothing of the gap before, the span begins there. */
        CHECK_STEPS("late read", { 60 * S, 100, 50, 9000, PERIOD, 0, 0, 0 },
                    { 70 * S, 1100, 150, 9000, PERIOD, 0, 0, 0 }, { 125 * S, 2100, 250, 9000, PERIOD, 0, 0, 0 },
                    { 135 * S, 3100, 350, 9000, PERIOD, 0, 0, 0 }, { 145 * S, 4100, 450, 9000, PERIOD, 0, 0, 0 },
                    { 155 * S, 5100, 550, 9000, PERIOD, 0, 0, 0 }, { 165 * S, 6100, 650, 9000, PERIOD, 0, 0, 0 },
                    { 175 * S, 7100, 750, 9000, PERIOD, 0, 0, 0 },
                    { 185 * S, 8100, 850, 9000, PERIOD, 6000, 600, 60 * S });
        /* Without PSI the counters alone never kill: a line only. */
        CHECK_STEPS("no PSI", { 60 * S, 100, 50, -1, PERIOD, 0, 0, 0 },
                    { 70 * S, 1100, 150, -1, PERIOD, 0, 0, 0 }, { 700 * S, 9100, 950, -1, PERIOD, 0, 0, 0 });
        /* Stalled, "max" rising, nothing read back: not thrashing. */
        CHECK_STEPS("no refaults", { 60 * S, 100, 50, 9000, PERIOD, 0, 0, 0 },
                    { 70 * S, 1100, 50, 9000, PERIOD, 0, 0, 0 }, { 700 * S, 9100, 50, 9000, PERIOD, 0, 0, 0 });
}

/* kill_after 0: sv_memory_next() as it is, its line's interval too. */
static void test_kill_off(void **state) {
        SvMemoryWatch w = sv_memory_watch_init((SvMemoryCounters){ .reclaims = 7, .refaults = 40 });
        const SvMemoryStep p = { .period = PERIOD, .interval = INTERVAL };
        SvMemoryLine l, k;

        (void)state;
        assert_int_equal(sv_memory_step(&w, (SvMemoryCounters){ 100, 50, 9000 }, 60 * S, &p, &l, &k), PERIOD);
        for (usec_t t = 70 * S; t < 1000 * S; t += INTERVAL) {
                assert_int_equal(sv_memory_step(&w, (SvMemoryCounters){ t, t, 9000 }, t, &p, &l, &k), INTERVAL);
                assert_int_equal(k.reclaims, 0);
        }
}

static void test_parse_stall(void **state) {
        (void)state;
        assert_int_equal(sv_memory_parse_stall("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                                               "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"), 0);
        assert_int_equal(sv_memory_parse_stall("some avg10=97.12 avg60=80.00 avg300=20.00 total=4000000\n"
                                               "full avg10=61.05 avg60=50.00 avg300=10.00 total=3000000\n"), 6105);
        assert_int_equal(sv_memory_parse_stall("full avg10=100.00 avg60=0.00 avg300=0.00 total=0\n"), 10000);
        /* No "full" line (a CPU's pressure), or not the kernel's form. */
        assert_int_equal(sv_memory_parse_stall("some avg10=1.00 avg60=0.00 avg300=0.00 total=0\n"), -EINVAL);
        assert_int_equal(sv_memory_parse_stall("some xfull avg10=1.00\n"), -EINVAL);
        assert_int_equal(sv_memory_parse_stall("full avg10=1.5 avg60=0.00\n"), -EINVAL);
        assert_int_equal(sv_memory_parse_stall("full avg10=101.00 avg60=0.00\n"), -EINVAL);
        /* A share of time: the kernel never prints more than 100.00. */
        assert_int_equal(sv_memory_parse_stall("full avg10=100.99 avg60=0.00\n"), -EINVAL);
        assert_int_equal(sv_memory_parse_stall("full avg10=100.01 avg60=0.00\n"), -EINVAL);
        assert_int_equal(sv_memory_parse_stall("full avg10=.50 avg60=0.00\n"), -EINVAL);
        assert_int_equal(sv_memory_parse_stall("full avg10=12"), -EINVAL);
        assert_int_equal(sv_memory_parse_stall(""), -EINVAL);
}

static void test_kill_reason(void **state) {
        char buf[160];

        (void)state;
        assert_string_equal(sv_memory_kill_to_string(UINT64_C(1536) << 20,
                                                     &(SvMemoryLine){ .reclaims = 2000000, .refaults = 2500123,
                                                                     .span = 60 * S + 300 },
                                                     buf, sizeof buf),
                            "killed by the agent: thrashing at its memory.max 1536 MiB for 60 s (read back 2500123 "
                            "evicted pages)");
        assert_string_equal(sv_memory_kill_to_string(UINT64_C(32) << 20,
                                                     &(SvMemoryLine){ .reclaims = 1, .refaults = 1, .span = S / 10 },
                                                     buf, sizeof buf),
                            "killed by the agent: thrashing at its memory.max 32 MiB for 0 s (read back 1 evicted "
                            "page)");
}

/* The kill's warning: its span, counts, the stall of its last read and
 * the key that gave the limit. */
static void test_kill_line(void **state) {
        char buf[384];

        (void)state;
        assert_string_equal(sv_memory_kill_line_to_string("firefox", UINT64_C(1024) << 20,
                                                          &(SvMemoryLine){ .reclaims = 11282, .refaults = 519788,
                                                                          .span = 60 * S + 300 },
                                                          4111, "browser_memory_max_mb", buf, sizeof buf),
                            "Service firefox thrashed at its memory.max 1024 MiB for 60 s: the kernel reclaimed its "
                            "memory 11282 times and read back 519788 pages it had evicted, its processes all "
                            "waiting for memory 41.11% of the last 10 s (memory.pressure full avg10); killing it "
                            "(memory_thrash_kill_s), raise browser_memory_max_mb.");
}

static void test_line(void **state) {
        char buf[384];

        (void)state;
        assert_string_equal(sv_memory_line_to_string("firefox", UINT64_C(1536) << 20,
                                                      &(SvMemoryLine){ .reclaims = 24093, .refaults = 51234,
                                                                      .span = 10 * S + 4000 },
                                                      -1, "browser_memory_max_mb", buf, sizeof buf),
                            "Service firefox is at its memory.max 1536 MiB: the kernel reclaimed its memory 24093 "
                            "times in the last 10 s and read back 51234 pages it had evicted, its code too, as it "
                            "runs; raise browser_memory_max_mb.");
        /* Rounded to whole seconds; one reclaim is "time", one page "page". */
        assert_string_equal(sv_memory_line_to_string("web", UINT64_C(300) << 20,
                                                     &(SvMemoryLine){ .reclaims = 1, .refaults = 1,
                                                                     .span = 299 * S + S / 2 },
                                                     -1, "its memory_max_mb in the services_file", buf,
                                                     sizeof buf),
                            "Service web is at its memory.max 300 MiB: the kernel reclaimed its memory 1 time in "
                            "the last 300 s and read back 1 page it had evicted, its code too, as it runs; raise "
                            "its memory_max_mb in the services_file.");
        /* With PSI: how long all its processes waited for memory. */
        assert_string_equal(sv_memory_line_to_string("firefox", UINT64_C(1024) << 20,
                                                      &(SvMemoryLine){ .reclaims = 424, .refaults = 77,
                                                                      .span = 10 * S },
                                                      247, "browser_memory_max_mb", buf, sizeof buf),
                            "Service firefox is at its memory.max 1024 MiB: the kernel reclaimed its memory 424 "
                            "times in the last 10 s and read back 77 pages it had evicted, its code too, as it runs "
                            "(all its processes waiting for memory 2.47% of the last 10 s); raise "
                            "browser_memory_max_mb.");
        /* Cut to the buffer. */
        assert_string_equal(sv_memory_line_to_string("firefox", UINT64_C(1536) << 20,
                                                      &(SvMemoryLine){ .reclaims = 2, .span = S }, -1, "k", buf, 16),
                            "Service firefox");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reads),
                cmocka_unit_test(test_line),
                cmocka_unit_test(test_kill),
                cmocka_unit_test(test_kill_off),
                cmocka_unit_test(test_parse_stall),
                cmocka_unit_test(test_kill_reason),
                cmocka_unit_test(test_kill_line),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
