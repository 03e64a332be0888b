/* See callback-routes.h. */
#include "agent/login/callback-relay.h"
#include "agent/login/login-json.h"
#include "agent/login/used-states.h"
#include "callback-routes.h"
#include "log.h"
#include "login-routes.h"
#include "macro.h"
#include "secret-util.h"

struct CallbackRoutes {
        CallbackRoutesOptions o;
        UsedStates used_states; /* of the latest /oauth/callback's (secret-wiped) */
};

static const char signed_in_page[] =
        "<!doctype html><meta charset=utf-8><title>Signed in</title>"
        "<p>Signed in &mdash; you can close this window.</p>\n";
static const char failed_page[] =
        "<!doctype html><meta charset=utf-8><title>Sign-in failed</title>"
        "<p>Sign-in failed. Return to the application and try again.</p>\n";
/* The CLI's listener is gone, and its login went through: a browser
 * reloading the redirect, or a second hit. */
static const char complete_page[] =
        "<!doctype html><meta charset=utf-8><title>Authentication Complete</title>"
        "<p>Authentication Complete. You can close this window.</p>\n";

static const char no_login_page[] =
        "<!doctype html><meta charset=utf-8><title>No login</title><p>No login in progress.</p>\n";

static bool waits_for_callback(const LoginSession *s) {
        return s && s->oauth_state && s->state == SESSION_URL_READY;
}

/* The host-driven session whose state matches; every candidate is
 * compared, so timing does not tell which one (or whether any) matched. */
static LoginSession *session_by_state(LoginManager *lm, const char *state) {
        LoginSession *found = NULL;

        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++) {
                LoginSession *s = login_manager_session_at(lm, i);
                if (waits_for_callback(s) && secret_equal(state, strlen(state), s->oauth_state) && !found)
                        found = s;
        }
        return found;
}

/* One more callback with another state than s's (what: the route's
 * callbacks, for the log): a guess, as far as s can tell (a local process
 * can send thousands a second).  At the OAUTH_WRONG_STATES_MAX-th, s
 * fails, its state used up, rather than let the guessing go on: true. */
static bool wrong_state_count(LoginSession *s, const char *what) {
        if (++s->wrong_states < OAUTH_WRONG_STATES_MAX)
                return false;
        s->oauth_state = erase_and_free(s->oauth_state);
        log_warning("Login %s: %u %s with a wrong state; failed rather than let the guessing go on.", s->id,
                    s->wrong_states, what);
        login_session_fail(s, SESSION_EVENT_ERROR, "Too many callbacks with a wrong state");
        return true;
}

/* A callback whose state matched none: each waiting login counts it
 * (wrong_state_count()); the warnings are bounded the same way.  With
 * none waiting there is nothing to guess. */
static void count_wrong_state(LoginManager *lm) {
        unsigned waiting = 0;

        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++) {
                LoginSession *s = login_manager_session_at(lm, i);
                if (!waits_for_callback(s))
                        continue;
                waiting++;
                (void)wrong_state_count(s, "OAuth callbacks");
        }
        if (waiting > 0)
                log_warning("OAuth callback with a wrong state refused (%u waiting login(s) counted it).", waiting);
        else
                log_debug("OAuth callback with an unknown or used state refused; no login waits for one.");
}

static int oauth_start(HttpRequest *req, void *userdata) {
        LoginManager *lm = ((CallbackRoutes *)userdata)->o.logins;
        _cleanup_(oauth_start_request_done) OAuthStartRequest q = {};
        const char *err = "", *body;
        LoginSession *s;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        if (oauth_start_request_parse(body, size, &q, &err) < 0)
                return http_reply_error(req, 400, err);
        s = login_session_find(lm, q.session_id);
        if (s && session_state_is_live(s->state)) {
                /* As its first start answered, the URL not opened twice. */
                if (s->def || !s->oauth_url || !streq(s->oauth_url, q.authorize_url))
                        return http_reply_error(req, 409, "Session already in progress");
                return http_reply_json(req, 200, login_json_oauth_started(s->id), 0);
        }
        /* Two logins waiting for one state: the callback would go to the
         * first, and the second could never complete. */
        if (session_by_state(lm, q.state))
                return http_reply_error(req, 409, "Another login waits for this state");
        s = login_routes_session_create(lm, req, q.session_id, "oauth", &r);
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
        login_session_open_url(s);
        (void)login_session_event(s, SESSION_EVENT_URL);
        return http_reply_json(req, 200, login_json_oauth_started(s->id), 0);
}

