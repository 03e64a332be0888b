/* Implementation of config.h: the key table (name, type, default, help)
 * and the three sources that write through it — the JSON file, `vmba.*`
 * words of the kernel command line, and `--set key=value` flags.  Every
 * value, whatever its source, goes through one text setter per type, so a
 * key behaves the same wherever it is set and the defaults are parsed by
 * the same code that parses user input.  Error text names the key and the
 * expected type; the value is quoted except for secrets (the token). */
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmdline-util.h"
#include "config.h"
#include "fileio.h"
#include "in-addr-util.h"
#include "log.h"
#include "macro.h"
#include "mount-util.h"
#include "parse-util.h"
#include "string-table.h"
#include "strv.h"

#define CONFIG_FILE_MAX (256 * 1024)
#define CONFIG_VALUE_MAX 4096
#define CONFIG_STRV_MAX 64

typedef enum KeyType {
        KEY_STRING,
        KEY_SECRET,   /* a string never echoed in messages */
        KEY_U16,
        KEY_PORT,     /* a KEY_U16 of 1-65535: 0 would bind a port nobody knows */
        KEY_U32,
        KEY_LOG_LEVEL,
        KEY_SHUTDOWN,
        KEY_TRISTATE, /* true | false | "auto" (-1) */
        KEY_BOOL,     /* true | false */
        KEY_STRV,     /* JSON list of strings; comma-separated on the command line */
        KEY_CIDRS,    /* a KEY_STRV whose entries cidr_parse() accepts */
        _KEY_TYPE_MAX,
} KeyType;

typedef struct ConfigKey {
        const char *name;
        KeyType type;
        size_t offset;
        const char *def; /* in the text syntax of the command line */
        const char *help;
        uint32_t max;    /* KEY_U32: the largest value, 0: UINT32_MAX */
        uint32_t min;    /* KEY_U32: the smallest value */
        uint32_t floor;  /* KEY_U32: the smallest value but 0 (which stays "none"), 0: min's */
        const char *floor_what; /* with floor: what cannot run below it, for the error */
} ConfigKey;

#define K(n, t, d, h) { #n, t, offsetof(Config, n), d, h, 0, 0, 0, NULL }
/* A KEY_U32 of at most m. */
#define K_MAX(n, d, h, m) { #n, KEY_U32, offsetof(Config, n), d, h, m, 0, 0, NULL }
/* A KEY_U32 of lo to hi. */
#define K_RANGE(n, d, h, lo, hi) { #n, KEY_U32, offsetof(Config, n), d, h, hi, lo, 0, NULL }
/* A KEY_U32 of 0 (none) or lo to hi: below lo, what (a phrase) cannot run. */
#define K_FLOOR(n, d, h, lo, hi, what) { #n, KEY_U32, offsetof(Config, n), d, h, hi, 0, lo, what }

/* The restart budget keeps the last restart_burst start times of each
 * service (8 bytes each), allocated at start: a burst beyond any use
 * (more than 1000 starts in a window) only costs memory, up to all of it.
 * A window of 0 s would never hold a start, so no service would ever be
 * over its budget; a day is longer than any window worth having. */
#define RESTART_BURST_MAX 1000
#define RESTART_WINDOW_S_MAX 86400

/* A memory.max below what a program holds that no reclaim can take back
 * (its anonymous memory: the cgroup has no swap) does not kill it at
 * once: the kernel reclaims what it can, its code and libraries, which it
 * reads back from disk at once, and it crawls on like that, using the CPU
 * and never ready.  Firefox ESR 153 seen so at 32 MiB in a VM: about 20 s
 * of CPU in every 20 s until its ready timeout, 320 s later, nothing said
 * why.  Headless on about:blank it holds about 400 MiB of anonymous
 * memory in its 12 processes (RssAnon summed; 490 MiB proportional set
 * size): 256 MiB is well below anything it runs in.  Codex 0.171, the
 * smallest provider CLI, holds about 45 MB at its sign-in prompt, and its
 * cgroup is charged for the pages of its 315 MB binary as it reads them:
 * 64 MiB for a login. */
#define BROWSER_MEMORY_MAX_MB_MIN 256
#define LOGIN_MEMORY_MAX_MB_MIN 64

/* libmicrohttpd takes an HTTP timeout of 0 for none, and the
 * whole-request deadline (http-deadline.c) is off with it: connections
 * that send nothing, or drip, would be held for ever.  A day is longer
 * than any timeout worth having. */
#define HTTP_TIMEOUT_S_MAX 86400
/* http_peers_admit() compares a client's count with http_max_per_ip
 * once the client has a connection: 0 would admit one per client, not
 * none and not any number. */
#define HTTP_MAX_PER_IP_MIN 1
/* The request limits are compared with each request before its route
 * (http-gate.c), and 0 refuses what every request of a kind has: any
 * target ("/" too) is longer than 0 bytes (414), any header field
 * (HTTP/1.1 requires Host) longer than a block of 0 (431), and any body,
 * each control route's JSON (POST /open-url's URL), longer than 0 (413). */
#define HTTP_LIMIT_MIN 1
/* Each connection's memory pool holds its target and header block
 * (http.c's pool_size(): both limits and 4 KiB), mmap'ed as it is
 * accepted: at 4 GiB each the mapping is refused and every connection is
 * closed unanswered.  1 MiB each is far above any request of ours (an
 * OAuth callback is a few KiB). */
