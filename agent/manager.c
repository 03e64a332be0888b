/* The Manager's lifecycle: creation, the signal sources and the
 * orderly shutdown.  Shutdown is a chain of events, never a sleep:
 *   request → STOPPING=1 → supervisor stops services (reverse dependency
 *   order, per-service timeouts; bounded here by shutdown_timeout_ms)
 *   → not PID 1: leave the loop, exit 0
 *   → PID 1: kill(-1, SIGTERM) → every child reaped or a grace timer
 *     → kill(-1, SIGKILL) → every child reaped or a second timer
 *     → sync, the root read-only (the machine's own init only: never
 *       in a PID namespace, which shares the root), reboot(RB_AUTOBOOT /
 *       RB_POWER_OFF) (or exit for shutdown_action=exit, which tests in a
 *       PID namespace use); should reboot() fail, the root writable
 *       again and the agent stays up.
 * kill(-1) is only ever sent as PID 1: in any other process it would hit
 * everything the user may signal; as a PID namespace's init the kernel
 * confines it to that namespace.  POST /shutdown from a systemd service
 * asks systemd for the machine's shutdown instead (notify.c), and systemd
 * then stops us with SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>

#include "agent/host/host-secrets.h"
#include "agent/http/http-wait.h"
#include "agent/http/http.h"
#include "agent/login/cli-installed.h"
#include "agent/login/handoff-vsock.h"
#include "agent/login/login.h"
#include "agent/supervise/children.h"
#include "agent/supervise/supervisor.h"
#include "callback-routes.h"
#include "log.h"
#include "login-routes.h"
#include "manager.h"
#include "pid1.h"
#include "vnc/browser.h"

#define KILL_GRACE_USEC (2 * USEC_PER_SEC)
#define KILL_WAIT_USEC (1 * USEC_PER_SEC)

enum {
        PHASE_RUNNING,
        PHASE_SERVICES,
        PHASE_TERM,
        PHASE_KILL,
        PHASE_FINAL,
};

static void on_shutdown_refused(void *userdata) {
        manager_request_shutdown(userdata, "POST /shutdown");
}

int manager_new(Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof *m);
        int r;

        if (!m)
                return -ENOMEM;
        config_init(&m->config);
        m->start_monotonic = now(CLOCK_MONOTONIC);
        m->novnc_socket = m->http_v6_hold = m->novnc_v6_hold = -EBADF;
        desktop_init(&m->desktop);
        m->port_floor = -1;
        r = sd_event_new(&m->event);
        if (r < 0)
                return r;
        r = children_new(&m->children);
        if (r < 0)
                return r;
        m->launcher = children_launcher(m->children);
        notify_init(&m->notifier, m->event, on_shutdown_refused, m);
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        m->shutdown_timer = sd_event_source_disable_unref(m->shutdown_timer);
        notify_done(&m->notifier);
        /* Logins first: their last notifications answer waiting requests
         * and drop queued pushes, so the routes, the handoff and the HTTP
         * server are still there for them. */
        m->logins = login_manager_free(m->logins); /* kills CLIs, wipes secrets */
        login_routes_logins_gone(m->login_routes);
        m->handoff = handoff_free(m->handoff);
        m->ready_waiters = http_wait_list_free(m->ready_waiters);
        m->http = http_server_free(m->http);
        m->login_routes = login_routes_free(m->login_routes);
        m->callback_routes = callback_routes_free(m->callback_routes);
        m->browser = browser_free(m->browser);
        m->supervisor = supervisor_free(m->supervisor);
        free(m->cgroup_base);
        m->children = children_free(m->children);
        m->novnc_socket = safe_close(m->novnc_socket);
        m->http_v6_hold = safe_close(m->http_v6_hold);
        m->novnc_v6_hold = safe_close(m->novnc_v6_hold);
        m->secrets = host_secrets_free(m->secrets);
        desktop_done(&m->desktop);
        m->clis = cli_installed_free(m->clis);
        config_done(&m->config);
        m->event = sd_event_unref(m->event);
        free(m);
        return NULL;
}

