/* The host API routes for logins (issue 4), on the HTTP server's
 * contract: control routes need the token and allow_from (enforced by
 * http.c before these handlers run), the OAuth redirect targets accept
 * loopback only (the browser is in the VM).  Shapes come from
 * login-json.c; this file decides status codes and drives sessions. */
#include <stdio.h>

#include "browser.h"
#include "http.h"
#include "log.h"
#include "login-json.h"
#include "login.h"
#include "macro.h"
#include "manager.h"

static const char signed_in_page[] =
        "<!doctype html><meta charset=utf-8><title>Signed in</title>"
        "<p>Signed in &mdash; you can close this window.</p>\n";
static const char failed_page[] =
        "<!doctype html><meta charset=utf-8><title>Sign-in failed</title>"
        "<p>Sign-in failed. Return to the application and try again.</p>\n";

/* sessionId from the query: NULL and a 400 sent when it is not a UUID. */
static LoginSession *query_session(LoginManager *lm, HttpRequest *req, int *ret) {
        const char *id = http_request_query(req, "sessionId");
        LoginSession *s;

        if (!session_id_is_valid(id)) {
                *ret = http_reply_error(req, 400, id ? "sessionId must be a UUID" : "sessionId is required");
                return NULL;
        }
        s = login_session_find(lm, id);
        if (!s)
                *ret = http_reply_error(req, 404, "Session not found");
        return s;
}

/* A new session: NULL and a 409 (live id) or error reply sent otherwise. */
static LoginSession *session_create(LoginManager *lm, HttpRequest *req, const char *id, const char *provider,
                                    int *ret) {
        LoginSession *s;
        int r = login_session_new(lm, id, provider, &s);

        if (r == -EEXIST)
                *ret = http_reply_error(req, 409, "Session already in progress");
        else if (r < 0)
                *ret = http_reply_error(req, http_status_from_errno(r), "Cannot create session");
        return r < 0 ? NULL : s;
}

void login_api_answer_pending(LoginSession *s, bool timed_out) {
        HttpRequest *req = s->pending;
        _cleanup_(erase_and_freep) char *out = NULL; /* redacted, still wiped like the transcript */
        json_t *j;

        if (!req)
                return;
        log_debug("Login %s: answering the start request (%s).", s->id, timed_out ? "no URL yet" : "URL");
        s->pending = NULL;
        s->pending_timer = sd_event_source_disable_unref(s->pending_timer);
        if (s->oauth_url)
                j = login_json_started_url(s->id, s->oauth_url);
        else {
                out = s->runner ? cli_runner_output(s->runner) : NULL;
                j = timed_out ? login_json_started_output(s->id, out ?: "", s->lm->m->config.url_wait_s)
                              : login_json_started_ended(s->id, out ?: "");
        }
        if (j) {
                int r = http_reply_json(req, 200, j, 0);
                if (r < 0)
                        log_debug_errno(r, "Login %s: start reply failed: %m", s->id);
        }
        else
                (void)http_reply_error(req, 500, "out of memory");
}

static int on_url_wait(sd_event_source *es, uint64_t usec, void *userdata) {
        LoginSession *s = userdata;

        login_api_answer_pending(s, true);
        return 0;
}

static void on_pending_abort(void *userdata) {
        LoginSession *s = userdata;

        s->pending = NULL;
        s->pending_timer = sd_event_source_disable_unref(s->pending_timer);
}

/* Fails the session (which stops its CLI) and answers 500: no live
 * session may outlive a start request that was refused. */
static int start_error(HttpRequest *req, LoginSession *s, int r, const char *what) {
        char msg[160];

        snprintf(msg, sizeof msg, "Failed to %s: %s", what, strerror(-r));
        log_error_errno(r, "Login %s (%s): failed to %s: %m", s->id, s->provider, what);
        free(s->error);
        s->error = strdup(msg);
        (void)login_session_event(s, SESSION_EVENT_ERROR);
        return http_reply_error(req, 500, msg);
}

