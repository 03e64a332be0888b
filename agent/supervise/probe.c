/* Implementation of probe.h.  One Probe = one service start.  Each attempt
 * is a non-blocking connect watched by an io source; the response is read
 * as it arrives into a small buffer and matched as soon as enough bytes are
 * in.
 *
 * When to attempt.  Xvfb's readiness is a real event (-displayfd), and so
 * is dbus-daemon's (--print-address=3: written after listen()).  For a
 * TCP listener there is none an unprivileged process can wait for: inotify
 * does not see sockets, and NETLINK_SOCK_DIAG answers queries but
 * multicasts only socket destruction — asking it is polling, and costlier
 * than a connect() to loopback.  What does come as an event is the child's
 * output: both network services of the display stack print a line once
 * they listen (x11vnc "PORT=5901", even with -quiet; websockify "proxying
 * from ..." after its bind, from WebSocketProxy.started()), and the
 * supervisor turns every such line into probe_kick().  So attempts are
 * made at the start, on every line, and after a refused attempt on a
 * sparse fallback timer (4 ms, x4, capped at 1 s) that exists only for
 * services that listen silently or buffer their output (a services_file
 * service): without it they would never be found ready.  The fallback
 * starts short after each kick, for servers that print just before they
 * listen.  The service's ready timeout, owned by the supervisor, bounds
 * the total; everything stops when the service leaves STARTING. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fileio.h"
#include "in-addr-util.h"
#include "macro.h"
#include "probe.h"
#include "socket-util.h"
#include "time-util.h"

/* Output lines, not this timer, carry the latency of the built-in stack:
 * the cap keeps a silent service's wait below ~1 s at one wakeup a second. */
#define RETRY_FIRST_USEC (4 * USEC_PER_MSEC)
#define RETRY_FACTOR 4
#define RETRY_MAX_USEC (1000 * USEC_PER_MSEC)

struct Probe {
        sd_event *event;
        ProbeType type;
        char *host, *expect, *path;
        uint16_t port;
        ProbeReadyFn cb;
        void *userdata;

        int fd;
        sd_event_source *io, *timer, *defer;
        int watch_fd;                /* unix-banner: inotify on the socket's directory */
        sd_event_source *watch;
        char request[512];
        size_t request_len, sent;
        bool reading;  /* connected (or a pipe): waiting for the answer */
        char buf[256];
        size_t len;
        unsigned attempts;
        usec_t retry_usec;   /* the delay the next refused attempt arms */
        usec_t armed_usec;   /* the delay armed now; 0 = no retry scheduled */
        char error[160];
};

static int probe_attempt(Probe *p);

bool probe_is_fd(ProbeType t) {
        return t == PROBE_DISPLAYFD || t == PROBE_FD_LINE;
}

static void probe_close(Probe *p) {
        p->io = sd_event_source_disable_unref(p->io);
        p->fd = safe_close(p->fd);
        p->len = 0;
        p->sent = 0;
        p->reading = false;
}

Probe *probe_free(Probe *p) {
        if (!p)
                return NULL;
        probe_close(p);
        sd_event_source_disable_unref(p->timer);
        sd_event_source_disable_unref(p->defer);
        sd_event_source_disable_unref(p->watch);
        safe_close(p->watch_fd);
        sd_event_unref(p->event);
        free(p->host);
        free(p->expect);
        free(p->path);
        free(p);
        return NULL;
}

const char *probe_last_error(Probe *p) {
        return p->error;
}

unsigned probe_attempts(Probe *p) {
        return p->attempts;
}

static void probe_pass(Probe *p) {
        probe_close(p);
        p->cb(p, p->userdata); /* may free p */
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Probe *p = userdata;

        (void)probe_attempt(p);
        return 0;
}