static bool have_children(void) {
        siginfo_t si = {};
        /* WNOWAIT: look, do not reap; the SIGCHLD handler reaps. */
        return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

static void shutdown_final(Manager *m) {
        Pid1Root root;
        int r;

        m->shutdown_phase = PHASE_FINAL;
        m->shutdown_timer = sd_event_source_disable_unref(m->shutdown_timer);
        if (!m->is_pid1 || m->config.shutdown_action == SHUTDOWN_EXIT) {
                if (m->is_pid1)
                        sync();
                log_info("Stopped; exiting.");
                sd_event_exit(m->event, m->exit_code);
                return;
        }
        log_info("Stopped; %s.", shutdown_action_to_string(m->config.shutdown_action));
        r = pid1_reboot(m->config.shutdown_action, &root);
        /* Still here: PID 1 must not exit (the kernel would panic); keep
         * answering /health so the host sees what happened. */
        log_error_errno(r, "reboot() failed, staying up with %s: %m", pid1_root_to_string(root));
}

static int shutdown_timer_cb(sd_event_source *s, uint64_t usec, void *userdata);

static void shutdown_arm(Manager *m, usec_t timeout) {
        int r;

        m->shutdown_timer = sd_event_source_disable_unref(m->shutdown_timer);
        r = sd_event_add_time_relative(m->event, &m->shutdown_timer, CLOCK_MONOTONIC, timeout, 0,
                                       shutdown_timer_cb, m);
        if (r < 0) {
                log_error_errno(r, "Failed to arm the shutdown timer, going on at once: %m");
                shutdown_final(m);
        }
}

/* What is left once the services stopped: as PID 1 every process; else
 * ours (we are a subreaper), those that left their service's process
 * group included, which would outlive the agent otherwise. */
static void shutdown_kill(Manager *m, int sig) {
        int r = 1;

        m->shutdown_phase = sig == SIGTERM ? PHASE_TERM : PHASE_KILL;
        if (have_children()) {
                if (m->is_pid1)
                        (void)kill(-1, sig);
                else if ((r = children_signal_all(sig)) < 0)
                        log_warning_errno(r, "Cannot look for the processes left after the services: %m");
        }
        if (r <= 0 || !have_children()) {
                shutdown_final(m);
                return;
        }
        log_info("Sending SIG%s to remaining processes.", sigabbrev_np(sig));
        shutdown_arm(m, sig == SIGTERM ? KILL_GRACE_USEC : KILL_WAIT_USEC);
}

static void services_stopped(void *userdata) {
        Manager *m = userdata;

        if (m->shutdown_phase != PHASE_SERVICES)
                return;
        log_info("Services stopped.");
        shutdown_kill(m, SIGTERM);
}

static int shutdown_timer_cb(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        switch (m->shutdown_phase) {
        case PHASE_SERVICES:
                log_warning("Services did not stop within %u ms; going on.", m->config.shutdown_timeout_ms);
                shutdown_kill(m, SIGTERM);
                break;
        case PHASE_TERM:
                shutdown_kill(m, SIGKILL);
                break;
        default:
                shutdown_final(m);
        }
        return 0;
}

static int shutdown_start_cb(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        int r;

        m->shutdown_phase = PHASE_SERVICES;
        if (!m->supervisor) {
                services_stopped(m);
                return 0;
        }
        shutdown_arm(m, (usec_t)m->config.shutdown_timeout_ms * USEC_PER_MSEC);
        r = supervisor_stop_all(m->supervisor, services_stopped, m);
        if (r < 0) {
                log_error_errno(r, "Failed to stop services: %m");
                services_stopped(m);
        }
        return 0;
}

void manager_request_shutdown(Manager *m, const char *reason) {
        int r;

        if (m->stopping)
                return;
        m->stopping = true;
        log_notice("Shutting down: %s.", reason);
        /* Whoever waits for /health/ready learns it will not come. */
        if (m->ready_waiters)
                http_wait_kick(m->ready_waiters);
        notify_stopping(&m->notifier, reason);
        /* Deferred: callers (signal handlers, an HTTP handler that still
         * has to send its reply) return to the loop before anything stops. */
        r = sd_event_add_defer(m->event, NULL, shutdown_start_cb, m);
        if (r < 0) {
                /* Not an exit from the loop: PID 1 must end in its
                 * reboot, never return (the kernel would panic). */
                log_error_errno(r, "Failed to schedule shutdown, stopping at once: %m");
                (void)shutdown_start_cb(NULL, m);
        }
}

/* Started by PID 1 with an invocation id and a notify socket.  Tests that
 * set NOTIFY_SOCKET themselves never qualify. */
bool manager_is_system_service(Manager *m) {
        return !m->is_pid1 && m->notifier.enabled && getenv("INVOCATION_ID") && getppid() == 1;
}

static bool system_shutdown_wanted(Manager *m) {
        if (m->is_pid1 || m->config.shutdown_action == SHUTDOWN_EXIT || m->config.system_shutdown == 0)
                return false;
        return m->config.system_shutdown > 0 || manager_is_system_service(m);
}

void manager_request_machine_shutdown(Manager *m, const char *reason) {
        const char *target = m->config.shutdown_action == SHUTDOWN_POWEROFF ? "poweroff.target" : "reboot.target";
        int r;

        if (!m->stopping && system_shutdown_wanted(m)) {
                r = notify_system_shutdown(&m->notifier, target);
                if (r >= 0) {
                        log_notice("%s: asking systemd for %s.", reason, target);
                        return;
                }
                log_warning_errno(r, "Failed to ask systemd for %s, stopping the agent only: %m", target);
        }
        manager_request_shutdown(m, reason);
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        children_reap(m->children);
        if ((m->shutdown_phase == PHASE_TERM || m->shutdown_phase == PHASE_KILL) && !have_children())
                shutdown_final(m);
        return 0;
}

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        char reason[32];

        snprintf(reason, sizeof reason, "SIG%s", sigabbrev_np((int)si->ssi_signo) ?: "?");
        manager_request_shutdown(userdata, reason);
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("SIGHUP ignored: the configuration is read at start only.");
        return 0;
}

int manager_add_signals(Manager *m) {
        static const int stop_signals[] = { SIGTERM, SIGINT, SIGPWR };
        int r;

        r = sd_event_add_signal(m->event, NULL, SIGCHLD, on_sigchld, m);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++) {
                r = sd_event_add_signal(m->event, NULL, stop_signals[i], on_stop_signal, m);
                if (r < 0)
                        return r;
        }
        return sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
}
