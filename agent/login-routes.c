/* See login-routes.h. */
#include <stdio.h>

#include "agent/http/http-wait.h"
#include "agent/login/login-json.h"
#include "id-util.h"
#include "log.h"
#include "login-routes.h"
#include "macro.h"

typedef struct Pending {
        LoginRoutes *routes;
        char id[SESSION_ID_MAX + 1]; /* "" = free slot */
        HttpRequest *req;
        sd_event_source *timer;
} Pending;

/* A repeated start joins the first one's wait: room for two per session,
 * so every live session always finds its own. */
#define PENDING_PER_SESSION 2
#define PENDING_MAX (PENDING_PER_SESSION * LOGIN_SESSIONS_MAX)

/* Why a start failed (login_session_start_cli()): room for a HOME's path
 * below a long login_home, the step and the errno's text. */
#define LOGIN_START_WHY_MAX 768

typedef struct GetCompletion GetCompletion;

struct LoginRoutes {
        LoginRoutesOptions o;
        Pending pending[PENDING_MAX];
        HttpWaitList *status_waiters;  /* GET /credentials/status?wait= */
        GetCompletion *pulls;          /* GET /credentials/get responses being sent */
};

/* sessionId from the query: NULL and a 400 sent when it is not valid. */
static LoginSession *query_session(LoginManager *lm, HttpRequest *req, int *ret) {
        const char *id;
        int r = http_request_query(req, "sessionId", &id);
        LoginSession *s;

        if (r < 0 || !session_id_is_valid(id)) {
                *ret = http_reply_error(req, 400, r == 0 ? "sessionId is required" :
                                                  r == -ENOTUNIQ ? "sessionId given more than once" : SESSION_ID_ERROR);
                return NULL;
        }
        s = login_session_find(lm, id);
        if (!s)
                *ret = http_reply_error(req, 404, "Session not found");
        return s;
}

LoginSession *login_routes_session_create(LoginManager *lm, HttpRequest *req, const char *id,
                                          const char *provider, int *ret) {
        LoginSession *s;
        int r = login_session_new(lm, id, provider, &s);

        if (r == -EEXIST)
                *ret = http_reply_error(req, 409, "Session already in progress");
        else if (r < 0)
                *ret = http_reply_error(req, http_status_from_errno(r), "Cannot create session");
        return r < 0 ? NULL : s;
}

static Pending *pending_find(LoginRoutes *lr, const char *id) {
        for (size_t i = 0; i < ELEMENTSOF(lr->pending); i++)
                if (lr->pending[i].req && streq(lr->pending[i].id, id))
                        return &lr->pending[i];
        return NULL;
}

/* The request, and the slot emptied. */
static HttpRequest *pending_take(Pending *p) {
        HttpRequest *req = TAKE_PTR(p->req);

        p->timer = sd_event_source_disable_unref(p->timer);
        p->id[0] = '\0';
        return req;
}

/* Answers the start request p waiting on s: with the URL, with the CLI's
 * output so far (timed out), or as ended. */
static void answer_pending(LoginRoutes *lr, Pending *p, LoginSession *s, bool timed_out) {
        _cleanup_(erase_and_freep) char *out = NULL; /* redacted, still wiped like the transcript */
        char note[LOGIN_MEMORY_NOTE_MAX] = "";
        HttpRequest *req;
        json_t *j;

        log_debug("Login %s: answering the start request (%s).", s->id, timed_out ? "no URL yet" : "URL");
        req = pending_take(p);
        if (s->oauth_url)
                j = login_json_started_url(s->id, s->oauth_url);
        else {
                out = s->runner ? cli_runner_output(s->runner) : NULL;
                /* A CLI crawling at its memory.max prints no URL in time. */
                if (timed_out && *login_session_memory_note(s, note, sizeof note))
                        log_notice("Login %s: no OAuth URL within %u s; %s", s->id, lr->o.url_wait_s, note);
                j = timed_out ? login_json_started_output(s->id, out ?: "", lr->o.url_wait_s, note)
                              : login_json_started_ended(s->id, out ?: "");
        }
        if (j) {
                int r = http_reply_json(req, 200, j, 0);
                if (r < 0)
                        log_debug_errno(r, "Login %s: start reply failed: %m", s->id);
        } else
                (void)http_reply_error(req, 500, "out of memory");
}