#define HTTP_REQUEST_LIMIT_MAX (1024 * 1024)

static const ConfigKey keys[] = {
        K(log_level, KEY_LOG_LEVEL, "info", "log priority threshold: emerg..debug or 0-7"),
        K(build_id_path, KEY_STRING, "/etc/vm-browser-agent/build-id", "file whose first line /health reports as build_id"),
        K(shutdown_action, KEY_SHUTDOWN, "reboot", "as PID 1 after stopping: reboot (Firecracker reboot=k exits), poweroff, or exit"),
        K(shutdown_timeout_ms, KEY_U32, "10000", "total budget for stopping services at shutdown"),
        K(system_shutdown, KEY_TRISTATE, "auto", "not PID 1: POST /shutdown asks systemd for reboot.target/poweroff.target (auto: when a systemd system service)"),
        K(netinit, KEY_TRISTATE, "auto", "configure the network from ip= at start: true, false, or auto (when PID 1)"),
        K(cmdline_path, KEY_STRING, "/proc/cmdline", "kernel command line read for ip= and vmba.*"),
        K(device_timeout_ms, KEY_U32, "10000", "how long netinit waits for a network device to appear"),
        K(resolv_conf, KEY_STRING, "/etc/resolv.conf", "resolv.conf written by netinit"),
        K(hosts_file, KEY_STRING, "/etc/hosts", "hosts file written by netinit"),
        K(hostname_file, KEY_STRING, "/etc/hostname", "hostname file written by netinit (\"\" = none)"),
        K(machine_id_file, KEY_STRING, "/etc/machine-id", "as PID 1, the machine id that systemd.machine_id= on the kernel command line, or a restore's handover machine_id, replaces: written in place, or on a read-only root a copy in runtime_dir bind-mounted over it (\"\" = never; a handover with a machine_id is then refused)"),
        K(unprivileged_port_start, KEY_U16, "1458", "net.ipv4.ip_unprivileged_port_start set with netinit: ports below it only root and the provider CLIs may bind, so no other local user takes a CLI's fixed callback port first (Codex: 127.0.0.1:1455, then 1457); a CLI with a callback_port keeps CAP_NET_BIND_SERVICE whenever the kernel's value is above 1024; never lowered (0 = leave the kernel's); the kernel refuses a value above the start of net.ipv4.ip_local_port_range, and the log then names that range"),
        K(http_listen, KEY_STRING, "0.0.0.0", "HTTP listen address"),
        K(http_port, KEY_PORT, "8080", "HTTP port"),
        K(http_max_connections, KEY_U32, "1024", "concurrent HTTP connections from the network but the host's (which has 64 more); loopback is apart"),
        K_RANGE(http_max_per_ip, "64", "concurrent HTTP connections per client address (IPv6 but the host's addresses: per /64, link-local all one; loopback: per local user; the local users but root and browser_user hold twice this together)", HTTP_MAX_PER_IP_MIN,
                UINT32_MAX),
        K_RANGE(http_timeout_s, "10", "idle / slow-drip HTTP connection timeout", 1, HTTP_TIMEOUT_S_MAX),
        K_RANGE(http_max_body, "65536", "largest request body (413 beyond)", HTTP_LIMIT_MIN, UINT32_MAX),
        K_RANGE(http_max_url, "4096", "longest request URL (414 beyond)", HTTP_LIMIT_MIN, HTTP_REQUEST_LIMIT_MAX),
        K_RANGE(http_max_header, "16384", "largest request header block", HTTP_LIMIT_MIN, HTTP_REQUEST_LIMIT_MAX),
        K(allow_from, KEY_CIDRS, "", "addresses allowed on control routes, and the host's in the HTTP and noVNC connection limits (\"\" = loopback + the ip= gateway)"),
        K(http_allowed_hosts, KEY_STRV, "", "Host header names the routes accept besides IP literals and localhost (every route: a name rebound to the agent is refused)"),
        K(token_file, KEY_STRING, "/etc/vm-browser-agent/token", "bearer token for control routes, written by the host (mode 0600)"),
        K(token, KEY_SECRET, "", "bearer token itself (prefer token_file or MMDS: /proc/cmdline is world-readable)"),
        K(desktop_secret_file, KEY_STRING, "/etc/vm-browser-agent/desktop-secret", "the desktop's secret (VNC password, noVNC token), written by the host (mode 0600)"),
        K(desktop_secret, KEY_SECRET, "", "the desktop's secret itself (prefer desktop_secret_file or MMDS)"),
        K(mmds, KEY_TRISTATE, "auto", "ask Firecracker MMDS v2 for the token and desktop secret (auto: when no file or command line gave either and netinit configured an interface; nothing authenticates MMDS's address, so one secret given another way leaves the other missing, never asked)"),
        K(mmds_address, KEY_STRING, "169.254.169.254", "MMDS address"),
        K(mmds_path, KEY_STRING, "/vm-browser-agent", "MMDS object holding {\"token\", \"desktop_secret\"}"),
        K(restore, KEY_TRISTATE, "auto", "notice a snapshot restore (POST /restore-check, a wall-clock step) and take the new identity from MMDS (auto: when MMDS was asked for a secret at start)"),
        K(restore_clock, KEY_TRISTATE, "auto", "on restore, step CLOCK_REALTIME to the host's time (auto: as PID 1 of the machine or its systemd's service)"),
        K(restore_check_interval_ms, KEY_U32, "1000", "POST /restore-check asks MMDS at most once per this interval; pokes inside it are accepted too (202) and share one question at its end"),
        K(display, KEY_STRING, ":1", "X display of Xvfb"),
        K(geometry, KEY_STRING, "1280x800", "Xvfb screen size"),
        K(depth, KEY_U32, "24", "Xvfb colour depth"),
        K(window_manager, KEY_STRING, "openbox", "window manager binary (\"\" = none)"),
        K(vnc_listen, KEY_STRING, "unix", "x11vnc listen address (RFB; noVNC reaches it there), or unix: its socket"),
        K(vnc_port, KEY_PORT, "5901", "x11vnc port (when `vnc_listen` is an address)"),
        K(novnc_listen, KEY_STRING, "0.0.0.0", "websockify / noVNC listen address"),
        K(novnc_port, KEY_PORT, "6080", "websockify / noVNC port"),
        K(novnc_web, KEY_STRING, "/usr/share/novnc", "noVNC web root"),
        K(x_user, KEY_STRING, "vmba-x", "unprivileged user Xvfb runs as (every X client talks to it; never root); its group, one of its own, is /tmp/.X11-unix's and the X clients' only extra one"),
        K(vnc_user, KEY_STRING, "vmba-vnc", "unprivileged user x11vnc and websockify run as (they face the network; never root)"),
        K(firefox, KEY_STRING, "firefox-esr", "browser binary"),
        K_FLOOR(browser_memory_max_mb, "1536", "memory.max of the browser's cgroup (`firefox.service`: Firefox and all its processes), in MiB: past it the kernel reclaims, then kills all of it at once (memory.oom.group), the supervisor starts it again and the log says \"Service firefox (pid P) killed by the kernel: out of memory (memory.max N MiB)\", so that no web page can take the VM's memory from the agent and the logins' CLIs.  1536: about three times what Firefox ESR 153 holds (proportional set size) on an idle sign-in page, ~500 MiB, and more than on a heavy page, ~1.1 GiB (measured under Xvfb as the agent runs it), leaving 512 MiB of a 2048 MiB VM (packaging/firecracker-config's default) to the rest.  It needs the memory controller in the agent's cgroups (cgroup_root): without it (a hybrid cgroup layout keeps it in v1; not delegated) the log says so once, and the browser only runs with oom_score_adj +800, which the kernel's OOM killer takes before the CLIs and the agent; the built-in display stack only (a services_file's service has its own \"memory_max_mb\", none without; its browser's lack is logged); 0: no limit; 1-255 is refused: Firefox holds about 400 MiB that no reclaim takes back (anonymous memory, and no swap), and under a limit that low it is not killed but crawls on re-reading its own code from disk, never ready", BROWSER_MEMORY_MAX_MB_MIN, MEMORY_MAX_MB_MAX, "Firefox runs in"),
        K(browser_prestart, KEY_BOOL, "false", "start the browser with the display stack (on a blank page) instead of at the first URL: a login's page shows sooner, at the browser's memory from boot on; where the browser would close after a login, or the person closes it, it starts again on a blank page"),
        K(firefox_profile, KEY_STRING, "/var/lib/vm-browser-agent/browser/profile", "browser profile directory"),
        K_MAX(browser_downloads_mb, "32", "size of the tmpfs the agent mounts on the browser's Downloads (in firefox_profile's parent, the browser's HOME; nosuid, nodev, noexec), where Firefox saves what a page downloads, without asking: a page can then fill that, not the disk; 0: none", TMPFS_SIZE_MB_MAX),
        K(browser_user, KEY_STRING, "vmba-browser", "unprivileged user the browser runs as"),
        K(runtime_dir, KEY_STRING, "/run/vm-browser-agent", "files the agent generates at start (X cookie; Xvfb's cookie copy in its sibling runtime_dir-x, x_user's; the desktop secret's files in runtime_dir-vnc, vnc_user's; the CLIs' browser links in runtime_dir-cli/bin, root's, open to cli_user's group)"),
        K(services_file, KEY_STRING, "", "JSON list of services replacing the built-in display stack (\"\" = built-in)"),
        K(bin_path, KEY_STRING, "/usr/local/bin:/usr/bin:/bin", "PATH used to find service binaries"),
        K(cgroup_root, KEY_STRING, "", "cgroup2 directory in which each service gets a cgroup of its own, killed whole when its main process exits and then removed (the log counts what was left there outside the process group, which its leader's exit kills first: a process that escaped with `setsid()`, not one of the group's still exiting), and so does each login's provider CLI (`login-<id>.scope`, killed whole once the CLI has exited or is stopped) (\"\" = the agent's own cgroup: as PID 1, or as a systemd service with Delegate=yes; anywhere else, or without cgroup2 or cgroup.kill, only the service's or the CLI's process group is killed, and what a CLI left goes with the sweeps of its user)"),
        K_RANGE(restart_burst, "5", "starts allowed per restart window before a service is failed (starts asked for, e.g. the browser's per login, not counted); 0: no budget, restarted for ever", 0, RESTART_BURST_MAX),
        K_RANGE(restart_window_s, "60", "restart budget window", 1, RESTART_WINDOW_S_MAX),
        K(failed_retry_s, KEY_U32, "300", "a service failed over its start budget is started again after this long, with a fresh budget, and its dependents once it is ready (one failed for a missing binary or user, or a missing or foreign owned_files entry, is not retried; a program that exits 127 is, as for any exit); 0: never"),
        K(backoff_initial_ms, KEY_U32, "100", "first restart delay (doubles, with jitter)"),
        K(backoff_max_ms, KEY_U32, "10000", "longest restart delay"),
        K(ready_timeout_ms, KEY_U32, "20000", "a start not ready by then counts as a failure (the period repeats, up to 4 in all, while the service keeps the CPU busy; twice as many, up to 32, for later starts once a start was busy to its end)"),
        K(stop_timeout_ms, KEY_U32, "5000", "per service: SIGTERM, then SIGKILL after this"),
        K_FLOOR(memory_thrash_kill_s, "60", "a ready service with a memory.max (the browser's browser_memory_max_mb, a services_file's memory_max_mb) that thrashes at it this long is killed, all of its cgroup at once (cgroup.kill), and restarted as after an OOM kill, with `last_exit` \"killed by the agent: thrashing at its memory.max N MiB for S s (read back R evicted pages)\": the kernel's OOM killer may take many minutes (a page allocating in steps kept Firefox re-reading its own code from disk for 484 s in the vm tier), the VM's desktop unusable meanwhile.  Thrashing is, at every read of its cgroup (each 10 s) over that span: memory.events' \"max\" rising, memory.stat's refaults rising (pages evicted and read back) and memory.pressure's \"full avg10\" above 10% (PSI: all of its processes waiting for memory at once; pages thrashing a real VM's browser measured 4-41%, mostly above 13%, one working near its limit 0-8%; 10.00 does not pass; a dip to 10% or below begins the span again); a kernel without PSI never kills so; the span is counted in those reads, 15 killing after 20 s; 0: never; 1-9 is refused: one read covers 10 s, killing after that", MEMORY_THRASH_KILL_S_MIN, MEMORY_THRASH_KILL_S_MAX, "span its cgroup's reads, one each 10 s, can tell"),
        K(providers_file, KEY_STRING, "/etc/vm-browser-agent/providers.json", "provider CLI definitions for logins"),
        K(clis_file, KEY_STRING, "/etc/vm-browser-agent/clis.json", "the provider CLIs' pins (package, version), reported in /health (\"\" = none)"),
        K(clis_dir, KEY_STRING, "/usr/lib/vm-browser-agent/clis", "where the pinned CLIs are installed, one npm prefix per provider (clis_dir/PROVIDER)"),
        K(cli_user, KEY_STRING, "vmba-cli", "the provider CLIs' shared account: they run with its group, which alone passes through login_home, the control socket's directory and runtime_dir-cli; each live CLI login runs as a user of its own, cli_user1 to cli_userN (cli_users; third-party code: never root, nor a display user or a service's)"),
        K_RANGE(cli_users, "8", "how many users the provider CLIs have: the accounts cli_user1 to cli_userN (for vmba-cli: vmba-cli1 ...), one per live CLI login, so that no login's CLI can signal, trace or write into another's, or open a URL for it; a start while every one is in use, or its processes are not yet gone, is 503", 1, CONFIG_CLI_USERS_MAX),
        K(cli_tasks_max, KEY_U32, "1024", "the tasks (processes and threads) each CLI login's user may have at once (RLIMIT_NPROC on every CLI; a login's are all killed when it ends, which a CLI forking without end could outrun); 0: no limit"),
        K_FLOOR(login_memory_max_mb, "1024", "memory.max of each login's cgroup (`login-<id>.scope`: its provider CLI and all it starts), in MiB: past it the kernel reclaims, then kills all of it at once (memory.oom.group), and the login fails with \"killed by the kernel: out of memory (memory.max N MiB)\", the agent and the other logins unharmed.  1024: several times what a CLI's login holds (measured at its sign-in prompt: Claude Code 2.1, one 430 MB binary, about 140 MB resident; Codex 0.171, a 315 MB Rust binary, about 45 MB; the Gemini CLI a Node program of the same order), with room for the pages of such a binary that its cgroup is charged for as it reads them (reclaimed before anything is killed).  It needs the memory controller in the agent's cgroups (cgroup_root): without it (a hybrid cgroup layout keeps it in v1; not delegated) the log says so once, and the CLIs only run with oom_score_adj +500, which the kernel's OOM killer takes first; 0: no limit; 1-63 is refused: no CLI's login runs in that little", LOGIN_MEMORY_MAX_MB_MIN, MEMORY_MAX_MB_MAX, "a provider CLI's login runs in"),
        K(login_home, KEY_STRING, "/var/lib/vm-browser-agent/logins", "parent of the logins' HOMEs (0710, root's, cli_user's group): each CLI login runs in its own login_home/login-SESSION_ID (0700, its CLI user's), removed when the login ends"),
        K_MAX(login_home_size_mb, "64", "size of each CLI login's HOME: a tmpfs of its own (nosuid, nodev, noexec; one inode per 4 KiB) mounted on it before its CLI starts and gone with it, so the logins' files, credentials included, are never written to the disk, and neither another login's CLI nor any other user's files (the browser's downloads and site data, /var/tmp) can leave a CLI no room for its credentials; at most cli_users of them at once (that many times this much memory at worst); login_home itself, which holds only the HOMEs, is a tmpfs of this size too; 0: no tmpfs, the HOMEs are directories of login_home's file system", TMPFS_SIZE_MB_MAX),
        K(environment_file, KEY_STRING, "/etc/environment", "the host's proxy defaults for CLI logins (HTTP_PROXY, HTTPS_PROXY, NO_PROXY; \"\" = none)"),
        K(control_socket, KEY_STRING, "/run/vm-browser-agent-cli/control.sock", "where the CLIs' browser links reach the agent (root and the CLI users only, each for its own login; its directory, when the agent makes it, 0710 with cli_user's group)"),
        K(session_ttl_s, KEY_U32, "900", "login session lifetime"),
        K(url_wait_s, KEY_U32, "15", "how long a login waits for its authorize URL"),
        K(callback_relay_s, KEY_U32, "30", "how long /auth/callback waits for the CLI's own listener (its token exchange included)"),
        K(vsock_cid, KEY_U32, "2", "vsock CID of the host for credential push"),
        K(vsock_port, KEY_U32, "0", "vsock port for credential push (0 = push off)"),
        K(vsock_unix_path, KEY_STRING, "", "unix socket standing in for vsock in tests (\"\" = real vsock); only a receiver of root's is sent credentials"),
};
#undef K

