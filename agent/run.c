/* `vm-browser-agent run` — also what runs as PID 1 (init=): the agent.
 * Wires the modules together in boot order on one sd-event loop:
 *   signals blocked before any fork → PID-1 mounts or child subreaper →
 *   config (file < kernel command line < flags) → signal sources →
 *   netinit (PID 1, or netinit=true) → HTTP (socket-activated fd or
 *   bind) → READY=1 → supervisor starts the services → loop.
 * Shutdown is manager.c's.  As PID 1 nothing here exits early: a bad
 * config falls back to defaults and every failure ends up in /health.
 *
 * Over 800 lines: the one place that knows every layer (the composition
 * root), so each layer's set-up from the config and its hooks into the
 * others sit here side by side, in boot order; the layers know none of it. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <linux/capability.h>

#include "agent/host/host-addresses.h"
#include "agent/host/host-secrets.h"
#include "agent/http/http.h"
#include "agent/login/cli-installed.h"
#include "agent/login/cli-runner.h"
#include "agent/login/handoff-vsock.h"
#include "agent/login/login.h"
#include "agent/supervise/cgroup.h"
#include "agent/supervise/children.h"
#include "agent/supervise/spawn.h"
#include "agent/supervise/sv-prepare.h"
#include "agent/supervise/supervisor.h"
#include "agent/supervise/sv-memory.h"
#include "build-config.h"
#include "callback-routes.h"
#include "desktop-setup.h"
#include "fileio.h"
#include "getopt-util.h"
#include "harden.h"
#include "health-routes.h"
#include "in-addr-util.h"
#include "log.h"
#include "login-routes.h"
#include "manager.h"
#include "mount-util.h"
#include "netinit/ipcfg.h"
#include "notify.h"
#include "pid1.h"
#include "port-floor.h"
#include "proc-util.h"
#include "restore.h"
#include "run.h"
#include "socket-util.h"
#include "vnc/browser.h"
#include "vnc/display.h"

#define MAX_SET_FLAGS 64

typedef struct RunArgs {
        const char *config_path;
        const char *set[MAX_SET_FLAGS][2]; /* key, value */
        size_t n_set;
        char *owned[MAX_SET_FLAGS];        /* "key=value" copies split in place */
        bool dump_keys;
        bool help;
} RunArgs;

static void run_args_done(RunArgs *a) {
        for (size_t i = 0; i < a->n_set; i++)
                if (a->owned[i]) {
                        /* "key\0value": wipe both halves (the value may be the token). */
                        size_t n = strlen(a->owned[i]) + 1;
                        n += strlen(a->owned[i] + n);
                        explicit_bzero(a->owned[i], n);
                        free(a->owned[i]);
                }
}

static int args_add(RunArgs *a, const char *key, const char *value, char *owned) {
        if (a->n_set >= MAX_SET_FLAGS) {
                free(owned);
                return -E2BIG;
        }
        a->set[a->n_set][0] = key;
        a->set[a->n_set][1] = value;
        a->owned[a->n_set++] = owned;
        return 0;
}

static int args_add_assignment(RunArgs *a, const char *kv) {
        char *copy = strdup(kv), *eq;

        if (!copy)
                return -ENOMEM;
        eq = strchr(copy, '=');
        if (!eq) {
                free(copy);
                return -EINVAL;
        }
        *eq = '\0';
        return args_add(a, copy, eq + 1, copy);
}

static void print_help(void) {
        printf("Usage: vm-browser-agent run [OPTIONS]\n\n"
               "Runs the agent (also what happens as PID 1).\n\n"
               "  --config PATH        JSON config file (default %s/agent.json)\n"
               "  --set KEY=VALUE      set a config key (repeatable; wins over file and cmdline)\n"
               "  --http-port PORT     same as --set http_port=PORT\n"
               "  --log-level LEVEL    same as --set log_level=LEVEL\n"
               "  --services-file PATH same as --set services_file=PATH\n"
               "  --netinit / --no-netinit   force netinit on / off\n"
               "  --no-reboot          same as --set shutdown_action=exit\n"
               "  --dump-config-keys   print the config keys as a markdown table\n",
               SYSCONF_DIR);
}

/* As PID 1 the kernel hands init the boot arguments it did not know:
 * unknown or malformed options are ignored then instead of stopping the
 * boot (PID 1 exiting is a kernel panic), and so are --help and
 * --dump-config-keys (run_main). */
static int parse_args(int argc, char **argv, bool lenient, RunArgs *a) {
        enum { ARG_SET = 0x100, ARG_HTTP_PORT, ARG_LOG_LEVEL, ARG_SERVICES, ARG_NETINIT,
               ARG_NO_NETINIT, ARG_NO_REBOOT, ARG_DUMP };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "config", required_argument, NULL, 'c' },
                { "set", required_argument, NULL, ARG_SET },
                { "http-port", required_argument, NULL, ARG_HTTP_PORT },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "services-file", required_argument, NULL, ARG_SERVICES },
                { "netinit", no_argument, NULL, ARG_NETINIT },
                { "no-netinit", no_argument, NULL, ARG_NO_NETINIT },
                { "no-reboot", no_argument, NULL, ARG_NO_REBOOT },
                { "dump-config-keys", no_argument, NULL, ARG_DUMP },
                {}
        };
        int c, r = 0;

        opterr = 0; /* glibc's message would show a --token=... whole */
        optind = 1;
        while (r >= 0 && (c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0)
                switch (c) {
                case 'h': a->help = true; break;
                case 'c': a->config_path = optarg; break;
                case ARG_SET:
                        r = args_add_assignment(a, optarg);
                        if (r == -EINVAL)
                                log_error("--set expects KEY=VALUE."); /* not echoed: may be a token */
                        if (r == -EINVAL && lenient)
                                r = 0;
                        break;
                case ARG_HTTP_PORT: r = args_add(a, "http_port", optarg, NULL); break;
                case ARG_LOG_LEVEL: r = args_add(a, "log_level", optarg, NULL); break;
                case ARG_SERVICES: r = args_add(a, "services_file", optarg, NULL); break;
                case ARG_NETINIT: r = args_add(a, "netinit", "true", NULL); break;
                case ARG_NO_NETINIT: r = args_add(a, "netinit", "false", NULL); break;
                case ARG_NO_REBOOT: r = args_add(a, "shutdown_action", "exit", NULL); break;
                case ARG_DUMP: a->dump_keys = true; break;
                default:
                        if (!lenient) {
                                char name[64];
                                log_error("Unknown option '%s', or its argument missing; see --help.",
                                          getopt_refused(argv, name, sizeof name));
                                return -EINVAL;
                        }
                }
        /* Not echoed: the run takes no argument, and one is most likely a
         * value that lost its option (--set token= VALUE). */
        if (r >= 0 && optind < argc && !lenient) {
                log_error("Unexpected argument (not shown: it may be a secret); see --help.");
                return -EINVAL;
        }
        return r;
}

/* A flag's or the file's absence as an error: the first one met is kept
 * in err.  As PID 1 (keep_going) loading goes on; otherwise it ends. */
static int source_error(Config *c, const char *e, char *err, size_t size) {
        if (c->n_errors++ == 0)
                snprintf(err, size, "%s", e);
        return c->keep_going ? 0 : -EINVAL;
}

/* count: false on the second pass, whose errors the first pass reported. */
static int apply_flags(Manager *m, const RunArgs *a, bool count, char *err, size_t size) {
        for (size_t i = 0; i < a->n_set; i++) {
                char e[256];
                int r = config_set(&m->config, a->set[i][0], a->set[i][1], e, sizeof e);

                if (r == -ENOMEM)
                        return r;
                if (r < 0 && count && source_error(&m->config, e, err, size) < 0)
                        return -EINVAL;
        }
        return 0;
}