static void on_login_change(LoginSession *s, LoginChange change, void *userdata) {
        LoginRoutes *lr = userdata;
        Pending *p;

        http_wait_kick(lr->status_waiters);
        if (change == LOGIN_CHANGE_REMOVED) {
                /* Not left waiting on a session that is gone. */
                while ((p = pending_find(lr, s->id)))
                        (void)http_reply_error(pending_take(p), 503, "Login ended");
        } else if (s->state == SESSION_URL_READY || session_state_is_final(s->state))
                while ((p = pending_find(lr, s->id)))
                        answer_pending(lr, p, s, false);
}

static int on_url_wait(sd_event_source *es, uint64_t usec, void *userdata) {
        Pending *p = userdata;
        LoginSession *s = login_session_find(p->routes->o.logins, p->id);

        if (s)
                answer_pending(p->routes, p, s, true);
        return 0;
}

static void on_pending_abort(void *userdata) {
        (void)pending_take(userdata);
}

/* The session fails with msg (which stops its CLI), and the request is
 * answered status with it: no live session may outlive a start request
 * that was refused. */
static int start_failed(HttpRequest *req, LoginSession *s, unsigned status, const char *msg) {
        login_session_fail(s, SESSION_EVENT_ERROR, msg);
        return http_reply_error(req, status, msg);
}

static int start_error(HttpRequest *req, LoginSession *s, int r, const char *what) {
        char msg[160];

        snprintf(msg, sizeof msg, "Failed to %s: %s", what, strerror(-r));
        log_error_errno(r, "Login %s (%s): failed to %s: %m", s->id, s->provider, what);
        return start_failed(req, s, 500, msg);
}

/* The CLI's exec (or a step of its spawn before it) failed, as why says
 * (its user's task limit, its interpreter missing): 503 with that, at
 * once, rather than a login that fails later with no more than an exit
 * code.  Its HOME could not be made (its tmpfs's mount refused, no room
 * in login_home): 500, with which HOME and why, as any other failure of
 * the agent's own. */
static int start_not_spawned(HttpRequest *req, LoginSession *s, const char *why) {
        unsigned status = s->home ? 503 : 500;
        char msg[LOGIN_START_WHY_MAX + 32];

        snprintf(msg, sizeof msg, "Failed to start the CLI: %s", why);
        log_error("Login %s (%s): %s", s->id, s->provider, msg);
        return start_failed(req, s, status, msg);
}

/* Every CLI user is a live login's: 503, the host may try again once a
 * login is over. */
static int start_no_user(HttpRequest *req, LoginSession *s) {
        char msg[160];

        login_manager_users_busy(s->lm, msg, sizeof msg);
        log_warning("Login %s (%s): not started: %s.", s->id, s->provider, msg);
        return start_failed(req, s, 503, msg);
}

/* Suspends req until s has its URL, ends, or url_wait_s passes.  At most
 * PENDING_PER_SESSION per session (a host retrying faster than
 * url_wait_s, or leaving its requests behind, would otherwise take the
 * slots every other session's start needs): -EUSERS. */
static int start_wait(LoginRoutes *lr, HttpRequest *req, LoginSession *s) {
        Pending *p = NULL;
        unsigned same = 0;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(lr->pending); i++)
                if (!lr->pending[i].req)
                        p = p ?: &lr->pending[i];
                else if (streq(lr->pending[i].id, s->id))
                        same++;
        if (!p || same >= PENDING_PER_SESSION)
                return -EUSERS;
        *p = (Pending){ .routes = lr };
        memcpy(p->id, s->id, sizeof p->id);
        r = sd_event_add_time_relative(lr->o.event, &p->timer, CLOCK_MONOTONIC,
                                       (usec_t)lr->o.url_wait_s * USEC_PER_SEC, 0, on_url_wait, p);
        if (r >= 0)
                r = http_request_suspend(req, on_pending_abort, p);
        if (r < 0) {
                p->timer = sd_event_source_disable_unref(p->timer);
                p->id[0] = '\0';
                return r;
        }
        p->req = req;
        return 0;
}