static const char *const type_expect[_KEY_TYPE_MAX] = {
        [KEY_STRING] = "a string",
        [KEY_SECRET] = "a string",
        [KEY_U16] = "an integer 0-65535",
        [KEY_PORT] = "a port 1-65535",
        [KEY_U32] = "an integer 0-4294967295",
        [KEY_LOG_LEVEL] = "a log level (emerg..debug or 0-7)",
        [KEY_SHUTDOWN] = "one of reboot, poweroff, exit",
        [KEY_TRISTATE] = "true, false or \"auto\"",
        [KEY_BOOL] = "true or false",
        [KEY_STRV] = "a list of strings",
        [KEY_CIDRS] = "a list of addresses or CIDRs",
};

static const char *const type_name[_KEY_TYPE_MAX] = {
        [KEY_STRING] = "string", [KEY_SECRET] = "string (secret)", [KEY_U16] = "integer 0-65535", [KEY_PORT] = "port",
        [KEY_U32] = "integer",   [KEY_LOG_LEVEL] = "log level", [KEY_SHUTDOWN] = "enum",
        [KEY_TRISTATE] = "bool or auto", [KEY_BOOL] = "bool", [KEY_STRV] = "list of strings",
        [KEY_CIDRS] = "list of CIDRs",
};

static const char *const shutdown_action_table[_SHUTDOWN_ACTION_MAX] = {
        [SHUTDOWN_REBOOT] = "reboot",
        [SHUTDOWN_POWEROFF] = "poweroff",
        [SHUTDOWN_EXIT] = "exit",
};
DEFINE_STRING_TABLE_LOOKUP(shutdown_action, ShutdownAction);