static int auth_start(HttpRequest *req, void *userdata) {
        LoginManager *lm = userdata;
        const char *provider = http_request_path(req) + strlen("/auth/"), *err = "", *body;
        _cleanup_(login_start_request_done) LoginStartRequest q = {};
        LoginSession *s;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        if (login_start_request_parse(body, size, &q, &err) < 0)
                return http_reply_error(req, 400, err);
        if (!lm->providers)
                return http_reply_error(req, 503, "Provider definitions not loaded");
        if (!provider_set_find(lm->providers, provider))
                return http_reply_error(req, 400, "Unknown provider");
        s = session_create(lm, req, q.session_id, provider, &r);
        if (!s)
                return r;
        r = login_session_start_cli(s, q.http_proxy, q.https_proxy, q.no_proxy);
        if (r < 0)
                return start_error(req, s, r, "start the CLI");
        if (s->oauth_url) {
                s->pending = req;
                login_api_answer_pending(s, false);
                return 0;
        }
        r = sd_event_add_time_relative(lm->m->event, &s->pending_timer, CLOCK_MONOTONIC,
                                       (usec_t)lm->m->config.url_wait_s * USEC_PER_SEC, 0, on_url_wait, s);
        if (r >= 0)
                r = http_request_suspend(req, on_pending_abort, s);
        if (r < 0) {
                s->pending_timer = sd_event_source_disable_unref(s->pending_timer);
                return start_error(req, s, r, "wait for the OAuth URL");
        }
        s->pending = req;
        return 0;
}

static int oauth_url(HttpRequest *req, void *userdata) {
        int r = 0;
        LoginSession *s = query_session(userdata, req, &r);

        if (!s)
                return r;
        if (s->oauth_url && session_state_is_live(s->state))
                return http_reply_json(req, 200, login_json_url_ready(s->oauth_url), 0);
        if (!session_state_is_live(s->state))
                return http_reply_error(req, 410, s->error ?: "Session ended");
        return http_reply_json(req, 202, login_json_url_waiting(login_session_elapsed_ms(s)), 0);
}

static int credentials_status(HttpRequest *req, void *userdata) {
        int r = 0;
        LoginSession *s = query_session(userdata, req, &r);

        if (!s)
                return r;
        if (s->state == SESSION_AUTHENTICATED)
                return http_reply_json(req, 200,
                                       login_json_status_authenticated(s->cred_path, s->modified, s->provider), 0);
        if (session_state_is_final(s->state))
                return http_reply_json(req, 200, login_json_status_failed(s->error), 0);
        return http_reply_json(req, 200, login_json_status_waiting(login_session_elapsed_ms(s)), 0);
}

/* The session may be gone when the response ends: find it again by id. */
typedef struct GetCompletion {
        LoginManager *lm;
        char id[37];
} GetCompletion;

/* Runs when the response is over: only a completely sent one delivers. */
static void on_get_complete(bool completely_sent, void *userdata) {
        GetCompletion *g = userdata;
        LoginSession *s = login_session_find(g->lm, g->id);

        if (s && s->state == SESSION_AUTHENTICATED) {
                if (completely_sent) {
                        log_info("Login %s: credentials delivered to the host.", s->id);
                        (void)login_session_event(s, SESSION_EVENT_DELIVERED);
                        login_session_drop(s);
                } else
                        log_warning("Login %s: credentials response cut off; kept for a retry.", s->id);
        }
        free(g);
}

static int credentials_get(HttpRequest *req, void *userdata) {
        LoginManager *lm = userdata;
        int r = 0;
        LoginSession *s = query_session(lm, req, &r);
        GetCompletion *g;

        if (!s)
                return r;
        if (s->state != SESSION_AUTHENTICATED || !s->credentials)
                return http_reply_error(req, 400, "Authentication not completed yet");
        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        g->lm = lm;
        memcpy(g->id, s->id, sizeof g->id);
        r = http_reply_json(req, 200, login_json_credentials(s->provider, s->credentials, s->cred_path ?: ""),
                            HTTP_REPLY_SECRET);
        if (r < 0) {
                /* Not hooked before: the error reply the server then sends
                 * is "completely sent" too, and would count as delivered. */
                free(g);
                return r;
        }
        http_request_on_complete(req, on_get_complete, g);
        return 0;
}

static int open_url(HttpRequest *req, void *userdata) {
        LoginManager *lm = userdata;
        _cleanup_(open_url_request_done) OpenUrlRequest q = {};
        const char *err = "", *body, *method = NULL;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        if (open_url_request_parse(body, size, &q, &err) < 0)
                return http_reply_error(req, 400, err);
        r = login_manager_open_url(lm, q.url, &method);
        if (r == -EAGAIN || r == -ENOENT)
                return http_reply_error(req, 503, "Browser not available");
        if (r < 0)
                return http_reply_error(req, http_status_from_errno(r), "Failed to open the URL");
        return http_reply_json(req, 200, login_json_open_url(method), 0);
}