/* A start for a live session's id answers as its first start did (the
 * host retries after a timeout): the same URL, or the same wait.  Only a
 * different provider is a conflict. */
static int start_again(LoginRoutes *lr, HttpRequest *req, LoginSession *s, const ProviderDef *def) {
        int r;

        if (!s->def || s->def != def)
                return http_reply_error(req, 409, "Session already in progress");
        if (s->oauth_url)
                return http_reply_json(req, 200, login_json_started_url(s->id, s->oauth_url), 0);
        r = start_wait(lr, req, s);
        return r == -EUSERS ? http_reply_error(req, 429, "Too many waiting requests") : r;
}

static int auth_start(HttpRequest *req, void *userdata) {
        LoginRoutes *lr = userdata;
        LoginManager *lm = lr->o.logins;
        const char *provider = http_request_path(req) + strlen("/auth/"), *err = "", *body;
        char why[LOGIN_START_WHY_MAX];
        _cleanup_(login_start_request_done) LoginStartRequest q = {};
        const ProviderSet *providers = login_manager_providers(lm);
        LoginSession *s;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        if (login_start_request_parse(body, size, &q, &err) < 0)
                return http_reply_error(req, 400, err);
        if (!providers)
                return http_reply_error(req, 503, "Provider definitions not loaded");
        if (!provider_set_find(providers, provider))
                return http_reply_error(req, 400, "Unknown provider");
        if (login_manager_cli_unavailable(lm)) {
                char msg[576];

                snprintf(msg, sizeof msg, "Provider CLIs cannot run: %s", login_manager_cli_unavailable(lm));
                return http_reply_error(req, 503, msg);
        }
        s = login_session_find(lm, q.session_id);
        if (s && session_state_is_live(s->state))
                return start_again(lr, req, s, provider_set_find(providers, provider));
        s = login_routes_session_create(lm, req, q.session_id, provider, &r);
        if (!s)
                return r;
        r = login_session_start_cli(s, q.http_proxy, q.https_proxy, q.no_proxy, why, sizeof why);
        if (r == -EUSERS)
                return start_no_user(req, s);
        if (r < 0 && why[0])
                return start_not_spawned(req, s, why);
        if (r < 0)
                return start_error(req, s, r, "start the CLI");
        if (s->oauth_url)
                return http_reply_json(req, 200, login_json_started_url(s->id, s->oauth_url), 0);
        r = start_wait(lr, req, s);
        if (r < 0)
                return start_error(req, s, r, "wait for the OAuth URL");
        return 0;
}

static int oauth_url(HttpRequest *req, void *userdata) {
        LoginRoutes *lr = userdata;
        int r = 0;
        LoginSession *s = query_session(lr->o.logins, req, &r);

        if (!s)
                return r;
        if (s->oauth_url && session_state_is_live(s->state))
                return http_reply_json(req, 200, login_json_url_ready(s->oauth_url), 0);
        if (!session_state_is_live(s->state))
                return http_reply_error(req, 410, s->error ?: "Session ended");
        return http_reply_json(req, 202, login_json_url_waiting(login_session_elapsed_ms(s)), 0);
}

/* The status of s, as GET /credentials/status answers it. */
static int status_reply(HttpRequest *req, LoginSession *s) {
        if (s->state == SESSION_AUTHENTICATED)
                return http_reply_json(req, 200,
                                       login_json_status_authenticated(s->cred_path, s->modified, s->provider), 0);
        if (session_state_is_final(s->state))
                return http_reply_json(req, 200, login_json_status_failed(s->error), 0);
        return http_reply_json(req, 200, login_json_status_waiting(login_session_elapsed_ms(s)), 0);
}

typedef struct StatusWait {
        LoginRoutes *routes;
        char id[SESSION_ID_MAX + 1];
} StatusWait;

/* A waiting status request: answered once the session is authenticated or
 * over (or gone), or when the wait ends. */