static const ConfigKey *key_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(keys[i].name, name))
                        return &keys[i];
        return NULL;
}

static void *field(Config *c, const ConfigKey *k) {
        return (char *)c + k->offset;
}

/* The message names the key and what it expects, never the value given:
 * it may be a secret, and it reaches /health (config_error), which anyone
 * may read. */
/* An error in a source: the first goes to err; with keep_going the bad
 * key is skipped and the rest applied (0), else it ends the load (-EINVAL). */
static int note_error(Config *c, const char *e, char *err, size_t size) {
        if (c->n_errors++ == 0 || !c->keep_going)
                snprintf(err, size, "%s", e);
        return c->keep_going ? 0 : -EINVAL;
}

/* A KEY_U32 with a range of its own: "integer <min>-<max>" in buf, or
 * "integer 0 or <floor>-<max>"; NULL for any other key. */
static const char *key_range(const ConfigKey *k, char *buf, size_t size) {
        if (k->type != KEY_U32 || (k->max == 0 && k->min == 0 && k->floor == 0))
                return NULL;
        if (k->floor > 0)
                snprintf(buf, size, "integer 0 or %" PRIu32 "-%" PRIu32, k->floor, k->max ?: UINT32_MAX);
        else
                snprintf(buf, size, "integer %" PRIu32 "-%" PRIu32, k->min, k->max ?: UINT32_MAX);
        return buf;
}