/* The attempt failed: remember why, and try again after the backoff. */
static void probe_retry(Probe *p, const char *why) {
        int r;

        snprintf(p->error, sizeof p->error, "%s", why);
        probe_close(p);
        if (probe_is_fd(p->type))
                return; /* nothing to retry: the child's exit will be reported */
        r = sd_event_source_set_time_relative(p->timer, p->retry_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                snprintf(p->error, sizeof p->error, "cannot arm retry timer: %s", strerror(-r));
        p->armed_usec = r >= 0 ? p->retry_usec : 0;
        p->retry_usec = MIN(p->retry_usec * RETRY_FACTOR, RETRY_MAX_USEC);
}

/* Looks at what has been read so far: 1 passed, 0 need more, -EBADMSG
 * wrong. */
static int probe_match(Probe *p) {
        if (p->type == PROBE_FD_LINE) {
                /* Any line: what it says is the child's (dbus-daemon's
                 * address); that it says it once it listens is what counts.
                 * A line longer than the buffer is a line too. */
                char *nl = memchr(p->buf, '\n', p->len);
                if (!nl && p->len < sizeof p->buf - 1)
                        return 0;
                return p->len > 1 || !nl ? 1 : -EBADMSG;
        }
        if (p->type == PROBE_DISPLAYFD) {
                char *nl = memchr(p->buf, '\n', p->len);
                if (!nl)
                        return 0;
                return nl > p->buf && strspn(p->buf, "0123456789") == (size_t)(nl - p->buf) ? 1 : -EBADMSG;
        }
        if (p->type == PROBE_TCP_BANNER || p->type == PROBE_UNIX_BANNER) {
                size_t l = strlen(p->expect), n = MIN(l, p->len);
                if (memcmp(p->buf, p->expect, n) != 0)
                        return -EBADMSG;
                return p->len >= l;
        }
        /* HTTP: "HTTP/1.1 200 ..." — any status below 500 means it answers. */
        if (memcmp(p->buf, "HTTP/", MIN(p->len, 5)) != 0)
                return -EBADMSG;
        if (p->len < 12)
                return 0;
        if (p->buf[8] != ' ') /* "HTTP/" itself was checked above */
                return -EBADMSG;
        return p->buf[9] >= '1' && p->buf[9] <= '4' ? 1 : -EBADMSG;
}

static void probe_on_readable(Probe *p) {
        ssize_t n = read(p->fd, p->buf + p->len, sizeof p->buf - 1 - p->len);
        char why[160];
        int m;

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n < 0) {
                snprintf(why, sizeof why, "read: %s", strerror(errno));
                return probe_retry(p, why);
        }
        p->len += (size_t)n;
        p->buf[p->len] = '\0';
        m = probe_match(p);
        if (m > 0)
                return probe_pass(p);
        if (m < 0) {
                /* Quote only the printable start: the answer is untrusted. */
                size_t k = 0;
                while (k < 40 && k < p->len && p->buf[k] >= 0x20 && p->buf[k] < 0x7f)
                        k++;
                snprintf(why, sizeof why, "unexpected answer '%.*s'", (int)k, p->buf);
                return probe_retry(p, why);
        }
        if (n == 0 || p->len == sizeof p->buf - 1)
                return probe_retry(p, n == 0 ? "closed before answering" : "answer too long");
}

static void probe_on_writable(Probe *p) {
        int err = 0;
        socklen_t l = sizeof err;
        ssize_t n;

        if (p->sent == 0 && p->request_len == 0) {
                /* First writability: the connect finished, one way or the other. */
                if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        err = errno;
                if (err != 0)
                        return probe_retry(p, strerror(err));
        }
        if (p->type == PROBE_HTTP && p->request_len == 0) {
                int k = snprintf(p->request, sizeof p->request,
                                 "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n", p->path, p->host);
                /* The path is bounded (PROBE_HTTP_PATH_MAX) and the host an
                 * IP address by now; never send past the request. */
                if (k < 0 || (size_t)k >= sizeof p->request)
                        return probe_retry(p, "probe request too long");
                p->request_len = (size_t)k;
        }
        if (p->sent < p->request_len) {
                n = send(p->fd, p->request + p->sent, p->request_len - p->sent, MSG_NOSIGNAL);
                if (n < 0 && errno != EAGAIN)
                        return probe_retry(p, strerror(errno));
                p->sent += n > 0 ? (size_t)n : 0;
                if (p->sent < p->request_len)
                        return;
        }
        p->reading = true;
        (void)sd_event_source_set_io_events(p->io, EPOLLIN);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Probe *p = userdata;

        /* A hang-up or error comes without EPOLLIN/EPOLLOUT: read() (EOF or
         * the error) or SO_ERROR (while connecting) says what happened. */
        if ((revents & EPOLLIN) || p->reading)
                probe_on_readable(p);
        else
                probe_on_writable(p);
        return 0;
}

