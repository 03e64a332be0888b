/* Deadlines in the order they fall due, for http-deadline.c's one timer.
 * Entries live inside their owner (no allocation); putting one walks back
 * from the latest, so deadlines that come in order (now + one budget, as
 * the server's do) cost O(1), and any other order still sorts.  Equal
 * deadlines keep the order they were put in.  Pure: no clock, no loop. */
#pragma once

#include <stdbool.h>

#include "time-util.h"

typedef struct DeadlineEntry DeadlineEntry;
struct DeadlineEntry {
        usec_t deadline;            /* 0: not queued */
        DeadlineEntry *prev, *next;
};

typedef struct DeadlineQueue {
        DeadlineEntry *head, *tail; /* earliest first */
} DeadlineQueue;

/* Queues e at deadline (0 is taken as 1), moving it if it was queued. */
void deadline_queue_put(DeadlineQueue *q, DeadlineEntry *e, usec_t deadline);
/* Takes e out; nothing when it is not queued. */
void deadline_queue_remove(DeadlineQueue *q, DeadlineEntry *e);
/* The earliest entry whose deadline is at or before now, taken out; NULL
 * when none is due. */
DeadlineEntry *deadline_queue_pop_due(DeadlineQueue *q, usec_t now);
/* The earliest deadline, USEC_INFINITY when the queue is empty. */
usec_t deadline_queue_next(const DeadlineQueue *q);

static inline bool deadline_entry_queued(const DeadlineEntry *e) {
        return e->deadline != 0;
}
