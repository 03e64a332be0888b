/* Implementation of ctl-receive.h.  A line is taken only with the VM's
 * control token in it: any user in the guest can connect to the vsock
 * port the agent pushes to.  Several connections are served at once, each
 * with a deadline, so one that sends nothing delays no other and is
 * closed after --idle-timeout seconds without a delivery (default
 * RECEIVE_IDLE_S_DEFAULT); when all are taken, a new one closes one
 * that never showed the token, not the agent's (conn_slot()).  A
 * delivery sent again (the agent resends until it reads the ACK, and an
 * ACK can be lost with its connection) is acknowledged again, not
 * written or counted twice: also by a later receiver on the same path,
 * as the one that counted it may have exited (--count) before the agent
 * read its ACK; the ids counted are kept beside the socket (ledger_*()),
 * and receivers on the same path at once take turns at them. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl-delivery.h"
#include "ctl-out.h"
#include "ctl-receive.h"
#include "fileio.h"
#include "id-util.h"
#include "json-wipe.h"
#include "log.h"
#include "macro.h"
#include "secret-util.h"
#include "socket-util.h"
#include "time-util.h"

#define LINE_MAX_BYTES (8 * 1024 * 1024)
/* A connection that has not shown the VM's token keeps no longer a line
 * than this: none of the agent's starts without it.  So the slots cost
 * little memory, and there can be many. */
#define UNPROVEN_LINE_MAX (64 * 1024)
/* Connections served at once (more: one without the VM's token goes, see
 * conn_slot()).  Many: the agent's connection, new and not yet read, is
 * safe from as many accepts after it as there are slots. */
#define RECEIVE_CONNS_MAX 64
/* Delivery ids remembered (the most recent): the agent resends one only
 * until its ACK arrives, before its next delivery. */
#define TAKEN_IDS_MAX 64
/* The file of the ids counted: <uds> and this. */
#define LEDGER_SUFFIX ".delivered"
#define LEDGER_MAX (TAKEN_IDS_MAX * (CTL_DELIVERY_ID_MAX + 1))
/* The lines LEDGER_MAX bytes can hold (an id and its newline are two at
 * least), and one added. */
#define LEDGER_LINES_MAX (LEDGER_MAX / 2 + 1)
/* The lock receivers on the same path take turns with: <ledger> and this. */
#define LOCK_SUFFIX ".lock"

/* A delivery written.  Counted once, at its first ACK that went out: a
 * connection that ends before it brings the same id again, and its
 * receiver must still be there for it (with --count, not done yet). */
typedef struct TakenId {
        char id[CTL_DELIVERY_ID_MAX + 1];
        bool acked;
} TakenId;

/* What the receiver holds across connections. */
typedef struct Receiver {
        const char *dir;
        int dfd;           /* dir, opened once it was found writable (ctl_receive()) */
        char *ledger;      /* <uds>.delivered: the ids counted, see ledger_open() */
        int ldfd;          /* the ledger's directory (the socket's) */
        const char *ledger_name; /* in ldfd, pointing into ledger */
        int lockfd;        /* <ledger>.lock, see ledger_lock() */
        const char *token; /* secret */
        char *prefix;      /* secret: how the agent's lines start, see conn_prove() */
        size_t prefix_len;
        unsigned idle_s;   /* a connection's deadline, see ctl_receive() */
        TakenId taken[TAKEN_IDS_MAX];
        size_t taken_next;
        unsigned refused, evicted, idled; /* so far: their warnings are rate-limited */
        unsigned long long accepted; /* connections so far: their order, see conn_slot() */
        int out_error;     /* -errno: stdout took no "received" line; the receiver stops */
} Receiver;

/* Whether the nth event of a kind is said: the 1st, 2nd, 4th, 8th...  A
 * guest user can make as many as it likes; the log says how many. */
static bool say_nth(unsigned *n) {
        ++*n;
        return (*n & (*n - 1)) == 0;
}

