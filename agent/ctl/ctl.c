/* Implementation of ctl.h.  Each request is one HTTP/1.1 exchange with
 * Connection: close (common/http-once.c) run on a private sd-event loop;
 * waiting is the agent's long poll (?wait=), never a sleep here, except
 * for the connection refused while the VM boots, retried with a growing
 * delay.  Credentials only ever go to the file named, mode 0600.  The push
 * receiver is ctl-receive.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl-out.h"
#include "ctl-receive.h"
#include "id-util.h"
#include "in-addr-util.h"
#include "errbuf.h"
#include "fileio.h"
#include "getopt-util.h"
#include "harden.h"
#include "host-api.h"
#include "http-answer.h"
#include "http-once.h"
#include "json-wipe.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "time-util.h"

#define ANSWER_MAX (4 * 1024 * 1024)
#define WAIT_STEP_S 10

typedef struct Ctl {
        SockaddrIn addr;
        socklen_t addr_len;
        char host[80];          /* the Host header: address:port */
        char *token;            /* secret */
        char *desktop_secret;   /* secret */
        const char *novnc;      /* noVNC base URL; NULL: the agent's host, port 6080 */
        unsigned timeout_s;
        /* While a temporary file beside --out is there (login_fetch()),
         * SIGINT, SIGTERM and SIGHUP are blocked and end the pull instead
         * (request()), so the file is removed before ctl goes; stopped_by
         * is the signal that did, raised again once it is (ctl_main()). */
        bool stop_on_signals;
        int stopped_by;
} Ctl;

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

static void stop_signals_set(sigset_t *ss) {
        sigemptyset(ss);
        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
                sigaddset(ss, stop_signals[i]);
}

static void ctl_done(Ctl *c) {
        c->token = erase_and_free(c->token);
        c->desktop_secret = erase_and_free(c->desktop_secret);
}

/* http://ADDRESS[:PORT] with an IP literal ([v6] bracketed) or localhost. */
static int parse_agent_url(Ctl *c, const char *url) {
        const char *rest = startswith(url, "http://"), *end;
        char addr[INET6_ADDRSTRLEN];
        uint64_t port = 8080;
        size_t n;

        if (!rest)
                return -EINVAL;
        if (*rest == '[') {
                end = strchr(rest, ']');
                if (!end)
                        return -EINVAL;
                n = (size_t)(end - rest - 1);
                rest++;
                end++;
        } else {
                n = strcspn(rest, ":/");
                end = rest + n;
        }
        if (n == 0 || n >= sizeof addr)
                return -EINVAL;
        memcpy(addr, rest, n);
        addr[n] = '\0';
        if (*end == ':') {
                if (parse_unsigned_span(end + 1, strcspn(end + 1, "/"), 65535, &port) < 0 || port == 0)
                        return -EINVAL;
        } else if (*end && *end != '/')
                return -EINVAL;
        if (streq(addr, "localhost"))
                snprintf(addr, sizeof addr, "127.0.0.1");
        if (sockaddr_in_parse(addr, (uint16_t)port, &c->addr, &c->addr_len) < 0)
                return -EINVAL;
        snprintf(c->host, sizeof c->host, c->addr.sa.sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr, (unsigned)port);
        return 0;
}

typedef struct Exchange {
        bool done;
        int r;
        int signo;      /* the signal that ended it (-EINTR) */
        unsigned status;
        char *body;
} Exchange;

static void on_answer(int r, const HttpAnswer *a, void *userdata) {
        Exchange *x = userdata;

        x->done = true;
        x->r = r; /* -EPIPE: the answer was cut off; -ESHUTDOWN: the request was not sent (http-once) */
        if (x->r >= 0) {
                x->status = a->status;
                x->body = strdup(a->body);
                if (!x->body)
                        x->r = -ENOMEM;
        }
}

static int on_stop_signal(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        Exchange *x = userdata;

        x->done = true;
        x->r = -EINTR;
        x->signo = (int)si->ssi_signo;
        return 0;
}

