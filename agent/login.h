/* Login sessions: the LoginManager owns every session (CLI-driven or
 * host-driven), its runner, capture, browser and handoff, and registers
 * the host API routes (login-api.c) and the control socket.  The run loop
 * calls login_manager_new() once HTTP and the supervisor exist. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "cli-runner.h"
#include "capture.h"
#include "provider-def.h"
#include "session-fsm.h"
#include "time-util.h"

typedef struct Manager Manager;
typedef struct LoginManager LoginManager;
typedef struct HttpRequest HttpRequest;
typedef struct ControlSocket ControlSocket;
typedef struct Handoff Handoff;

#define LOGIN_SESSIONS_MAX 16

typedef struct LoginSession {
        LoginManager *lm;
        char id[37];
        char provider[65];            /* as the host named it ("codex_cli"); "oauth" for host-driven */
        const ProviderDef *def;       /* NULL for host-driven */
        SessionState state;
        usec_t started;               /* CLOCK_MONOTONIC */
        char *oauth_url;
        char *error;
        char *oauth_state;            /* host-driven: expected state (secret) */
        json_t *credentials;          /* secret */
        char *cred_path;
        usec_t modified;              /* CLOCK_REALTIME µs */
        CliRunner *runner;
        Capture *capture;
        sd_event_source *expire;
        HttpRequest *pending;         /* POST /auth/... waiting for the URL */
        sd_event_source *pending_timer;
} LoginSession;

struct LoginManager {
        Manager *m;
        ProviderSet *providers;
        char providers_error[256];
        LoginSession *sessions[LOGIN_SESSIONS_MAX];
        char *self_exe;               /* for BROWSER=<self> open-url */
        ControlSocket *control;
        Handoff *handoff;
};

int login_manager_new(Manager *m, LoginManager **ret);
LoginManager *login_manager_free(LoginManager *lm);
/* Live sessions, for /health's activeSessions. */
unsigned login_manager_active(LoginManager *lm);

LoginSession *login_session_find(LoginManager *lm, const char *id);
/* A new session in STARTING; -EEXIST when id is live, -EUSERS when full.
 * A final session with the same id is replaced. */
int login_session_new(LoginManager *lm, const char *id, const char *provider, LoginSession **ret);
/* Applies an event; effects of entering a state (browser close, wipe,
 * handoff) happen here.  Returns the new state or -ESTALE. */
int login_session_event(LoginSession *s, SessionEvent e);
/* Wipes secrets and removes the session (404 afterwards). */
void login_session_drop(LoginSession *s);
uint64_t login_session_elapsed_ms(LoginSession *s);

/* Starts the provider CLI for s. */
int login_session_start_cli(LoginSession *s, const char *http_proxy, const char *https_proxy,
                            const char *no_proxy);
/* A URL reached us from the CLI ($BROWSER → control socket) or the output. */
void login_manager_url_from_cli(LoginManager *lm, LoginSession *s, const char *url);
/* A URL from a CLI's $BROWSER (control socket): a waiting session's
 * authorize URL ("session"), else opened as is. */
int login_manager_browser_request(LoginManager *lm, const char *url, const char **ret_method);
/* Opens url in the browser; ret_method as browser_open(). */
int login_manager_open_url(LoginManager *lm, const char *url, const char **ret_method);
/* Stores credentials (taken) and moves s to AUTHENTICATED. */
void login_session_captured(LoginSession *s, json_t *credentials, const char *path, usec_t modified);

/* login-api.c */
int login_api_register(LoginManager *lm);
/* Called when a session gets its URL or fails: answers a pending POST. */
void login_api_answer_pending(LoginSession *s, bool timed_out);

/* control-socket.c: the `open-url` verb's server and client. */
int control_socket_new(LoginManager *lm, const char *path, ControlSocket **ret);
ControlSocket *control_socket_free(ControlSocket *c);
int open_url_main(int argc, char **argv);

/* handoff-vsock.c: push delivery (vsock_port != 0). */
int handoff_new(LoginManager *lm, Handoff **ret);
Handoff *handoff_free(Handoff *h);
/* Queues s's credentials for push; the session is delivered on ACK. */
int handoff_push(Handoff *h, LoginSession *s);
void handoff_forget(Handoff *h, LoginSession *s);

/* callback-forward.c: GET /auth/callback relayed to the live CLI's own
 * loopback listener (the provider's redirect target, e.g. Codex's :1455). */
int callback_forward(HttpRequest *req, void *userdata);
