/* The host's login API, on the HTTP server's contract (control routes:
 * the token and allow_from are enforced by the server before these
 * handlers run): POST /auth/{provider} starts a CLI login and waits for
 * its authorize URL, GET /oauth-url, GET /credentials/status (with an
 * optional wait), GET /credentials/get (the pull, delivered only once
 * sent completely), POST /open-url.  Shapes come from login/login-json.c;
 * this module decides status codes, drives sessions, and keeps the HTTP
 * state of logins: a start request waiting for its authorize URL,
 * answered when the login manager says the session has it (or ended),
 * status requests waiting, pulls on their way.  The OAuth redirect
 * targets and the host-driven start are callback-routes.c. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent/http/http.h"
#include "agent/login/login.h"
#include "macro.h"

typedef struct LoginRoutes LoginRoutes;

typedef struct LoginRoutesOptions {
        sd_event *event;
        HttpServer *http;
        LoginManager *logins;
        uint32_t url_wait_s;   /* how long POST /auth/{provider} waits for the URL */
} LoginRoutesOptions;

/* Registers the routes and subscribes to the login manager, which must be
 * freed before the routes (its last notifications answer waiting requests). */
int login_routes_new(const LoginRoutesOptions *o, LoginRoutes **ret);
LoginRoutes *login_routes_free(LoginRoutes *r);
/* A snapshot restore began: the credentials responses still on their
 * way are the template's, for its host, and the clone sends no more of
 * them (cut off: their logins stay for the restore to close). */
void login_routes_restore_begun(LoginRoutes *r);
/* The login manager was freed (before the HTTP server): a response still
 * on its way ends without it. */
void login_routes_logins_gone(LoginRoutes *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(LoginRoutes *, login_routes_free);

/* A new session for a start request: NULL and the reply sent (409 for a
 * live id, else the error's status) when it cannot be made.  Borrowed:
 * the login manager owns it. */
LoginSession *login_routes_session_create(LoginManager *lm, HttpRequest *req, const char *id,
                                          const char *provider, int *ret);
