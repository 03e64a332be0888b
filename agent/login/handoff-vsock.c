/* Implementation of handoff-vsock.h.  Tests use a unix socket stand-in
 * (unix_path) and never touch AF_VSOCK.
 *
 * A line (up to a 1 MiB credential file, JSON-escaped) can be larger than
 * the socket's buffer: it is written as the host reads, resuming on
 * EPOLLOUT, and one line is finished before the next begins.  A new
 * connection starts every line over from its first byte.  Over the unix
 * socket stand-in, only a receiver of root's gets a line (peer_check()).
 *
 * The token goes in the line itself, not an HMAC of it: there is no
 * crypto library in the stack, and the channel only reaches the host
 * (CID 2), which handed the token to this VM, or root's stand-in, so it
 * tells the receiver nothing it does not have.  A line is made when it
 * starts on a connection, with the token of that moment (a restore
 * replaces it), and wiped when the connection ends: a queued delivery
 * holds the credentials, never the token.
 *
 * A hold (a snapshot restore under way) is asked where a connection
 * would be opened (on_timer()), so every path to the host goes through
 * it: a held handoff opens none and does not re-arm its timer; the end of
 * the hold kicks it (handoff_resume()). */
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "handoff-vsock.h"
#include "id-util.h"
#include "json-wipe.h"
#include "log.h"
#include "login-json.h"
#include "macro.h"
#include "socket-util.h"

#define DELIVERIES_MAX LOGIN_SESSIONS_MAX
#define BACKOFF_MIN_USEC (200 * USEC_PER_MSEC)
#define BACKOFF_MAX_USEC (30 * USEC_PER_SEC)
/* A host that takes no byte of a line for this long is reconnected to. */
#define WRITE_STALL_USEC (30 * USEC_PER_SEC)
#define INBUF 512
/* The reads the ACK wait's end makes before it gives up: ACKs are a line
 * each per delivery, and a peer streaming lines must not hold the loop. */
#define TIMEOUT_READS_MAX 16

typedef struct Delivery {
        char session_id[SESSION_ID_MAX + 1];
        char id[33];
        char provider[sizeof ((LoginSession *)NULL)->provider];
        char *cred_path;
        json_t *credentials; /* secret: a copy of the session's */
        char *line;          /* secret (token, credentials), newline-terminated; NULL: not begun on
                              * this connection */
        size_t size;         /* of line */
        size_t off;          /* written on the current connection; size: all of it */
        bool refused_said;   /* the host's NAK of it was logged */
} Delivery;

struct Handoff {
        HandoffOptions o;
        LoginManager *lm;
        Delivery *d[DELIVERIES_MAX];
        Delivery *writing; /* its line is partly written: finished before any other */
        int fd;
        bool connected;
        bool refused;      /* the stand-in's receiver was not root's: said once until one is */
        bool busy_said;    /* the stand-in's queue of connections was full: said once until a connect */
        bool no_token;     /* no control token: said once until there is one */
        bool held_said;    /* the hold with deliveries queued was logged: once per hold */
        sd_event_source *io, *timer;
        usec_t backoff;
        char in[INBUF + 1];
        size_t n_in;
};

static Delivery *delivery_free(Delivery *d) {
        if (!d)
                return NULL;
        erase_and_free(d->line);
        json_wipe(d->credentials);
        json_decref(d->credentials);
        free(d->cred_path);
        free(d);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Delivery *, delivery_free);

unsigned handoff_queued(const Handoff *h) {
        unsigned n = 0;

        for (size_t i = 0; i < DELIVERIES_MAX; i++)
                n += !!h->d[i];
        return n;
}

static bool pending(Handoff *h) {
        return handoff_queued(h) > 0;
}

static void disconnect(Handoff *h) {
        h->io = sd_event_source_disable_unref(h->io);
        h->fd = safe_close(h->fd);
        h->connected = false;
        h->n_in = 0;
        h->writing = NULL;
        for (size_t i = 0; i < DELIVERIES_MAX; i++)
                if (h->d[i]) {
                        h->d[i]->line = erase_and_free(h->d[i]->line);
                        h->d[i]->size = h->d[i]->off = 0;
                }
}

/* Borrowed; NULL while there is none. */
static const char *current_token(Handoff *h) {
        const char *t = h->o.token ? h->o.token(h->o.userdata) : NULL;

        return isempty(t) ? NULL : t;
}

static bool held(Handoff *h) {
        return h->o.held && h->o.held(h->o.userdata);
}

static int schedule(Handoff *h, usec_t delay);

static void retry_later(Handoff *h) {
        disconnect(h);
        h->backoff = h->backoff ? MIN(h->backoff * 2, BACKOFF_MAX_USEC) : BACKOFF_MIN_USEC;
        if (pending(h) && schedule(h, h->backoff) < 0)
                log_warning("Push handoff: cannot schedule a retry.");
}