/* The request text in a buffer sized for it (it carries the token). */
static char *request_text(Ctl *c, const char *method, const char *path, const char *body, size_t *ret_len) {
        static const char fmt[] = "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%s%s%s"
                                  "Content-Length: %zu\r\nConnection: close\r\n\r\n%s";
        const char *ct = body ? "Content-Type: application/json\r\n" : "";
        size_t blen = body ? strlen(body) : 0;
        int n;
        char *req;

#define ARGS method, path, c->host, c->token ? "Authorization: Bearer " : "", c->token ?: "", \
             c->token ? "\r\n" : "", ct, "", blen, body ?: ""
        n = snprintf(NULL, 0, fmt, ARGS);
        if (n < 0 || !(req = malloc((size_t)n + 1)))
                return NULL;
        *ret_len = (size_t)snprintf(req, (size_t)n + 1, fmt, ARGS);
#undef ARGS
        return req;
}

/* One request; 0 with the status and the body (owned; may hold secrets). */
static int request(Ctl *c, const char *method, const char *path, const char *body, unsigned timeout_s,
                   unsigned *ret_status, char **ret_body) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Exchange x = {};
        size_t len = 0;
        char *req = request_text(c, method, path, body, &len);
        int r;

        if (!req)
                return -ENOMEM;
        r = sd_event_new(&e);
        if (r < 0) {
                erase_and_free(req);
                return r;
        }
        for (size_t i = 0; c->stop_on_signals && i < ELEMENTSOF(stop_signals) && r >= 0; i++)
                r = sd_event_add_signal(e, NULL, stop_signals[i], on_stop_signal, &x);
        if (r < 0) {
                erase_and_free(req);
                return r;
        }
        r = http_once_start(e, &c->addr.sa, c->addr_len, req, len, ANSWER_MAX, (usec_t)timeout_s * USEC_PER_SEC,
                            on_answer, &x, NULL);
        while (r >= 0 && !x.done)
                r = sd_event_run(e, UINT64_MAX);
        if (x.signo > 0)
                c->stopped_by = x.signo;
        if (r < 0 || x.r < 0) {
                erase_and_free(x.body);
                return r < 0 ? r : x.r;
        }
        *ret_status = x.status;
        *ret_body = x.body;
        return 0;
}

/* request()'s failure in words: strerror()'s, but for an agent that
 * closed the connection with no answer at all (one that stops, or a
 * program on its port that is no HTTP server), which is no "Bad message"
 * (an answer that is not HTTP). */
static const char *request_error(int r) {
        return r == -ENODATA ? "it closed the connection without an answer" : strerror(-r);
}

static json_t *json_of(const char *body) {
        return body ? json_loads(body, 0, NULL) : NULL;
}

static int cmd_health(Ctl *c) {
        _cleanup_(freep) char *body = NULL;
        unsigned status = 0;
        int r = request(c, "GET", "/health", NULL, c->timeout_s, &status, &body);

        if (r < 0)
                return log_error("Cannot reach the agent at %s: %s.", c->host, request_error(r)), 1;
        json_t *h = json_of(body);
        const char *st = json_string_value(json_object_get(h, "status"));
        bool ok = status == 200 && st && streq(st, "ok");

        json_decref(h);
        /* Parsed as sent, printed without its control bytes (a guest's
         * attempt at the operator's terminal; JSON needs none on a line). */
        string_one_line(body);
        printf("%s\n", body);
        return ok ? 0 : 1;
}

/* Before asking again after an answer that came back within a second:
 * the agent holds its long polls, but a guest may answer at once, and
 * the tool would spin.  Waits *delay (never past end), doubling it up to
 * 2 s; an answer that took its time resets it. */