/* Whether u, in k's range, is below its floor: not 0, which is "none". */
static bool key_below_floor(const ConfigKey *k, uint64_t u) {
        return u > 0 && u < k->floor;
}

/* What k takes, for a message: its type's, or its own range. */
static const char *key_expect(const ConfigKey *k, char *buf, size_t size) {
        char range[48];

        if (!key_range(k, range, sizeof range))
                return type_expect[k->type];
        snprintf(buf, size, "an %s", range);
        return buf;
}

static int set_error(char *err, size_t size, const char *origin, const ConfigKey *k) {
        char e[64];

        snprintf(err, size, "%s: key \"%s\": expected %s", origin, k->name, key_expect(k, e, sizeof e));
        return -EINVAL;
}

/* A value below k's floor: named, with the floor and why, so that the
 * operator sees at once what to raise it to.  The one message that shows
 * the value: a number parsed already, no secret and no text to forge a
 * line with. */
static int floor_error(char *err, size_t size, const char *origin, const ConfigKey *k, uint64_t u) {
        char e[64];

        snprintf(err, size, "%s: key \"%s\": %" PRIu64 " is below %" PRIu32 ", the least %s; expected %s", origin,
                 k->name, u, k->floor, k->floor_what, key_expect(k, e, sizeof e));
        return -EINVAL;
}