/* Out of the queue.  A line cut off mid-write would run into the next one
 * on this connection: then start over on a new one. */
static void delivery_remove(Handoff *h, size_t i) {
        bool cut = h->writing == h->d[i];

        delivery_free(h->d[i]);
        h->d[i] = NULL;
        if (!cut)
                return;
        disconnect(h);
        if (pending(h) && schedule(h, 0) < 0)
                log_warning("Push handoff: cannot schedule a reconnect.");
}

static void on_ack(Handoff *h, const char *id) {
        for (size_t i = 0; i < DELIVERIES_MAX; i++) {
                Delivery *d = h->d[i];
                if (!d || !streq(d->id, id))
                        continue;
                LoginSession *s = login_session_find(h->lm, d->session_id);
                delivery_remove(h, i);
                h->backoff = 0;
                if (s && s->state == SESSION_AUTHENTICATED) {
                        log_info("Login %s: credentials acknowledged by the host (push).", s->id);
                        (void)login_session_event(s, SESSION_EVENT_DELIVERED);
                        login_session_drop(s);
                }
                return;
        }
        log_debug("Push handoff: ACK for an unknown delivery ignored.");
}

/* "NAK <id> <cause>": the host did not take the line (a wrong token: the
 * host was given another one than this VM).  Logged once per delivery;
 * it stays queued and is resent on the next connection. */
static void on_nak(Handoff *h, const char *rest) {
        size_t n = strcspn(rest, " ");
        const char *cause = rest[n] == ' ' ? rest + n + 1 : "";

        /* The cause is the host's word: shown only when it is one. */
        if (isempty(cause) || strlen(cause) > 32 || strspn(cause, "abcdefghijklmnopqrstuvwxyz-") != strlen(cause))
                cause = "?";
        for (size_t i = 0; i < DELIVERIES_MAX; i++) {
                Delivery *d = h->d[i];
                if (!d || strlen(d->id) != n || strncmp(d->id, rest, n) != 0)
                        continue;
                if (!d->refused_said)
                        log_warning("Push handoff: the host refused the credentials of %s (%s); resending.",
                                    d->session_id, cause);
                d->refused_said = true;
                return;
        }
        log_debug("Push handoff: NAK for an unknown delivery ignored.");
}

/* Each complete line is taken out of the buffer before it is acted on:
 * an ACK may end the connection (delivery_remove()).  > 0 when bytes
 * were read, 0 when none were there; the connection may have ended
 * either way (h->connected says). */
static int read_acks(Handoff *h) {
        ssize_t n = recv(h->fd, h->in + h->n_in, INBUF - h->n_in, MSG_DONTWAIT);
        char line[INBUF + 1], *nl;

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                retry_later(h);
                return 0;
        }
        h->n_in += (size_t)n;
        h->in[h->n_in] = '\0';
        while (h->connected && (nl = strchr(h->in, '\n'))) {
                size_t len = (size_t)(nl - h->in);
                memcpy(line, h->in, len);
                line[len] = '\0';
                memmove(h->in, nl + 1, h->n_in - len); /* the rest and its NUL */
                h->n_in -= len + 1;
                const char *id = startswith(line, "ACK "), *nak = startswith(line, "NAK ");
                if (id)
                        on_ack(h, id);
                else if (nak)
                        on_nak(h, nak);
        }
        if (h->connected && h->n_in == INBUF)
                retry_later(h); /* garbage without newlines: start over */
        return 1;
}

static Delivery *next_line(Handoff *h) {
        if (h->writing)
                return h->writing;
        for (size_t i = 0; i < DELIVERIES_MAX; i++)
                if (h->d[i] && (!h->d[i]->line || h->d[i]->off < h->d[i]->size))
                        return h->d[i];
        return NULL;
}

/* d's line for this connection, with the token of now: -ENOKEY without
 * one (nothing is sent). */
static int delivery_render(Handoff *h, Delivery *d) {
        const char *token = current_token(h);

        if (!token)
                return -ENOKEY;
        _cleanup_(erase_and_freep) char *line =
                login_json_handoff_line(token, d->id, d->session_id, d->provider, d->credentials, d->cred_path);
        size_t n = line ? strlen(line) : 0;
        /* Sized once, not asprintf(): its growing buffer would leave
         * unwiped copies of the secrets behind. */
        d->line = line ? malloc(n + 2) : NULL;
        if (!d->line)
                return -ENOMEM;
        memcpy(d->line, line, n);
        memcpy(d->line + n, "\n", 2);
        d->size = n + 1;
        d->off = 0;
        return 0;
}

