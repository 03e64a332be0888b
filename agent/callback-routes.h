/* The OAuth redirect targets and the host-driven start they answer, on
 * the HTTP server's contract (it enforces the token, allow_from and
 * loopback before these handlers run):
 *   POST /auth/oauth      a host-driven login: its authorize URL opened,
 *                         its state kept for the callback (control route);
 *   GET /oauth/callback   that login's redirect target (loopback: the
 *                         browser in the VM): the state matched once, in
 *                         constant time, a wrong one counted as a guess
 *                         against every waiting login, a used one (a
 *                         reload) answered with its page again;
 *   GET /auth/callback    a CLI login's redirect target (loopback, or the
 *                         host with its token): relayed to the CLI's own
 *                         loopback listener, only with the login's state
 *                         and only to a listener of the CLIs' user.
 * The host's login API (starts of CLI logins, status, pulls, open-url)
 * is login-routes.c. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent/http/http.h"
#include "agent/login/login.h"
#include "macro.h"

typedef struct CallbackRoutes CallbackRoutes;

typedef struct CallbackRoutesOptions {
        sd_event *event;
        HttpServer *http;
        LoginManager *logins;
        uint32_t relay_s; /* how long GET /auth/callback waits for the CLI's listener */
} CallbackRoutesOptions;

/* Registers the routes.  Freed after the HTTP server: a relay still on its
 * way is let go by the server's abort first. */
int callback_routes_new(const CallbackRoutesOptions *o, CallbackRoutes **ret);
CallbackRoutes *callback_routes_free(CallbackRoutes *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(CallbackRoutes *, callback_routes_free);