/* file < kernel command line < flags.  The flags are applied twice: first
 * so that a redirected cmdline_path (tests, image builds) is honoured when
 * reading the command line, then again so that they win over it.  Every
 * loader keeps the first error in err and counts them in n_errors. */
static int load_config(Manager *m, const RunArgs *a, char *err, size_t size) {
        _cleanup_(freep) char *cmdline = NULL;
        const char *path = a->config_path ?: SYSCONF_DIR "/agent.json";
        Config *c = &m->config;
        char e[256];
        int r;

        r = config_load_file(c, path, err, size);
        if (r == -ENOENT && a->config_path) {
                snprintf(e, sizeof e, "%s: not found", path);
                r = source_error(c, e, err, size);
        }
        if (r == -ENOMEM || (r < 0 && r != -ENOENT && !c->keep_going))
                return r;
        r = apply_flags(m, a, true, err, size);
        if (r < 0)
                return r;
        r = read_full_file(c->cmdline_path, IPCFG_CMDLINE_MAX, &cmdline, NULL);
        if (r >= 0) {
                if (m->is_pid1)
                        m->machine_id.found = machine_id_from_cmdline(cmdline, m->machine_id.id,
                                                                      &m->machine_id.refused,
                                                                      m->machine_id.error);
                r = config_apply_cmdline(c, cmdline, err, size);
                if (r == -ENOMEM || (r < 0 && !c->keep_going))
                        return r;
        } else if (r == -ENOENT) /* a redirected path (tests, image builds) */
                log_debug_errno(r, "Cannot read %s, no vmba.* keys: %m", c->cmdline_path);
        else /* over IPCFG_CMDLINE_MAX, say: the host's vmba.* keys are not applied */
                log_warning_errno(r, "Cannot read %s, so no vmba.* key applies: %m", c->cmdline_path);
        return apply_flags(m, a, false, err, size);
}

/* Secrets given where other local processes can read them. */
static void warn_visible_secrets(Manager *m, const RunArgs *a) {
        if (m->config.secrets_from_cmdline & CONFIG_TOKEN)
                log_warning("Token set with vmba.token= on the kernel command line, which every "
                            "process can read in /proc/cmdline; prefer token_file or MMDS.");
        if (m->config.secrets_from_cmdline & CONFIG_DESKTOP_SECRET)
                log_warning("Desktop secret set with vmba.desktop_secret= on the kernel command line, which "
                            "every process can read in /proc/cmdline; prefer desktop_secret_file or MMDS.");
        for (size_t i = 0; i < a->n_set; i++)
                if (streq(a->set[i][0], "token") || streq(a->set[i][0], "desktop_secret"))
                        log_warning("%s set with --set, which every process can read in /proc/%d/cmdline; "
                                    "prefer its file.", a->set[i][0], (int)getpid());
}

static int setup_config(Manager *m, const RunArgs *a) {
        char err[256] = "";
        int r;

        /* PID 1 must come up: a bad key is skipped and everything else
         * applies, so a typo never drops the settings that were right
         * (token_file, allow_from, the desktop's) to the defaults. */
        m->config.keep_going = m->is_pid1;
        r = load_config(m, a, err, sizeof err);
        if (r == -ENOMEM)
                return log_error_errno(r, "Failed to load the configuration: %m");
        if (r < 0 && !m->is_pid1)
                return log_error_errno(r, "Bad configuration: %s", err[0] ? err : strerror(-r));
        if (m->config.n_errors > 0) {
                if (m->config.n_errors > 1)
                        snprintf(m->config_error, sizeof m->config_error, "%.220s (and %u more)", err,
                                 m->config.n_errors - 1);
                else
                        snprintf(m->config_error, sizeof m->config_error, "%.250s", err);
                log_error("Bad configuration, skipped: %s", m->config_error);
        }
        log_set_max_level(m->config.log_level);
        warn_visible_secrets(m, a);
        return 0;
}

static void read_build_id(Manager *m) {
        _cleanup_(freep) char *buf = NULL;

        if (read_full_file(m->config.build_id_path, sizeof m->build_id - 1, &buf, NULL) < 0)
                return;
        buf[strcspn(buf, "\r\n")] = '\0';
        snprintf(m->build_id, sizeof m->build_id, "%s", buf);
}

/* The pinned CLIs and what of them is installed, for /health.  A bad pins
 * file is logged and leaves the report empty: it is not the agent's job. */
static void read_clis(Manager *m) {
        char err[256] = "";
        int r;

        r = cli_installed_load(m->config.clis_file, m->config.clis_dir, &m->clis, err, sizeof err);
        if (r < 0)
                log_warning_errno(r, "The CLIs' pins are not reported: %s", err[0] ? err : strerror(-r));
}

/* netinit_run() (netinit/netinit.h) reads ip= from cmdline_path and parses
 * it, and applies it when netinit is on (config netinit; auto: as PID 1)
 * and netinit's one policy lets this process, the rule the `netinit` verb
 * follows too: the machine's init or a service of its systemd, or a
 * process in namespaces someone made for it.  The plan is parsed even when
 * not applied: the default allow_from admits the ip= gateway (the host),
 * and /health reports it.  Under systemd with netinit off, something else
 * configured the interface from the same ip=. */
static void setup_network(Manager *m) {
        NetinitOptions o = {
                .cmdline_path = m->config.cmdline_path,
                .apply = m->config.netinit < 0 ? m->is_pid1 : m->config.netinit > 0,
                .system_service = manager_is_system_service(m),
        };
        int r;

        ipcfg_apply_options_default(&o.apply_options);
        o.apply_options.resolv_conf = m->config.resolv_conf;
        o.apply_options.hosts = m->config.hosts_file;
        o.apply_options.hostname_file = m->config.hostname_file;
        o.apply_options.device_timeout_usec = (uint64_t)m->config.device_timeout_ms * USEC_PER_MSEC;
        r = netinit_run(&o, &m->net);
        m->boot.network = now(CLOCK_BOOTTIME);
        if (r < 0 && !o.apply)
                /* Not ours to apply: say so, but the agent's own state is fine. */
                log_warning_errno(r, "Cannot read the network plan: %s", m->net.error);
        else {
                /* A step that worked may have a warning, also when another failed. */
                if (o.apply && m->net.result.warning[0])
                        log_warning("%s", m->net.result.warning);
                if (r < 0)
                        log_error_errno(r, "Network setup failed: %s", m->net.error);
                else if (m->net.status == NETINIT_APPLIED)
                        log_info("Network configured on %s.", m->net.result.device);
        }
}

/* The namespace is the agent's to guard when netinit brought it up (or
 * failed while doing so): see port-floor.h. */
static void setup_port_floor(Manager *m) {
        const Config *c = &m->config;
        bool own = m->net.status != NETINIT_NOT_CONFIGURED && m->net.stage >= NETINIT_STAGE_APPLY;

        m->cli_caps = port_floor_setup(own, c->unprivileged_port_start, &m->port_floor);
        /* x11vnc has no capability: a TCP port of its below the floor is lost. */
        if (isempty(c->services_file) && !streq_ptr(c->vnc_listen, DISPLAY_VNC_LISTEN_UNIX) &&
            (int)c->vnc_port < m->port_floor)
                log_warning("x11vnc cannot listen on vnc_port %u, below the port floor %d (unprivileged_port_start).",
                            c->vnc_port, m->port_floor);
}

static void shutdown_after_reply(bool completely_sent, void *userdata) {
        manager_request_machine_shutdown(userdata, "POST /shutdown");
}