/* Writes what the socket takes: 1 when every line is out, 0 when the
 * socket is full, or -errno. */
static int write_lines(Handoff *h) {
        Delivery *d;
        int r;

        while ((d = next_line(h))) {
                if (!d->line) {
                        r = delivery_render(h, d);
                        if (r < 0)
                                return r;
                }
                ssize_t n = send(h->fd, d->line + d->off, d->size - d->off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EAGAIN ? 0 : -errno;
                d->off += (size_t)n;
                h->writing = d->off < d->size ? d : NULL;
        }
        return 1;
}

static void send_pending(Handoff *h) {
        int r = write_lines(h);

        if (r < 0) {
                log_debug_errno(r, "Push handoff: send failed: %m");
                retry_later(h);
                return;
        }
        (void)sd_event_source_set_io_events(h->io, r == 0 ? EPOLLIN | EPOLLOUT : EPOLLIN);
        if (r == 0) {
                /* Waiting for the host to read: only a host that stops
                 * reading altogether is given up on. */
                (void)schedule(h, WRITE_STALL_USEC);
                return;
        }
        /* No ACK within the backoff: reconnect and resend. */
        h->backoff = h->backoff ? MIN(h->backoff * 2, BACKOFF_MAX_USEC) : BACKOFF_MIN_USEC;
        (void)schedule(h, MAX(h->backoff, 2 * USEC_PER_SEC));
}

/* The unix socket standing in for the host's end is a path: a local user
 * that binds it first (before the host's receiver listens, or while it
 * restarts) would get the credentials and could acknowledge them.  Only
 * root's receiver gets a line: -EPERM (and its uid) otherwise.  Over
 * vsock the peer is the host (CID 2). */
static int peer_check(Handoff *h, int fd, uid_t *ret_uid) {
        struct ucred cred;
        socklen_t l = sizeof cred;

        if (isempty(h->o.unix_path))
                return 0;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0)
                return -errno;
        *ret_uid = cred.uid;
        return cred.uid == 0 ? 0 : -EPERM;
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Handoff *h = userdata;

        if (!h->connected) {
                int err = 0, r;
                socklen_t l = sizeof err;
                uid_t uid = 0;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0) {
                        retry_later(h);
                        return 0;
                }
                r = peer_check(h, fd, &uid);
                if (r == -EPERM && !h->refused)
                        log_warning("Push handoff: the receiver at %s is not root's (uid %u): nothing sent; "
                                    "retrying.", h->o.unix_path, (unsigned)uid);
                else if (r < 0)
                        log_debug_errno(r, "Push handoff: receiver refused: %m");
                if (r < 0) {
                        h->refused = r == -EPERM;
                        retry_later(h);
                        return 0;
                }
                h->refused = false;
                h->busy_said = false;
                h->connected = true;
                send_pending(h);
                return 0;
        }
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                (void)read_acks(h);
        if (h->connected && (revents & EPOLLOUT))
                send_pending(h);
        return 0;
}

static int connect_host(Handoff *h) {
        const HandoffOptions *c = &h->o;
        int r;

        if (!isempty(c->unix_path)) {
                /* A unix socket connects at once or fails: -EAGAIN is a
                 * listener whose queue is full, not a connect under way
                 * (its socket, never connected, would have no peer to
                 * check). */
                r = unix_connect_start(c->unix_path, &h->fd);
                if (r < 0)
                        return r;
        } else {
                struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = c->cid,
                                          .svm_port = c->port };
                h->fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (h->fd < 0)
                        return -errno;
                if (connect(h->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS &&
                    errno != EAGAIN)
                        return -errno;
        }
        return sd_event_add_io(h->o.event, &h->io, h->fd, EPOLLOUT, on_io, h);
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Handoff *h = userdata;
        bool was_connected = h->connected;
        int r;

        /* The wait for ACKs ran out, but some may be in the socket unread:
         * the loop dispatches one source a turn, and a timer that fell due
         * a turn before the socket became readable runs first.  Closing
         * over them would resend deliveries the host already took (it
         * would see them twice).  A read that ends the connection has
         * scheduled what comes next.  Bounded: behind more than that the
         * peer is streaming, and what it did not ACK is sent again. */
        for (unsigned i = 0; i < TIMEOUT_READS_MAX && h->connected && read_acks(h) > 0; i++)
                ;
        if (was_connected && !h->connected)
                return 0;
        disconnect(h);
        if (!pending(h))
                return 0;
        if (held(h)) {
                /* Not re-armed: handoff_resume() kicks it. */
                if (!h->held_said)
                        log_info("Push handoff held while the VM is being restored: %u queued.", handoff_queued(h));
                h->held_said = true;
                return 0;
        }
        if (!current_token(h)) {
                /* Fail closed: a line without the token would be refused,
                 * and one with a made-up token is no proof. */
                if (!h->no_token)
                        log_error("No control token: credentials are not pushed to the host until it provides "
                                  "one.");
                h->no_token = true;
                retry_later(h);
                return 0;
        }
        h->no_token = false;
        r = connect_host(h);
        if (r == -EAGAIN && !h->busy_said)
                log_warning("Push handoff: the receiver at %s takes no connection now (its queue of connections "
                            "is full): nothing sent; retrying.", h->o.unix_path);
        else if (r < 0)
                log_debug_errno(r, "Push handoff: connect failed: %m");
        if (r < 0) {
                h->busy_said = r == -EAGAIN;
                retry_later(h);
        }
        return 0;
}

