/* See sv-memory.h. */
#include <inttypes.h>
#include <stdio.h>

#include "sv-memory.h"

usec_t sv_memory_next(SvMemoryWatch *w, uint64_t reclaims, usec_t now, usec_t period, usec_t interval,
                      SvMemoryLine *ret) {
        *ret = (SvMemoryLine){};
        if (reclaims <= w->seen) {
                /* Quiet since the last read: the run, if any, is over. */
                w->seen = reclaims;
                w->since = 0;
                return 0;
        }
        if (w->since == 0) {
                w->base = w->seen;
                w->since = now;
                w->seen = reclaims;
                return period;
        }
        w->seen = reclaims;
        if (w->logged != 0 && now - w->logged < interval)
                /* Read again once a line may be due: what it counts from
                 * stays the last line's (or the run's start). */
                return interval - (now - w->logged);
        *ret = (SvMemoryLine){ .reclaims = reclaims - w->base, .span = now - w->since };
        w->base = reclaims;
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
                 " time%s in the last %" PRIu64 " s, its code too, which it reads from disk again as it runs; "
                 "raise %s.",
                 service, max >> 20, l->reclaims, l->reclaims == 1 ? "" : "s", s, key);
        return buf;
}