/* "ACK <id>" or "NAK <id> <cause>" (id "-" when the line had none fit to
 * echo).  Never blocks, never raises SIGPIPE: a peer that does not read
 * its answers, or is gone, loses its connection (-errno), and the
 * receiver goes on with the next one. */
static int answer(int fd, const char *verb, const char *id, const char *cause) {
        char buf[128];
        int n = snprintf(buf, sizeof buf, "%s %s%s%s\n", verb, id ?: "-", cause ? " " : "", cause ?: "");
        ssize_t k = send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (k < 0)
                return -errno;
        return k == n ? 0 : -EAGAIN;
}

/* NULL when id was not written before. */
static TakenId *taken_find(Receiver *x, const char *id) {
        for (size_t i = 0; i < TAKEN_IDS_MAX; i++)
                if (streq(x->taken[i].id, id))
                        return &x->taken[i];
        return NULL;
}

static TakenId *taken_add(Receiver *x, const char *id) {
        TakenId *t = &x->taken[x->taken_next];

        *t = (TakenId){};
        memcpy(t->id, id, strnlen(id, CTL_DELIVERY_ID_MAX)); /* a safe id: no longer */
        x->taken_next = (x->taken_next + 1) % TAKEN_IDS_MAX;
        return t;
}

/* The ledger's text (at most LEDGER_MAX bytes; none: empty), read under
 * the lock: it is replaced whole (write_file_atomic_at()), never seen
 * half written. */