/* A value over CONFIG_VALUE_MAX: said as such (its type may be right). */
static int too_long_error(char *err, size_t size, const char *origin, const ConfigKey *k) {
        snprintf(err, size, "%s: key \"%s\": longer than %d bytes", origin, k->name, CONFIG_VALUE_MAX);
        return -EINVAL;
}

/* Key names come from the input too: shown only when they look like one
 * (a name with a newline would forge a second log line). */
static const char *printable_key(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
                return NULL;
        return name;
}

static int unknown_key_error(char *err, size_t size, const char *origin, const char *prefix, const char *name) {
        const char *shown = printable_key(name);

        if (shown)
                snprintf(err, size, "%s: unknown key \"%s%s\"", origin, prefix, shown);
        else
                snprintf(err, size, "%s: unknown key (not shown: not a key name)", origin);
        return -EINVAL;
}

/* "a,b,c" → NULL-terminated list; "" → NULL (the key's "unset" meaning). */
static int strv_split(const char *s, char ***ret) {
        char **l = NULL;
        size_t n = 0;

        if (*s) {
                _cleanup_(freep) char *copy = strdup(s);
                if (!copy)
                        return -ENOMEM;
                l = calloc(CONFIG_STRV_MAX + 1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                char *save = NULL;
                for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                        if (n >= CONFIG_STRV_MAX || !(l[n] = strdup(w))) {
                                strv_free(l);
                                return n >= CONFIG_STRV_MAX ? -E2BIG : -ENOMEM;
                        }
                        n++;
                }
        }
        /* "," has no words either: unset, as "" and JSON's [], not an
         * empty list (allow_from's would refuse everyone). */
        if (l && n == 0)
                l = strv_free(l);
        *ret = l;
        return 0;
}

/* Checked at load time so a typo is a config error naming the key, not a
 * control API that silently refuses everyone (http.c still fails closed). */
static int strv_check(const ConfigKey *k, char **l) {
        Cidr cidr;

        if (k->type != KEY_CIDRS)
                return 0;
        for (char **p = l; p && *p; p++)
                if (cidr_parse(*p, &cidr) < 0)
                        return -EINVAL;
        return 0;
}

static void strv_assign(Config *c, const ConfigKey *k, char **l) {
        strv_free(*(char ***)field(c, k));
        *(char ***)field(c, k) = l;
}

/* KEY_STRING, KEY_SECRET: a copy of value (the secret it replaces wiped). */
static int string_set(const ConfigKey *k, char **p, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        if (*p && k->type == KEY_SECRET)
                explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = s;
        return 0;
}

/* KEY_BOOL, KEY_TRISTATE ("auto": -1): 1, 0, or -EINVAL. */
static int boolean_from_string(const ConfigKey *k, const char *value) {
        if (streq(value, "auto") && k->type == KEY_TRISTATE)
                return -1;
        if (streq(value, "true") || streq(value, "1") || streq(value, "yes") || streq(value, "on"))
                return 1;
        if (streq(value, "false") || streq(value, "0") || streq(value, "no") || streq(value, "off"))
                return 0;
        return -EINVAL;
}

/* KEY_STRV, KEY_CIDRS: value's words, each checked. */
static int strv_set(Config *c, const ConfigKey *k, const char *value, const char *origin, char *err,
                    size_t size) {
        char **l = NULL;
        int r = strv_split(value, &l);

        if (r == -E2BIG)
                return set_error(err, size, origin, k);
        if (r < 0)
                return r;
        if (strv_check(k, l) < 0) {
                strv_free(l);
                return set_error(err, size, origin, k);
        }
        strv_assign(c, k, l);
        return 0;
}

/* The one text setter: every source ends here (lists from JSON excepted:
 * they arrive as lists, and meet the text path again in strv_check). */
