/* Whether a service that is READY keeps reaching its memory.max, and the
 * line that says so: pure, fed with its cgroup's memory.events "max"
 * counter (each charge over memory.max, after which the kernel reclaims
 * in the cgroup) as the supervisor reads it.  A program held just above
 * what it cannot give back (Firefox on a heavy page near
 * browser_memory_max_mb) is not OOM-killed but crawls, its code reclaimed
 * and read back from disk as it runs, and counts thousands a second; one
 * that reached its limit once (its file cache full, a reclaim that found
 * enough) counts a few and goes on.
 *
 * So a rise only begins a run: the counter is read again a period later
 * (not at each change, which the kernel signals up to 100 times a
 * second), and a line is due when it rose in that period too, saying how
 * often over how long; then at most one per interval while it keeps
 * rising, each counting since the one before.  A read that finds no rise
 * ends the run: the next rise begins another. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "time-util.h"

/* The watch's defaults (SupervisorOptions.memory_period_ms). */
#define SV_MEMORY_PERIOD_USEC (10 * USEC_PER_SEC)
#define SV_MEMORY_INTERVAL_USEC (300 * USEC_PER_SEC)

typedef struct SvMemoryWatch {
        uint64_t seen;   /* the counter as read last */
        uint64_t base;   /* its value when what the next line counts began */
        usec_t since;    /* then (monotonic); 0: not rising (no run) */
        usec_t logged;   /* the last line's time (monotonic); 0: none yet */
} SvMemoryWatch;

/* The watch of a service that just became READY, its counter now
 * reclaims: what it counted before is not rising. */
static inline SvMemoryWatch sv_memory_watch_init(uint64_t reclaims) {
        return (SvMemoryWatch){ .seen = reclaims };
}

/* A line that is due: the counter rose by reclaims over span. */
typedef struct SvMemoryLine {
        uint64_t reclaims;  /* 0: no line */
        usec_t span;
} SvMemoryLine;

/* The counter read at now (monotonic, > 0): *ret the line due now, if
 * any; returns when to read it next: 0 at its next change (the file
 * watched), else that long from now (no watch meanwhile).  A counter
 * below the one seen (another cgroup) starts over from it. */
usec_t sv_memory_next(SvMemoryWatch *w, uint64_t reclaims, usec_t now, usec_t period, usec_t interval,
                      SvMemoryLine *ret);

/* "Service <name> is at its memory.max N MiB: the kernel reclaimed its
 * memory K times in the last S s, its code too, which it reads from disk
 * again as it runs; raise <key>." into buf (cut to size); returns buf.
 * max: the limit in bytes; key: the setting that gave it. */
const char *sv_memory_line_to_string(const char *service, uint64_t max, const SvMemoryLine *l, const char *key,
                                     char *buf, size_t size);