static int status_check(HttpRequest *req, bool timed_out, void *userdata) {
        StatusWait *w = userdata;
        LoginSession *s = login_session_find(w->routes->o.logins, w->id);

        if (!s) {
                (void)http_reply_error(req, 404, "Session not found");
                return 1;
        }
        if (!timed_out && session_state_is_signing_in(s->state))
                return 0;
        (void)status_reply(req, s);
        return 1;
}

/* GET /credentials/status?sessionId=[&wait=SECONDS]: with a wait, the
 * answer comes when the login completes or ends, without polling. */
static int credentials_status(HttpRequest *req, void *userdata) {
        LoginRoutes *lr = userdata;
        unsigned wait = 0;
        int r = 0;
        LoginSession *s = query_session(lr->o.logins, req, &r);
        StatusWait *w;

        if (!s)
                return r;
        r = http_wait_seconds(req, &wait);
        if (r < 0)
                return http_reply_error(req, 400, http_wait_error(r));
        if (wait == 0 || s->state == SESSION_AUTHENTICATED || !session_state_is_live(s->state))
                return status_reply(req, s);
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->routes = lr;
        memcpy(w->id, s->id, sizeof w->id);
        return http_wait_add(lr->status_waiters, req, (usec_t)wait * USEC_PER_SEC, status_check, w, free);
}

/* The session may be gone when the response ends, and its id taken by
 * a new one: the pull names the session object (LoginPull).  The logins
 * themselves may be gone too: at shutdown the HTTP server, stopped last,
 * ends the responses still on their way. */
struct GetCompletion {
        LoginRoutes *lr;
        LoginPull pull;
        HttpRequest *req;    /* valid until on_get_complete() */
        GetCompletion *next; /* in lr->pulls */
};

static void pulls_unlink(LoginRoutes *lr, GetCompletion *g) {
        for (GetCompletion **p = &lr->pulls; *p; p = &(*p)->next)
                if (*p == g) {
                        *p = g->next;
                        return;
                }
}

/* Runs when the response is over: only a completely sent one delivers. */
static void on_get_complete(bool completely_sent, void *userdata) {
        GetCompletion *g = userdata;
        int r;

        pulls_unlink(g->lr, g);
        if (!g->lr->o.logins) {
                log_info("Login %s: credentials response ended at shutdown.", g->pull.id);
                free(g);
                return;
        }
        r = login_manager_pull_done(g->lr->o.logins, &g->pull, completely_sent);
        if (r > 0)
                log_info("Login %s: credentials delivered to the host.", g->pull.id);
        else if (r == 0)
                log_warning("Login %s: credentials response cut off; kept for a retry.", g->pull.id);
        free(g);
}

static int credentials_get(HttpRequest *req, void *userdata) {
        LoginRoutes *lr = userdata;
        LoginManager *lm = lr->o.logins;
        int r = 0;
        LoginSession *s = query_session(lm, req, &r);
        GetCompletion *g;

        if (!s)
                return r;
        if (s->state != SESSION_AUTHENTICATED || !s->credentials)
                return http_reply_error(req, 400, "Authentication not completed yet");
        /* Once: a second caller while the first response is on its way
         * would get them too.  A response cut off makes them available
         * again (on_get_complete()). */
        if (s->delivering)
                return http_reply_error(req, 409, "Credentials are being delivered");
        /* The push resends until the host's ACK: a pull meanwhile would be
         * a second delivery the host cannot tell from the first. */
        if (s->pushed)
                return http_reply_error(req, 409, "Credentials are pushed to the host over vsock");
        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        g->lr = lr;
        r = http_reply_json(req, 200, login_json_credentials(s->provider, s->credentials, s->cred_path ?: ""),
                            HTTP_REPLY_SECRET);
        if (r < 0) {
                /* Not hooked before: the error reply the server then sends
                 * is "completely sent" too, and would count as delivered. */
                free(g);
                return r;
        }
        login_session_pull_start(s, &g->pull);
        http_request_on_complete(req, on_get_complete, g);
        g->req = req;
        g->next = lr->pulls;
        lr->pulls = g;
        return 0;
}

/* A POST /open-url waiting for the browser's answer. */
typedef struct OpenWait {
        HttpRequest *req;
        BrowserOpen *op;
} OpenWait;