static int key_set(Config *c, const ConfigKey *k, const char *value, const char *origin,
                   char *err, size_t size) {
        void *f = field(c, k);
        uint64_t u;
        int r;

        if (strlen(value) > CONFIG_VALUE_MAX)
                return too_long_error(err, size, origin, k);
        switch (k->type) {
        case KEY_STRING:
        case KEY_SECRET:
                return string_set(k, f, value);
        case KEY_U16:
        case KEY_PORT:
                if (parse_unsigned(value, UINT16_MAX, &u) < 0 || (k->type == KEY_PORT && u == 0))
                        return set_error(err, size, origin, k);
                *(uint16_t *)f = (uint16_t)u;
                return 0;
        case KEY_U32:
                if (parse_unsigned(value, k->max ?: UINT32_MAX, &u) < 0 || u < k->min)
                        return set_error(err, size, origin, k);
                if (key_below_floor(k, u))
                        return floor_error(err, size, origin, k, u);
                *(uint32_t *)f = (uint32_t)u;
                return 0;
        case KEY_LOG_LEVEL:
                r = log_level_from_string(value);
                if (r < 0)
                        return set_error(err, size, origin, k);
                *(int *)f = r;
                return 0;
        case KEY_SHUTDOWN:
                r = shutdown_action_from_string(value);
                if (r < 0)
                        return set_error(err, size, origin, k);
                *(ShutdownAction *)f = (ShutdownAction)r;
                return 0;
        case KEY_TRISTATE:
        case KEY_BOOL:
                r = boolean_from_string(k, value);
                if (r == -EINVAL)
                        return set_error(err, size, origin, k);
                *(int *)f = r;
                return 0;
        case KEY_STRV:
        case KEY_CIDRS:
                return strv_set(c, k, value, origin, err, size);
        default:
                return -EINVAL;
        }
}

void config_init(Config *c) {
        char err[256];

        *c = (Config){};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (key_set(c, &keys[i], keys[i].def, "default", err, sizeof err) < 0)
                        abort(); /* a broken default is a programming error; test-config catches it */
        /* "" means unset for the secrets: only their files, MMDS or an
         * explicit value set them. */
        c->token = erase_and_free(c->token);
        c->desktop_secret = erase_and_free(c->desktop_secret);
}

void config_done(Config *c) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                void *f = field(c, &keys[i]);
                if (keys[i].type == KEY_STRING)
                        free(*(char **)f);
                else if (keys[i].type == KEY_SECRET)
                        erase_and_free(*(char **)f);
                else if (keys[i].type == KEY_STRV || keys[i].type == KEY_CIDRS)
                        strv_free(*(char ***)f);
        }
        *c = (Config){};
}

int config_set(Config *c, const char *key, const char *value, char *errbuf, size_t size) {
        const ConfigKey *k = key ? key_find(key) : NULL;

        if (!k)
                return unknown_key_error(errbuf, size, "option", "", key ?: "");
        return key_set(c, k, value ?: "", "option", errbuf, size);
}

/* JSON value → the text syntax, after checking the JSON type. */
static int json_to_text(const ConfigKey *k, json_t *v, char *buf, size_t size) {
        switch (k->type) {
        case KEY_STRING:
        case KEY_SECRET:
                if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                        return -EINVAL;
                if (json_string_length(v) >= size)
                        return -E2BIG;
                memcpy(buf, json_string_value(v), json_string_length(v) + 1);
                return 0;
        case KEY_U16:
        case KEY_PORT:
        case KEY_U32:
                if (!json_is_integer(v) || json_integer_value(v) < 0)
                        return -EINVAL;
                snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                return 0;
        case KEY_LOG_LEVEL:
                if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 7) {
                        snprintf(buf, size, "%d", (int)json_integer_value(v));
                        return 0;
                }
                __attribute__((fallthrough));
        case KEY_SHUTDOWN:
                if (!json_is_string(v))
                        return -EINVAL;
                snprintf(buf, size, "%s", json_string_value(v));
                return 0;
        case KEY_TRISTATE:
        case KEY_BOOL:
                if (json_is_boolean(v))
                        snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
                else if (k->type == KEY_TRISTATE && json_is_string(v) && streq(json_string_value(v), "auto"))
                        snprintf(buf, size, "auto");
                else
                        return -EINVAL;
                return 0;
        default:
                return -EINVAL;
        }
}

static int json_set_strv(Config *c, const ConfigKey *k, json_t *v, const char *origin,
                         char *err, size_t size) {
        size_t i, n = json_array_size(v);
        json_t *e;

        if (!json_is_array(v) || n > CONFIG_STRV_MAX)
                return -EINVAL;
        char **l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        json_array_foreach(v, i, e)
                if (!json_is_string(e) || !(l[i] = strdup(json_string_value(e)))) {
                        strv_free(l);
                        return json_is_string(e) ? -ENOMEM : -EINVAL;
                }
        if (strv_check(k, l) < 0) {
                set_error(err, size, origin, k);
                strv_free(l);
                return -EBADMSG; /* err written */
        }
        if (!n) {
                free(l);
                l = NULL;
        }
        strv_assign(c, k, l);
        return 0;
}

static const char *json_type_name(json_t *v) {
        switch (json_typeof(v)) {
        case JSON_OBJECT: return "an object";
        case JSON_ARRAY: return "a list";
        case JSON_STRING: return "a string";
        case JSON_INTEGER: return "an integer";
        case JSON_REAL: return "a number";
        case JSON_TRUE:
        case JSON_FALSE: return "a boolean";
        default: return "null";
        }
}

static int json_set_key(Config *c, const ConfigKey *k, json_t *v, const char *origin,
                        char *err, size_t size) {
        _cleanup_(freep) char *text = malloc(CONFIG_VALUE_MAX + 1);
        char expect[64];
        int r;

        if (!text)
                return -ENOMEM;
        if (k->type == KEY_STRV || k->type == KEY_CIDRS) {
                r = json_set_strv(c, k, v, origin, err, size);
                if (r == -EBADMSG)
                        return -EINVAL;
        } else
                r = json_to_text(k, v, text, CONFIG_VALUE_MAX + 1);
        if (r == -ENOMEM)
                return r;
        if (r == -E2BIG)
                return too_long_error(err, size, origin, k);
        if (r < 0) {
                snprintf(err, size, "%s: key \"%s\": expected %s, got %s", origin, k->name,
                         key_expect(k, expect, sizeof expect), json_type_name(v));
                return -EINVAL;
        }
        if (k->type == KEY_STRV || k->type == KEY_CIDRS)
                return 0;
        r = key_set(c, k, text, origin, err, size);
        explicit_bzero(text, CONFIG_VALUE_MAX + 1);
        return r;
}

