/* GET /auth/callback?... → http://127.0.0.1:<callback_port><callback_path>?...
 * of the newest live CLI session that has a callback port, status and body
 * relayed.  Non-blocking on the Manager's loop (the HTTP request is
 * suspended), bounded in size and time, HTTP/1.0 so the CLI closes the
 * connection when it is done.  The query carries the OAuth code: it is
 * never logged. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>

#include "http.h"
#include "log.h"
#include "login.h"
#include "macro.h"
#include "manager.h"

#define FORWARD_MAX (256 * 1024)
#define FORWARD_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define REQUEST_FMT "GET %s%s%s HTTP/1.0\r\nHost: localhost:%u\r\nConnection: close\r\n\r\n"

static const char no_login_page[] =
        "<!doctype html><meta charset=utf-8><title>No login</title><p>No login in progress.</p>\n";

typedef struct Forward {
        HttpRequest *req;
        int fd;
        sd_event_source *io, *timer;
        char *out;
        size_t n_out, sent;
        char *in;
        size_t n_in;
} Forward;

static void forward_free(Forward *f) {
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
}

static void finish(Forward *f) {
        const char *hdr_end, *ct = "text/html; charset=utf-8";
        char ctype[128];
        unsigned status = 0;

        if (f->in)
                f->in[f->n_in] = '\0';
        hdr_end = f->in ? strstr(f->in, "\r\n\r\n") : NULL;
        if (!hdr_end || sscanf(f->in, "HTTP/1.%*u %u", &status) != 1 || status < 100 || status > 599) {
                (void)http_reply_error(f->req, 502, "Bad response from the CLI's callback listener");
                forward_free(f);
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
        (void)http_reply(f->req, status, ct, hdr_end + 4, f->n_in - (size_t)(hdr_end + 4 - f->in));
        forward_free(f);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Forward *f = userdata;
        ssize_t n;

        if (f->sent < f->n_out) {
                n = send(fd, f->out + f->sent, f->n_out - f->sent, MSG_NOSIGNAL);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n < 0) {
                        (void)http_reply_error(f->req, 502, "CLI callback listener not reachable");
                        forward_free(f);
                        return 0;
                }
                f->sent += (size_t)n;
                if (f->sent == f->n_out)
                        (void)sd_event_source_set_io_events(es, EPOLLIN);
                return 0;
        }
        n = recv(fd, f->in + f->n_in, FORWARD_MAX - f->n_in, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n > 0 && f->n_in + (size_t)n < FORWARD_MAX) {
                f->n_in += (size_t)n;
                return 0;
        }
        if (n > 0)
                f->n_in += (size_t)n;
        finish(f);
        return 0;
}

static int on_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        Forward *f = userdata;

        (void)http_reply_error(f->req, 504, "CLI callback listener did not answer");
        forward_free(f);
        return 0;
}

static void on_abort(void *userdata) {
        forward_free(userdata);
}

static LoginSession *callback_session(LoginManager *lm) {
        LoginSession *best = NULL;

        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++) {
                LoginSession *s = lm->sessions[i];
                if (s && s->def && s->def->callback_port > 0 && session_state_is_live(s->state) &&
                    s->state != SESSION_AUTHENTICATED && (!best || s->started > best->started))
                        best = s;
        }
        return best;
}

static int forward_connect(Forward *f, uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

        f->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (f->fd < 0)
                return -errno;
        if (connect(f->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
                return -errno;
        return 0;
}

/* The raw query goes into our request line: a space, control byte or
 * non-ASCII byte (MHD lets them through) would make it malformed. */
static bool query_ok(const char *q) {
        for (; q && *q; q++)
                if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
                        return false;
        return true;
}

/* The request carries the OAuth code: its buffer is sized first and
 * written once (asprintf()'s growing buffer would leave unwiped copies). */
static int request_format(Forward *f, const ProviderDef *def, const char *q) {
        int n = snprintf(NULL, 0, REQUEST_FMT, def->callback_path, isempty(q) ? "" : "?", q ?: "",
                         def->callback_port);

        if (n < 0)
                return -EINVAL;
        f->out = malloc((size_t)n + 1);
        if (!f->out)
                return -ENOMEM;
        f->n_out = (size_t)snprintf(f->out, (size_t)n + 1, REQUEST_FMT, def->callback_path,
                                    isempty(q) ? "" : "?", q ?: "", def->callback_port);
        return 0;
}

int callback_forward(HttpRequest *req, void *userdata) {
        LoginManager *lm = userdata;
        LoginSession *s = callback_session(lm);
        const char *q = http_request_query_string(req);
        Forward *f;
        int r;

        if (!s)
                return http_reply(req, 404, "text/html; charset=utf-8", no_login_page, strlen(no_login_page));
        if (!query_ok(q))
                return http_reply_error(req, 400, "Invalid callback query");
        f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        f->req = req;
        f->fd = -EBADF;
        f->in = malloc(FORWARD_MAX + 1);
        r = f->in ? request_format(f, s->def, q) : -ENOMEM;
        if (r >= 0)
                r = forward_connect(f, s->def->callback_port);
        if (r >= 0)
                r = sd_event_add_io(lm->m->event, &f->io, f->fd, EPOLLOUT, on_io, f);
        if (r >= 0)
                r = sd_event_add_time_relative(lm->m->event, &f->timer, CLOCK_MONOTONIC, FORWARD_TIMEOUT_USEC,
                                               0, on_timeout, f);
        if (r >= 0)
                r = http_request_suspend(req, on_abort, f);
        if (r < 0) {
                forward_free(f);
                return r;
        }
        return 0;
}
