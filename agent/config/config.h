/* The agent's configuration: one struct, every key with a default.
 * Sources, later wins: defaults < /etc/vm-browser-agent/agent.json <
 * `vmba.<key>=` on the kernel command line < command-line flags.
 * Unknown keys are an error naming the key.  The key table (name, type,
 * default, help) lives in config.c and is also what README documents.
 * Strings are owned by the Config (config_done() frees them); the token is
 * wiped with explicit_bzero. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The most users the provider CLIs may have (cli_users): agent/login/cli-pool.h's CLI_POOL_MAX. */
#define CONFIG_CLI_USERS_MAX 64
/* login_memory_max_mb, browser_memory_max_mb: 1 TiB, far past any VM's memory. */
#define MEMORY_MAX_MB_MAX (1u << 20)
/* memory_thrash_kill_s: a day (in ms, it fits a uint32_t); at least one
 * period of the supervisor's reads of a thrashing cgroup
 * (SV_MEMORY_PERIOD_USEC, 10 s; run.c checks they agree): a shorter span
 * would be killed at the first read that finds it thrashing, 10 s. */
#define MEMORY_THRASH_KILL_S_MAX 86400u
#define MEMORY_THRASH_KILL_S_MIN 10u

typedef enum ShutdownAction {
        SHUTDOWN_REBOOT,   /* reboot(RB_AUTOBOOT): Firecracker with reboot=k exits */
        SHUTDOWN_POWEROFF, /* reboot(RB_POWER_OFF) */
        SHUTDOWN_EXIT,     /* exit 0 even as PID 1 (tests in a PID namespace; --no-reboot) */
        _SHUTDOWN_ACTION_MAX,
        _SHUTDOWN_ACTION_INVALID = -22,
} ShutdownAction;

