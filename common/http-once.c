/* Implementation of http-once.h.  The answer buffer is allocated once at
 * its bound (no realloc: no unwiped copies of what it held), and wiped
 * with the request when the exchange is freed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http-once.h"

struct HttpOnce {
        HttpOnceDone done;
        HttpOnceConnected connected; /* NULL once called */
        void *userdata;
        int fd;
        sd_event_source *io, *timer;
        char *out;
        size_t n_out, sent;
        char *in;
        size_t n_in, max_in;
};

HttpOnce *http_once_free(HttpOnce *h) {
        if (!h)
                return NULL;
        sd_event_source_disable_unref(h->io);
        sd_event_source_disable_unref(h->timer);
        safe_close(h->fd);
        if (h->out)
                explicit_bzero(h->out, h->n_out);
        if (h->in)
                explicit_bzero(h->in, h->max_in + 1);
        free(h->out);
        free(h->in);
        free(h);
        return NULL;
}

/* A server that keeps the connection open despite Connection: close is
 * done once the body its head announced is in (a 204 or 304 at its head's
 * end: they have none), by http_answer_parse()'s rule.  Whether an
 * answer that ended is whole is http_answer_parse()'s to say. */
static bool answer_complete(HttpOnce *h) {
        char *end, *headers;
        unsigned status;
        uint64_t n;
        int r;

        h->in[h->n_in] = '\0';
        end = strstr(h->in, "\r\n\r\n");
        headers = strstr(h->in, "\r\n");
        if (!end || sscanf(h->in, "HTTP/1.%*1[01] %3u", &status) != 1)
                return false;
        end[2] = '\0'; /* only for the header lookup */
        r = http_answer_body_length(status, headers + 2, &n);
        end[2] = '\r';
        return r >= 0 && h->n_in - (size_t)(end + 4 - h->in) >= n;
}

static void finish(HttpOnce *h, int r) {
        HttpAnswer a = {};

        if (r >= 0) {
                h->in[h->n_in] = '\0';
                r = http_answer_parse(h->in, h->n_in, &a);
        }
        h->done(r, r >= 0 ? &a : NULL, h->userdata);
        http_once_free(h);
}

/* The connect's own error first: a refused connection is that, not a
 * socket the check cannot look up. */
static int check_connected(HttpOnce *h, int fd) {
        HttpOnceConnected connected = TAKE_PTR(h->connected);
        int err = 0;
        socklen_t len = sizeof err;

        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                return -errno;
        return err > 0 ? -err : connected(fd, h->userdata);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        HttpOnce *h = userdata;
        ssize_t n;
        int r;

        if (h->connected) {
                r = check_connected(h, fd);
                if (r < 0) {
                        finish(h, r);
                        return 0;
                }
        }
        if (h->sent < h->n_out) {
                n = send(fd, h->out + h->sent, h->n_out - h->sent, MSG_NOSIGNAL);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                /* The server closed (or reset) the connection before the
                 * request was sent: not -EPIPE, which says an answer was
                 * cut off. */
                if (n < 0) {
                        finish(h, errno == EPIPE || errno == ECONNRESET ? -ESHUTDOWN : -errno);
                        return 0;
                }
                h->sent += (size_t)n;
                if (h->sent == h->n_out)
                        (void)sd_event_source_set_io_events(es, EPOLLIN);
                return 0;
        }
        n = recv(fd, h->in + h->n_in, h->max_in + 1 - h->n_in, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n < 0) {
                finish(h, -errno);
                return 0;
        }
        h->n_in += (size_t)n;
        if (h->n_in > h->max_in)
                finish(h, -EFBIG);
        else if (n == 0 && h->n_in == 0)
                finish(h, -ENODATA);
        else if (n == 0 || answer_complete(h))
                finish(h, 0);
        return 0;
}

void http_once_set_connected(HttpOnce *h, HttpOnceConnected connected) {
        h->connected = connected;
}

static int on_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        finish(userdata, -ETIMEDOUT);
        return 0;
}

int http_once_start(sd_event *e, const struct sockaddr *sa, socklen_t salen, char *request,
                    size_t request_len, size_t max_answer, usec_t timeout, HttpOnceDone done,
                    void *userdata, HttpOnce **ret) {
        _cleanup_(http_once_freep) HttpOnce *h = calloc(1, sizeof *h);
        int r;

        if (!h) {
                explicit_bzero(request, request_len);
                free(request);
                return -ENOMEM;
        }
        *h = (HttpOnce){ .done = done, .userdata = userdata, .fd = -EBADF, .out = request,
                         .n_out = request_len, .max_in = max_answer };
        h->in = malloc(max_answer + 1);
        if (!h->in)
                return -ENOMEM;
        h->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (h->fd < 0)
                return -errno;
        if (connect(h->fd, sa, salen) < 0 && errno != EINPROGRESS)
                return -errno;
        r = sd_event_add_io(e, &h->io, h->fd, EPOLLOUT, on_io, h);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(e, &h->timer, CLOCK_MONOTONIC, timeout, 0, on_timeout, h);
        if (r < 0)
                return r;
        if (ret)
                *ret = h;
        TAKE_PTR(h);
        return 0;
}
