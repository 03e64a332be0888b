/* The VM's browser for logins: Firefox from the display stack (the
 * supervisor's on-demand "firefox" service) with a prepared profile.  The
 * URL is always one argv element, never seen by a shell; a running
 * Firefox is navigated (`--new-tab` with the same profile, handled by the
 * running instance through remoting) rather than duplicated.
 *
 * The browser starts and stops its service through the hooks it is given
 * (the agent wires them to the supervisor) and starts the short-lived
 * remote client through a Launcher: it depends on neither. */
#pragma once

#include <systemd/sd-event.h>

#include "launch.h"
#include "macro.h"

typedef struct Browser Browser;

typedef struct BrowserOptions {
        sd_event *event;
        const Launcher *launcher;  /* for the remote client; must outlive the browser */
        const char *firefox;       /* binary */
        const char *profile;       /* profile directory */
        const char *display;       /* DISPLAY */
        const char *home;          /* HOME of the running instance and its remote calls */
        const char *bin_path;      /* PATH */
} BrowserOptions;

typedef struct BrowserHooks {
        /* Starts the browser service with extra_argv appended (the URL):
         * 0, or -EALREADY when it runs already, -ENOENT when there is no
         * browser service, -ESHUTDOWN when stopping. */
        int (*start)(char *const *extra_argv, void *userdata);
        /* Stops it: 0 also when it was not running or does not exist. */
        int (*stop)(void *userdata);
        void *userdata;
} BrowserHooks;

/* o's strings and hooks must outlive the browser. */
int browser_new(const BrowserOptions *o, const BrowserHooks *hooks, Browser **ret);
Browser *browser_free(Browser *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Browser *, browser_free);

/* url must satisfy http_url_is_valid() (-EINVAL otherwise).  ret_method:
 * "browser_launch" or "navigate" (static).  -EAGAIN when the display stack
 * is not there. */
int browser_open(Browser *b, const char *url, const char **ret_method);
/* Stops the browser service. */
int browser_close(Browser *b);

/* Writes user.js into the profile (creating it, 0700): no first-run pages,
 * telemetry, update checks, default-browser prompt, session restore or
 * password saving. */
int browser_prepare_profile(const char *profile_dir);
/* The user.js text (for tests and the image builder). */
const char *browser_user_js(void);