typedef struct Config {
        /* general */
        int log_level;                 /* "log_level": "info" */
        char *build_id_path;           /* "/etc/vm-browser-agent/build-id" */
        ShutdownAction shutdown_action;/* "shutdown_action": "reboot" */
        uint32_t shutdown_timeout_ms;  /* total budget for stopping services: 10000 */
        int system_shutdown;           /* "auto" (-1): POST /shutdown under systemd asks systemd
                                        * for reboot.target/poweroff.target | true | false */

        /* netinit */
        int netinit;                   /* "netinit": "auto" (-1: when PID 1) | true | false */
        char *cmdline_path;            /* "/proc/cmdline" */
        uint32_t device_timeout_ms;    /* 10000 */
        char *resolv_conf;             /* "/etc/resolv.conf" */
        char *hosts_file;              /* "/etc/hosts" */
        char *hostname_file;           /* "/etc/hostname" */
        char *machine_id_file;         /* "/etc/machine-id": as PID 1, systemd.machine_id= or a restore's replaces it */
        uint16_t unprivileged_port_start; /* 1458; 0: the kernel's */

        /* http */
        char *http_listen;             /* "0.0.0.0" */
        uint16_t http_port;            /* 8080 */
        uint32_t http_max_connections; /* 1024 */
        uint32_t http_max_per_ip;      /* 64 */
        uint32_t http_timeout_s;       /* 10: idle/slow-drip connection timeout */
        uint32_t http_max_body;        /* 65536 */
        uint32_t http_max_url;         /* 4096 */
        uint32_t http_max_header;      /* 16384 */
        char **allow_from;             /* NULL-terminated; NULL: loopback + ip= gateway */
        char **http_allowed_hosts;     /* Host names control routes accept besides IP literals, localhost */

        /* what the host hands the VM (agent/host/) */
        char *token_file;              /* "/etc/vm-browser-agent/token" */
        char *token;                   /* secret: vmba.token= or --set (warned) */
        char *desktop_secret_file;     /* "/etc/vm-browser-agent/desktop-secret" */
        char *desktop_secret;          /* secret: vmba.desktop_secret= or --set (warned) */
        int mmds;                      /* "auto" (-1): ask Firecracker MMDS when nothing else gave them */
        char *mmds_address;            /* "169.254.169.254" */
        char *mmds_path;               /* "/vm-browser-agent" */
        unsigned secrets_from_cmdline; /* ConfigSecret bits set by vmba.*=: the caller warns */
        int restore;                   /* "auto" (-1): notice snapshot restores when MMDS is asked */
        int restore_clock;             /* "auto" (-1): step the clock only as the machine's init or system service */
        uint32_t restore_check_interval_ms; /* 1000: POST /restore-check at most this often */

        /* display stack */
        char *display;                 /* ":1" */
        char *geometry;                /* "1280x800" */
        uint32_t depth;                /* 24 */
        char *window_manager;          /* "openbox"; "" = none */
        char *vnc_listen;              /* "unix" (DISPLAY_VNC_LISTEN_UNIX): see README, Bindings */
        uint16_t vnc_port;             /* 5901 */
        char *novnc_listen;            /* "0.0.0.0" */
        uint16_t novnc_port;           /* 6080 */
        char *novnc_web;               /* "/usr/share/novnc" */
        char *x_user;                  /* "vmba-x" */
        char *vnc_user;                /* "vmba-vnc" */
        char *firefox;                 /* "firefox-esr" */
        char *firefox_profile;         /* "/var/lib/vm-browser-agent/browser/profile" */
        uint32_t browser_downloads_mb; /* 32: the browser's Downloads a tmpfs of this size; 0: none */
        uint32_t browser_memory_max_mb; /* 1536: memory.max of the browser's cgroup; 0: none */
        int browser_prestart;          /* false: started at the first URL; true: with the display stack */
        char *browser_user;            /* "vmba-browser": Firefox runs as this user */
        char *runtime_dir;             /* "/run/vm-browser-agent": generated files (X cookie, VNC secrets) */
        char *services_file;           /* "": the built-in display stack; else a JSON list of services */
        char *bin_path;                /* "/usr/local/bin:/usr/bin:/bin" for service lookup */
        char *cgroup_root;             /* "": the agent's own cgroup (PID 1, Delegate=yes) or none */

        /* supervisor */
        uint32_t restart_burst;        /* 5 starts ... */
        uint32_t restart_window_s;     /* ... per 60 s, then failed */
        uint32_t failed_retry_s;       /* 300: failed over budget is started again after this; 0: never */
        uint32_t backoff_initial_ms;   /* 100 */
        uint32_t backoff_max_ms;       /* 10000 */
        uint32_t ready_timeout_ms;     /* 20000: not ready by then is a failure (up to 4x while busy: supervisor.c) */
        uint32_t stop_timeout_ms;      /* 5000: per service, then SIGKILL */
        uint32_t memory_thrash_kill_s; /* 60: a ready service thrashing at its memory.max this long is killed */

        /* logins and handoff */
        char *providers_file;          /* "/etc/vm-browser-agent/providers.json" */
        char *clis_file;               /* "/etc/vm-browser-agent/clis.json": the CLIs' pins */
        char *clis_dir;                /* "/usr/lib/vm-browser-agent/clis": <clis_dir>/<provider> per CLI */
        char *cli_user;                /* "vmba-cli": the CLIs' shared account (its group) */
        uint32_t cli_users;            /* 8: the CLIs run as <cli_user>1 ... <cli_user>N, one per live login */
        uint32_t cli_tasks_max;        /* 1024: RLIMIT_NPROC on each login's CLI user; 0: none */
        uint32_t login_memory_max_mb;  /* 1024: memory.max of each login's cgroup; 0: none */
        char *login_home;              /* "/var/lib/vm-browser-agent/logins": each CLI login's HOME is <login_home>/<session id> */
        uint32_t login_home_size_mb;   /* 64: each login's HOME, and login_home, a tmpfs of this size; 0: plain directories */
        char *environment_file;        /* "/etc/environment": proxy defaults */
        char *control_socket;          /* "/run/vm-browser-agent-cli/control.sock" */
        uint32_t session_ttl_s;        /* 900 */
        uint32_t url_wait_s;           /* 15 */
        uint32_t callback_relay_s;     /* 30 */
        uint32_t vsock_cid;            /* 2 */
        uint32_t vsock_port;           /* 0: push handoff off */
        char *vsock_unix_path;         /* test stand-in for AF_VSOCK: "" = real vsock */

        /* loading */
        bool keep_going;               /* PID 1: a bad key is skipped, the rest applied */
        unsigned n_errors;             /* bad keys met (the first is in the loader's errbuf) */
} Config;

typedef enum ConfigSecret {
        CONFIG_TOKEN = 1 << 0,
        CONFIG_DESKTOP_SECRET = 1 << 1,
} ConfigSecret;

void config_init(Config *c);   /* defaults */
void config_done(Config *c);   /* frees, wipes the token */

/* Each returns 0, or -EINVAL with a one-line message naming the key in
 * errbuf (never the value given: it may be a secret, and the message may
 * reach /health).  With keep_going set, a bad key is skipped and the rest
 * applied; -EINVAL still says one was met, errbuf holds the first, and
 * n_errors counts them. */
int config_load_file(Config *c, const char *path, char *errbuf, size_t size); /* -ENOENT: absent, fine */
int config_apply_cmdline(Config *c, const char *cmdline, char *errbuf, size_t size);
int config_set(Config *c, const char *key, const char *value, char *errbuf, size_t size);

/* Shutdown actions by name; the token file; JSON text; the key table. */
const char *shutdown_action_to_string(ShutdownAction a);
ShutdownAction shutdown_action_from_string(const char *s);
/* Same as config_load_file() for JSON text; origin names it in errors. */
int config_load_json(Config *c, const char *text, const char *origin, char *errbuf, size_t size);
/* The key table as a markdown table (README's "Configuration keys"). */
void config_dump_keys_markdown(FILE *f);
