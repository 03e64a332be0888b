/* systemd integration: sd_notify (READY=1, STATUS=, STOPPING=1; WATCHDOG=1
 * is sent by sd-event itself, see run.c), socket activation, and asking
 * systemd over the system bus to shut the machine down.  Every message is
 * a no-op when NOTIFY_SOCKET was unset at notify_init(), so callers need
 * not check. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct Notifier {
        bool enabled;      /* NOTIFY_SOCKET set */
        bool ready_sent;
        sd_event *event;
        sd_bus *system_bus;
        /* systemd refused a machine shutdown: the caller stops on its own. */
        void (*on_refused)(void *userdata);
        void *userdata;
} Notifier;

void notify_init(Notifier *n, sd_event *e, void (*on_refused)(void *userdata), void *userdata);
void notify_done(Notifier *n);

/* READY=1 with a STATUS= line; once per process (later calls do nothing). */
void notify_ready(Notifier *n, const char *status);
/* STATUS=<text>, for `systemctl status`. */
void notify_status(Notifier *n, const char *fmt, ...) _printf_(2, 3);
void notify_stopping(Notifier *n, const char *reason);

/* The listening socket passed by socket activation (LISTEN_FDS/LISTEN_PID):
 * returns the fd (>= 3, taken over by the caller), -ENOENT when none was
 * passed, or -EINVAL when what was passed is not one listening stream
 * socket.  Unsets LISTEN_* so services do not inherit them. */
int notify_listen_fd(void);

/* Asks systemd over the system bus to start target ("reboot.target",
 * "poweroff.target") with mode replace-irreversibly; asynchronous on the
 * loop.  If systemd answers with an error, on_refused runs.  0 when the
 * call was sent; -errno when no system bus could be reached. */
int notify_system_shutdown(Notifier *n, const char *target);