static void pace(usec_t asked, usec_t end, usec_t *delay) {
        usec_t t = now(CLOCK_MONOTONIC);

        if (t - asked >= USEC_PER_SEC) {
                *delay = 50 * USEC_PER_MSEC;
                return;
        }
        (void)usleep((useconds_t)MIN(*delay, end > t ? end - t : 0));
        *delay = MIN(*delay * 2, 2 * USEC_PER_SEC);
}

/* Until /health/ready says 200: the agent answers the long poll the moment
 * the chain is ready; before it listens, connection refused is retried. */
static int cmd_wait_ready(Ctl *c) {
        usec_t end = now(CLOCK_MONOTONIC) + (usec_t)c->timeout_s * USEC_PER_SEC, delay = 50 * USEC_PER_MSEC;
        char path[64];

        for (;;) {
                _cleanup_(freep) char *body = NULL;
                usec_t t = now(CLOCK_MONOTONIC);
                unsigned status = 0, left = t >= end ? 0 : (unsigned)((end - t) / USEC_PER_SEC);
                unsigned wait = MIN(left, (unsigned)HOST_API_WAIT_MAX_S);
                int r;

                snprintf(path, sizeof path, "/health/ready?wait=%u", wait);
                r = request(c, "GET", path, NULL, wait + 10, &status, &body);
                if (r >= 0 && status == 200) {
                        printf("ready\n");
                        return 0;
                }
                if (r >= 0 && status != 503) { /* refused (401, 403…): waiting will not help */
                        log_error("The agent refused (HTTP %u): %s", status, body);
                        return 1;
                }
                if (now(CLOCK_MONOTONIC) >= end) {
                        log_error("Not ready after %u s: %s", c->timeout_s, r < 0 ? request_error(r) : body);
                        return 1;
                }
                pace(t, end, &delay); /* not listening yet, or a 503 at once */
        }
}

static int uuid4(char buf[static 37]) {
        uint8_t b[16];

        if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
                return -EIO;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return 0;
}

/* The noVNC URL the person opens: the token in the websocket path, the
 * VNC password (its first 8 characters count) in the fragment. */
static void print_novnc(Ctl *c) {
        char base[128];

        if (!c->desktop_secret) {
                printf("desktop: (no --desktop-secret-file: the noVNC URL needs the desktop secret)\n");
                return;
        }
        if (c->novnc)
                snprintf(base, sizeof base, "%s", c->novnc);
        else /* c->host without its ":port" */
                snprintf(base, sizeof base, "http://%.*s:6080", (int)(strrchr(c->host, ':') - c->host), c->host);
        printf("desktop: %s/vnc.html#autoconnect=1&resize=scale&path=websockify%%3Ftoken%%3D%s&password=%.8s\n",
               base, c->desktop_secret, c->desktop_secret);
}

/* Prints the authorize URL of j (an answer's JSON) when it has one,
 * without the guest's control bytes; true when it did. */
static bool url_print(json_t *j) {
        const char *given = json_string_value(json_object_get(j, "oauthUrl"));
        _cleanup_(freep) char *url = given ? strdup(given) : NULL;

        if (!url)
                return false;
        string_one_line(url);
        printf("authorize: %s\n", url);
        fflush(stdout);
        return true;
}

/* A CLI slower to print its URL than the start waited (url_wait_s): the
 * URL, printed once the agent has it; true when it was. */
static bool login_url_late(Ctl *c, const char *sid) {
        _cleanup_(freep) char *body = NULL;
        char path[192];
        unsigned status = 0;
        bool shown;

        snprintf(path, sizeof path, "/oauth-url?sessionId=%s", sid);
        if (request(c, "GET", path, NULL, 30, &status, &body) < 0 || status != 200)
                return false;
        json_t *j = json_of(body);
        shown = url_print(j);
        json_decref(j);
        return shown;
}

/* provider and sid are valid ids (cmd_login()): nothing in them to
 * escape in the path or the JSON.  *ret_url: whether the answer had the
 * authorize URL (printed). */
