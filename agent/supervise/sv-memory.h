/* Whether a service that is READY keeps reaching its memory.max, and the
 * line that says so: pure, fed with its cgroup's memory.events "max"
 * counter (each charge over memory.max, after which the kernel reclaims
 * in the cgroup) and memory.stat's refaults (pages it evicted there and
 * had to read back) as the supervisor reads them.  A program held just
 * above what it cannot give back (Firefox on a heavy page near
 * browser_memory_max_mb) is not OOM-killed but crawls, its code reclaimed
 * and read back from disk as it runs: both counters rise, the first by
 * thousands a second.  One whose limit is full of file cache (Firefox
 * writing a large download to its disk cache) counts "max" as often, but
 * what the kernel takes back is that cache, cheaply, and not needed
 * again: no refaults, and nothing to say.
 *
 * So a rise of "max" only begins a run: the counters are read again a
 * period later (not at each change, which the kernel signals up to 100
 * times a second), and a line is due when "max" rose in that period and
 * the refaults did too, saying how often and how many over how long; then
 * at most one per interval while both keep rising, each counting since
 * the one before.  A read that finds "max" rising without refaults has no
 * line, and what the next counts begins there.  A read that finds no rise
 * of "max" ends the run: the next rise begins another.
 *
 * One that keeps thrashing so is killed, as systemd-oomd would (it may
 * crawl for many minutes before the kernel's OOM killer acts, and the
 * machine's desktop with it): when every read, a period apart, over a
 * span of kill_after found "max" rising, the refaults rising and its
 * processes all stalled on memory at once often enough (memory.pressure's
 * "full avg10", PSI, above SV_MEMORY_THRASH_STALL); a read late by
 * more than that avg10's window begins the span again.  Without PSI
 * (memory.pressure not there) it is never killed: the counters alone
 * cannot tell thrashing from a program working near its limit. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "time-util.h"

/* The watch's defaults (SupervisorOptions.memory_period_ms). */
#define SV_MEMORY_PERIOD_USEC (10 * USEC_PER_SEC)
#define SV_MEMORY_INTERVAL_USEC (300 * USEC_PER_SEC)

/* memory.pressure's "full avg10" (hundredths of a percent) above which a
 * read counts as thrashing (avg10 > limit, as systemd-oomd's
 * oomd_pressure_above() compares).  Not systemd-oomd's 60 %, made for a
 * user's whole slice: "full" needs every task of the cgroup stalled at
 * once, which a browser of a dozen processes on 2 vCPUs seldom is.  In a
 * real VM (Firefox 153 at a 1024 MiB memory.max, TCG) a page thrashing
 * for minutes, reading back 4 000-11 500 pages a second, kept "full
 * avg10" at 4-41 %, mostly above 13 % ("some" 5-80 %), never 60 %;
 * working near the limit without thrashing, 0-5 % (8 % at most while
 * filling). */
#define SV_MEMORY_THRASH_STALL 1000
/* The window of that "avg10": a read later than a period and this after
 * the one before does not count towards the kill. */
#define SV_MEMORY_STALL_WINDOW_USEC (10 * USEC_PER_SEC)

/* A cgroup's counters, as read together. */
typedef struct SvMemoryCounters {
        uint64_t reclaims;  /* memory.events "max" */
        uint64_t refaults;  /* memory.stat's pages read back after eviction (cgroup_memory_refaults()) */
        int stall;          /* memory.pressure's "full avg10", in hundredths of a percent; -1: no PSI */
} SvMemoryCounters;

typedef struct SvMemoryWatch {
        SvMemoryCounters seen;  /* as read last */
        SvMemoryCounters base;  /* their values when what the next line counts began */
        usec_t since;           /* then (monotonic); 0: not rising (no run) */
        usec_t logged;          /* the last line's time (monotonic); 0: none yet */
        usec_t read;            /* the last read's time (monotonic); 0: none since READY */
        SvMemoryCounters thrash_base; /* the counters when every read since began to find it thrashing */
        usec_t thrash_since;    /* then (monotonic); 0: the last read did not */
} SvMemoryWatch;

/* The watch of a service that just became READY, its counters now c:
 * what they counted before is not rising. */
static inline SvMemoryWatch sv_memory_watch_init(SvMemoryCounters c) {
        return (SvMemoryWatch){ .seen = c };
}

/* A line that is due: "max" rose by reclaims and the refaults by
 * refaults over span. */
typedef struct SvMemoryLine {
        uint64_t reclaims;  /* 0: no line */
        uint64_t refaults;
        usec_t span;
} SvMemoryLine;

/* Its span in whole seconds, rounded (as its texts say it). */
static inline uint64_t sv_memory_line_seconds(const SvMemoryLine *l) {
        return (l->span + USEC_PER_SEC / 2) / USEC_PER_SEC;
}

/* The counters read at now (monotonic, > 0): *ret the line due now, if
 * any; returns when to read them next: 0 at the next change of
 * memory.events (the file watched), else that long from now (no watch
 * meanwhile).  Counters below the ones seen (another cgroup) start over
 * from them. */
usec_t sv_memory_next(SvMemoryWatch *w, SvMemoryCounters c, usec_t now, usec_t period, usec_t interval,
                      SvMemoryLine *ret);

/* When to read them next, the line due and whether to kill it. */
typedef struct SvMemoryStep {
        usec_t period, interval;  /* as for sv_memory_next() */
        usec_t kill_after;        /* thrashing this long: killed; 0: never */
} SvMemoryStep;

/* sv_memory_next() with the kill: *ret_kill's reclaims > 0 when it is
 * due now (what it thrashed by, over its span; the stall then in
 * *ret_stall); while a run lasts with kill_after > 0, read each period
 * (a line's interval only limits the lines). */
usec_t sv_memory_step(SvMemoryWatch *w, SvMemoryCounters c, usec_t now, const SvMemoryStep *p, SvMemoryLine *ret_line,
                      SvMemoryLine *ret_kill);

/* memory.pressure's text: its "full avg10" in hundredths of a percent
 * (0-10000), or -EINVAL without one in the kernel's form (above 100.00
 * too). */
int sv_memory_parse_stall(const char *text);

/* "killed by the agent: thrashing at its memory.max N MiB for S s (read
 * back R evicted pages)" into buf (cut to size); returns buf. */
const char *sv_memory_kill_to_string(uint64_t max, const SvMemoryLine *k, char *buf, size_t size);

/* "Service <name> thrashed at its memory.max N MiB for S s: the kernel
 * reclaimed its memory K times and read back R pages it had evicted, its
 * processes all waiting for memory P% of the last 10 s (memory.pressure
 * full avg10); killing it (memory_thrash_kill_s), raise <key>." into buf
 * (cut to size), the warning the kill k logs; returns buf.  stall: as
 * for sv_memory_line_to_string(), read with the kill's last read. */
const char *sv_memory_kill_line_to_string(const char *service, uint64_t max, const SvMemoryLine *k, int stall,
                                          const char *key, char *buf, size_t size);

/* "Service <name> is at its memory.max N MiB: the kernel reclaimed its
 * memory K times in the last S s and read back R pages it had evicted,
 * its code too, as it runs (all its processes waiting for memory P% of
 * the last 10 s); raise <key>." into buf (cut to size); returns buf.
 * max: the limit in bytes; stall: memory.pressure's "full avg10" read
 * with it (SvMemoryCounters.stall; -1: no PSI, the parenthesis left out);
 * key: the setting that gave it. */
const char *sv_memory_line_to_string(const char *service, uint64_t max, const SvMemoryLine *l, int stall,
                                     const char *key, char *buf, size_t size);
