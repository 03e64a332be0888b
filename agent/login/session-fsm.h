/* A login session's lifecycle as a pure state × event table, and the
 * sessionId grammar (a UUID).  The login manager asks here whether an
 * event is allowed and what state follows; it does the effects itself. */
#pragma once

#include <stdbool.h>

typedef enum SessionState {
        SESSION_STARTING,      /* CLI being spawned */
        SESSION_WAITING_URL,   /* CLI running, no authorize URL yet */
        SESSION_URL_READY,     /* URL known, browser opened: the person signs in */
        SESSION_AUTHENTICATED, /* credentials captured, held in memory */
        SESSION_DELIVERED,     /* sent completely (pull) or acknowledged (push); wiped */
        SESSION_CLOSED,        /* closed before delivery (shutdown, replaced) */
        SESSION_FAILED,        /* CLI died, provider error=, spawn failed */
        SESSION_EXPIRED,       /* TTL ran out; wiped */
        _SESSION_STATE_MAX,
        _SESSION_STATE_INVALID = -22,
} SessionState;

typedef enum SessionEvent {
        SESSION_EVENT_SPAWNED,   /* the CLI runs */
        SESSION_EVENT_URL,       /* authorize URL found (or given by the host) */
        SESSION_EVENT_CAPTURED,  /* complete credentials captured */
        SESSION_EVENT_DELIVERED, /* response sent completely / ACK received */
        SESSION_EVENT_EXITED,    /* the CLI exited (fails the session unless captured) */
        SESSION_EVENT_ERROR,     /* provider error=, spawn failure */
        SESSION_EVENT_EXPIRE,    /* TTL */
        SESSION_EVENT_CLOSE,
        _SESSION_EVENT_MAX,
        _SESSION_EVENT_INVALID = -22,
} SessionEvent;

const char *session_state_to_string(SessionState s);
const char *session_event_to_string(SessionEvent e);
/* The next state, or -ESTALE when the event does not apply in state s
 * (the caller ignores it: e.g. a second capture after delivery). */
int session_fsm_next(SessionState s, SessionEvent e);
/* A live session blocks a second start (409) and counts in activeSessions. */
bool session_state_is_live(SessionState s);
/* Live and not signed in yet: its sign-in page is still wanted. */
bool session_state_is_signing_in(SessionState s);
/* The session is over and its secrets must be gone. */
bool session_state_is_final(SessionState s);