static int login_start(Ctl *c, const char *provider, const char *sid, bool *ret_url) {
        _cleanup_(freep) char *body = NULL;
        char path[128], req[192];
        unsigned status = 0;
        json_t *j;
        int r;

        snprintf(path, sizeof path, "/auth/%s", provider);
        snprintf(req, sizeof req, "{\"sessionId\":\"%s\"}", sid);
        r = request(c, "POST", path, req, 120, &status, &body);
        if (r < 0)
                return log_error("Cannot reach the agent at %s: %s.", c->host, request_error(r)), r;
        j = json_of(body);
        if (status != 200 || !json_is_true(json_object_get(j, "success"))) {
                log_error("Login did not start (HTTP %u): %s", status, body);
                json_decref(j);
                return -EPROTO;
        }
        printf("session: %s\n", sid);
        *ret_url = url_print(j);
        if (!*ret_url)
                printf("authorize: (none printed yet)\n");
        print_novnc(c);
        fflush(stdout);
        json_decref(j);
        return 0;
}

/* Waits for the sign-in with a progress line per long poll, and the
 * authorize URL when it comes after the start (url: it was printed); 0
 * when authenticated. */
static int login_wait(Ctl *c, const char *sid, bool url) {
        usec_t start = now(CLOCK_MONOTONIC), end = start + (usec_t)c->timeout_s * USEC_PER_SEC,
               delay = 50 * USEC_PER_MSEC;
        char path[256];

        snprintf(path, sizeof path, "/credentials/status?sessionId=%s&wait=%d", sid, WAIT_STEP_S);
        for (;;) {
                _cleanup_(freep) char *body = NULL;
                unsigned status = 0;
                json_t *j;
                usec_t asked = now(CLOCK_MONOTONIC);
                int r;

                url = url || login_url_late(c, sid);
                r = request(c, "GET", path, NULL, WAIT_STEP_S + 30, &status, &body);
                if (r < 0) {
                        log_error("Lost the agent at %s: %s.", c->host, request_error(r));
                        log_error("The login goes on in the agent: the same command with --session %s waits for "
                                  "it again.", sid);
                        return r;
                }
                j = json_of(body);
                if (status == 200 && json_is_true(json_object_get(j, "authenticated"))) {
                        json_decref(j);
                        return 0;
                }
                if (status != 200 || json_is_true(json_object_get(j, "failed"))) {
                        log_error("Login failed: %s", json_string_value(json_object_get(j, "error")) ?: body);
                        json_decref(j);
                        return -EPROTO;
                }
                json_decref(j);
                unsigned waited = (unsigned)((now(CLOCK_MONOTONIC) - start) / USEC_PER_SEC);
                if (waited >= c->timeout_s) {
                        log_error("No sign-in after %u s.", waited);
                        return -ETIMEDOUT;
                }
                fprintf(stderr, "waiting for the sign-in (%u s)\n", waited);
                pace(asked, end, &delay);
        }
}

/* Says what became of credentials that could not be written to --out,
 * never what they are. */
static int out_failed(const CtlOut *o, int r) {
        if (o->renamed)
                return log_error_errno(r, "Wrote the credentials to %s, but cannot sync its directory %s (a crash "
                                       "may lose them): %m", o->path, o->dir);
        log_error_errno(r, "Cannot write the credentials to %s: %m", o->path);
        if (o->kept)
                log_error("They are in %s/%s (mode 0600): move that file to %s.", o->dir, o->tmp, o->path);
        else
                log_error("They are lost: the agent wiped them once it had sent them.  Run the command again "
                          "for a new login.");
        return r;
}

/* From the temporary file's creation until cmd_login() removed it again
 * (or named it), the stop signals wait: a stop then would leave a named
 * one (ctl-out.h) behind, 4 MiB, and after the pull with the credentials
 * in it, under a name nobody knows.  During the pull they end it
 * (stop_on_signals), said, and the signal's exit after. */
static int stop_signals_hold(Ctl *c) {
        sigset_t ss;

        stop_signals_set(&ss);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(errno, "Cannot block signals: %m");
        c->stop_on_signals = true;
        return 0;
}

