/* Firefox's D-Bus remote interface, the only way to hand a URL to a
 * running Firefox ESR 153 (its X11 remoting is gone): what `firefox
 * --profile P --new-tab URL` sends, composed here so the agent calls the
 * method itself (browser.c) instead of spawning that client, whose exit
 * code says nothing and which falls back to a modal dialog.  Pure.
 *
 *   bus name   org.mozilla.firefox.<Base64(profile path)>, every character
 *              but [A-Za-z0-9_] made '_' ("==" padding becomes "__"), at
 *              most 255 bytes.  The application part is "firefox" even for
 *              firefox-esr.
 *   object     /org/mozilla/firefox/Remote
 *   method     org.mozilla.firefox.OpenURL(ay): the command line; a method
 *              return means the instance took it, ServiceUnknown that no
 *              instance of that profile runs.
 *   argument   little-endian: int32 argc, int32 offset[argc] (from the
 *              start), cwd NUL, then each argv[i] NUL.  The client drops
 *              --profile DIR from argv. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FIREFOX_REMOTE_PATH "/org/mozilla/firefox/Remote"
#define FIREFOX_REMOTE_INTERFACE "org.mozilla.firefox"
#define FIREFOX_REMOTE_METHOD "OpenURL"
#define FIREFOX_REMOTE_NAME_MAX 255

/* The bus name for profile (the canonical path: the caller resolves
 * symlinks, as Firefox does).  0 and *ret (owned), -EINVAL for "" ,
 * -ENOMEM. */
int firefox_remote_bus_name(const char *profile, char **ret);

/* The OpenURL argument for argv (NULL-terminated, at least one) run in
 * cwd.  0, *ret (owned) and *ret_size; -E2BIG past 1 MiB; -EINVAL. */
int firefox_remote_command_line(const char *cwd, char *const *argv, uint8_t **ret, size_t *ret_size);