static int shutdown_handler(HttpRequest *req, void *userdata) {
        /* Stop once the reply is out (or the client is gone): stopping at
         * once could close the connection before the 202 is sent. */
        http_request_on_complete(req, shutdown_after_reply, userdata);
        return http_reply_json(req, 202, json_pack("{s:s}", "status", "stopping"), 0);
}

static const HttpRoute control_routes[] = {
        { "POST", "/shutdown", HTTP_ROUTE_CONTROL, shutdown_handler },
};

/* The default allow_from admits the host: the ip= gateways, read at
 * request time because netinit may finish after the server listens. */
static bool peer_is_host(const struct sockaddr *sa, void *userdata) {
        return host_is_gateway(&((Manager *)userdata)->net.plan, sa);
}

/* For the HTTP gate (control routes wait) and the push handoff (held):
 * from a restore's start, refused or failing steps included, until it
 * completes. */
static bool restoring(void *userdata) {
        return restore_in_progress(userdata);
}

static const char *control_token(void *userdata) {
        return host_secrets_token(((Manager *)userdata)->secrets);
}

static void on_secrets_changed(void *userdata) {
        Manager *m = userdata;

        /* The desktop secret arrived from MMDS: its files are rewritten
         * and x11vnc (then websockify) restarted. */
        log_debug("Host secrets changed.");
        desktop_secrets_changed(&m->desktop, m->supervisor);
}

static void on_mmds_object(const char *json, void *userdata) {
        restore_mmds_object(userdata, json);
}

/* MMDS answers anyone in the guest who asks, and it carries the control
 * token: only root's sockets may reach it.  Without the rule the secrets
 * are still taken (the host's handover needs them), with an error that
 * says who else can read them. */
static void mmds_guard(const char *address) {
        IpcfgAddr a = {};
        char err[256];
        int r;

        if (inet_pton(AF_INET, address, &a.in) == 1)
                a.family = AF_INET;
        else if (inet_pton(AF_INET6, address, &a.in6) == 1)
                a.family = AF_INET6;
        else {
                log_error("mmds_address '%s' is not an IP address: MMDS is not guarded.", address);
                return;
        }
        r = ipcfg_guard_root_only(&a, err, sizeof err);
        if (r < 0)
                log_error("%s: every local user can read the secrets MMDS hands out.", err);
        else
                log_debug("Only root reaches MMDS at %s.", address);
}

static const char *mmds_why(bool mmds, bool asked) {
        return asked ? "gave none" : mmds ? "not asked, as the host gave the other secret" : "not asked";
}

/* The token and the desktop secret: explicit values, the files the host
 * wrote, or MMDS (auto: when netinit configured an interface, which a
 * Firecracker guest's boot arguments do, and nothing else gave either
 * secret).  Missing ones fail closed. */
static int setup_secrets(Manager *m) {
        const Config *c = &m->config;
        HostSecretsOptions o = {
                .event = m->event,
                .token = c->token, .token_file = c->token_file,
                .desktop_secret = c->desktop_secret, .desktop_secret_file = c->desktop_secret_file,
                .mmds = c->mmds > 0 || (c->mmds < 0 && m->net.status == NETINIT_APPLIED),
                .mmds_forever = c->mmds > 0,
                .mmds_alone = c->mmds < 0,
                .mmds_address = c->mmds_address, .mmds_port = 80, .mmds_path = c->mmds_path,
        };
        HostSecretsHooks hooks = { .on_change = on_secrets_changed, .on_mmds_object = on_mmds_object,
                                   .userdata = m };
        char err[256] = "";
        bool asked;
        int r;

        /* A restore's handover carries the new secrets too, whichever
         * channel gave the boot's. */
        if (o.mmds || c->restore > 0)
                mmds_guard(c->mmds_address);
        r = host_secrets_new(&o, &hooks, &m->secrets, err, sizeof err);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the host's secrets: %s.", err);
        asked = host_secrets_mmds_asked(m->secrets);
        if (host_secrets_token_state(m->secrets) == SECRET_MISSING)
                log_error("No control token (%s%s, no vmba.token=, MMDS %s): control routes refuse every "
                          "request until the host provides one.", isempty(c->token_file) ? "no token_file" : "no ",
                          strempty(c->token_file), mmds_why(o.mmds, asked));
        if (host_secrets_desktop_state(m->secrets) == SECRET_MISSING)
                log_error("No desktop secret (%s%s, no vmba.desktop_secret=, MMDS %s): the desktop is locked "
                          "with a secret nobody has.", isempty(c->desktop_secret_file) ? "no desktop_secret_file" : "no ",
                          strempty(c->desktop_secret_file), mmds_why(o.mmds, asked));
        return 0;
}

/* auto: when MMDS was asked for the boot's secrets, since the handover
 * comes the same way.  Not when files or the command line gave them:
 * nothing then says that MMDS is there, and nothing authenticates its
 * answer (Firecracker intercepts its address only on an interface the
 * host enabled it on).  Any machine on the bridge could otherwise poke
 * the public POST /restore-check and answer for 169.254.169.254 (the
 * VM's ARP entry for its gateway poisoned for a moment) with a handover
 * of its own: its token, desktop secret and ip= gateway taken, the
 * host's refused. */
static bool restore_wanted(Manager *m) {
        const Config *c = &m->config;

        /* PID 1 goes on without them (see fatal()): a restore could not
         * install the clone's, and the control routes stay closed. */
        if (!m->secrets) {
                if (c->restore > 0)
                        log_error("Snapshot restores are off: the host's secrets were not set up (see above).");
                return false;
        }
        if (c->restore >= 0)
                return c->restore > 0;
        return host_secrets_mmds_asked(m->secrets);
}

/* websockify's socket from socket activation, for the built-in stack,
 * when it is bound where websockify would bind (novnc_listen, novnc_port;
 * for 0.0.0.0 also [::] dual-stack, systemd's ListenStream=PORT, which
 * holds the port's IPv6 side between two runs of the agent as well):
 * else closed, and the agent binds that itself. */
static void novnc_socket_take(Manager *m, int fd) {
        const Config *c = &m->config;
        const char *address = isempty(c->novnc_listen) ? "0.0.0.0" : c->novnc_listen;
        SockaddrIn want;
        socklen_t want_len;
        int r;

        if (fd == -EINVAL)
                log_warning("Ignoring the '" NOTIFY_FD_NOVNC "' socket passed: expected one listening stream socket.");
        if (fd < 0)
                return;
        if (!isempty(c->services_file)) {
                log_warning("Ignoring the '" NOTIFY_FD_NOVNC "' socket passed: a services_file brings its own "
                            "services, and nothing answers there (disable vm-browser-agent-novnc.socket).");
                safe_close(fd);
                return;
        }
        r = sockaddr_in_parse(address, c->novnc_port, &want, &want_len);
        if (r >= 0)
                r = tcp_socket_bound_as(fd, &want);
        if (r <= 0) {
                char also[96] = "";

                if (streq(address, "0.0.0.0"))
                        snprintf(also, sizeof also, " (or to [::] with IPv4 too: ListenStream=%u, BindIPv6Only=both)",
                                 (unsigned)c->novnc_port);
                log_warning("Ignoring the '" NOTIFY_FD_NOVNC "' socket passed: it is not bound to novnc_listen "
                            "%s, novnc_port %u%s.", address, (unsigned)c->novnc_port, also);
                safe_close(fd);
                return;
        }
        log_info("noVNC's port %u is held by socket activation: it stays taken while the agent restarts.",
                 (unsigned)c->novnc_port);
        m->novnc_socket = fd;
}

/* The browser's user, for its loopback share of HTTP connections; looked
 * up again by the desktop, which logs a failure. */