static int oauth_start(HttpRequest *req, void *userdata) {
        LoginManager *lm = userdata;
        _cleanup_(oauth_start_request_done) OAuthStartRequest q = {};
        const char *err = "", *body, *method;
        LoginSession *s;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        if (oauth_start_request_parse(body, size, &q, &err) < 0)
                return http_reply_error(req, 400, err);
        s = session_create(lm, req, q.session_id, "oauth", &r);
        if (!s)
                return r;
        s->oauth_state = TAKE_PTR(q.state);
        s->oauth_url = strdup(q.authorize_url);
        if (!s->oauth_url) {
                /* Not left live (409 to a retry until session_ttl_s)
                 * holding the state: gone, like a session never made. */
                login_session_drop(s);
                return -ENOMEM;
        }
        r = login_manager_open_url(lm, s->oauth_url, &method);
        if (r < 0)
                log_warning_errno(r, "Login %s: failed to open the authorize URL: %m", s->id);
        (void)login_session_event(s, SESSION_EVENT_URL);
        return http_reply_json(req, 200, login_json_oauth_started(s->id), 0);
}

/* The host-driven session whose state matches; every candidate is
 * compared, so timing does not tell which one (or whether any) matched. */
static LoginSession *session_by_state(LoginManager *lm, const char *state) {
        LoginSession *found = NULL;

        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++) {
                LoginSession *s = lm->sessions[i];
                if (s && s->oauth_state && s->state == SESSION_URL_READY &&
                    login_streq_ct(s->oauth_state, state) && !found)
                        found = s;
        }
        return found;
}

static bool error_code_ok(const char *e) {
        size_t n = strlen(e);

        return n > 0 && n <= 64 && strspn(e, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

static int oauth_callback(HttpRequest *req, void *userdata) {
        LoginManager *lm = userdata;
        const char *state = http_request_query(req, "state"), *error = http_request_query(req, "error");
        LoginSession *s = isempty(state) ? NULL : session_by_state(lm, state);
        json_t *creds;

        if (!s) {
                log_warning("OAuth callback with an unknown or used state refused.");
                return http_reply(req, 400, "text/html; charset=utf-8", failed_page, strlen(failed_page));
        }
        /* Used once, whatever the outcome. */
        s->oauth_state = erase_and_free(s->oauth_state);
        if (error) {
                free(s->error);
                s->error = strdup(error_code_ok(error) ? error : "provider error");
                log_info("Login %s: the provider answered with an error.", s->id);
                (void)login_session_event(s, SESSION_EVENT_ERROR);
                return http_reply(req, 400, "text/html; charset=utf-8", failed_page, strlen(failed_page));
        }
        creds = login_query_to_json(http_request_query_string(req));
        if (!creds) {
                /* The state is used up: the session cannot complete. */
                free(s->error);
                s->error = strdup("Invalid callback query");
                (void)login_session_event(s, SESSION_EVENT_ERROR);
                return http_reply(req, 400, "text/html; charset=utf-8", failed_page, strlen(failed_page));
        }
        login_session_captured(s, creds, "/oauth/callback", now(CLOCK_REALTIME));
        return http_reply(req, 200, "text/html; charset=utf-8", signed_in_page, strlen(signed_in_page));
}

static const HttpRoute login_routes[] = {
        { "POST", "/auth/oauth", HTTP_ROUTE_CONTROL, oauth_start },
        { "GET", "/auth/callback", HTTP_ROUTE_LOOPBACK, callback_forward },
        { "POST", "/auth/", HTTP_ROUTE_CONTROL | HTTP_ROUTE_PREFIX, auth_start },
        { "GET", "/oauth-url", HTTP_ROUTE_CONTROL, oauth_url },
        { "GET", "/credentials/status", HTTP_ROUTE_CONTROL, credentials_status },
        { "GET", "/credentials/get", HTTP_ROUTE_CONTROL, credentials_get },
        { "POST", "/open-url", HTTP_ROUTE_CONTROL, open_url },
        { "GET", "/oauth/callback", HTTP_ROUTE_LOOPBACK, oauth_callback },
};

int login_api_register(LoginManager *lm) {
        return http_server_add_routes(lm->m->http, login_routes, ELEMENTSOF(login_routes), lm);
}
