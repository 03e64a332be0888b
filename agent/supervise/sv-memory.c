/* See sv-memory.h. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "sv-memory.h"

usec_t sv_memory_next(SvMemoryWatch *w, SvMemoryCounters c, usec_t now, usec_t period, usec_t interval,
                      SvMemoryLine *ret) {
        bool refaulted = c.refaults > w->seen.refaults;

        *ret = (SvMemoryLine){};
        if (c.reclaims <= w->seen.reclaims || c.refaults < w->seen.refaults) {
                /* Quiet since the last read (or another cgroup's): the
                 * run, if any, is over. */
                w->seen = c;
                w->since = 0;
                return 0;
        }
        if (w->since == 0) {
                /* "max" counts from before the rise that began it; the
                 * refaults from now: the ones before were read when the
                 * file last changed, any time ago. */
                w->base = (SvMemoryCounters){ .reclaims = w->seen.reclaims, .refaults = c.refaults };
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

const char *sv_memory_line_to_string(const char *service, uint64_t max, const SvMemoryLine *l, const char *key,
                                     char *buf, size_t size) {
        /* Whole seconds, rounded; a run is a period at least, seconds long. */
        uint64_t s = (l->span + USEC_PER_SEC / 2) / USEC_PER_SEC;

        snprintf(buf, size,
                 "Service %s is at its memory.max %" PRIu64 " MiB: the kernel reclaimed its memory %" PRIu64
                 " time%s in the last %" PRIu64 " s and read back %" PRIu64 " page%s it had evicted, its code "
                 "too, as it runs; raise %s.",
                 service, max >> 20, l->reclaims, l->reclaims == 1 ? "" : "s", s, l->refaults,
                 l->refaults == 1 ? "" : "s", key);
        return buf;
}
