/* See sv-memory.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "parse-util.h"
#include "sv-memory.h"

usec_t sv_memory_next(SvMemoryWatch *w, SvMemoryCounters c, usec_t now, usec_t period, usec_t interval,
                      SvMemoryLine *ret) {
        bool refaulted = c.refaults > w->seen.refaults;

        *ret = (SvMemoryLine){};
        w->read = now;
        if (c.reclaims <= w->seen.reclaims || c.refaults < w->seen.refaults) {
                /* Quiet since the last read (or another cgroup's): the
                 * run, if any, is over. */
                w->seen = c;
                w->since = 0;
                return 0;
        }
        if (w->since == 0) {
                /* Both count from now, as the line's span does: the
                 * counters seen before were read at the last change of
                 * the file, any time ago, and what rose since then rose
                 * at any time in between. */
                w->base = c;
                w->since = now;
                w->seen = c;
                return period;
        }
        w->seen = c;
        if (w->logged != 0 && now - w->logged < interval)
                /* Read again once a line may be due: what it counts from
                 * stays the last line's (or the run's start). */
                return interval - (now - w->logged);
        if (!refaulted) {
                /* Reclaimed, but nothing it needed again: a cache given
                 * back cheaply.  What a line counts begins here. */
                w->base = c;
                w->since = now;
                return period;
        }
        *ret = (SvMemoryLine){ .reclaims = c.reclaims - w->base.reclaims, .refaults = c.refaults - w->base.refaults,
                               .span = now - w->since };
        w->base = c;
        w->since = now;
        w->logged = now;
        return interval;
}

/* Whether read c, since the one before, finds it thrashing: in a run (so
 * the rises it counts span a period; at a run's first rise the refaults
 * may be from any time before), both counters rising, and its processes
 * all stalled on memory at once above SV_MEMORY_THRASH_STALL of the
 * time. */
static bool thrashing(const SvMemoryWatch *w, SvMemoryCounters c) {
        return w->since != 0 && c.reclaims > w->seen.reclaims && c.refaults > w->seen.refaults &&
               c.stall > SV_MEMORY_THRASH_STALL;
}

/* Whether read c, at now, counts towards the kill: thrashing, and not
 * late (its event loop or the machine held up) by more than the stall's
 * window: "full avg10" saw the last 10 s only, so a gap before them went
 * unseen, and the span begins again at this read. */
static bool thrashing_read(const SvMemoryWatch *w, SvMemoryCounters c, usec_t now, usec_t period) {
        return thrashing(w, c) && now - w->read <= period + SV_MEMORY_STALL_WINDOW_USEC;
}

usec_t sv_memory_step(SvMemoryWatch *w, SvMemoryCounters c, usec_t now, const SvMemoryStep *p, SvMemoryLine *ret_line,
                      SvMemoryLine *ret_kill) {
        usec_t next;

        *ret_kill = (SvMemoryLine){};
        if (!thrashing_read(w, c, now, p->period))
                w->thrash_since = 0;
        else if (w->thrash_since == 0) {
                /* The period this read covers is the first of the span. */
                w->thrash_base = w->seen;
                w->thrash_since = w->read;
        }
        if (p->kill_after > 0 && w->thrash_since != 0 && now - w->thrash_since >= p->kill_after)
                *ret_kill = (SvMemoryLine){ .reclaims = c.reclaims - w->thrash_base.reclaims,
                                            .refaults = c.refaults - w->thrash_base.refaults,
                                            .span = now - w->thrash_since };
        next = sv_memory_next(w, c, now, p->period, p->interval, ret_line);
        /* Each period of a run is looked at, the rate-limited ones too. */
        if (p->kill_after > 0 && w->since != 0 && next > p->period)
                next = p->period;
        return next;
}

int sv_memory_parse_stall(const char *text) {
        static const char key[] = "full avg10=";
        const char *p = strstr(text, key), *dot;
        uint64_t whole, hundredths;

        /* "full avg10=12.34 avg60=... total=...": at a line's start, two
         * decimals (the kernel's "%lu.%02lu"), a share of the last 10 s:
         * at most 100.00. */
        if (!p || (p != text && p[-1] != '\n'))
                return -EINVAL;
        p += strlen(key);
        dot = strchr(p, '.');
        if (!dot || parse_unsigned_span(p, (size_t)(dot - p), 100, &whole) < 0 ||
            strspn(dot + 1, "0123456789") != 2 || parse_unsigned_span(dot + 1, 2, 99, &hundredths) < 0 ||
            whole * 100 + hundredths > 10000)
                return -EINVAL;
        return (int)(whole * 100 + hundredths);
}

const char *sv_memory_kill_to_string(uint64_t max, const SvMemoryLine *k, char *buf, size_t size) {
        snprintf(buf, size,
                 "killed by the agent: thrashing at its memory.max %" PRIu64 " MiB for %" PRIu64
                 " s (read back %" PRIu64 " evicted page%s)",
                 max >> 20, sv_memory_line_seconds(k), k->refaults, k->refaults == 1 ? "" : "s");
        return buf;
}

/* "12.34%": stall (hundredths of a percent, >= 0) as the kernel wrote it. */
static const char *stall_to_string(int stall, char buf[static 16]) {
        snprintf(buf, 16, "%d.%02d%%", stall / 100, stall % 100);
        return buf;
}

const char *sv_memory_kill_line_to_string(const char *service, uint64_t max, const SvMemoryLine *k, int stall,
                                          const char *key, char *buf, size_t size) {
        char pct[16];

        snprintf(buf, size,
                 "Service %s thrashed at its memory.max %" PRIu64 " MiB for %" PRIu64 " s: the kernel reclaimed "
                 "its memory %" PRIu64 " times and read back %" PRIu64 " pages it had evicted, its processes all "
                 "waiting for memory %s of the last 10 s (memory.pressure full avg10); killing it "
                 "(memory_thrash_kill_s), raise %s.",
                 service, max >> 20, sv_memory_line_seconds(k), k->reclaims, k->refaults,
                 stall_to_string(stall, pct), key);
        return buf;
}

const char *sv_memory_line_to_string(const char *service, uint64_t max, const SvMemoryLine *l, int stall,
                                     const char *key, char *buf, size_t size) {
        char psi[80] = "", pct[16];

        /* How near the kill's SV_MEMORY_THRASH_STALL it is. */
        if (stall >= 0)
                snprintf(psi, sizeof psi, " (all its processes waiting for memory %s of the last 10 s)",
                         stall_to_string(stall, pct));
        snprintf(buf, size,
                 "Service %s is at its memory.max %" PRIu64 " MiB: the kernel reclaimed its memory %" PRIu64
                 " time%s in the last %" PRIu64 " s and read back %" PRIu64 " page%s it had evicted, its code "
                 "too, as it runs%s; raise %s.",
                 service, max >> 20, l->reclaims, l->reclaims == 1 ? "" : "s", sv_memory_line_seconds(l), l->refaults,
                 l->refaults == 1 ? "" : "s", psi, key);
        return buf;
}