static uid_t browser_uid(const Config *c) {
        uid_t uid;
        gid_t gid;
        char err[256];

        if (isempty(c->browser_user) || sv_user_lookup(NULL, c->browser_user, &uid, &gid, err, sizeof err) < 0)
                return (uid_t)-1;
        return uid;
}

/* The IPv6 side of a port the agent listens on at 0.0.0.0 or loopback
 * (what: whose port), held for the agent's life: else any local user could listen on
 * [::1]:port, and a client of localhost:port that tries ::1 first
 * (glibc's order: curl, Python) would bring that user its request (a
 * Bearer token, an OAuth code and state, a viewer's desktop secret). */
static int port_hold_ipv6(int listen_fd, const char *what) {
        struct sockaddr_in6 where = { .sin6_family = AF_INET6 };
        char addr[INET6_ADDRSTRLEN] = "?";
        int fd, r = tcp_port_hold_ipv6(listen_fd, &fd, &where);

        if (r < 0)
                (void)inet_ntop(AF_INET6, &where.sin6_addr, addr, sizeof addr);
        if (r == -EADDRINUSE)
                log_warning("Another local process holds the %s port on IPv6 ([%s]:%u): clients of localhost that "
                            "try IPv6 first reach it, not the agent.", what, addr, ntohs(where.sin6_port));
        else if (r < 0)
                log_warning_errno(r, "Cannot hold the %s port on IPv6 ([%s]:%u), which any local user may then "
                                  "take: %m", what, addr, ntohs(where.sin6_port));
        return r < 0 ? -EBADF : fd;
}