static int probe_connect(Probe *p) {
        const char *host = streq(p->host, "localhost") ? "127.0.0.1" : p->host;
        SockaddrIn a;
        socklen_t alen;

        /* Refused (ECONNREFUSED, or EAGAIN: a full backlog) or not there
         * yet (ENOENT): attempted again, as a TCP refusal is. */
        if (p->type == PROBE_UNIX_BANNER)
                return unix_connect_start(p->path, &p->fd);
        if (sockaddr_in_parse(host, p->port, &a, &alen) < 0)
                return -EINVAL;

        p->fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p->fd < 0)
                return -errno;
        if (connect(p->fd, &a.sa, alen) < 0 && errno != EINPROGRESS)
                return -errno;
        return 0;
}

static int probe_attempt(Probe *p) {
        int r;

        p->attempts++;
        p->request_len = 0;
        r = probe_connect(p);
        if (r == -EINVAL) {
                snprintf(p->error, sizeof p->error, "probe host '%s' is not an IP address", p->host);
                return r;
        }
        if (r < 0) {
                probe_retry(p, strerror(-r));
                return 0;
        }
        r = sd_event_add_io(p->event, &p->io, p->fd, EPOLLOUT, on_io, p);
        if (r < 0)
                probe_retry(p, strerror(-r));
        return 0;
}

void probe_kick(Probe *p) {
        int enabled = SD_EVENT_OFF;

        if (!p || !p->timer || p->fd >= 0)
                return; /* not a network probe, or an attempt is under way */
        if (sd_event_source_get_enabled(p->timer, &enabled) < 0 || enabled == SD_EVENT_OFF)
                return;
        (void)sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
        /* Servers often print just before they listen: if this attempt is
         * refused, the next ones follow quickly again. */
        p->retry_usec = RETRY_FIRST_USEC;
        (void)probe_attempt(p);
}

/* PROBE_FILE.  The file lives in a directory its service's user owns, so
 * it is opened without following a symlink and read only when it is a
 * regular file (a FIFO would block the agent). */
#define PROBE_FILE_MAX (64 * 1024)

static int probe_file_check(Probe *p) {
        _cleanup_(closep) int fd = -EBADF;
        _cleanup_(freep) char *text = NULL;
        int r;

        fd = open_regular_nofollow(p->path, NULL);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        r = read_full_fd(fd, PROBE_FILE_MAX, &text, NULL);
        if (r < 0)
                return r;
        return strstr(text, p->expect) ? 1 : 0;
}

static void probe_file_look(Probe *p) {
        int r = probe_file_check(p);

        if (r > 0)
                return probe_pass(p);
        if (r < 0)
                snprintf(p->error, sizeof p->error, "%s: %s", p->path, strerror(-r));
        else
                snprintf(p->error, sizeof p->error, "%s does not say '%.40s' yet", p->path, p->expect);
}

/* Reads the events pending on a watch of path's directory: whether one
 * was about path's name (or events were lost). */
static bool watch_read_names(int fd, const char *path) {
        const char *base = strrchr(path, '/') + 1;
        bool ours = false;
        _Alignas(struct inotify_event) char buf[4096];
        ssize_t n;

        while ((n = read(fd, buf, sizeof buf)) > 0)
                for (char *e = buf; e < buf + n; e += sizeof(struct inotify_event) + ((struct inotify_event *)e)->len) {
                        const struct inotify_event *ev = (const struct inotify_event *)e;
                        ours |= ev->len > 0 && streq(ev->name, base);
                        ours |= (ev->mask & IN_Q_OVERFLOW) != 0;
                }
        return ours;
}

/* A watch of path's directory, for mask, non-blocking, in *ret_fd. */
static int watch_dir_of(const char *path, uint32_t mask, int *ret_fd) {
        _cleanup_(freep) char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;

        if (!dir)
                return -ENOMEM;
        if (!slash)
                return -EINVAL;
        slash[slash == dir] = '\0'; /* "/x" watches "/" */
        *ret_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (*ret_fd < 0)
                return -errno;
        if (inotify_add_watch(*ret_fd, dir, mask | IN_ONLYDIR) < 0)
                return -errno;
        return 0;
}

