/* The VM's browser for logins: Firefox from the display stack (the
 * supervisor's on-demand "firefox" service) with a prepared profile.  The
 * URL is always one argv element, never seen by a shell; a running
 * Firefox is navigated (`--new-tab` with the same profile, handled by the
 * running instance through remoting) rather than duplicated. */
#pragma once

typedef struct Manager Manager;

/* Writes user.js into the profile (creating it, 0700): no first-run pages,
 * telemetry, update checks, default-browser prompt, session restore or
 * password saving. */
int browser_prepare_profile(const char *profile_dir);
/* The user.js text (for tests and the image builder). */
const char *browser_user_js(void);

/* url must satisfy login_url_is_valid().  ret_method: "browser_launch" or
 * "navigate" (static).  -EAGAIN when the display stack is not there. */
int browser_open(Manager *m, const char *url, const char **ret_method);
/* Stops the firefox service; 0 when it was not running or is not defined. */
int browser_close(Manager *m);