static int setup_http(Manager *m) {
        const Config *c = &m->config;
        ListenFds fds = notify_listen_fds();
        int fd = fds.http, r;

        if (fd == -EINVAL)
                log_warning("Ignoring socket activation: expected one listening stream socket for HTTP.");
        novnc_socket_take(m, fds.novnc);
        HttpServerOptions o = {
                .event = m->event,
                .listen_fd = fd >= 0 ? fd : -EBADF,
                .listen_address = c->http_listen,
                .port = c->http_port,
                .max_connections = c->http_max_connections,
                .max_per_ip = c->http_max_per_ip,
                .timeout_s = c->http_timeout_s,
                .max_body = c->http_max_body,
                .max_url = c->http_max_url,
                .max_header = c->http_max_header,
                .allow_from = c->allow_from,
                .allowed_hosts = c->http_allowed_hosts,
                .browser_uid = browser_uid(c),
                .is_host = peer_is_host,
                .token = control_token,
                .restoring = restoring,
                .userdata = m,
        };
        r = http_server_new(&o, &m->http);
        if (r < 0)
                return log_error_errno(r, "Failed to start HTTP on %s:%u: %m", c->http_listen, c->http_port);
        m->boot.http = now(CLOCK_BOOTTIME);
        m->http_v6_hold = port_hold_ipv6(http_server_listen_fd(m->http), "HTTP");
        r = health_routes_register(m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the health routes: %m");
        r = http_server_add_routes(m->http, control_routes, ELEMENTSOF(control_routes), m);
        if (r < 0)
                return log_error_errno(r, "Failed to register control routes: %m");
        return 0;
}

static void on_services_changed(void *userdata) {
        Manager *m = userdata;
        char reason[256];

        /* The first time the chain is whole is the boot's ready milestone. */
        if (m->supervisor && !m->boot.ready && supervisor_chain_ready(m->supervisor, reason, sizeof reason))
                m->boot.ready = now(CLOCK_BOOTTIME);
        if (m->browser)
                browser_service_changed(m->browser);
        health_routes_changed(m);
}

static void on_services_status(const char *line, void *userdata) {
        notify_status(&((Manager *)userdata)->notifier, "%s", line);
}

static const char *const *services_log_secrets(void *userdata) {
        return desktop_log_secrets(&((Manager *)userdata)->desktop);
}

#define SERVICES_FILE_MAX (1024 * 1024)

/* Xvfb may keep CAP_IPC_OWNER (MIT-SHM with its clients) only where it
 * reaches nothing but the services' own segments, and only where the
 * agent can hand it on (a bounding set without it, as in a container or
 * under CapabilityBoundingSet=, would fail every start of Xvfb). */
static bool xvfb_shm(Manager *m) {
        const char *why = NULL;

        if (!m->own_ipc_ns)
                why = "the services have no IPC namespace of their own";
        else if (!spawn_can_keep_caps(UINT64_C(1) << CAP_IPC_OWNER))
                why = "CAP_IPC_OWNER is not the agent's to give";
        if (why)
                log_warning("Xvfb gets no shared memory from its clients (%s): x11vnc reads the screen over the X "
                            "socket (-noshm), at several times the CPU for large redraws.", why);
        return !why;
}

/* websockify's listening socket, made (bound, not listening) once and
 * kept: -errno when the port cannot be bound. */
static int novnc_socket_bind(Manager *m) {
        const Config *c = &m->config;
        const char *address = isempty(c->novnc_listen) ? "0.0.0.0" : c->novnc_listen;
        int r;

        /* Listening once websockify first starts (the supervisor): without
         * the desktop, connections are refused.  Without SO_REUSEADDR a
         * closed connection of a previous run still in TIME_WAIT keeps the
         * port: then listening at once, with it. */
        r = tcp_socket_bound(address, c->novnc_port, 0, false, &m->novnc_socket);
        if (r == -EADDRINUSE)
                r = tcp_socket_bound(address, c->novnc_port, 0, true, &m->novnc_socket);
        if (r < 0)
                return log_warning_errno(r, "Cannot bind %s port %u for noVNC; websockify will try itself, and "
                                         "while it restarts another local user could take the port: %m",
                                         address, (unsigned)c->novnc_port);
        /* Not fd 0, which a ServiceDef takes for none (the agent may be
         * started with stdin closed). */
        if (m->novnc_socket < 3) {
                int fd = fcntl(m->novnc_socket, F_DUPFD_CLOEXEC, 3);
                safe_close(m->novnc_socket);
                m->novnc_socket = fd < 0 ? -EBADF : fd;
        }
        return 0;
}

/* websockify's listening socket, made once and kept (display.h,
 * novnc_socket), or socket activation's, which listens from boot on: a
 * viewer then waits for the desktop rather than being refused.  Without
 * either, websockify binds the port itself, as it would have to anyway. */
static void novnc_socket_make(Manager *m) {
        if (m->novnc_socket < 0 && novnc_socket_bind(m) < 0)
                return;
        if (m->novnc_v6_hold < 0)
                m->novnc_v6_hold = port_hold_ipv6(m->novnc_socket, "noVNC");
        /* The viewers' connections inherit it: one whose viewer vanished
         * ends (websockify lifts its timeout once the WebSocket is up, and
         * sets this only on a socket it makes itself). */
        if (m->novnc_socket >= 0)
                (void)setsockopt(m->novnc_socket, SOL_SOCKET, SO_KEEPALIVE, &(int){ 1 }, sizeof(int));
}

/* The services: the services_file, else the built-in display stack.
 * Every failure is logged here, naming the file, service and key. */
static int load_services(Manager *m, ServiceDefs *ret) {
        const Config *c = &m->config;
        const DesktopPaths *paths = &m->desktop.paths;
        _cleanup_(freep) char *text = NULL, *hosts = NULL;
        char err[256] = "";
        int r;

        if (isempty(c->services_file)) {
                novnc_socket_make(m);
                /* The host's, as the HTTP server takes them (restore.c
                 * follows a new gateway). */
                r = host_addresses_text(c->allow_from, &m->net.plan, &hosts);
                if (r < 0)
                        return log_error_errno(r, "Failed to list the host's addresses: %m");
                DisplayOptions o = {
                        .x_shm = xvfb_shm(m),
                        .display = c->display,
                        .geometry = c->geometry,
                        .depth = c->depth,
                        .window_manager = c->window_manager,
                        .vnc_listen = c->vnc_listen,
                        .vnc_port = c->vnc_port,
                        .novnc_listen = c->novnc_listen,
                        .novnc_port = c->novnc_port,
                        .novnc_socket = m->novnc_socket > 0 ? m->novnc_socket : 0,
                        .novnc_web = c->novnc_web,
                        .host_addresses = hosts,
                        .x_user = c->x_user,
                        .x_gid = desktop_x_clients_gid(&m->desktop),
                        .vnc_user = c->vnc_user,
                        .firefox = c->firefox,
                        .firefox_profile = c->firefox_profile,
                        .browser_user = c->browser_user,
                        .browser_prestart = c->browser_prestart > 0,
                        .browser_memory_max_mb = c->browser_memory_max_mb,
                        .paths = paths,
                        .bin_path = c->bin_path,
                };
                r = display_build_services(&o, ret, err, sizeof err);
                if (r < 0)
                        return log_error_errno(r, "Invalid display configuration: %s", err[0] ? err : strerror(-r));
                /* No websockify in this stack: nothing may queue on its port. */
                if (service_defs_find(ret, DISPLAY_SERVICE_WEBSOCKIFY) < 0) {
                        m->novnc_socket = safe_close(m->novnc_socket);
                        m->novnc_v6_hold = safe_close(m->novnc_v6_hold);
                }
                return 0;
        }
        r = read_full_file(c->services_file, SERVICES_FILE_MAX, &text, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to read services file %s: %m", c->services_file);
        r = service_defs_from_json(text, ret, err, sizeof err);
        if (r < 0)
                return log_error_errno(r, "Invalid services file %s: %s", c->services_file, err[0] ? err : strerror(-r));
        return 0;
}

/* A services_file's services with a memory_max_mb: each said, with the
 * limit or why it gets none (r < 0: why).  Its browser (a service named
 * as the built-in one, which the agent shows URLs) without one is said
 * too where browser_memory_max_mb asks for a limit: that key is the
 * built-in display stack's, and nothing else would tell it runs
 * unbounded. */
static void log_services_memory(Manager *m, const ServiceDefs *defs, int r, const char *why) {
        const char *file = m->config.services_file;
        int i = service_defs_find(defs, DISPLAY_SERVICE_BROWSER);

        for (size_t k = 0; k < defs->n; k++) {
                const ServiceDef *d = &defs->services[k];
                if (d->memory_max_mb == 0)
                        continue;
                if (r >= 0)
                        log_info("Service %s gets memory.max %" PRIu32 " MiB in its cgroup.", d->name, d->memory_max_mb);
                else
                        log_notice("Service %s gets no memory.max (memory_max_mb %" PRIu32 " in %s): %s.", d->name,
                                   d->memory_max_mb, file, why);
        }
        if (i >= 0 && defs->services[i].memory_max_mb == 0 && m->config.browser_memory_max_mb > 0)
                log_notice("The browser (%s in %s) gets no memory.max: browser_memory_max_mb is the built-in "
                           "display stack's; give it \"memory_max_mb\" in %s for one.", DISPLAY_SERVICE_BROWSER,
                           file, file);
}

/* The built-in browser's memory.max (its def's memory_max_mb:
 * browser_memory_max_mb), or why it gets none (r < 0: why). */
static void log_browser_memory(const ServiceDefs *defs, int r, const char *why) {
        int i = service_defs_find(defs, DISPLAY_SERVICE_BROWSER);
        uint32_t browser_mb = i >= 0 ? defs->services[i].memory_max_mb : 0;

        if (r >= 0 && browser_mb)
                log_info("The browser gets memory.max %" PRIu32 " MiB in its cgroup.", browser_mb);
        else if (browser_mb)
                log_notice("The browser gets no memory.max (browser_memory_max_mb=%" PRIu32 "): %s; it runs with "
                           "oom_score_adj +%d instead, which the kernel's OOM killer takes before the provider "
                           "CLIs and the agent.",
                           browser_mb, why, BROWSER_OOM_SCORE_ADJ);
}

static bool services_want_memory(const ServiceDefs *defs) {
        for (size_t i = 0; i < defs->n; i++)
                if (defs->services[i].memory_max_mb > 0)
                        return true;
        return false;
}

/* The memory.max the logins' cgroups get (login_memory_max_mb) and the
 * services' (their defs' memory_max_mb: the built-in browser's is
 * browser_memory_max_mb, a services_file's are its own), or said once for
 * each why not: then only their oom_score_adj keeps the OOM killer off
 * the agent.  no_cgroups: why there are none, NULL when there are.  true
 * when the memory controller is enabled below the base. */
static bool setup_memory(Manager *m, const ServiceDefs *defs, const char *no_cgroups) {
        uint32_t login_mb = m->config.login_memory_max_mb;
        bool builtin = isempty(m->config.services_file);
        char why[512] = "";
        int r = -EOPNOTSUPP;

        if (login_mb > 0 || services_want_memory(defs))
                r = no_cgroups ? -EOPNOTSUPP : children_memory_setup(m->children, why, sizeof why);
        if (r >= 0 && login_mb)
                log_info("Provider CLIs get memory.max %" PRIu32 " MiB in their logins' cgroups.", login_mb);
        else if (login_mb)
                log_notice("Provider CLIs get no memory.max (login_memory_max_mb=%" PRIu32 "): %s; they run with "
                           "oom_score_adj +%d instead, which the kernel's OOM killer takes before the agent.",
                           login_mb, no_cgroups ?: why, CLI_OOM_SCORE_ADJ);
        if (builtin)
                log_browser_memory(defs, r, no_cgroups ?: why);
        else
                log_services_memory(m, defs, r, no_cgroups ?: why);
        return r >= 0;
}

/* A cgroup for each service, and for each child of the Launcher that asks
 * for one (a login's CLI), when the agent can have them, else said once:
 * then a process that left its service's process group outlives the
 * service until the agent stops, and what a CLI left goes only with the
 * sweeps of its user.  true when they have the memory controller
 * (setup_memory()). */
static bool setup_cgroups(Manager *m, const ServiceDefs *defs) {
        char why[512];
        int r = cgroup_base_setup(m->config.cgroup_root, m->is_pid1, &m->cgroup_base, why, sizeof why);

        if (r < 0) {
                log_notice("Services get no cgroups, only their process groups are killed: %s.", why);
                return setup_memory(m, defs, "no cgroups");
        }
        log_info("Services get cgroups of their own in %s.", m->cgroup_base);
        r = children_set_cgroup_base(m->children, m->event, m->cgroup_base);
        if (r < 0) {
                log_warning_errno(r, "Provider CLIs get no cgroups: %m");
                return setup_memory(m, defs, "no cgroups");
        }
        return setup_memory(m, defs, NULL);
}

/* memory_thrash_kill_s's floor is one period of the reads it is counted
 * in (its key's help says 10 s). */
_Static_assert((usec_t)MEMORY_THRASH_KILL_S_MIN * USEC_PER_SEC == SV_MEMORY_PERIOD_USEC,
               "memory_thrash_kill_s's floor is one read's period");

static int setup_supervisor(Manager *m) {
        const Config *c = &m->config;
        _cleanup_(service_defs_done) ServiceDefs defs = {};
        SupervisorOptions o = {
                .event = m->event,
                .children = m->children,
                .bin_path = c->bin_path,
                .restart_burst = c->restart_burst,
                .restart_window_s = c->restart_window_s,
                .failed_retry_s = c->failed_retry_s,
                .backoff_initial_ms = c->backoff_initial_ms,
                .backoff_max_ms = c->backoff_max_ms,
                .ready_timeout_ms = c->ready_timeout_ms,
                .stop_timeout_ms = c->stop_timeout_ms,
                .memory_thrash_kill_ms = c->memory_thrash_kill_s * 1000,
        };
        SupervisorHooks hooks = { .on_change = on_services_changed, .on_status = on_services_status,
                                  .secrets = services_log_secrets, .userdata = m };
        int r;

        r = load_services(m, &defs);
        if (r < 0)
                return r;
        o.memory = setup_cgroups(m, &defs);
        o.cgroup_base = m->cgroup_base;
        r = supervisor_new(&o, &defs, &hooks, &m->supervisor);
        if (r < 0)
                return log_error_errno(r, "Failed to set up services: %m");
        r = supervisor_start_all(m->supervisor);
        if (r < 0)
                return log_error_errno(r, "Failed to start services: %m");
        on_services_changed(m);
        return 0;
}

/* The browser service's status: false when there is none. */
static bool browser_service_status(Manager *m, ServiceStatus *ret) {
        for (size_t i = 0; m->supervisor && supervisor_get_status(m->supervisor, i, ret) >= 0; i++)
                if (streq(ret->name, "firefox"))
                        return true;
        return false;
}

static int browser_start_service(char *const *extra_argv, char *error, size_t size, void *userdata) {
        Manager *m = userdata;
        ServiceStatus st;
        int r;

        if (!m->supervisor)
                return -EAGAIN;
        r = supervisor_start_service(m->supervisor, "firefox", extra_argv);
        if (size > 0)
                error[0] = '\0';
        /* Why it did not start, as /health says it.  A binary missing
         * that never ran is no browser (an image without one): no cause;
         * one gone since it ran is a browser that failed, and so is one
         * whose exec fails with ENOENT (its interpreter missing). */
        if (r < 0 && r != -EALREADY && browser_service_status(m, &st) && st.last_error &&
            (r != -ENOENT || st.spawned || !st.not_found))
                snprintf(error, size, "%s", st.last_error);
        return r;
}

static int browser_set_restart_argv(char *const *extra_argv, void *userdata) {
        Manager *m = userdata;
        int r;

        if (!m->supervisor)
                return 0;
        r = supervisor_set_restart_argv(m->supervisor, "firefox", extra_argv);
        return r == -ENOENT ? 0 : r; /* a stack without a browser */
}

static bool browser_service_changing(void *userdata) {
        ServiceStatus st;

        return browser_service_status(userdata, &st) &&
               (st.state == SERVICE_STARTING || st.state == SERVICE_STOPPING);
}

static void browser_service_shown(void *userdata) {
        Manager *m = userdata;

        if (m->supervisor)
                (void)supervisor_service_used(m->supervisor, "firefox");
}

static int browser_service_waits_for(char *reason, size_t size, void *userdata) {
        Manager *m = userdata;

        return m->supervisor ? supervisor_service_waits_for(m->supervisor, "firefox", reason, size) : 0;
}

/* The browser service through a supervisor call: 0 also without a
 * supervisor, without a browser service (-ENOENT), or with everything
 * stopping, the browser with it (-ESHUTDOWN). */
static int browser_service_call(Manager *m, int (*call)(Supervisor *, const char *)) {
        int r;

        if (!m->supervisor)
                return 0;
        r = call(m->supervisor, "firefox");
        return r == -ENOENT || r == -ESHUTDOWN ? 0 : r;
}

static int browser_stop_service(void *userdata) {
        return browser_service_call(userdata, supervisor_stop_service);
}

static int browser_restart_service(void *userdata) {
        return browser_service_call(userdata, supervisor_restart_service);
}

/* Whether user (a name; "" none) exists with uid or gid. */
static bool user_shares_ids(const char *user, uid_t uid, gid_t gid) {
        char err[160];
        uid_t u;
        gid_t g;

        return !isempty(user) && sv_user_lookup(NULL, user, &u, &g, err, sizeof err) >= 0 && (u == uid || g == gid);
}

/* One of the provider CLIs' accounts (key names it in errors): not root
 * (sv_user_lookup() refuses it), and sharing neither uid nor group with
 * the display's users (by their names, whatever stack runs) or a
 * supervised service's, whose files and processes third-party code must
 * not reach (nor they its HOME), and which the sweeps of that user would
 * kill.  The pool's users are checked with the group they run with,
 * cli_user's, whatever their own primary group.  0, or -EPERM and why in
 * m->cli_error. */
static int cli_account_lookup(Manager *m, const char *key, const char *name, const gid_t *group, uid_t *ret_uid,
                              gid_t *ret_gid) {
        const Config *c = &m->config;
        char err[192];
        uid_t uid;
        gid_t gid;

        if (sv_user_lookup(NULL, name, &uid, &gid, err, sizeof err) < 0) {
                snprintf(m->cli_error, sizeof m->cli_error, "%s: %s", key, err);
                return -EPERM;
        }
        if (group)
                gid = *group;
        if (user_shares_ids(c->browser_user, uid, gid) || user_shares_ids(c->vnc_user, uid, gid) ||
            user_shares_ids(c->x_user, uid, gid)) {
                snprintf(m->cli_error, sizeof m->cli_error,
                         "%s '%s' (uid %u, gid %u) shares its uid or group with browser_user, vnc_user or "
                         "x_user; the provider CLIs need a user of their own", key, name, (unsigned)uid, (unsigned)gid);
                return -EPERM;
        }
        for (size_t i = 0; i < supervisor_n_services(m->supervisor); i++) {
                ServiceStatus st;

                if (supervisor_get_status(m->supervisor, i, &st) < 0 || !user_shares_ids(st.user, uid, gid))
                        continue;
                snprintf(m->cli_error, sizeof m->cli_error,
                         "%s '%s' (uid %u, gid %u) shares its uid or group with service %s's user '%s'; the "
                         "provider CLIs need a user of their own", key, name, (unsigned)uid, (unsigned)gid,
                         st.name, st.user);
                return -EPERM;
        }
        *ret_uid = uid;
        *ret_gid = gid;
        return 0;
}

/* Whether uids[i] is cli_user's uid or one of uids[0..i). */
static bool cli_uid_shared(const uid_t *uids, size_t i, uid_t shared_uid) {
        for (size_t k = 0; k < i; k++)
                if (uids[k] == uids[i])
                        return true;
        return uids[i] == shared_uid;
}

/* The users one login's CLI each runs as: <cli_user>1 ... <cli_user>N
 * (cli_users), each another uid, none cli_user's own.  A pool that is not
 * whole runs no CLI: two logins sharing a user could reach each other. */
static int cli_pool_lookup(Manager *m, uid_t shared_uid) {
        const Config *c = &m->config;

        for (uint32_t i = 0; i < c->cli_users; i++) {
                char name[256], key[64];
                uid_t uid;
                gid_t gid;

                snprintf(name, sizeof name, "%s%" PRIu32, c->cli_user, i + 1);
                snprintf(key, sizeof key, "cli_users (user %" PRIu32 " of %" PRIu32 ")", i + 1, c->cli_users);
                if (cli_account_lookup(m, key, name, &m->cli_gid, &uid, &gid) < 0)
                        return -EPERM;
                m->cli_uids[i] = uid;
                if (cli_uid_shared(m->cli_uids, i, shared_uid)) {
                        snprintf(m->cli_error, sizeof m->cli_error,
                                 "%s '%.64s' has uid %u, as cli_user or another of the CLIs' users has; each login's "
                                 "CLI needs a user of its own", key, name, (unsigned)uid);
                        return -EPERM;
                }
        }
        m->n_cli_uids = c->cli_users;
        return 0;
}

/* Whether the CLIs can run with a private /tmp (SpawnOptions.private_tmp):
 * a CLI user is the next login's too, and what one login's CLI leaves
 * there by name the next would read, credentials included.  Without it
 * no CLI runs (said here, once, and in each start's 503): as root, which
 * the agent needs to run a CLI as its user at all, only a container or
 * seccomp refuses it, and the image is neither.  What the CLIs must reach
 * cannot be below those directories either.  0, or -EPERM and why in
 * m->cli_error. */
static int cli_private_tmp_check(Manager *m) {
        const Config *c = &m->config;
        _cleanup_(freep) char *exe = self_exe_path();
        const struct { const char *what, *path, *sep; } paths[] = {
                { "login_home", c->login_home, "" }, { "control_socket", c->control_socket, "" },
                { "runtime_dir", c->runtime_dir, "" }, { "bin_path has", c->bin_path, ":" },
                /* The CLIs' browser links name it. */
                { "the agent's binary", exe, "" },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                for (const char *p = strempty(paths[i].path); *p; ) {
                        size_t n = strcspn(p, paths[i].sep);
                        char entry[PATH_MAX], where[PATH_MAX];

                        snprintf(entry, sizeof entry, "%.*s", (int)n, p);
                        if (private_tmp_hides_where(entry, where, sizeof where)) {
                                if (streq(entry, where))
                                        snprintf(m->cli_error, sizeof m->cli_error,
                                                 "%s %.64s is where each provider CLI has an empty /tmp, "
                                                 "/var/tmp, /dev/shm or /run/lock of its own", paths[i].what, entry);
                                else
                                        snprintf(m->cli_error, sizeof m->cli_error,
                                                 "%s %.64s, which leads to %.64s, where each provider CLI has an "
                                                 "empty /tmp, /var/tmp, /dev/shm or /run/lock of its own",
                                                 paths[i].what, entry, where);
                                return -EPERM;
                        }
                        p += n + (p[n] != '\0');
                }
        r = spawn_private_tmp_check();
        if (r < 0) {
                snprintf(m->cli_error, sizeof m->cli_error,
                         "a provider CLI cannot get a /tmp, /var/tmp, /dev/shm and /run/lock of its own "
                         "(a mount and an IPC namespace): %s", strerror(-r));
                return -EPERM;
        }
        return 0;
}

/* cli_user (the shared account, its group the CLIs') and the pool. */
static void cli_user_lookup(Manager *m) {
        const Config *c = &m->config;
        uid_t uid;
        gid_t gid;

        m->n_cli_uids = 0;
        if (isempty(c->cli_user)) {
                snprintf(m->cli_error, sizeof m->cli_error, "cli_user is empty, and the provider CLIs never run as root");
                return;
        }
        if (cli_account_lookup(m, "cli_user", c->cli_user, NULL, &uid, &gid) < 0)
                return;
        m->cli_uid = uid;
        m->cli_gid = gid;
        if (cli_pool_lookup(m, uid) < 0 || cli_private_tmp_check(m) < 0) {
                m->n_cli_uids = 0;
                return;
        }
        m->cli_error[0] = '\0';
}

/* The browser, the login manager, its host API routes and, when
 * configured, the push handoff. */
static int setup_logins(Manager *m) {
        const Config *c = &m->config;
        BrowserOptions bo = {
                .event = m->event, .firefox = c->firefox, .profile = c->firefox_profile, .display = c->display,
                /* Without its user no bus can be its: none is trusted, and a
                 * start fails in the supervisor with the reason. */
                .bus_socket = m->desktop.paths.bus_socket,
                .uid = m->desktop.browser.found ? m->desktop.browser.uid : (uid_t)-1, .gid = m->desktop.browser.gid,
                .x_gid = desktop_x_clients_gid(&m->desktop), .xauthority = m->desktop.paths.browser_xauthority,
                .launcher = &m->launcher, .prestart = c->browser_prestart > 0,
        };
        BrowserHooks bh = { .start = browser_start_service, .stop = browser_stop_service,
                            .restart = browser_restart_service, .set_restart_argv = browser_set_restart_argv,
                            .changing = browser_service_changing, .waits_for = browser_service_waits_for,
                            .shown = browser_service_shown, .userdata = m };
        int r;

        r = browser_new(&bo, &bh, &m->browser);
        if (r < 0)
                return r;
        cli_user_lookup(m);
        LoginOptions lo = {
                .event = m->event, .launcher = &m->launcher, .browser = m->browser,
                .providers_file = c->providers_file, .login_home = c->login_home,
                .login_home_size_mb = c->login_home_size_mb,
                .environment_file = c->environment_file,
                .control_socket = c->control_socket, .runtime_dir = c->runtime_dir,
                .cli_uid = m->cli_uid, .cli_gid = m->cli_gid, .cli_error = m->cli_error,
                .cli_uids = m->cli_uids, .n_cli_uids = m->n_cli_uids,
                .display = c->display, .bin_path = c->bin_path,
                .session_ttl_s = c->session_ttl_s, .cli_tasks_max = c->cli_tasks_max,
                .cli_memory_max_mb = c->login_memory_max_mb,
                .cli_ambient_caps = m->cli_caps,
        };
        r = login_manager_new(&lo, &m->logins);
        if (r < 0)
                return r;
        LoginRoutesOptions ro = { .event = m->event, .http = m->http, .logins = m->logins,
                                  .url_wait_s = c->url_wait_s };
        r = login_routes_new(&ro, &m->login_routes);
        if (r < 0)
                return r;
        CallbackRoutesOptions co = { .event = m->event, .http = m->http, .logins = m->logins,
                                     .relay_s = c->callback_relay_s };
        r = callback_routes_new(&co, &m->callback_routes);
        if (r < 0)
                return r;
        if (c->vsock_port == 0)
                return 0;
        HandoffOptions ho = { .event = m->event, .cid = c->vsock_cid, .port = c->vsock_port,
                              .unix_path = c->vsock_unix_path, .token = control_token, .held = restoring,
                              .userdata = m };
        return handoff_new(&ho, m->logins, &m->handoff);
}

/* Everything PID 1 and the supervised children depend on happens before
 * the first fork: blocked signals (children restore the mask in spawn.c). */
static int block_signals(void) {
        static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGPWR, SIGHUP };
        sigset_t ss;

        sigemptyset(&ss);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&ss, sigs[i]);
        return RET_NERRNO(sigprocmask(SIG_BLOCK, &ss, NULL));
}

/* Fatal for a service process (exit 1), never for PID 1. */
static bool fatal(Manager *m) {
        if (!m->is_pid1)
                return true;
        log_error("Continuing as PID 1 despite the error above.");
        return false;
}

static int run_loop(Manager *m) {
        char status[128];
        int r;

        r = manager_add_signals(m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch signals: %m"), 1;
        setup_network(m);
        setup_port_floor(m);
        if (setup_secrets(m) < 0 && fatal(m))
                return 1;
        if (setup_http(m) < 0 && fatal(m))
                return 1;
        snprintf(status, sizeof status, "HTTP on :%u, starting services", m->config.http_port);
        notify_ready(&m->notifier, status);
        /* WATCHDOG=1 at half of WATCHDOG_USEC, from the loop itself: a hung
         * loop stops petting and systemd restarts us.  Enabled after
         * READY=1, as enabling sends the first WATCHDOG=1 at once. */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog: %m");
        /* No cookie, no display: Xvfb -auth without its file admits anyone. */
        r = desktop_setup(&m->desktop, &m->config, m->secrets);
        if (r < 0 && fatal(m))
                return 1;
        if (r >= 0 && setup_supervisor(m) < 0 && fatal(m))
                return 1;
        /* Logins are not essential to the display stack: a failure is logged
         * and the agent keeps serving /health.  Their routes need the HTTP
         * server, which PID 1 may be running without (see fatal()). */
        if (!m->http)
                log_error("HTTP is not serving: logins not set up.");
        else {
                r = setup_logins(m);
                if (r < 0)
                        log_error_errno(r, "Failed to set up logins: %m");
        }
        if (restore_wanted(m) && (r = restore_setup(m)) < 0)
                log_error_errno(r, "Failed to set up snapshot restores: %m");
        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), 1;
        return r;
}

/* PID 1 without its event loop can do nothing, and must not exit: the
 * kernel would panic and, without panic= on its command line, the VM would
 * hang where the host cannot tell.  Reboot (or power off) as at the end of
 * a shutdown instead, unless configured to exit (tests). */
static int pid1_give_up(int code, ShutdownAction action) {
        Pid1Root root;
        int r;

        if (getpid() != 1 || action == SHUTDOWN_EXIT)
                return code;
        /* Code 0 too: a shutdown ends in its reboot, never by leaving the loop. */
        log_full(LOG_EMERG, "%s as PID 1; %s.", code == 0 ? "Event loop ended" : "Cannot run",
                 shutdown_action_to_string(action));
        r = pid1_reboot(action, &root);
        /* reboot() failed too: nothing is left but the panic. */
        if (r < 0)
                log_full_errno(LOG_EMERG, r, "reboot() failed, exiting with %s: %m", pid1_root_to_string(root));
        return code;
}

/* The agent holds the control token, OAuth states and credentials. */
static void harden_process(void) {
        int r = process_harden();

        if (r < 0)
                log_warning_errno(r, "Failed to make the agent non-dumpable and without core dumps: %m");
}

/* Services keep SysV shared memory that only their clean exit removes
 * (x11vnc with MIT-SHM: some 40 segments, 7 MiB of screen tiles; Firefox's
 * drawing; a services file's programs): each one killed (a crash, the OOM
 * killer, a stop that had to SIGKILL, the sweep of the VNC user before a
 * new desktop secret) left them behind, holding screen contents, until
 * the machine's segment limit ran out and x11vnc could not start.  In an
 * IPC namespace of their own with shm_rmid_forced set, the kernel destroys
 * a segment when its last process detaches or exits.  As PID 1 the
 * namespace is the VM's own if a private one cannot be made; elsewhere the
 * machine's setting is not ours to change. */
static bool private_sysv_ipc(bool is_pid1) {
        const char *path = "/proc/sys/kernel/shm_rmid_forced";
        bool own = true;
        int r;

        if (unshare(CLONE_NEWIPC) < 0) {
                own = false;
                if (!is_pid1) {
                        log_warning_errno(errno, "Failed to create an IPC namespace, shared memory that a killed "
                                                 "service leaves is not reclaimed: %m");
                        return false;
                }
                log_warning_errno(errno, "Failed to create an IPC namespace, using the VM's own: %m");
        }
        r = write_setting(path, "1\n");
        if (r < 0)
                log_warning_errno(r, "Failed to set %s, shared memory that a killed service leaves is not "
                                     "reclaimed: %m",
                                  path);
        else
                log_info("Shared memory goes with the services that leave it (%s IPC namespace, "
                         "shm_rmid_forced).", own ? "their own" : "the VM's");
        return own;
}

/* What a process can read of another user's: with /proc mounted without
 * hidepid=, every command line, Firefox's included (the OAuth authorize
 * URL it was started for, with its state).  PID 1 mounts it hidden (for
 * the whole VM); the systemd unit asks for ProtectProc=invisible (for the
 * unit: other units see the machine's /proc); elsewhere it is the
 * machine's.  This says which /proc the services inherit. */
static void log_proc_visibility(void) {
        _cleanup_(freep) char *mountinfo = NULL, *options = NULL;
        int r;

        r = read_full_file("/proc/self/mountinfo", 1024 * 1024, &mountinfo, NULL);
        if (r >= 0)
                r = proc_mountinfo_find(mountinfo, "/proc", &options);
        if (r < 0)
                log_warning_errno(r, "Cannot tell how /proc is mounted: %m");
        else if (proc_options_hide_pids(options))
                log_info("The services see only their own user's processes in /proc (%s).", options);
        else
                log_warning("/proc shows every process and its command line to every user (%s): mount it with "
                            "hidepid=invisible (systemd: ProtectProc=invisible).", options);
}

/* The verbs meant for a terminal: 0 (done, exit with *ret) or 1 (run).
 * PID 1 never exits on its arguments (exit = kernel panic): it runs. */
static int terminal_verbs(int argc, char **argv, RunArgs *args, int *ret) {
        int r = parse_args(argc, argv, getpid() == 1, args);

        if (r < 0 && getpid() != 1)
                return *ret = 2, 0;
        if (r < 0)
                log_error_errno(r, "Failed to parse the arguments, continuing with those read: %m");
        if (args->help && getpid() != 1) {
                print_help();
                return *ret = 0, 0;
        }
        if (args->dump_keys && getpid() != 1) {
                config_dump_keys_markdown(stdout);
                return *ret = 0, 0;
        }
        return 1;
}

/* PID 1's mounts, or a subreaper's role for any other; then what /proc
 * shows is logged. */
static void process_role_setup(void) {
        int r;

        if (getpid() == 1) {
                r = pid1_setup();
                if (r > 0)
                        log_warning("%d mount(s) failed; continuing.", r);
        } else if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                log_warning_errno(errno, "Failed to become child subreaper: %m");
        log_proc_visibility();
}

int run_main(int argc, char **argv) {
        _cleanup_(run_args_done) RunArgs args = {};
        /* As PID 1, /proc may not be mounted yet, and PID 1's start time is
         * when the kernel started the initramfs /init, not our exec (which
         * switch_root did just now): the clock now is the exec time. */
        usec_t exec_time = getpid() == 1 ? now(CLOCK_BOOTTIME) : process_start_boottime();
        ShutdownAction action;
        Manager *m = NULL;
        int r;

        harden_process();
        r = block_signals();
        if (r < 0)
                return log_error_errno(r, "Failed to block signals: %m"), pid1_give_up(1, SHUTDOWN_REBOOT);
        /* A closed stderr pipe or a peer gone mid-write must be an EPIPE,
         * not the end of the agent (spawn.c resets it for children). */
        (void)signal(SIGPIPE, SIG_IGN);
        if (terminal_verbs(argc, argv, &args, &r) == 0)
                return r;
        process_role_setup();
        /* Before anything that starts threads: unshare() moves only the
         * calling thread. */
        bool own_ipc = private_sysv_ipc(getpid() == 1);

        r = manager_new(&m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m"),
                       pid1_give_up(1, SHUTDOWN_REBOOT);
        m->is_pid1 = getpid() == 1;
        m->own_ipc_ns = own_ipc;
        m->boot.exec = exec_time;
        r = setup_config(m, &args);
        if (r < 0) {
                /* As PID 1 only ENOMEM gets here: the configuration's own
                 * errors are skipped and reported (setup_config()). */
                manager_free(m);
                return pid1_give_up(2, SHUTDOWN_REBOOT);
        }
        /* Before anything reads it: netinit, the services, the CLIs. */
        if (m->is_pid1)
                pid1_machine_id_setup(&m->machine_id, m->config.machine_id_file, m->config.runtime_dir);
        read_build_id(m);
        read_clis(m);
        log_info("vm-browser-agent %s starting%s.", PACKAGE_VERSION, m->is_pid1 ? " as PID 1" : "");
        r = run_loop(m);
        action = m->config.shutdown_action;
        /* The restore adapter is built here on the manager, so it goes
         * here too, before what it uses. */
        restore_free(m);
        manager_free(m);
        return pid1_give_up(r, action);
}
