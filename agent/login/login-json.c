/* See login-json.h.  Shapes are the seed host's: keys, types
 * and status-independent messages must not drift, because the host matches
 * on them.  Unknown keys in request bodies are ignored (the host sends
 * "debug" and may grow more); wrong types of known keys are 400. */
#include <malloc.h>
#include <stdio.h>
#include <time.h>

#include "id-util.h"
#include "json-wipe.h"
#include "login-json.h"
#include "macro.h"
#include "session-fsm.h"

static json_t *load_object(const char *body, size_t size, const char **ret_error) {
        json_t *root;

        if (!body || size == 0) {
                *ret_error = "Request body must be JSON";
                return NULL;
        }
        /* Two of a key would be read as the last by us and maybe as the
         * first by whatever checked the body before (a proxy, a log). */
        root = json_loadb(body, size, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(root)) {
                json_decref(root);
                *ret_error = "Invalid JSON body";
                return NULL;
        }
        return root;
}

/* An optional string key: absent or null -> NULL; wrong type -> -EINVAL. */
static int opt_string(json_t *o, const char *key, size_t max, char **ret) {
        json_t *v = json_object_get(o, key);

        if (!v || json_is_null(v)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v) || json_string_length(v) > max ||
            json_string_length(v) != strlen(json_string_value(v)))
                return -EINVAL;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

static int session_id(json_t *o, char **ret, const char **ret_error) {
        json_t *v = json_object_get(o, "sessionId");
        char *s = NULL;

        if (!v || json_is_null(v)) {
                *ret_error = "sessionId is required";
                return -EINVAL;
        }
        if (opt_string(o, "sessionId", SESSION_ID_MAX, &s) < 0 || !session_id_is_valid(s)) {
                free(s);
                *ret_error = SESSION_ID_ERROR;
                return -EINVAL;
        }
        *ret = s;
        return 0;
}

