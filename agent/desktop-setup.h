/* The desktop's part of the boot, between the host's secrets and the
 * services: names the generated files, looks the browser user up, writes
 * the X cookie (and exports XAUTHORITY: libxdo in this process connects
 * with it), the browser's files and the secret's files; later, when the
 * host's desktop secret arrives from MMDS, rewrites those and restarts
 * x11vnc (websockify follows as its dependent).  Also the list of strings
 * the supervisor keeps out of the log. */
#pragma once

#include "manager.h"

/* Before the supervisor starts anything (the files only for the built-in
 * stack: a services_file brings its own).  A failure to make the cookie is
 * an error (Xvfb would otherwise run without access control); a missing
 * browser user is logged (the browser's services then fail with the
 * reason in /health). */
int desktop_setup(Manager *m);
/* Rewrites the desktop secret's files (nothing for a services_file's
 * own stack); the caller restarts x11vnc.  Logged here. */
int desktop_secret_files_update(Manager *m);
/* A restore under way: x11vnc (websockify with it) goes down, so the
 * template's desktop secret opens nothing on the clone, refused or
 * incomplete as the restore may stay.  desktop_restore_resume(), once the
 * clone has its own secret, starts it again (or restarts it, when it was
 * up: a services_file's stack); not while its files could not be
 * written (it comes back with them).  -ENOENT: no x11vnc. */
void desktop_restore_hold(Manager *m);
int desktop_restore_resume(Manager *m);
/* The host's secrets changed (HostSecretsHooks.on_change). */
void desktop_secrets_changed(Manager *m);
/* For SupervisorHooks.secrets: the desktop secret, its first 8 characters
 * (the VNC password) and the control token; NULL-terminated, valid until
 * the next call. */
const char *const *desktop_log_secrets(Manager *m);
