/* See deadline-queue.h. */
#include <stddef.h>

#include "deadline-queue.h"
#include "macro.h"

void deadline_queue_remove(DeadlineQueue *q, DeadlineEntry *e) {
        if (!deadline_entry_queued(e))
                return;
        if (e->prev)
                e->prev->next = e->next;
        else
                q->head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        else
                q->tail = e->prev;
        e->prev = e->next = NULL;
        e->deadline = 0;
}

void deadline_queue_put(DeadlineQueue *q, DeadlineEntry *e, usec_t deadline) {
        DeadlineEntry *after = NULL;

        deadline_queue_remove(q, e);
        e->deadline = MAX(deadline, (usec_t)1);
        /* The last entry not later than e: e goes right after it. */
        for (after = q->tail; after && after->deadline > e->deadline; after = after->prev)
                ;
        e->prev = after;
        e->next = after ? after->next : q->head;
        if (e->next)
                e->next->prev = e;
        else
                q->tail = e;
        if (after)
                after->next = e;
        else
                q->head = e;
}

DeadlineEntry *deadline_queue_pop_due(DeadlineQueue *q, usec_t now) {
        DeadlineEntry *e = q->head;

        if (!e || e->deadline > now)
                return NULL;
        deadline_queue_remove(q, e);
        return e;
}

usec_t deadline_queue_next(const DeadlineQueue *q) {
        return q->head ? q->head->deadline : USEC_INFINITY;
}