/* The room for the credentials is made before the pull, while the agent
 * still holds them (ctl-out.h): after it, only the write is left. */
static int login_fetch(Ctl *c, const char *sid, CtlOut *out) {
        _cleanup_(erase_and_freep) char *body = NULL, *text = NULL;
        char path[192];
        unsigned status = 0;
        int r;

        r = stop_signals_hold(c);
        if (r < 0)
                return r;
        r = ctl_out_reserve(out);
        if (r < 0) {
                log_error_errno(r, "Cannot make room for the credentials (%d MiB) beside %s: %m", CTL_OUT_ROOM >> 20,
                                out->path);
                log_error("The agent keeps them: make room, and the same command with --session %s gets them.", sid);
                return r;
        }
        snprintf(path, sizeof path, "/credentials/get?sessionId=%s", sid);
        r = request(c, "GET", path, NULL, 60, &status, &body);
        if (r < 0) {
                /* The agent wipes the credentials only once its answer left
                 * it whole (handed to its kernel); any other end of the
                 * request leaves them there, the session authenticated: a
                 * start for its id answers as the first did, and the
                 * credentials are fetched again. */
                if (c->stopped_by > 0)
                        log_error("Stopped by %s while the agent at %s sent the credentials.",
                                  strsignal(c->stopped_by), c->host);
                else if (r == -ESHUTDOWN) /* the credentials' request never reached it */
                        log_error("Lost the agent at %s before it sent the credentials: it closed the connection "
                                  "before the request was sent.", c->host);
                else
                        log_error("Lost the agent at %s while it sent the credentials: %s.", c->host,
                                  r == -EPIPE ? "its answer was cut off" : request_error(r));
                log_error("The agent keeps credentials it did not send whole: the same command with --session %s "
                          "gets them (if it had sent them whole, that starts a new login).", sid);
                return r;
        }
        json_t *j = json_of(body);
        if (status != 200 || !json_is_object(json_object_get(j, "credentials"))) {
                /* The agent's reason (an agent that pushes them refuses the
                 * pull); a 200's body may hold credentials: never shown. */
                const char *why = status != 200 ? json_string_value(json_object_get(j, "error")) : NULL;

                log_error("No credentials (HTTP %u)%s%s.", status, why ? ": " : "", strempty(why));
                json_wipe(j);
                json_decref(j);
                return -EPROTO;
        }
        text = json_dumps(json_object_get(j, "credentials"), JSON_COMPACT); /* as ctl receive writes them */
        json_wipe(j);
        json_decref(j);
        if (!text)
                return log_error_errno(-ENOMEM, "Out of memory.");
        r = ctl_out_commit(out, text, strlen(text));
        if (r < 0)
                return out_failed(out, r);
        printf("credentials: %s\n", out->path);
        return 0;
}

static int cmd_login(Ctl *c, const char *provider, const char *sid_arg, const char *out_arg) {
        char sid[SESSION_ID_MAX + 1];
        _cleanup_(ctl_out_done) CtlOut out = CTL_OUT_NULL;
        bool url = false;
        int r;

        /* Both go into the request line and the JSON body as they are: a
         * name from elsewhere (a form's) could add keys or headers. */
        if (!provider_id_is_valid(provider))
                return log_error("'%s' is no provider id (1-64 of a-z 0-9 _ -).", provider), 2;
        if (sid_arg && !session_id_is_valid(sid_arg))
                return log_error("--session: " SESSION_ID_ERROR "."), 2;
        if (sid_arg)
                snprintf(sid, sizeof sid, "%s", sid_arg);
        else if (uuid4(sid) < 0)
                return log_error("Cannot make a session id."), 1;
        /* Before any login: an --out that cannot take them is said now,
         * not once the person signed in. */
        r = ctl_out_open(&out, out_arg ?: "credentials.json");
        if (r < 0)
                return log_error_errno(r, "Cannot write the credentials to %s: %m", out.path), 1;
        if (out.named)
                log_notice("Cannot make an unnamed file (O_TMPFILE) in %s and name it later: the credentials are "
                           "pulled into a temporary file beside %s, which a ctl killed (SIGKILL) during the pull "
                           "leaves behind.", out.dir, out.path);
        r = login_start(c, provider, sid, &url);
        if (r >= 0)
                r = login_wait(c, sid, url);
        if (r >= 0)
                r = login_fetch(c, sid, &out);
        return r < 0 ? 1 : 0;
}

