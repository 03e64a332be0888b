/* The host API's JSON, exactly as the existing host expects it:
 * request bodies parsed and validated, responses built.  Pure: jansson
 * only.  Builders return a new reference (NULL on ENOMEM); parsers return
 * 0 or -EINVAL with a message for {"error": ...} in *ret_error (static). */
#pragma once

#include <jansson.h>

#include "json-wipe.h" /* json_wipe(), json_wipe_on_free() */
#include <stdbool.h>
#include <stdint.h>

#include "time-util.h"
#include "url-util.h"


typedef struct LoginStartRequest {
        char *session_id;
        char *http_proxy, *https_proxy, *no_proxy; /* NULL when absent */
} LoginStartRequest;

typedef struct OpenUrlRequest {
        char *url;
        char *session_id; /* NULL when absent */
} OpenUrlRequest;

/* The shortest state a host-driven login takes: the state is all that
 * tells the provider's callback from a local process's guess, and each
 * login lets OAUTH_WRONG_STATES_MAX guesses go by before it fails. */
#define OAUTH_STATE_MIN 8
#define OAUTH_STATE_MAX 1024
#define OAUTH_WRONG_STATES_MAX 16

typedef struct OAuthStartRequest {
        char *session_id;
        char *authorize_url;
        char *state; /* NULL: taken from authorize_url's state= */
} OAuthStartRequest;

int login_start_request_parse(const char *body, size_t size, LoginStartRequest *ret, const char **ret_error);
void login_start_request_done(LoginStartRequest *r);
int open_url_request_parse(const char *body, size_t size, OpenUrlRequest *ret, const char **ret_error);
void open_url_request_done(OpenUrlRequest *r);
int oauth_start_request_parse(const char *body, size_t size, OAuthStartRequest *ret, const char **ret_error);
void oauth_start_request_done(OAuthStartRequest *r); /* wipes state */

/* The decoded value of parameter key in a raw query string (all of it: a
 * '?' in a value is the value's); owned; NULL if absent, on ENOMEM, or
 * when the value holds an escaped NUL ("%00": it would read shorter). */
char *login_query_param(const char *query, const char *key);
/* How many parameters of a raw query are named key (with its case, as
 * login_query_param() reads them). */
unsigned login_query_count(const char *query, const char *key);
/* The same in url's query (from its first '?'), or in a bare query string
 * without a '?'. */
char *login_query_get(const char *url_or_query, const char *key);

/* Whether every key of a raw query is written as itself (no '%' escape,
 * no '+'): the state is checked by its raw key (login_query_param()),
 * so "st%61te=X&state=<the state>" would pass the check while a reader
 * that decodes keys (the credentials, a CLI) takes X. */
bool login_query_keys_plain(const char *query);
/* Every parameter of a raw query string, decoded, as a JSON object of
 * strings (a repeated key: the first wins).  NULL on ENOMEM, more than 64
 * parameters, a key that is not plain (login_query_keys_plain()), or a
 * value that is not UTF-8 or holds an escaped NUL (what was decoded is
 * wiped). */
json_t *login_query_to_json(const char *query);

/* POST /auth/{provider} */
json_t *login_json_started_url(const char *session_id, const char *oauth_url);
/* No URL within waited_s: the output so far; note (NULL or "": none)
 * follows the message after "; " (login_session_memory_note()). */
json_t *login_json_started_output(const char *session_id, const char *cli_output, unsigned waited_s,
                                  const char *note);
/* The same shape when the session ended (the CLI exited) before any URL:
 * the host then reads the reason from /credentials/status. */
json_t *login_json_started_ended(const char *session_id, const char *cli_output);
/* GET /oauth-url */
json_t *login_json_url_waiting(uint64_t elapsed_ms);
json_t *login_json_url_ready(const char *oauth_url);
/* GET /credentials/status; modified is CLOCK_REALTIME µs. */
json_t *login_json_status_authenticated(const char *path, usec_t modified, const char *provider);
json_t *login_json_status_waiting(uint64_t elapsed_ms);
json_t *login_json_status_failed(const char *error);
/* GET /credentials/get: credentials is borrowed and deep-copied. */
json_t *login_json_credentials(const char *provider, json_t *credentials, const char *cred_path);
/* POST /open-url: method "browser_launch" or "keyboard_navigation". */
json_t *login_json_open_url(const char *method);
/* POST /auth/oauth */
json_t *login_json_oauth_started(const char *session_id);
/* Push handoff: one line (no newline inside), owned, NULL on ENOMEM.
 * token is the control token, the proof that the line is the agent's:
 * any local user can connect to the host's vsock port.  Compact, the
 * token first: the host's receiver keeps a connection whose line starts
 * {"token":"<token>" over the others (ctl-receive.c).  The line is a
 * secret twice over (token and credentials): the caller wipes it. */
char *login_json_handoff_line(const char *token, const char *delivery_id, const char *session_id,
                              const char *provider, json_t *credentials, const char *cred_path);
