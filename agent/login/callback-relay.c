/* Implementation of callback-relay.h.  HTTP/1.0, so the CLI closes the
 * connection when it is done and EOF ends the answer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>

#include "callback-relay.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

#define RELAY_MAX (256 * 1024)
#define RELAY_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define REQUEST_FMT "GET %s%s%s HTTP/1.0\r\nHost: localhost:%u\r\nConnection: close\r\n\r\n"

struct CallbackRelay {
        CallbackRelayDone done;
        void *userdata;
        int fd;
        sd_event_source *io, *timer;
        char *out;
        size_t n_out, sent;
        char *in;
        size_t n_in;
};

CallbackRelay *callback_relay_free(CallbackRelay *f) {
        if (!f)
                return NULL;
        sd_event_source_disable_unref(f->io);
        sd_event_source_disable_unref(f->timer);
        safe_close(f->fd);
        if (f->out)
                explicit_bzero(f->out, f->n_out);
        if (f->in)
                explicit_bzero(f->in, f->n_in);
        free(f->out);
        free(f->in);
        free(f);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(CallbackRelay *, callback_relay_free);

static void finish(CallbackRelay *f, int r, unsigned status, const char *ctype, const char *body,
                   size_t size) {
        f->done(r, status, ctype, body, size, f->userdata);
        callback_relay_free(f);
}

/* The listener's answer: status line, Content-Type, body. */
static void answer(CallbackRelay *f) {
        const char *hdr_end, *ct = "text/html; charset=utf-8";
        char ctype[128];
        unsigned status = 0;

        f->in[f->n_in] = '\0';
        hdr_end = strstr(f->in, "\r\n\r\n");
        if (!hdr_end || sscanf(f->in, "HTTP/1.%*u %u", &status) != 1 || status < 100 || status > 599) {
                finish(f, -EBADMSG, 0, NULL, NULL, 0);
                return;
        }
        for (const char *l = strstr(f->in, "\r\n"); l && l < hdr_end; l = strstr(l + 2, "\r\n"))
                if (!strncasecmp(l + 2, "Content-Type:", 13)) {
                        const char *v = l + 15;
                        size_t n = strcspn(v, "\r\n");
                        while (*v == ' ' && n > 0)
                                v++, n--;
                        snprintf(ctype, sizeof ctype, "%.*s", (int)MIN(n, sizeof ctype - 1), v);
                        ct = ctype;
                        break;
                }
        finish(f, 0, status, ct, hdr_end + 4, f->n_in - (size_t)(hdr_end + 4 - f->in));
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        CallbackRelay *f = userdata;
        ssize_t n;

        if (f->sent < f->n_out) {
                n = send(fd, f->out + f->sent, f->n_out - f->sent, MSG_NOSIGNAL);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n < 0) {
                        finish(f, -errno, 0, NULL, NULL, 0);
                        return 0;
                }
                f->sent += (size_t)n;
                if (f->sent == f->n_out)
                        (void)sd_event_source_set_io_events(es, EPOLLIN);
                return 0;
        }
        n = recv(fd, f->in + f->n_in, RELAY_MAX - f->n_in, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n > 0 && f->n_in + (size_t)n < RELAY_MAX) {
                f->n_in += (size_t)n;
                return 0;
        }
        if (n > 0)
                f->n_in += (size_t)n;
        answer(f);
        return 0;
}

static int on_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        finish(userdata, -ETIMEDOUT, 0, NULL, NULL, 0);
        return 0;
}

static int relay_connect(CallbackRelay *f, uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

        f->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (f->fd < 0)
                return -errno;
        if (connect(f->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
                return -errno;
        return 0;
}

bool callback_relay_query_ok(const char *q) {
        for (; q && *q; q++)
                if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
                        return false;
        return true;
}

/* The request carries the OAuth code: its buffer is sized first and
 * written once (asprintf()'s growing buffer would leave unwiped copies). */
static int request_format(CallbackRelay *f, uint16_t port, const char *path, const char *q) {
        int n = snprintf(NULL, 0, REQUEST_FMT, path, isempty(q) ? "" : "?", q ?: "", port);

        if (n < 0)
                return -EINVAL;
        f->out = malloc((size_t)n + 1);
        if (!f->out)
                return -ENOMEM;
        f->n_out = (size_t)snprintf(f->out, (size_t)n + 1, REQUEST_FMT, path, isempty(q) ? "" : "?",
                                    q ?: "", port);
        return 0;
}

int callback_relay_start(sd_event *e, uint16_t port, const char *path, const char *query,
                         CallbackRelayDone done, void *userdata, CallbackRelay **ret) {
        _cleanup_(callback_relay_freep) CallbackRelay *f = NULL;
        int r;

        if (!callback_relay_query_ok(query))
                return -EINVAL;
        f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        *f = (CallbackRelay){ .done = done, .userdata = userdata, .fd = -EBADF };
        f->in = malloc(RELAY_MAX + 1);
        if (!f->in)
                return -ENOMEM;
        r = request_format(f, port, path, query);
        if (r >= 0)
                r = relay_connect(f, port);
        if (r >= 0)
                r = sd_event_add_io(e, &f->io, f->fd, EPOLLOUT, on_io, f);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &f->timer, CLOCK_MONOTONIC, RELAY_TIMEOUT_USEC, 0,
                                               on_timeout, f);
        if (r < 0)
                return r;
        if (ret)
                *ret = f;
        TAKE_PTR(f);
        return 0;
}
