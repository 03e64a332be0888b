/* See session-fsm.h.  Final states accept no event: once a session is
 * delivered, expired, failed or closed nothing brings its secret back.
 * A CLI that exits after writing its credentials is normal (the capture
 * may even see the file before the exit): EXITED after CAPTURED is a
 * no-op, not a failure. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "session-fsm.h"
#include "string-table.h"

#define X -ESTALE

static const int table[_SESSION_STATE_MAX][_SESSION_EVENT_MAX] = {
        /*                       SPAWNED              URL                CAPTURED               DELIVERED          EXITED          ERROR           EXPIRE           CLOSE */
        [SESSION_STARTING]      = { SESSION_WAITING_URL, SESSION_URL_READY, SESSION_AUTHENTICATED, X,                 SESSION_FAILED, SESSION_FAILED, SESSION_EXPIRED, SESSION_CLOSED },
        [SESSION_WAITING_URL]   = { X,                   SESSION_URL_READY, SESSION_AUTHENTICATED, X,                 SESSION_FAILED, SESSION_FAILED, SESSION_EXPIRED, SESSION_CLOSED },
        [SESSION_URL_READY]     = { X,                   X,                 SESSION_AUTHENTICATED, X,                 SESSION_FAILED, SESSION_FAILED, SESSION_EXPIRED, SESSION_CLOSED },
        [SESSION_AUTHENTICATED] = { X,                   X,                 X,                     SESSION_DELIVERED, X,              X,              SESSION_EXPIRED, SESSION_CLOSED },
        [SESSION_DELIVERED]     = { X, X, X, X, X, X, X, X },
        [SESSION_CLOSED]        = { X, X, X, X, X, X, X, X },
        [SESSION_FAILED]        = { X, X, X, X, X, X, X, X },
        [SESSION_EXPIRED]       = { X, X, X, X, X, X, X, X },
};

static const char *const session_state_table[_SESSION_STATE_MAX] = {
        [SESSION_STARTING] = "starting",
        [SESSION_WAITING_URL] = "waiting_url",
        [SESSION_URL_READY] = "url_ready",
        [SESSION_AUTHENTICATED] = "authenticated",
        [SESSION_DELIVERED] = "delivered",
        [SESSION_CLOSED] = "closed",
        [SESSION_FAILED] = "failed",
        [SESSION_EXPIRED] = "expired",
};

static const char *const session_event_table[_SESSION_EVENT_MAX] = {
        [SESSION_EVENT_SPAWNED] = "spawned",
        [SESSION_EVENT_URL] = "url",
        [SESSION_EVENT_CAPTURED] = "captured",
        [SESSION_EVENT_DELIVERED] = "delivered",
        [SESSION_EVENT_EXITED] = "exited",
        [SESSION_EVENT_ERROR] = "error",
        [SESSION_EVENT_EXPIRE] = "expire",
        [SESSION_EVENT_CLOSE] = "close",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(session_state, SessionState);
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(session_event, SessionEvent);

int session_fsm_next(SessionState s, SessionEvent e) {
        if (s < 0 || s >= _SESSION_STATE_MAX || e < 0 || e >= _SESSION_EVENT_MAX)
                return -EINVAL;
        return table[s][e];
}

bool session_state_is_live(SessionState s) {
        return s >= SESSION_STARTING && s <= SESSION_AUTHENTICATED;
}

bool session_state_is_signing_in(SessionState s) {
        return s >= SESSION_STARTING && s < SESSION_AUTHENTICATED;
}

bool session_state_is_final(SessionState s) {
        return s >= SESSION_DELIVERED && s < _SESSION_STATE_MAX;
}
