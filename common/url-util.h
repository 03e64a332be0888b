/* URLs handed to the browser: whatever asks to open one (the host's API, a
 * CLI's $BROWSER, the control socket), the URL becomes one argv element of
 * a browser process, so it is checked here, once, by one rule.  Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define URL_MAX 8192

/* An absolute http(s) URL with a host and no userinfo (what is before an
 * '@' is not the host), a port of digits if any, printable ASCII only (no
 * spaces, control bytes or backslashes), at most URL_MAX bytes.  Nothing
 * else reaches a browser: no file:, no javascript:, nothing starting
 * with '-'. */
bool http_url_is_valid(const char *url);

/* How much of url may be logged: its scheme and host[:port].  The rest
 * may hold a secret: a query or fragment (an OAuth code or state, a
 * token), a path too (a sign-in link's token, a device code).  Printed
 * with "%.*s". */
size_t url_loggable_len(const char *url);