static bool proxy_value_ok(const char *s) {
        for (; s && *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

int login_start_request_parse(const char *body, size_t size, LoginStartRequest *ret, const char **ret_error) {
        LoginStartRequest q = {};
        json_t *root = load_object(body, size, ret_error), *proxy, *debug;
        int r;

        if (!root)
                return -EINVAL;
        r = session_id(root, &q.session_id, ret_error);
        if (r < 0)
                goto out;
        proxy = json_object_get(root, "proxy");
        debug = json_object_get(root, "debug");
        if ((proxy && !json_is_object(proxy) && !json_is_null(proxy)) ||
            (debug && !json_is_object(debug) && !json_is_null(debug))) {
                *ret_error = "proxy and debug must be objects";
                r = -EINVAL;
                goto out;
        }
        if (json_is_object(proxy) &&
            (opt_string(proxy, "httpProxy", 2048, &q.http_proxy) < 0 ||
             opt_string(proxy, "httpsProxy", 2048, &q.https_proxy) < 0 ||
             opt_string(proxy, "noProxy", 4096, &q.no_proxy) < 0 ||
             !proxy_value_ok(q.http_proxy) || !proxy_value_ok(q.https_proxy) ||
             !proxy_value_ok(q.no_proxy))) {
                *ret_error = "proxy settings must be strings";
                r = -EINVAL;
                goto out;
        }
        *ret = q;
        q = (LoginStartRequest) {};
        r = 0;
out:
        login_start_request_done(&q);
        json_decref(root);
        return r;
}

void login_start_request_done(LoginStartRequest *r) {
        free(r->session_id);
        /* Proxy URLs may carry credentials (http://user:pass@host). */
        erase_and_free(r->http_proxy);
        erase_and_free(r->https_proxy);
        free(r->no_proxy);
        *r = (LoginStartRequest) {};
}

int open_url_request_parse(const char *body, size_t size, OpenUrlRequest *ret, const char **ret_error) {
        OpenUrlRequest q = {};
        json_t *root = load_object(body, size, ret_error);
        int r = -EINVAL;

        if (!root)
                return -EINVAL;
        if (opt_string(root, "url", URL_MAX, &q.url) < 0 || !http_url_is_valid(q.url)) {
                *ret_error = "url must be an absolute http(s) URL";
                goto out;
        }
        if (json_object_get(root, "sessionId") && !json_is_null(json_object_get(root, "sessionId")) &&
            session_id(root, &q.session_id, ret_error) < 0)
                goto out;
        *ret = q;
        q = (OpenUrlRequest) {};
        r = 0;
out:
        open_url_request_done(&q);
        json_decref(root);
        return r;
}

void open_url_request_done(OpenUrlRequest *r) {
        free(r->url);
        free(r->session_id);
        *r = (OpenUrlRequest) {};
}

int oauth_start_request_parse(const char *body, size_t size, OAuthStartRequest *ret, const char **ret_error) {
        OAuthStartRequest q = {};
        json_t *root = load_object(body, size, ret_error);
        int r = -EINVAL;

        if (!root)
                return -EINVAL;
        if (session_id(root, &q.session_id, ret_error) < 0)
                goto out;
        if (opt_string(root, "authorizeUrl", URL_MAX, &q.authorize_url) < 0 ||
            !http_url_is_valid(q.authorize_url)) {
                *ret_error = "authorizeUrl must be an absolute http(s) URL";
                goto out;
        }
        if (opt_string(root, "state", OAUTH_STATE_MAX, &q.state) < 0) {
                *ret_error = "state must be a string of at most " STRINGIFY(OAUTH_STATE_MAX) " bytes";
                goto out;
        }
        if (!q.state)
                q.state = login_query_get(q.authorize_url, "state");
        if (isempty(q.state)) {
                *ret_error = "state is required (in the body or in authorizeUrl, without a %00)";
                goto out;
        }
        _Static_assert(OAUTH_STATE_MIN == 8, "the error below names the minimum");
        if (strlen(q.state) < OAUTH_STATE_MIN) {
                *ret_error = "state must be at least 8 bytes: a shorter one can be guessed";
                goto out;
        }
        *ret = q;
        q = (OAuthStartRequest) {};
        r = 0;
out:
        oauth_start_request_done(&q);
        json_decref(root);
        return r;
}

void oauth_start_request_done(OAuthStartRequest *r) {
        free(r->session_id);
        free(r->authorize_url);
        erase_and_free(r->state);
        *r = (OAuthStartRequest) {};
}

/* NULL on ENOMEM and for an escaped NUL: the decoded text would end
 * there, and "state=<the state>%00x" would compare equal to the state.
 * What was decoded before it (a code, maybe) is wiped. */
static char *url_decode(const char *s, size_t n) {
        char *o = malloc(n + 1), *p = o;

        if (!o)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%' && i + 2 < n && unhexchar(s[i + 1]) >= 0 && unhexchar(s[i + 2]) >= 0) {
                        *p = (char)(unhexchar(s[i + 1]) * 16 + unhexchar(s[i + 2]));
                        if (*p++ == '\0')
                                return erase_and_free(o);
                        i += 2;
                } else
                        *p++ = s[i] == '+' ? ' ' : s[i];
        }
        *p = '\0';
        return o;
}

/* The next argument named key in a raw query, from p on: its start, its
 * length (up to '&' or '#') in *ret_n; NULL when there is none. */
static const char *query_arg_find(const char *p, const char *key, size_t *ret_n) {
        size_t kl = strlen(key);

        while (p && *p && *p != '#') {
                size_t n = strcspn(p, "&#");
                if (n >= kl && strncmp(p, key, kl) == 0 && (n == kl || p[kl] == '=')) {
                        *ret_n = n;
                        return p;
                }
                p += n;
                if (*p == '&')
                        p++;
        }
        return NULL;
}

char *login_query_param(const char *p, const char *key) {
        size_t kl = strlen(key), n = 0;

        p = query_arg_find(p, key, &n);
        if (!p)
                return NULL;
        return n == kl ? strdup("") : url_decode(p + kl + 1, n - kl - 1);
}

unsigned login_query_count(const char *p, const char *key) {
        unsigned count = 0;
        size_t n = 0;

        for (; (p = query_arg_find(p, key, &n)); p += n)
                count++;
        return count;
}

char *login_query_get(const char *u, const char *key) {
        const char *q = strchr(u, '?');

        return login_query_param(q ? q + 1 : u, key);
}

json_t *login_json_started_url(const char *session_id, const char *oauth_url) {
        return json_pack("{s:b, s:s, s:s, s:s}", "success", 1, "message", "OAuth URL captured",
                         "sessionId", session_id, "oauthUrl", oauth_url);
}

static json_t *started_output(const char *session_id, const char *cli_output, const char *msg) {
        return json_pack("{s:b, s:s, s:s, s:s}", "success", 1, "message", msg, "sessionId",
                         session_id, "cliOutput", cli_output ?: "");
}

