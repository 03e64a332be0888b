/* The desktop's part of the boot, between the host's secrets and the
 * services: names the generated files, looks the browser user up, writes
 * the X cookie (and exports XAUTHORITY: libxdo in this process connects
 * with it), the browser's files and the secret's files; later, when the
 * host's desktop secret arrives from MMDS, rewrites those and restarts
 * x11vnc (websockify follows as its dependent).  Also the list of strings
 * the supervisor keeps out of the log. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "agent/config/config.h"
#include "vnc/desktop-files.h"

typedef struct HostSecrets HostSecrets;
typedef struct Supervisor Supervisor;

/* A desktop user, looked up: it exists and is not root (found), its ids. */
typedef struct DesktopUser {
        bool found;
        uid_t uid;
        gid_t gid;
} DesktopUser;

/* The desktop's state (the Manager holds one).  config and secrets are
 * borrowed from desktop_setup() on; they outlive it. */
typedef struct Desktop {
        const Config *config;
        HostSecrets *secrets;
        DesktopPaths paths;       /* the files derived for the display stack */
        DesktopUser browser, x, vnc;
        bool vnc_held;            /* x11vnc stopped: the secret's files could not be written */
        int x_name_socket;        /* holds the X display's abstract socket name (vnc/desktop.h) */
        const char *log_secrets[7]; /* what service output must not show (desktop_log_secrets) */
        char log_vnc_password[2][9];
} Desktop;

/* Nothing set up, nothing held; desktop_done() lets go of what setup made. */
void desktop_init(Desktop *d);
void desktop_done(Desktop *d);

/* Before the supervisor starts anything (the files only for the built-in
 * stack: a services_file brings its own).  A failure to make the cookie is
 * an error (Xvfb would otherwise run without access control); a missing
 * browser user is logged (the browser's services then fail with the
 * reason in /health). */
int desktop_setup(Desktop *d, const Config *c, HostSecrets *secrets);
/* Rewrites the desktop secret's files (nothing for a services_file's
 * own stack, or before desktop_setup()); the caller restarts x11vnc.
 * Logged here.  sv: NULL before the services run. */
int desktop_secret_files_update(Desktop *d, Supervisor *sv);
/* A restore under way: x11vnc (websockify with it) goes down, so the
 * template's desktop secret opens nothing on the clone, refused or
 * incomplete as the restore may stay.  desktop_restore_resume(), once the
 * clone has its own secret, starts it again (or restarts it, when it was
 * up: a services_file's stack); not while its files could not be
 * written (it comes back with them).  -ENOENT: no x11vnc (sv NULL). */
void desktop_restore_hold(Desktop *d, Supervisor *sv);
int desktop_restore_resume(Desktop *d, Supervisor *sv);
/* The host's secrets changed (HostSecretsHooks.on_change). */
void desktop_secrets_changed(Desktop *d, Supervisor *sv);
/* For SupervisorHooks.secrets: the desktop secret, its first 8 characters
 * (the VNC password) and the control token; NULL-terminated, valid until
 * the next call. */
const char *const *desktop_log_secrets(Desktop *d);
/* The X clients' one supplementary group: x_user's, when it exists; 0
 * without. */
gid_t desktop_x_clients_gid(const Desktop *d);
