/* Implementation of notify.h over libsystemd.  The messages go through
 * sd_notify(), which reads NOTIFY_SOCKET on each call: the agent keeps the
 * variable so sd-event's watchdog (sd_event_set_watchdog) can use it too.
 * Children inherit it, which is harmless under systemd's default
 * NotifyAccess=main; the supervisor may strip it from service environments. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "manager.h"
#include "notify.h"

static void notify_send(Manager *m, const char *msg) {
        int r;

        if (!m->under_systemd)
                return;
        r = sd_notify(false, msg);
        if (r < 0)
                log_debug_errno(r, "sd_notify failed: %m");
}

void notify_ready(Manager *m, const char *status) {
        char msg[512];

        if (m->notified_ready)
                return;
        m->notified_ready = true;
        snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
        notify_send(m, msg);
}

void notify_status(Manager *m, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        int n;

        n = snprintf(msg, sizeof msg, "STATUS=");
        va_start(ap, fmt);
        vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
        va_end(ap);
        /* One message per datagram line: a newline would start a new assignment. */
        for (char *p = msg; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        notify_send(m, msg);
}

void notify_stopping(Manager *m, const char *reason) {
        char msg[512];

        snprintf(msg, sizeof msg, "STOPPING=1\nSTATUS=Stopping: %s", reason);
        notify_send(m, msg);
}

int notify_listen_fd(void) {
        int n = sd_listen_fds(true);

        if (n < 0)
                return n;
        if (n == 0)
                return -ENOENT;
        if (n != 1 || sd_is_socket(SD_LISTEN_FDS_START, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
                return -EINVAL;
        return SD_LISTEN_FDS_START;
}