static int parse_number(const char *s, unsigned max, unsigned *ret) {
        uint64_t v;
        int r = parse_unsigned(s, max, &v);

        if (r >= 0)
                *ret = (unsigned)v;
        return r;
}

/* A number of seconds 1…max for option, or -EINVAL (said). */
static int parse_seconds(const char *option, const char *s, unsigned max, unsigned *ret) {
        if (parse_number(s, max, ret) < 0 || *ret == 0)
                return log_error("%s wants 1…%u seconds, not '%s'.", option, max, s), -EINVAL;
        return 0;
}

/* option's FILE, named by the option and not by path: one who mixes the
 * two up (--token-file "$TOKEN") gives the secret as the path, and a
 * message would show it (as for an option cut short, spelt_out()). */
static int read_secret(const char *option, const char *path, char **ret) {
        _cleanup_(erase_and_freep) char *buf = NULL;
        int r = read_full_file(path, 4096, &buf, NULL);

        if (r < 0)
                return log_error_errno(r, "Cannot read the file of %s: %m", option);
        buf[strcspn(buf, "\r\n")] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

static void help(void) {
        printf("Usage: vm-browser-agent ctl [OPTIONS] COMMAND [ARGS]\n\n"
               "The host's side: talk to an agent, receive pushed credentials.\n\n"
               "  health                     print /health; exit 0 when its status is ok\n"
               "  wait-ready                 wait until the display chain is ready\n"
               "  login PROVIDER             start a login, print its URLs, wait for the sign-in,\n"
               "                             write the credentials (--out, mode 0600)\n"
               "  receive --uds PATH_PORT    be the host end of the push handoff (Firecracker's\n"
               "                             <uds_path>_<port>): write each delivery 0600, ACK it;\n"
               "                             needs --token-file: a line without the VM's control\n"
               "                             token is refused (NAK), not written\n\n"
               "  --agent URL                the agent (http://ADDRESS[:PORT], default http://127.0.0.1:8080)\n"
               "  --token-file FILE          the control token\n"
               "  --desktop-secret-file FILE the desktop secret (for the noVNC URL)\n"
               "  --novnc URL                noVNC's base URL (default: the agent's address, port 6080)\n"
               "  --timeout SECONDS          how long to wait (default 300)\n"
               "  --session ID  --out FILE   login: the session id (default: a new UUID), the file\n"
               "  --out-dir DIR  --count N   receive: where to write, how many deliveries (0 = forever)\n"
               "  --idle-timeout SECONDS     receive: close a connection that delivers nothing for so long\n"
               "                             (from its start, then from its last delivery; default %d)\n",
               RECEIVE_IDLE_S_DEFAULT);
}

/* What the command line asked for (c: --novnc and --timeout). */
typedef struct CtlArgs {
        const char *agent, *session, *out, *uds, *dir, *token_file, *desktop_file;
        unsigned count, idle_s;
} CtlArgs;

/* Whether the option getopt_long() just took was given as name in full.
 * It takes any unambiguous prefix: "--token=SECRET" is --token-file, and
 * the token itself would be taken for a file's name. */
static bool spelt_out(char *const *argv, const char *name) {
        const char *typed = optarg == argv[optind - 1] ? argv[optind - 2] : argv[optind - 1];

        return strcspn(typed, "=") == strlen(name) && strncmp(typed, name, strlen(name)) == 0;
}

static int secret_option_cut_short(const char *name) {
        return log_error("Give %s FILE in full: an option cut short may hold the secret itself.", name), -EINVAL;
}

/* 0 to go on, 1 when --help was printed, -EINVAL for a bad option (logged). */
static int parse_options(int argc, char **argv, Ctl *c, CtlArgs *a) {
        enum { ARG_AGENT = 0x100, ARG_TOKEN, ARG_DESKTOP, ARG_NOVNC, ARG_TIMEOUT, ARG_SESSION, ARG_OUT,
               ARG_UDS, ARG_OUT_DIR, ARG_COUNT, ARG_IDLE };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "agent", required_argument, NULL, ARG_AGENT },
                { "token-file", required_argument, NULL, ARG_TOKEN },
                { "desktop-secret-file", required_argument, NULL, ARG_DESKTOP },
                { "novnc", required_argument, NULL, ARG_NOVNC },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "session", required_argument, NULL, ARG_SESSION },
                { "out", required_argument, NULL, ARG_OUT },
                { "uds", required_argument, NULL, ARG_UDS },
                { "out-dir", required_argument, NULL, ARG_OUT_DIR },
                { "count", required_argument, NULL, ARG_COUNT },
                { "idle-timeout", required_argument, NULL, ARG_IDLE },
                {}
        };
        int o;

        char name[64];

        optind = 0;
        opterr = 0; /* glibc's message would show a --token=... whole */
        while ((o = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (o) {
                case 'h': help(); return 1;
                case ARG_AGENT: a->agent = optarg; break;
                case ARG_TOKEN:
                        if (!spelt_out(argv, "--token-file"))
                                return secret_option_cut_short("--token-file");
                        a->token_file = optarg;
                        break;
                case ARG_DESKTOP:
                        if (!spelt_out(argv, "--desktop-secret-file"))
                                return secret_option_cut_short("--desktop-secret-file");
                        a->desktop_file = optarg;
                        break;
                case ARG_NOVNC: c->novnc = optarg; break;
                case ARG_TIMEOUT:
                        if (parse_seconds("--timeout", optarg, 86400, &c->timeout_s) < 0)
                                return -EINVAL;
                        break;
                case ARG_SESSION: a->session = optarg; break;
                case ARG_OUT: a->out = optarg; break;
                case ARG_UDS: a->uds = optarg; break;
                case ARG_OUT_DIR: a->dir = optarg; break;
                case ARG_COUNT:
                        if (parse_number(optarg, 1000000, &a->count) < 0)
                                return log_error("--count wants a number (0: forever), not '%s'.", optarg), -EINVAL;
                        break;
                case ARG_IDLE:
                        if (parse_seconds("--idle-timeout", optarg, RECEIVE_IDLE_S_MAX, &a->idle_s) < 0)
                                return -EINVAL;
                        break;
                default:
                        return log_error("Unknown option '%s', or its argument missing; see ctl --help.",
                                         getopt_refused(argv, name, sizeof name)), -EINVAL;
                }
        return 0;
}

static int cmd_receive(Ctl *c, const CtlArgs *a) {
        if (!a->uds)
                return log_error("receive needs --uds PATH_PORT."), 2;
        /* Any user in the guest can connect: the token tells the agent's
         * lines from theirs. */
        if (!a->token_file)
                return log_error("receive needs --token-file FILE, the VM's control token."), 2;
        if (read_secret("--token-file", a->token_file, &c->token) < 0)
                return 1;
        if (isempty(c->token))
                return log_error("The file of --token-file holds no token."), 1;
        return ctl_receive(a->uds, a->dir, a->count, c->token, a->idle_s);
}

/* The command at argv[optind] and its arguments: 0 when they fit, else
 * said, and the usage exit code.  An argument too many is no typo to
 * pass over: "login codex gemini_cli" would sign in to codex alone. */
static int command_check(int argc, char **argv) {
        const char *cmd = argv[optind];
        int n = argc - optind - 1;
        bool login = streq(cmd, "login");

        if (!login && !streq(cmd, "health") && !streq(cmd, "wait-ready") && !streq(cmd, "receive"))
                return log_error("Unknown command '%s'; see ctl --help.", cmd), 2;
        if (login && n == 0)
                return log_error("login needs PROVIDER (claude_code, codex, gemini_cli, ...)."), 2;
        if (login && n > 1)
                return log_error("login takes one PROVIDER, not '%s' too.", argv[optind + 2]), 2;
        if (!login && n > 0)
                return log_error("%s takes no argument, not '%s'.", cmd, argv[optind + 1]), 2;
        return 0;
}

/* The exit code of a command that wrote its lines: a reader of stdout
 * that went away (`| head -1`) is an error said, not SIGPIPE (ignored,
 * ctl_main()) killing ctl after it wrote the credentials or while it
 * receives them.  What it wrote stays. */
static int stdout_check(int code) {
        int r = fflush(stdout) == 0 ? 0 : -errno;

        if ((r == 0 && !ferror(stdout)) || code != 0) /* failed, and said why (a receiver that lost stdout too) */
                return code;
        log_error_errno(r ?: -EIO, "Cannot write to standard output: %m");
        return 1;
}

/* After cmd_login(), its temporary file gone: the signals blocked for it
 * (login_fetch()) are let in, and the one that stopped the pull is
 * raised again, so ctl ends as that signal says (128 + its number). */
static int login_unblock(Ctl *c, int code) {
        sigset_t ss;

        if (!c->stop_on_signals)
                return code;
        ctl_done(c);
        stop_signals_set(&ss);
        if (c->stopped_by > 0) {
                (void)signal(c->stopped_by, SIG_DFL);
                (void)raise(c->stopped_by); /* pending until the unblock */
        }
        (void)sigprocmask(SIG_UNBLOCK, &ss, NULL); /* one that came during the write ends ctl here */
        return code;
}

int ctl_main(int argc, char **argv) {
        _cleanup_(ctl_done) Ctl c = { .timeout_s = 300 };
        CtlArgs a = { .agent = "http://127.0.0.1:8080", .dir = ".", .count = 1, .idle_s = RECEIVE_IDLE_S_DEFAULT };
        int r;

        log_set_target(LOG_TARGET_TERMINAL);
        log_set_ident("vm-browser-agent ctl");
        (void)signal(SIGPIPE, SIG_IGN); /* see stdout_check() */
        /* It holds the VM's token and the credentials it pulls or receives:
         * no core dump, no reader of its memory, and jansson's buffers
         * (the parsed answers, the lines received) wiped when freed. */
        r = process_harden();
        if (r < 0)
                log_warning_errno(r, "Failed to make ctl non-dumpable and without core dumps: %m");
        json_wipe_on_free();
        r = parse_options(argc, argv, &c, &a);
        if (r != 0) /* --help (1), or a usage error, logged */
                return r < 0 ? 2 : 0;
        if (optind >= argc)
                return help(), 2;
        if (command_check(argc, argv) != 0)
                return 2;
        if (streq(argv[optind], "receive"))
                return stdout_check(cmd_receive(&c, &a));
        if (parse_agent_url(&c, a.agent) < 0)
                return log_error("--agent wants http://ADDRESS[:PORT] with an IP address or localhost."), 2;
        if ((a.token_file && read_secret("--token-file", a.token_file, &c.token) < 0) ||
            (a.desktop_file && read_secret("--desktop-secret-file", a.desktop_file, &c.desktop_secret) < 0))
                return 1;
        if (streq(argv[optind], "health"))
                return stdout_check(cmd_health(&c));
        if (streq(argv[optind], "wait-ready"))
                return stdout_check(cmd_wait_ready(&c));
        r = stdout_check(cmd_login(&c, argv[optind + 1], a.session, a.out));
        return login_unblock(&c, r);
}
