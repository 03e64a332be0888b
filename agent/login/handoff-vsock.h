/* Push handoff: each captured result goes to the host as one JSON line
 * with a delivery id over a guest-initiated vsock connection (Firecracker
 * forwards CID 2:<port> to the host's <uds_path>_<port>), and is resent
 * (reconnecting, with exponential backoff) until the host answers
 * "ACK <id>".  Then the session is delivered and wiped.  It subscribes to
 * the login manager's changes: an authenticated session is queued, a
 * session that ends otherwise is dropped from the queue.
 *
 * Every line carries the control token ("token"): any local user can
 * connect to the host's port (AF_VSOCK has no per-user access control),
 * and only the agent knows the token in the guest, which the host handed
 * it.  Without a token nothing is sent.
 *
 * While held (a snapshot restore under way) nothing is sent either: the
 * queued deliveries may be the template's, which the restore drops, and
 * the token may be about to change.  handoff_hold() closes the
 * connection open when the hold begins, handoff_resume() sends what is
 * left when it ends. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "login.h"
#include "macro.h"

typedef struct Handoff Handoff;

typedef struct HandoffOptions {
        sd_event *event;
        uint32_t cid;           /* the host: 2 */
        uint32_t port;
        const char *unix_path;  /* "" = real AF_VSOCK; else a unix socket standing in (tests): its
                                 * receiver must be root's (SO_PEERCRED), no other is sent a byte */
        /* The control token now (borrowed; NULL while missing or pending).
         * Asked for as each line starts on a connection, never kept: a
         * restore replaces it. */
        const char *(*token)(void *userdata);
        /* Whether sending is held now (NULL: never).  Asked before each
         * connection; true from handoff_hold() to handoff_resume(). */
        bool (*held)(void *userdata);
        void *userdata;
} HandoffOptions;

/* Subscribes to lm; the handoff must outlive lm's last notification (free
 * the login manager first).  o's strings must outlive the handoff. */
int handoff_new(const HandoffOptions *o, LoginManager *lm, Handoff **ret);
Handoff *handoff_free(Handoff *h);
/* Deliveries queued and not yet acknowledged by the host (/metrics).  Once
 * 0, the agent has nothing to send and opens no connection. */
unsigned handoff_queued(const Handoff *h);
/* The hold began (o->held is true now): the connection open is closed, no
 * line starts until handoff_resume().  Deliveries stay queued.  NULL: a
 * no-op. */
void handoff_hold(Handoff *h);
/* The hold ended (o->held is false now): what is still queued is sent,
 * without waiting for the backoff.  NULL: a no-op. */
void handoff_resume(Handoff *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Handoff *, handoff_free);