json_t *login_json_started_output(const char *session_id, const char *cli_output, unsigned waited_s,
                                  const char *note) {
        char msg[512];

        snprintf(msg, sizeof msg, "CLI started; no OAuth URL within %u s%s%.400s", waited_s,
                 !isempty(note) ? "; " : "", note ?: "");
        return started_output(session_id, cli_output, msg);
}

json_t *login_json_started_ended(const char *session_id, const char *cli_output) {
        return started_output(session_id, cli_output, "Login ended before an OAuth URL was printed");
}

json_t *login_json_url_waiting(uint64_t elapsed_ms) {
        return json_pack("{s:b, s:s, s:I}", "waiting", 1, "message", "Waiting for OAuth URL",
                         "elapsedMs", (json_int_t)elapsed_ms);
}

json_t *login_json_url_ready(const char *oauth_url) {
        return json_pack("{s:s}", "oauthUrl", oauth_url);
}

json_t *login_json_status_authenticated(const char *path, usec_t modified, const char *provider) {
        char ts[ISO8601_MAX];

        return json_pack("{s:b, s:s, s:s, s:s}", "authenticated", 1, "path", path, "modifiedAt",
                         format_iso8601(modified, ts), "provider", provider);
}

json_t *login_json_status_waiting(uint64_t elapsed_ms) {
        return json_pack("{s:b, s:b, s:I}", "authenticated", 0, "waiting", 1, "elapsedMs",
                         (json_int_t)elapsed_ms);
}

json_t *login_json_status_failed(const char *error) {
        return json_pack("{s:b, s:b, s:s}", "authenticated", 0, "failed", 1, "error",
                         error ?: "login failed");
}

json_t *login_json_credentials(const char *provider, json_t *credentials, const char *cred_path) {
        /* A deep copy: the reply is wiped when sent (HTTP_REPLY_SECRET), the
         * session's copy must survive a response that was cut off. */
        json_t *copy = json_deep_copy(credentials);

        if (!copy)
                return NULL;
        return json_pack("{s:b, s:s, s:o, s:s}", "success", 1, "provider", provider, "credentials",
                         copy, "credPath", cred_path);
}

json_t *login_json_open_url(const char *method) {
        return json_pack("{s:b, s:s}", "success", 1, "method", method);
}

json_t *login_json_oauth_started(const char *session_id) {
        return json_pack("{s:b, s:s, s:s}", "success", 1, "message", "Authorize URL opened",
                         "sessionId", session_id);
}

char *login_json_handoff_line(const char *token, const char *delivery_id, const char *session_id,
                              const char *provider, json_t *credentials, const char *cred_path) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s}", "token", token, "deliveryId", delivery_id,
                              "sessionId", session_id, "provider", provider, "credentials", credentials,
                              "credPath", cred_path);
        char *s;

        if (!o)
                return NULL;
        s = json_dumps(o, JSON_COMPACT); /* escapes newlines: one line */
        /* o's copy of the token; the credentials are the caller's, borrowed. */
        json_wipe(json_object_get(o, "token"));
        json_decref(o);
        return s;
}

/* The values are the OAuth code and state: wiped on the error paths. */
static json_t *wipe_decref(json_t *o) {
        json_wipe(o);
        json_decref(o);
        return NULL;
}

bool login_query_keys_plain(const char *q) {
        while (q && *q && *q != '#') {
                size_t l = strcspn(q, "&#"), kl = strcspn(q, "=&#");

                if (strcspn(q, "%+") < kl)
                        return false;
                q += l;
                if (*q == '&')
                        q++;
        }
        return true;
}

json_t *login_query_to_json(const char *q) {
        json_t *o = NULL;
        unsigned n = 0;

        if (!login_query_keys_plain(q) || !(o = json_object()))
                return NULL;
        while (q && *q && *q != '#') {
                size_t l = strcspn(q, "&#"), kl = strcspn(q, "=&#");
                _cleanup_(freep) char *k = NULL;
                _cleanup_(erase_and_freep) char *v = NULL;

                if (++n > 64)
                        return wipe_decref(o);
                if (l > 0) {
                        k = url_decode(q, kl);
                        v = kl < l ? url_decode(q + kl + 1, l - kl - 1) : strdup("");
                        if (!k || !v)
                                return wipe_decref(o);
                        /* Not UTF-8 (a key or a value): the credentials would
                         * silently lack it. */
                        if (*k && !json_object_get(o, k) && json_object_set_new(o, k, json_string(v)) < 0)
                                return wipe_decref(o);
                }
                q += l;
                if (*q == '&')
                        q++;
        }
        return o;
}