static int schedule(Handoff *h, usec_t delay) {
        h->timer = sd_event_source_disable_unref(h->timer);
        return sd_event_add_time_relative(h->o.event, &h->timer, CLOCK_MONOTONIC, delay, 0, on_timer, h);
}

static int handoff_push(Handoff *h, LoginSession *s) {
        _cleanup_(delivery_freep) Delivery *d = NULL;
        uint8_t raw[16];
        size_t slot;

        for (slot = 0; slot < DELIVERIES_MAX && h->d[slot]; slot++)
                ;
        if (slot == DELIVERIES_MAX)
                return -EUSERS;
        if (getrandom(raw, sizeof raw, 0) != sizeof raw)
                return -EIO;
        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        memcpy(d->session_id, s->id, sizeof d->session_id);
        memcpy(d->provider, s->provider, sizeof d->provider);
        for (size_t i = 0; i < sizeof raw; i++)
                snprintf(d->id + 2 * i, 3, "%02x", raw[i]);
        d->cred_path = strdup(s->cred_path ?: "");
        d->credentials = json_deep_copy(s->credentials);
        if (!d->cred_path || !d->credentials)
                return -ENOMEM;
        h->d[slot] = TAKE_PTR(d);
        s->pushed = true;
        h->backoff = 0;
        if (h->connected && !held(h)) {
                /* After the lines already on this connection. */
                send_pending(h);
                return 0;
        }
        return schedule(h, 0);
}

static void handoff_forget(Handoff *h, LoginSession *s) {
        for (size_t i = 0; i < DELIVERIES_MAX; i++)
                if (h->d[i] && streq(h->d[i]->session_id, s->id))
                        delivery_remove(h, i);
}

static void on_login_change(LoginSession *s, LoginChange change, void *userdata) {
        Handoff *h = userdata;
        int r;

        if (change == LOGIN_CHANGE_STATE && s->state == SESSION_AUTHENTICATED) {
                r = handoff_push(h, s);
                if (r < 0)
                        log_warning_errno(r, "Failed to queue push handoff for %s: %m", s->id);
        } else if (change == LOGIN_CHANGE_REMOVED || session_state_is_final(s->state))
                /* A queued push holds its own copy of the secret: an
                 * expired or failed session must not be sent later. */
                handoff_forget(h, s);
}

/* The line being written is cut off: the host takes whole lines only.
 * Lines already sent stay queued unacknowledged, as after any broken
 * connection: their ACKs cannot arrive on a closed one.  If the restore
 * completes, its logins step drops them with their sessions; one it
 * keeps is sent again after handoff_resume().  With deliveries queued,
 * on_timer() runs at once: the hold is decided there, as for every
 * connection, and logged once. */
void handoff_hold(Handoff *h) {
        if (!h)
                return;
        disconnect(h);
        h->held_said = false;
        if (pending(h) && schedule(h, 0) < 0)
                log_warning("Push handoff: cannot schedule the hold.");
}

void handoff_resume(Handoff *h) {
        if (!h)
                return;
        h->held_said = false;
        h->backoff = 0;
        if (pending(h) && schedule(h, 0) < 0)
                log_warning("Push handoff: cannot schedule the deliveries held.");
}

int handoff_new(const HandoffOptions *o, LoginManager *lm, Handoff **ret) {
        _cleanup_(handoff_freep) Handoff *h = calloc(1, sizeof *h);
        int r;

        if (!h)
                return -ENOMEM;
        h->o = *o;
        h->lm = lm;
        h->fd = -EBADF;
        r = login_manager_subscribe(lm, on_login_change, h);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}

Handoff *handoff_free(Handoff *h) {
        if (!h)
                return NULL;
        disconnect(h);
        sd_event_source_disable_unref(h->timer);
        for (size_t i = 0; i < DELIVERIES_MAX; i++)
                delivery_free(h->d[i]);
        free(h);
        return NULL;
}