static int ledger_read(const Receiver *x, char text[static LEDGER_MAX + 1]) {
        _cleanup_(closep) int fd = openat(x->ldfd, x->ledger_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        size_t n = 0;

        text[0] = '\0';
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        while (n < LEDGER_MAX) {
                ssize_t k = read(fd, text + n, LEDGER_MAX - n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        text[n] = '\0';
        return 0;
}

/* The ids of text (one a line; any line that is no id of ours is passed
 * over), in order, pointing into it (cut into lines): their number. */
static size_t ledger_ids(char *text, const char *ids[static LEDGER_LINES_MAX]) {
        size_t n = 0;

        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (ctl_delivery_id_is_safe(line))
                        ids[n++] = line;
        }
        return n;
}

/* Takes the ids the ledger holds as counted: by this receiver, or by
 * another one on the same path since (they run at once when a login's
 * receiver starts while the one before still serves its connection). */
static int ledger_load(Receiver *x) {
        char text[LEDGER_MAX + 1];
        const char *ids[LEDGER_LINES_MAX];
        int r = ledger_read(x, text);
        size_t n = r < 0 ? 0 : ledger_ids(text, ids);

        for (size_t i = 0; i < n; i++) {
                TakenId *t = taken_find(x, ids[i]);

                (t ?: taken_add(x, ids[i]))->acked = true;
        }
        return r;
}

/* Adds id to the ledger, as its newest line, written whole (synced)
 * before the "received" line that reports it.  Read, changed and
 * replaced under the lock (ledger_lock()): a receiver that wrote its own
 * memory of the ids dropped those another one on the path had added
 * meanwhile.  Failing, only a later receiver's recognition of an ACK
 * lost is lost: said. */
static void ledger_add(Receiver *x, const char *id) {
        char text[LEDGER_MAX + 1], out[LEDGER_MAX + 1];
        const char *ids[LEDGER_LINES_MAX];
        size_t n, kept = 0, len = 0;
        int r = ledger_read(x, text);

        n = r < 0 ? 0 : ledger_ids(text, ids);
        for (size_t i = 0; i < n; i++)
                if (!streq(ids[i], id))
                        ids[kept++] = ids[i];
        ids[kept++] = id;
        for (size_t i = kept > TAKEN_IDS_MAX ? kept - TAKEN_IDS_MAX : 0; i < kept; i++)
                len += (size_t)snprintf(out + len, sizeof out - len, "%s\n", ids[i]);
        if (r >= 0)
                r = write_file_atomic_at(x->ldfd, x->ledger_name, out, len, 0600);
        if (r < 0)
                log_warning_errno(r, "Cannot record the deliveries counted in %s: %m; a receiver after this one "
                                  "would count one again whose ACK was lost.", x->ledger);
}

/* Only interrupts the flock() of ledger_lock(). */
static void on_lock_alarm(int sig) {
        (void)sig;
}

/* Receivers on the same path take turns at the ledger, from reading it
 * to having replaced it (flock() on <ledger>.lock: the ledger itself is
 * replaced, and a lock on a replaced file locks nothing).  Held but
 * briefly: for one delivery's writing and answer.  Waited for at most
 * idle_s, as long as a connection may stay silent: one that holds it and
 * is stuck (stopped, its --out-dir on a disk that hangs) would otherwise
 * stall this receiver, all its connections and their deadlines with it,
 * for as long (-ETIMEDOUT then).  SIGALRM, without SA_RESTART, ends the
 * wait; the timer repeats, so one that fired just before flock() began
 * is followed by the next. */
static int ledger_lock(const Receiver *x) {
        struct sigaction sa = { .sa_handler = on_lock_alarm }, old;
        struct itimerval t = { .it_value.tv_sec = x->idle_s, .it_interval.tv_sec = x->idle_s };
        sigset_t alrm, mask;
        int r;

        if (flock(x->lockfd, LOCK_EX | LOCK_NB) >= 0)
                return 0;
        if (errno != EWOULDBLOCK)
                return -errno;
        if (sigaction(SIGALRM, &sa, &old) < 0)
                return -errno;
        /* Blocked by whoever started ctl (the mask is inherited), it
         * would end nothing. */
        sigemptyset(&alrm);
        sigaddset(&alrm, SIGALRM);
        (void)sigprocmask(SIG_UNBLOCK, &alrm, &mask);
        r = setitimer(ITIMER_REAL, &t, NULL) < 0 ? -errno : 0;
        if (r >= 0)
                r = flock(x->lockfd, LOCK_EX) < 0 ? -errno : 0;
        (void)setitimer(ITIMER_REAL, &(struct itimerval){}, NULL);
        (void)sigprocmask(SIG_SETMASK, &mask, NULL);
        (void)sigaction(SIGALRM, &old, NULL);
        return r == -EINTR ? -ETIMEDOUT : r;
}

/* Writes d's credentials to dir/<sessionId>.json (0600; no name until
 * synced: ctl_out_write_at()); the NAK's cause when it cannot. */
static const char *delivery_write(const Receiver *x, const CtlDelivery *d, char *path, size_t path_size) {
        /* Compact: indented, a deeply nested array grows a thousandfold
         * (each element on a line of its own, indented by its depth). */
        _cleanup_(erase_and_freep) char *text = json_dumps(d->credentials, JSON_COMPACT);
        char name[SESSION_ID_MAX + sizeof ".json"];
        int r;

        if (!text) {
                log_error_errno(-ENOMEM, "Out of memory.");
                return "not-written";
        }
        snprintf(name, sizeof name, "%s.json", d->sid);
        snprintf(path, path_size, "%s/%s", x->dir, name);
        r = ctl_out_write_at(x->dfd, name, text, strlen(text));
        if (r < 0) {
                log_error_errno(r, "Cannot write %s: %m", path);
                return "not-written";
        }
        return NULL;
}

/* "received: <path> (<provider>)", at once: the host waits for it.  Its
 * reader gone (SIGPIPE is ignored: ctl_main()), the delivery stays
 * written and acknowledged, and the receiver stops (out_error). */
static void receive_say(Receiver *x, const char *path, const char *provider) {
        if (printf("received: %s (%s)\n", path, provider) >= 0 && fflush(stdout) == 0)
                return;
        x->out_error = errno > 0 ? -errno : -EIO;
        log_error_errno(x->out_error, "Received %s, but cannot say so on standard output: %m.  Stopping; what was "
                        "received is in %s.", path, x->dir);
}

/* One delivery line: written, then the ACK; a line refused is not written
 * and gets a NAK; one written before gets its ACK again.  1 when its
 * first ACK went out now (counted), 0 otherwise, -errno when the answer
 * could not be sent (the connection is done).  The line is a secret:
 * wiped by the caller. */
static int receive_line(Receiver *x, int fd, const char *line) {
        char path[PATH_MAX];
        json_t *j = json_loads(line, 0, NULL);
        CtlDelivery d;
        const char *cause = ctl_delivery_parse(j, x->token, &d);
        TakenId *t = NULL;
        bool counted = false;
        int r;

        if (cause) {
                /* Nothing of the line is echoed: it may be anybody's. */
                if (say_nth(&x->refused))
                        log_warning("Refused a delivery (%s): not written, not counted (%u refused so far).", cause,
                                    x->refused);
                r = answer(fd, "NAK", d.id, cause);
                goto done;
        }
        /* From the look-up to the ledger's update: what another receiver
         * on the path counted meanwhile is known, and kept. */
        r = ledger_lock(x);
        if (r == -ETIMEDOUT)
                log_warning("Waited %u s for %s" LOCK_SUFFIX ", which another receiver on the path holds; going "
                            "on without it.", x->idle_s, x->ledger);
        else if (r < 0)
                log_warning_errno(r, "Cannot lock %s" LOCK_SUFFIX ": %m; going on without it.", x->ledger);
        r = ledger_load(x);
        if (r < 0)
                log_warning_errno(r, "Cannot read %s: %m; going on with the deliveries known before.", x->ledger);
        t = taken_find(x, d.id);
        if (t)
                log_info("Delivery %s came again (its ACK was lost): acknowledged again, not written or "
                         "counted twice.", d.id);
        else if (!(cause = delivery_write(x, &d, path, sizeof path)))
                /* Taken once written: a lost ACK brings the same id back. */
                t = taken_add(x, d.id);
        r = cause ? answer(fd, "NAK", d.id, cause) : answer(fd, "ACK", d.id, NULL);
        counted = r >= 0 && t && !t->acked;
        if (counted) {
                t->acked = true;
                ledger_add(x, d.id);
        }
        (void)flock(x->lockfd, LOCK_UN);
        if (counted) {
                snprintf(path, sizeof path, "%s/%s.json", x->dir, d.sid);
                receive_say(x, path, d.provider);
        }
done:
        json_wipe(j);
        json_decref(j);
        return r < 0 ? r : counted;
}

/* One connection of the receiver's: what it sent of its current line,
 * and when it is closed if it sends no delivery. */
typedef struct Conn {
        int fd;
        usec_t deadline;
        char *buf;  /* LINE_MAX_BYTES + 1, a secret */
        size_t n;   /* bytes in buf */
        size_t top; /* the most buf ever held: wiped up to there */
        bool proven; /* a line of it started with the VM's token */
        unsigned long long nth; /* accepted as the receiver's nth */
} Conn;

static void conn_close(Conn *c) {
        if (c->fd < 0)
                return;
        c->fd = safe_close(c->fd);
        if (c->buf)
                explicit_bzero(c->buf, c->top);
        free(c->buf);
        c->buf = NULL;
        c->n = c->top = 0;
        c->proven = false;
}

/* A connection that stays silent for the idle timeout is closed. */
static void conn_touch(const Receiver *x, Conn *c) {
        c->deadline = now(CLOCK_MONOTONIC) + x->idle_s * USEC_PER_SEC;
}

static int conn_open(Receiver *x, Conn *c, int fd) {
        c->buf = malloc(LINE_MAX_BYTES + 1);
        if (!c->buf) {
                safe_close(fd);
                return -ENOMEM;
        }
        c->fd = fd;
        conn_touch(x, c);
        c->n = c->top = 0;
        c->proven = false;
        c->nth = ++x->accepted;
        return 0;
}

/* The agent writes the token first ({"token":"<token>", compact, the way
 * jansson escapes it), at once: its connection shows it at its first
 * read, however long the rest of its line.  Compared in constant time,
 * and only once the whole prefix is in, so a guest user learns nothing
 * of the token byte by byte.  buf always starts at a line's start. */
static void conn_prove(const Receiver *x, Conn *c) {
        if (!c->proven && c->n >= x->prefix_len)
                c->proven = secret_equal(c->buf, x->prefix_len, x->prefix);
}

/* Reads what c has and takes its complete lines while fewer than left
 * deliveries are wanted (0: no limit); returns how many it took, and
 * closes c when it is done (end of input, an error, an overlong line). */
static unsigned conn_read(Receiver *x, Conn *c, unsigned left) {
        unsigned taken = 0;
        ssize_t k = read(c->fd, c->buf + c->n, (c->proven ? LINE_MAX_BYTES : UNPROVEN_LINE_MAX + 1) - c->n);
        char *nl;
        int r = 0;

        if (k < 0 && (errno == EINTR || errno == EAGAIN))
                return 0;
        if (k <= 0) {
                conn_close(c);
                return 0;
        }
        c->n += (size_t)k;
        c->top = MAX(c->top, c->n);
        c->buf[c->n] = '\0';
        conn_prove(x, c);
        while (r >= 0 && !x->out_error && (left == 0 || taken < left) && (nl = memchr(c->buf, '\n', c->n))) {
                size_t used = (size_t)(nl + 1 - c->buf);

                *nl = '\0';
                r = receive_line(x, c->fd, c->buf);
                if (r > 0) {
                        taken++;
                        conn_touch(x, c);
                }
                explicit_bzero(c->buf, used);
                memmove(c->buf, nl + 1, c->n - used);
                c->n -= used;
                conn_prove(x, c);
        }
        /* Its answer failed, or a line that long is not ours. */
        if (r < 0 || c->n == LINE_MAX_BYTES || (!c->proven && c->n > UNPROVEN_LINE_MAX))
                conn_close(c);
        return taken;
}

/* The slot a new connection takes: a free one, else the oldest of those
 * that never showed the VM's token, else (all did) the one closest to its
 * deadline.  Any guest user can fill every slot, with silent connections
 * or with long partial lines; the agent's shows the token at its first
 * read, and a new connection is read before the next one is taken. */
static Conn *conn_slot(Receiver *x, Conn *conns, size_t n) {
        Conn *victim = NULL;

        for (size_t i = 0; i < n; i++) {
                Conn *c = &conns[i];

                if (c->fd < 0)
                        return c;
                if (!victim || (victim->proven && !c->proven) ||
                    (!victim->proven && !c->proven && c->nth < victim->nth) ||
                    (victim->proven && c->proven && c->deadline < victim->deadline))
                        victim = c;
        }
        if (say_nth(&x->evicted))
                log_warning("Closed the oldest connection %s, to take a new one (%zu at once; %u closed so far).",
                            victim->proven ? "(all had sent the VM's token)" : "that had not sent the VM's token",
                            n, x->evicted);
        conn_close(victim);
        return victim;
}

/* Serves up to RECEIVE_CONNS_MAX connections at once on one poll() loop,
 * so one that sends nothing delays no other; each is closed at its
 * deadline.  Returns 0 once want deliveries were taken (0: never), or
 * -errno. */
static int receive_loop(Receiver *x, int lfd, unsigned want) {
        Conn conns[RECEIVE_CONNS_MAX];
        unsigned got = 0;
        int r = 0;

        for (size_t i = 0; i < ELEMENTSOF(conns); i++)
                conns[i] = (Conn){ .fd = -EBADF };
        while ((want == 0 || got < want) && !(r = x->out_error)) {
                struct pollfd p[1 + RECEIVE_CONNS_MAX] = { { .fd = lfd, .events = POLLIN } };
                usec_t t = now(CLOCK_MONOTONIC), next = USEC_INFINITY;

                for (size_t i = 0; i < ELEMENTSOF(conns); i++) {
                        Conn *c = &conns[i];

                        if (c->fd >= 0 && c->deadline <= t) {
                                /* Any guest user can make silent connections: said
                                 * at a rate, as the other closings. */
                                if (say_nth(&x->idled))
                                        log_warning("Closed a connection that delivered nothing for %u s (%u so far).",
                                                    x->idle_s, x->idled);
                                conn_close(c);
                        }
                        p[1 + i] = (struct pollfd){ .fd = c->fd, .events = POLLIN }; /* fd < 0: ignored */
                        if (c->fd >= 0)
                                next = MIN(next, c->deadline);
                }
                int timeout = next == USEC_INFINITY ? -1 : (int)MIN(usec_to_msec_up(next - t),
                                                                      (usec_t)INT32_MAX);
                if (poll(p, ELEMENTSOF(p), timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = log_error_errno(errno, "poll() failed: %m");
                        break;
                }
                for (size_t i = 0; i < ELEMENTSOF(conns) && (want == 0 || got < want) && !x->out_error; i++)
                        if (conns[i].fd >= 0 && p[1 + i].revents)
                                got += conn_read(x, &conns[i], want == 0 ? 0 : want - got);
                if (p[0].revents & POLLIN) {
                        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                        if (fd < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                                r = log_error_errno(errno, "accept() failed: %m");
                                break;
                        }
                        if (fd >= 0 && (r = conn_open(x, conn_slot(x, conns, ELEMENTSOF(conns)), fd)) < 0) {
                                log_error_errno(r, "Out of memory.");
                                break;
                        }
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(conns); i++)
                conn_close(&conns[i]);
        return r;
}

/* {"token":"<token>", as the agent's lines start (see conn_prove()):
 * -EINVAL when the token is not UTF-8 (no agent line carries it). */
static int receive_prefix(const char *token, char **ret) {
        json_t *t = json_string(token);
        _cleanup_(erase_and_freep) char *quoted = t ? json_dumps(t, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

        json_wipe(t);
        json_decref(t);
        if (!t)
                return -EINVAL;
        if (!quoted || asprintf(ret, "{\"token\":%s", quoted) < 0)
                return -ENOMEM;
        return 0;
}

/* The ledger beside uds, its directory and its lock opened, and the ids
 * it holds taken as counted: the agent resends a delivery whose ACK it
 * did not read, also once the receiver that counted it has exited, to
 * whichever receiver is on the path then.  Its lines are ids the
 * receiver wrote; any other is passed over.  -errno when it cannot be
 * kept, and *ret_lock true when it was the lock that could not be opened
 * (another user's, left by a receiver run as that user). */
static int ledger_open(Receiver *x, const char *uds, bool *ret_lock) {
        const char *slash = strrchr(uds, '/');
        _cleanup_(freep) char *dir = !slash ? strdup(".") : slash == uds ? strdup("/") :
                                                                          strndup(uds, (size_t)(slash - uds));
        _cleanup_(freep) char *lock = NULL;

        if (!dir || asprintf(&x->ledger, "%s" LEDGER_SUFFIX, uds) < 0)
                return -ENOMEM;
        x->ledger_name = x->ledger + (slash ? (size_t)(slash + 1 - uds) : 0);
        if (asprintf(&lock, "%s" LOCK_SUFFIX, x->ledger_name) < 0)
                return -ENOMEM;
        x->ldfd = open_writable_dir(dir);
        if (x->ldfd < 0)
                return x->ldfd;
        /* Kept, never removed: a lock file removed while another receiver
         * waits for it has that one lock a file nobody else opens. */
        x->lockfd = openat(x->ldfd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
        *ret_lock = x->lockfd < 0;
        if (x->lockfd < 0)
                return negative_errno();
        return ledger_load(x);
}

/* A socket a receiver left at uds is replaced; anything else there (a
 * mistyped path: the token file, credentials) is not removed: -EEXIST. */
static int uds_clear(const char *uds) {
        struct stat st;

        if (lstat(uds, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        return unlink(uds) < 0 && errno != ENOENT ? -errno : 0;
}

/* Removes uds if it is still the socket bound there (bound: its lstat
 * then; zero when that failed, and nothing is removed). */
static void uds_remove_own(const char *uds, const struct stat *bound) {
        struct stat st;

        if (bound->st_ino != 0 && lstat(uds, &st) >= 0 && S_ISSOCK(st.st_mode) && st.st_dev == bound->st_dev &&
            st.st_ino == bound->st_ino)
                (void)unlink(uds);
}

static void receiver_done(Receiver *x) {
        x->lockfd = safe_close(x->lockfd);
        x->ldfd = safe_close(x->ldfd);
        free(x->ledger);
        x->ledger = NULL;
}

int ctl_receive(const char *uds, const char *dir, unsigned want, const char *token, unsigned idle_s) {
        /* dir, where every delivery goes, opened before anything listens:
         * one that cannot take a file would refuse each delivery (NAK),
         * and the agent would resend it until its login expires. */
        _cleanup_(closep) int fd = -EBADF, dfd = open_writable_dir(dir);
        _cleanup_(receiver_done) Receiver x = { .dir = dir, .dfd = dfd, .ldfd = -EBADF, .lockfd = -EBADF,
                                                .token = token, .idle_s = idle_s };
        _cleanup_(erase_and_freep) char *prefix = NULL;
        struct sockaddr_un sa;
        int len = sockaddr_un_set(&sa, uds);

        if (dfd < 0)
                return log_error_errno(dfd, "Cannot write the deliveries to %s: %m", dir), 1;
        if (len < 0)
                return log_error_errno(len, "Socket path too long: %s", uds), 1;
        int r = receive_prefix(token, &prefix);
        if (r == -EINVAL)
                return log_error("The token is not UTF-8 text: no line of the agent's can carry it."), 1;
        if (r < 0)
                return log_error_errno(r, "Out of memory."), 1;
        x.prefix = prefix;
        x.prefix_len = strlen(prefix);
        bool lock = false;
        r = ledger_open(&x, uds, &lock);
        if (r < 0 && lock)
                return log_error_errno(r, "Cannot open %s" LOCK_SUFFIX ", the lock of the record of the deliveries "
                                       "counted: %m", x.ledger), 1;
        if (r < 0)
                return log_error_errno(r, "Cannot keep the record of the deliveries counted at %s: %m",
                                       x.ledger ?: uds), 1;
        r = uds_clear(uds);
        if (r == -EEXIST)
                return log_error("Cannot listen on %s: a file that is no socket is there.", uds), 1;
        if (r < 0)
                return log_error_errno(r, "Cannot listen on %s: %m", uds), 1;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        mode_t old = umask(0077);
        r = fd < 0 || bind(fd, &sa, (socklen_t)len) < 0 || listen(fd, 2 * RECEIVE_CONNS_MAX) < 0 ? -errno : 0;
        umask(old);
        if (r < 0)
                return log_error_errno(r, "Cannot listen on %s: %m", uds), 1;
        /* Which socket is ours at uds: a receiver started on the path
         * after this one (the next login's, once this one printed its
         * "received:" line) replaced it, and its socket is not removed
         * when this one ends. */
        struct stat bound = {};
        (void)lstat(uds, &bound);
        if (printf("listening: %s\n", uds) < 0 || fflush(stdout) != 0)
                r = log_error_errno(errno > 0 ? errno : EIO, "Cannot write to standard output: %m");
        else
                r = receive_loop(&x, fd, want);
        uds_remove_own(uds, &bound);
        return r < 0 ? 1 : 0;
}