static int on_file_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Probe *p = userdata;

        if (watch_read_names(fd, p->path))
                probe_file_look(p); /* may free p */
        return 0;
}

static int on_file_defer(sd_event_source *s, void *userdata) {
        Probe *p = userdata;

        p->defer = sd_event_source_disable_unref(p->defer);
        probe_file_look(p); /* may free p */
        return 0;
}

static int probe_file_begin(Probe *p) {
        /* A write in place ends with a close, a replacement with a rename. */
        int r = watch_dir_of(p->path, IN_CLOSE_WRITE | IN_MOVED_TO, &p->fd);

        if (r < 0)
                return r;
        r = sd_event_add_io(p->event, &p->io, p->fd, EPOLLIN, on_file_io, p);
        if (r < 0)
                return r;
        /* Written before the watch was set up: seen now. */
        r = sd_event_add_defer(p->event, &p->defer, on_file_defer, p);
        return r;
}

static int on_defer(sd_event_source *s, void *userdata) {
        probe_pass(userdata);
        return 0;
}

/* PROBE_UNIX_BANNER.  The socket's creation (bind()) is an event, unlike
 * a TCP listen: a watch on its directory kicks an attempt then.  One
 * made between bind() and listen() is refused and retried 4 ms later. */
static int on_watch_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Probe *p = userdata;

        if (watch_read_names(fd, p->path))
                probe_kick(p);
        return 0;
}

static int probe_watch_begin(Probe *p) {
        int r = watch_dir_of(p->path, IN_CREATE | IN_MOVED_TO, &p->watch_fd);

        return r < 0 ? r : sd_event_add_io(p->event, &p->watch, p->watch_fd, EPOLLIN, on_watch_io, p);
}

/* The fallback timer, off until an attempt is refused, and the first attempt. */
static int probe_connections_begin(Probe *p) {
        int r = sd_event_add_time_relative(p->event, &p->timer, CLOCK_MONOTONIC, RETRY_FIRST_USEC, USEC_PER_MSEC,
                                           on_retry, p);

        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
        return probe_attempt(p);
}

static int probe_begin(Probe *p) {
        int r;

        switch (p->type) {
        case PROBE_NONE:
                return sd_event_add_defer(p->event, &p->defer, on_defer, p);
        case PROBE_DISPLAYFD:
        case PROBE_FD_LINE:
                if (p->fd < 0)
                        return -EBADF;
                p->reading = true;
                if (fcntl(p->fd, F_SETFL, O_NONBLOCK) < 0)
                        return -errno;
                return sd_event_add_io(p->event, &p->io, p->fd, EPOLLIN, on_io, p);
        case PROBE_FILE:
                return probe_file_begin(p);
        case PROBE_UNIX_BANNER:
                r = probe_watch_begin(p);
                return r < 0 ? r : probe_connections_begin(p);
        case PROBE_TCP_BANNER:
        case PROBE_HTTP:
                return probe_connections_begin(p);
        default:
                return -EINVAL;
        }
}

int probe_start(sd_event *e, const ProbeSpec *spec, int fd, ProbeReadyFn cb, void *userdata,
                Probe **ret) {
        _cleanup_(closep) int owned_fd = fd; /* taken over, also on failure */
        _cleanup_(probe_freep) Probe *p = NULL;
        int r;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        *p = (Probe){
                .event = sd_event_ref(e), .type = spec->type, .port = spec->port, .cb = cb,
                .userdata = userdata, .fd = -EBADF, .watch_fd = -EBADF, .retry_usec = RETRY_FIRST_USEC,
                .host = strdup(spec->host ?: "127.0.0.1"), .path = strdup(spec->path ?: "/"),
                .expect = strdup(spec->expect ?: ""),
        };
        if (!p->host || !p->path || !p->expect)
                return -ENOMEM;
        if (probe_is_fd(p->type))
                p->fd = TAKE_FD(owned_fd); /* probe_free() closes it from here */
        r = probe_begin(p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

usec_t probe_retry_armed(Probe *p) {
        int enabled = SD_EVENT_OFF;

        if (!p->timer || sd_event_source_get_enabled(p->timer, &enabled) < 0 || enabled == SD_EVENT_OFF)
                return 0;
        return p->armed_usec;
}
