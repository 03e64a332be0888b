/* The login manager options of the login adapter tests: no providers,
 * so host-driven logins only, and nothing on disk (no HOMEs, no control
 * socket, no environment file); browser may be NULL. */
#pragma once

#include "agent/login/login.h"

static inline LoginOptions host_login_options(sd_event *event, Browser *browser) {
        return (LoginOptions){
                .event = event,
                .providers_file = "/nonexistent/providers.json",
                .login_home = "",
                .environment_file = "",
                .control_socket = "",
                .runtime_dir = "",
                .session_ttl_s = 900,
                .browser = browser,
        };
}
