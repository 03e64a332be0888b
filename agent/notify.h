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

/* The name (FileDescriptorName=) of the passed socket websockify serves. */
#define NOTIFY_FD_NOVNC "novnc"

/* Sockets passed by socket activation: each an fd (or an index into the
 * passed ones), -ENOENT when none of its kind was passed, -EINVAL when
 * what was passed of its kind is not one listening stream socket. */
typedef struct ListenFds {
        int http;  /* any name but NOTIFY_FD_NOVNC */
        int novnc; /* named NOTIFY_FD_NOVNC */
} ListenFds;

/* Which of n passed sockets, named names[0..n) (NULL, or a NULL name:
 * unnamed), is which: their indices.  Pure. */
ListenFds listen_fds_pick(const char *const *names, int n);

/* The sockets passed by socket activation (LISTEN_FDS, LISTEN_PID,
 * LISTEN_FDNAMES): fds (>= 3, taken over by the caller), the others
 * closed.  Unsets LISTEN_* so services do not inherit them. */
ListenFds notify_listen_fds(void);

/* Asks systemd over the system bus to start target ("reboot.target",
 * "poweroff.target") with mode replace-irreversibly; asynchronous on the
 * loop.  If systemd answers with an error, on_refused runs.  0 when the
 * call was sent; -errno when no system bus could be reached. */
int notify_system_shutdown(Notifier *n, const char *target);
