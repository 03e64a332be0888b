/* systemd integration: sd_notify (READY=1, STATUS=, STOPPING=1; WATCHDOG=1
 * is sent by sd-event itself, see run.c) and socket activation.  Every call
 * is a no-op when NOTIFY_SOCKET is unset, so callers need not check. */
#pragma once

#include "macro.h"

typedef struct Manager Manager;

/* READY=1 with a STATUS= line; once per process (later calls do nothing). */
void notify_ready(Manager *m, const char *status);
/* STATUS=<text>, for `systemctl status`.  The supervisor calls it as
 * services come up. */
void notify_status(Manager *m, const char *fmt, ...) _printf_(2, 3);
void notify_stopping(Manager *m, const char *reason);

/* The listening socket passed by socket activation (LISTEN_FDS/LISTEN_PID):
 * returns the fd (>= 3, taken over by the caller), -ENOENT when none was
 * passed, or -EINVAL when what was passed is not one listening stream
 * socket.  Unsets LISTEN_* so services do not inherit them. */
int notify_listen_fd(void);

/* Asks systemd over the system bus to start target ("reboot.target",
 * "poweroff.target") with mode replace-irreversibly; asynchronous on the
 * Manager's loop.  If systemd answers with an error, falls back to
 * manager_request_shutdown() (the agent stops alone).  0 when the call
 * was sent; -errno when no system bus could be reached. */
int notify_system_shutdown(Manager *m, const char *target);
