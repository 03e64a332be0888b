/* Implementation of notify.h over libsystemd.  The messages go through
 * sd_notify(), which reads NOTIFY_SOCKET on each call: the agent keeps the
 * variable so sd-event's watchdog (sd_event_set_watchdog) can use it too.
 * Children inherit it, which is harmless under systemd's default
 * NotifyAccess=main; the supervisor may strip it from service environments.
 * The system bus is opened only for a machine shutdown requested over
 * HTTP when the agent is a systemd service (see manager.h). */
#include <stdarg.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "macro.h"
#include "notify.h"
#include "strv.h"

void notify_init(Notifier *n, sd_event *e, void (*on_refused)(void *userdata), void *userdata) {
        *n = (Notifier){ .enabled = !!getenv("NOTIFY_SOCKET"), .event = e, .on_refused = on_refused,
                         .userdata = userdata };
}

void notify_done(Notifier *n) {
        n->system_bus = sd_bus_flush_close_unref(n->system_bus);
}

static void notify_send(Notifier *n, const char *msg) {
        int r;

        if (!n->enabled)
                return;
        r = sd_notify(false, msg);
        if (r < 0)
                log_debug_errno(r, "sd_notify failed: %m");
}

void notify_ready(Notifier *n, const char *status) {
        char msg[512];

        if (n->ready_sent)
                return;
        n->ready_sent = true;
        snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
        notify_send(n, msg);
}

void notify_status(Notifier *n, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        int k;

        k = snprintf(msg, sizeof msg, "STATUS=");
        va_start(ap, fmt);
        vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
        va_end(ap);
        /* One message per datagram line: a newline would start a new assignment. */
        for (char *p = msg; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        notify_send(n, msg);
}

void notify_stopping(Notifier *n, const char *reason) {
        char msg[512];

        snprintf(msg, sizeof msg, "STOPPING=1\nSTATUS=Stopping: %s", reason);
        notify_send(n, msg);
}

/* Keeps index i in *slot when it is the first of its kind; a second of
 * that kind makes the kind -EINVAL (neither is taken). */
static void pick(int *slot, int i) {
        if (*slot >= 0)
                *slot = -EINVAL;
        else if (*slot == -ENOENT)
                *slot = i;
}

ListenFds listen_fds_pick(const char *const *names, int n) {
        ListenFds p = { .http = -ENOENT, .novnc = -ENOENT };

        for (int i = 0; i < n; i++)
                pick(names && names[i] && streq(names[i], NOTIFY_FD_NOVNC) ? &p.novnc : &p.http, i);
        return p;
}

/* The fd at index i of the passed ones when it is a listening stream
 * socket, else -EINVAL; i itself when it is an error. */
static int listening_stream(int i) {
        if (i < 0)
                return i;
        return sd_is_socket(SD_LISTEN_FDS_START + i, AF_UNSPEC, SOCK_STREAM, 1) > 0 ? SD_LISTEN_FDS_START + i
                                                                                    : -EINVAL;
}

ListenFds notify_listen_fds(void) {
        _cleanup_(strv_freep) char **names = NULL;
        int n = sd_listen_fds_with_names(true, &names);
        ListenFds p = { .http = -ENOENT, .novnc = -ENOENT };

        if (n < 0)
                log_warning_errno(n, "Ignoring socket activation: %m");
        if (n <= 0)
                return p;
        p = listen_fds_pick((const char *const *)names, n);
        p.http = listening_stream(p.http);
        p.novnc = listening_stream(p.novnc);
        /* What is not taken is closed: no service inherits it. */
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++)
                if (fd != p.http && fd != p.novnc)
                        (void)close(fd);
        return p;
}

static int start_unit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Notifier *n = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (!e) {
                log_info("systemd accepted the shutdown; waiting for it to stop us.");
                return 0;
        }
        log_error("systemd refused the shutdown (%s: %s); stopping the agent only.", e->name,
                  e->message ?: "no message");
        if (n->on_refused)
                n->on_refused(n->userdata);
        return 0;
}

int notify_system_shutdown(Notifier *n, const char *target) {
        int r;

        if (!n->system_bus) {
                r = sd_bus_open_system(&n->system_bus);
                if (r < 0)
                        return r;
                r = sd_bus_attach_event(n->system_bus, n->event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0) {
                        n->system_bus = sd_bus_flush_close_unref(n->system_bus);
                        return r;
                }
        }
        return sd_bus_call_method_async(n->system_bus, NULL, "org.freedesktop.systemd1",
                                        "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                        "StartUnit", start_unit_reply, n, "ss", target,
                                        "replace-irreversibly");
}