int config_load_json(Config *c, const char *text, const char *origin, char *err, size_t size) {
        json_error_t jerr;
        const char *name;
        json_t *v;
        int r;

        /* Line and column only: jansson's text quotes the input near the
         * error, which may be a secret. */
        json_auto_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        unsigned before = c->n_errors;
        char e[256];

        if (!root) {
                snprintf(e, sizeof e, "%s:%d:%d: invalid JSON", origin, jerr.line, jerr.column);
                (void)note_error(c, e, err, size);
                return -EINVAL;
        }
        if (!json_is_object(root)) {
                snprintf(e, sizeof e, "%s: expected a JSON object of keys", origin);
                (void)note_error(c, e, err, size);
                return -EINVAL;
        }
        json_object_foreach(root, name, v) {
                const ConfigKey *k = key_find(name);

                r = k ? json_set_key(c, k, v, origin, e, sizeof e) : unknown_key_error(e, sizeof e, origin, "", name);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 && note_error(c, e, err, size) < 0)
                        return -EINVAL;
        }
        return c->n_errors > before ? -EINVAL : 0;
}

int config_load_file(Config *c, const char *path, char *errbuf, size_t size) {
        _cleanup_(freep) char *text = NULL;
        int r;

        r = read_full_file(path, CONFIG_FILE_MAX, &text, NULL);
        if (r == -ENOENT || r == -ENOMEM)
                return r;
        if (r < 0) {
                char e[256];
                snprintf(e, sizeof e, "%s: cannot read: %s", path, strerror(-r));
                (void)note_error(c, e, errbuf, size);
                return -EINVAL;
        }
        return config_load_json(c, text, path, errbuf, size);
}

/* Splits a kernel command line with the kernel's own tokeniser,
 * cmdline_next_arg() (next_arg() in lib/cmdline.c), the one ipcfg-parse.c
 * uses for ip=, so vmba.* and ip= words are split identically: a quote
 * opening the word or its value is dropped, quotes inside stay, "--" ends
 * the kernel's part.  Calls cb for each word (val NULL without '=').  The
 * copy may hold the token: it is wiped before it is freed. */
static int cmdline_foreach(const char *cmdline, int (*cb)(const char *param, const char *val, void *u),
                           void *u) {
        size_t len = strlen(cmdline);
        _cleanup_(freep) char *buf = strdup(cmdline);
        char *args = buf;
        int r = 0;

        if (!buf)
                return -ENOMEM;
        while (*args) {
                char *param, *val;

                args = cmdline_next_arg(args, &param, &val);
                if (!val && streq(param, "--"))
                        break;
                r = cb(param, val, u);
                if (r < 0)
                        break;
        }
        explicit_bzero(buf, len);
        return r;
}

typedef struct CmdlineCtx {
        Config *c;
        char *err;
        size_t size;
} CmdlineCtx;

static int cmdline_word(const char *param, const char *val, void *u) {
        CmdlineCtx *x = u;
        const char *name = startswith(param, "vmba.");

        if (!name)
                return 0;
        const ConfigKey *k = key_find(name);
        char e[256], expect[64];
        int r;

        if (!k)
                r = unknown_key_error(e, sizeof e, "kernel command line", "vmba.", name);
        else if (!val) {
                snprintf(e, sizeof e, "kernel command line: key \"%s\": expected %s, got no value", name,
                         key_expect(k, expect, sizeof expect));
                r = -EINVAL;
        } else
                r = key_set(x->c, k, val, "kernel command line", e, sizeof e);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return note_error(x->c, e, x->err, x->size);
        if (k->type == KEY_SECRET)
                x->c->secrets_from_cmdline |= streq(k->name, "token") ? CONFIG_TOKEN : CONFIG_DESKTOP_SECRET;
        return 0;
}

int config_apply_cmdline(Config *c, const char *cmdline, char *errbuf, size_t size) {
        CmdlineCtx x = { .c = c, .err = errbuf, .size = size };
        unsigned before = c->n_errors;
        int r;

        /* Over-long values are refused by key_set(), naming the key. */
        r = cmdline_foreach(cmdline, cmdline_word, &x);
        return r < 0 ? r : c->n_errors > before ? -EINVAL : 0;
}

void config_dump_keys_markdown(FILE *f) {
        fputs("| key | type | default | description |\n|---|---|---|---|\n", f);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const ConfigKey *k = &keys[i];
                char range[48];
                const char *type = key_range(k, range, sizeof range) ?: type_name[k->type];

                fprintf(f, "| `%s` | %s | %s%s%s | %s |\n", k->name, type,
                        *k->def ? "`" : "", *k->def ? k->def : "\"\"", *k->def ? "`" : "", k->help);
        }
}