static bool error_code_ok(const char *e) {
        size_t n = strlen(e);

        return n > 0 && n <= 64 && strspn(e, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

/* What a callback with s's state does to s: the credentials captured
 * (true), or the login failed. */
static bool oauth_callback_complete(LoginSession *s, const char *q) {
        _cleanup_(freep) char *error = login_query_param(q, "error");
        _cleanup_(erase_and_freep) char *code = NULL;
        json_t *creds;

        if (error) {
                log_info("Login %s: the provider answered with an error.", s->id);
                login_session_fail(s, SESSION_EVENT_ERROR, error_code_ok(error) ? error : "provider error");
                return false;
        }
        /* A provider sends the person back with a code or an error; with
         * neither, it has not signed them in, and a capture would hand the
         * host credentials holding no code.  An escaped NUL in it is an
         * invalid query, below. */
        code = login_query_param(q, "code");
        if (code ? !*code : login_query_count(q, "code") == 0) {
                log_info("Login %s: the provider's callback has neither a code nor an error.", s->id);
                login_session_fail(s, SESSION_EVENT_ERROR, "Callback without a code");
                return false;
        }
        creds = login_query_to_json(q);
        if (!creds) {
                /* The state is used up: the session cannot complete. */
                login_session_fail(s, SESSION_EVENT_ERROR, "Invalid callback query");
                return false;
        }
        login_session_captured(s, creds, "/oauth/callback", now(CLOCK_REALTIME));
        return true;
}

static int reply_page(HttpRequest *req, unsigned status, const char *page) {
        return http_reply(req, status, "text/html; charset=utf-8", page, strlen(page));
}

static int reply_callback_page(HttpRequest *req, bool signed_in) {
        return signed_in ? reply_page(req, 200, signed_in_page) : reply_page(req, 400, failed_page);
}

/* The parameters are read from the raw query, as the credentials are:
 * libmicrohttpd's lookup ignores case, and "STATE=<the state>" would
 * have passed while the credentials held no "state".  A callback with no
 * state guesses none, so no login counts it.  A used state (the person
 * reloading the page, a browser restoring its tab) gets the page its
 * callback got, and is no guess either: it matches no waiting login, and
 * is looked up only once none matched. */
static int oauth_callback(HttpRequest *req, void *userdata) {
        CallbackRoutes *cr = userdata;
        const char *q = http_request_query_string(req) ?: "";
        _cleanup_(erase_and_freep) char *state = login_query_param(q, "state");
        LoginSession *s;
        bool signed_in;
        int r;

        if (isempty(state)) {
                log_debug("OAuth callback without a state refused; not counted as a guess.");
                return reply_callback_page(req, false);
        }
        s = session_by_state(cr->o.logins, state);
        if (!s) {
                r = used_states_find(&cr->used_states, state);
                if (r >= 0) {
                        log_debug("OAuth callback with a used state: answered as before, not counted.");
                        return reply_callback_page(req, r > 0);
                }
                count_wrong_state(cr->o.logins);
                return reply_callback_page(req, false);
        }
        /* Used once, whatever the outcome; kept to tell a reload. */
        s->oauth_state = erase_and_free(s->oauth_state);
        signed_in = oauth_callback_complete(s, q);
        used_states_add(&cr->used_states, TAKE_PTR(state), signed_in);
        return reply_callback_page(req, signed_in);
}

static bool is_authenticated(SessionState state) {
        return state == SESSION_AUTHENTICATED;
}

/* The newest CLI login with a listener of its own that has signed in. */
static LoginSession *signed_in_cli_session(LoginManager *lm) {
        return login_manager_newest_listener_session(lm, is_authenticated);
}

/* No listener of the CLI's to relay to: the page says the sign-in is
 * complete when it is, else 502. */
static int reply_listener_gone(HttpRequest *req, LoginManager *lm) {
        return signed_in_cli_session(lm) ? reply_page(req, 200, complete_page)
                                         : http_reply_error(req, 502, "CLI callback listener not reachable");
}

typedef struct Relay {
        CallbackRoutes *routes;
        HttpRequest *req;
        HttpOnce *once;
        char login[SESSION_ID_MAX + 1]; /* for the log: the login may end meanwhile */
        uid_t cli_uid;
        uint16_t port;
} Relay;

/* The CLI's answer goes back as it gave it: status, Location (Codex
 * redirects to its /success page, with an id_token in it), Content-Type
 * and body.  A header too long to pass on whole is a bad answer, not a
 * shortened one. */
static void on_relay_done(int r, const HttpAnswer *a, void *userdata) {
        Relay *x = userdata;
        HttpRequest *req = x->req;
        char ctype_buf[128], location_buf[8192];
        const char *ctype = NULL, *location = NULL;
        LoginManager *lm = x->routes->o.logins;

        free(x);
        if (r >= 0) {
                int c = http_header_get(a->headers, "Content-Type", ctype_buf, sizeof ctype_buf);
                int l = http_header_get(a->headers, "Location", location_buf, sizeof location_buf);

                ctype = c >= 0 ? ctype_buf : NULL;
                location = l >= 0 ? location_buf : NULL;
                if (c == -ENOBUFS || l == -ENOBUFS)
                        r = -EBADMSG;
        }
        if (r == -ECONNREFUSED)
                (void)reply_listener_gone(req, lm);
        else if (r == -EPERM)
                (void)http_reply_error(req, 502, "The callback connection reached another user's process, not the "
                                                 "CLI's");
        else if (r == -ENOTCONN)
                (void)http_reply_error(req, 502, "CLI callback listener closed the connection");
        else if (r == -ETIMEDOUT)
                (void)http_reply_error(req, 504, "CLI callback listener did not answer");
        else if (r == -EBADMSG || r == -ENODATA || r == -EFBIG || r == -EPIPE) /* -EPIPE: cut off */
                (void)http_reply_error(req, 502, "Bad response from the CLI's callback listener");
        else if (r < 0)
                (void)http_reply_error(req, 502, "CLI callback listener not reachable");
        else if (http_reply_with_header(req, a->status, ctype ?: "text/html; charset=utf-8", "Location", location,
                                        a->body, a->body_size) == -EINVAL)
                (void)http_reply_error(req, 502, "Bad response from the CLI's callback listener");
}

static void on_relay_abort(void *userdata) {
        Relay *x = userdata;

        http_once_free(x->once);
        free(x);
}

/* Whether the callback's query carries the state of the login's own
 * authorize URL (constant time).  An authorize URL without a state has
 * nothing to match: the CLI alone checks then. */
static bool callback_state_ok(const LoginSession *s, const char *q) {
        _cleanup_(erase_and_freep) char *want = login_query_get(s->oauth_url, "state");
        _cleanup_(erase_and_freep) char *got = NULL;

        if (!want)
                return !strstr(s->oauth_url, "state=");
        got = login_query_param(q, "state");
        return got && secret_equal(got, strlen(got), want);
}

/* A callback without the CLI login's state: counted as at
 * /oauth/callback (a CLI's state is whatever length the CLI chose); the
 * warnings end with the login. */
static int cli_wrong_state(HttpRequest *req, LoginSession *s) {
        if (!wrong_state_count(s, "callbacks"))
                log_warning("Login %s: a callback with another state than the login's refused (%u).", s->id,
                            s->wrong_states);
        return http_reply_error(req, 400, "State does not match the login's");
}

/* Where the login's CLI listens: the port its authorize URL's
 * redirect_uri names (the provider sends the browser there), else the
 * provider's own.  A CLI whose usual port another user took first
 * listens elsewhere and says so there (Codex: 1457).  A redirect_uri
 * with an escaped NUL reads as none. */
static uint16_t relay_port(const LoginSession *s) {
        _cleanup_(freep) char *uri = login_query_get(s->oauth_url, "redirect_uri");
        uint16_t port;

        if (uri && callback_relay_redirect_port(uri, s->def->callback_path, &port) >= 0)
                return port;
        return s->def->callback_port;
}

/* Whether the relay's connection would reach the CLI: the listener it
 * would reach must be the CLIs' user's.  Another user may hold the
 * port the CLI let go; it would get the code.  -EPERM then (logged),
 * -ENOENT when nothing listens (another user could bind it before the
 * connect), -errno when it cannot be told.  The port may change hands
 * before the connect still: relay_connected() checks the connection. */
static int relay_listener_check(CallbackRoutes *cr, const LoginSession *s, uint16_t port) {
        uid_t other = 0;
        /* The login's own CLI user: another login's CLI listening there
         * is another user, and would get this login's code. */
        int r = callback_relay_listener_check(port, login_session_cli_uid(s), &other);

        if (r == -ENOENT)
                log_info("Login %s: nothing listens on 127.0.0.1:%u: the callback is not relayed.", s->id,
                         (unsigned)port);
        else if (r == -EPERM)
                log_warning("Login %s: 127.0.0.1:%u is held by uid %u, not the CLI's: the callback is not "
                            "relayed.", s->id, (unsigned)port, (unsigned)other);
        else if (r < 0)
                log_warning_errno(r, "Login %s: cannot tell who listens on 127.0.0.1:%u (socket diagnostics): %m",
                                  s->id, (unsigned)port);
        return r;
}

/* The connection made must reach the login's CLI user too: the listener
 * checked before the connect may have closed since, and another user
 * taken the port (relay_listener_check() saw the CLI's).  Nothing is
 * sent otherwise; on_relay_done() answers. */
static int relay_connected(int fd, void *userdata) {
        Relay *x = userdata;
        uid_t other = 0;
        int r = callback_relay_connection_check(fd, x->cli_uid, &other);

        if (r == -EPERM)
                log_warning("Login %s: the connection to 127.0.0.1:%u reached a process of uid %u, not the CLI's: "
                            "the callback is not relayed.", x->login, (unsigned)x->port, (unsigned)other);
        else if (r == -ENOTCONN)
                log_info("Login %s: the connection to 127.0.0.1:%u was closed before the callback was relayed.",
                         x->login, (unsigned)x->port);
        else if (r < 0)
                log_warning_errno(r, "Login %s: cannot tell who holds the connection to 127.0.0.1:%u (socket "
                                  "diagnostics): the callback is not relayed: %m", x->login, (unsigned)x->port);
        return r;
}

/* GET /auth/callback?... → the live CLI's own loopback listener (the
 * provider's redirect target), its answer relayed.  With no listener left
 * and the login through, the page says so.  Only a callback with the
 * login's own state is relayed: a web page in the VM's browser can send
 * this route any code (a fetch, an image, a redirect), and the CLI would
 * be the only one left to tell it from the provider's. */
static int callback_forward(HttpRequest *req, void *userdata) {
        CallbackRoutes *cr = userdata;
        LoginSession *s = login_manager_callback_session(cr->o.logins);
        const char *q = http_request_query_string(req);
        uint16_t port;
        Relay *x;
        int r;

        if (!s)
                return signed_in_cli_session(cr->o.logins) ? reply_page(req, 200, complete_page)
                                                            : reply_page(req, 404, no_login_page);
        if (!s->oauth_url)
                return http_reply_error(req, 409, "The login has no authorize URL yet");
        if (!callback_relay_query_ok(q))
                return http_reply_error(req, 400, "Invalid callback query");
        if (!callback_state_ok(s, q))
                return cli_wrong_state(req, s);
        port = relay_port(s);
        r = relay_listener_check(cr, s, port);
        if (r == -ENOENT) /* as a refused connection would be answered */
                return reply_listener_gone(req, cr->o.logins);
        if (r < 0)
                return http_reply_error(req, 502, r == -EPERM ? "The callback port is not the CLI's"
                                                              : "Cannot tell who holds the callback port");
        x = calloc(1, sizeof *x);
        if (!x)
                return -ENOMEM;
        *x = (Relay){ .routes = cr, .req = req, .cli_uid = login_session_cli_uid(s), .port = port };
        memcpy(x->login, s->id, sizeof x->login);
        r = callback_relay_start(cr->o.event, port, s->def->callback_path, q,
                                 (usec_t)cr->o.relay_s * USEC_PER_SEC, relay_connected, on_relay_done, x, &x->once);
        if (r < 0) {
                free(x);
                return r;
        }
        r = http_request_suspend(req, on_relay_abort, x);
        if (r < 0) {
                http_once_free(x->once);
                free(x);
        }
        return r;
}

static const HttpRoute callback_routes[] = {
        { "POST", "/auth/oauth", HTTP_ROUTE_CONTROL, oauth_start },
        /* No HEAD: it would be relayed as a GET and spend the code. */
        { "GET", "/auth/callback", HTTP_ROUTE_LOOPBACK | HTTP_ROUTE_CONTROL | HTTP_ROUTE_NO_HEAD, callback_forward },
        { "GET", "/oauth/callback", HTTP_ROUTE_LOOPBACK | HTTP_ROUTE_NO_HEAD, oauth_callback },
};

int callback_routes_new(const CallbackRoutesOptions *o, CallbackRoutes **ret) {
        _cleanup_(callback_routes_freep) CallbackRoutes *cr = calloc(1, sizeof *cr);
        int r;

        if (!cr)
                return -ENOMEM;
        cr->o = *o;
        r = http_server_add_routes(o->http, callback_routes, ELEMENTSOF(callback_routes), cr);
        if (r >= 0)
                *ret = TAKE_PTR(cr);
        return r;
}

CallbackRoutes *callback_routes_free(CallbackRoutes *cr) {
        if (!cr)
                return NULL;
        used_states_done(&cr->used_states);
        free(cr);
        return NULL;
}