/* 200 only once the browser took the URL: its instance answered OpenURL,
 * or its service was started with the URL as its argument.  A browser
 * that did not start in time says what it waits for (Xvfb down). */
static void on_open_url_done(int r, const char *method, const char *error, void *userdata) {
        OpenWait *w = userdata;
        HttpRequest *req = w->req;

        free(w);
        if (r >= 0)
                (void)http_reply_json(req, 200, login_json_open_url(method), 0);
        else if (error) {
                log_warning("The browser did not take a URL: %s", error);
                (void)http_reply_error(req, 503, error);
        } else if (r == -EAGAIN || r == -ENOENT || r == -ESRCH || r == -EPERM || r == -ECANCELED ||
                 r == -ESHUTDOWN)
                (void)http_reply_error(req, 503, "Browser not available");
        else {
                log_warning_errno(r, "The browser did not take a URL: %m");
                (void)http_reply_error(req, 503, "Browser did not accept the URL");
        }
}

static void on_open_url_abort(void *userdata) {
        OpenWait *w = userdata;

        browser_open_cancel(w->op);
        free(w);
}

static int open_url(HttpRequest *req, void *userdata) {
        LoginManager *lm = ((LoginRoutes *)userdata)->o.logins;
        _cleanup_(open_url_request_done) OpenUrlRequest q = {};
        _cleanup_(freep) OpenWait *w = NULL;
        const char *err = "", *body;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        if (open_url_request_parse(body, size, &q, &err) < 0)
                return http_reply_error(req, 400, err);
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->req = req;
        r = login_manager_open_url(lm, q.url, on_open_url_done, w, &w->op);
        if (r == -EAGAIN || r == -ENOENT)
                return http_reply_error(req, 503, "Browser not available");
        if (r < 0)
                return http_reply_error(req, http_status_from_errno(r), "Failed to open the URL");
        /* The answer comes from the loop, never before this returns. */
        r = http_request_suspend(req, on_open_url_abort, w);
        if (r < 0) {
                browser_open_cancel(w->op);
                return r;
        }
        TAKE_PTR(w);
        return 0;
}

static const HttpRoute login_routes[] = {
        { "POST", "/auth/", HTTP_ROUTE_CONTROL | HTTP_ROUTE_PREFIX, auth_start },
        { "GET", "/oauth-url", HTTP_ROUTE_CONTROL, oauth_url },
        { "GET", "/credentials/status", HTTP_ROUTE_CONTROL, credentials_status },
        { "GET", "/credentials/get", HTTP_ROUTE_CONTROL | HTTP_ROUTE_NO_HEAD, credentials_get },
        { "POST", "/open-url", HTTP_ROUTE_CONTROL, open_url },
};

int login_routes_new(const LoginRoutesOptions *o, LoginRoutes **ret) {
        _cleanup_(login_routes_freep) LoginRoutes *lr = calloc(1, sizeof *lr);
        int r;

        if (!lr)
                return -ENOMEM;
        lr->o = *o;
        r = http_wait_list_new(o->event, &lr->status_waiters);
        if (r >= 0)
                r = login_manager_subscribe(o->logins, on_login_change, lr);
        if (r >= 0)
                r = http_server_add_routes(o->http, login_routes, ELEMENTSOF(login_routes), lr);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(lr);
        return 0;
}

void login_routes_restore_begun(LoginRoutes *lr) {
        for (GetCompletion *g = lr ? lr->pulls : NULL; g; g = g->next) {
                log_info("Login %s: credentials response cut off: the VM is being restored.", g->pull.id);
                http_request_cut_off(g->req);
        }
}

void login_routes_logins_gone(LoginRoutes *lr) {
        if (lr)
                lr->o.logins = NULL;
}

LoginRoutes *login_routes_free(LoginRoutes *lr) {
        if (!lr)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(lr->pending); i++)
                if (lr->pending[i].req)
                        (void)http_reply_error(pending_take(&lr->pending[i]), 503, "shutting down");
        http_wait_list_free(lr->status_waiters);
        free(lr);
        return NULL;
}
