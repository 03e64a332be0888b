/* Services are data: what to run, in which order, and how to know it is
 * ready.  A ServiceDefs list comes either from the services_file JSON
 * (parsed here, pure: no system calls) or from the built-in display stack
 * (vnc/display.c); the supervisor only ever sees this model.
 *
 * services_file schema (unknown keys are an error naming the key):
 *   {"services": [ {
 *      "name": "x11vnc",                    required, [A-Za-z0-9._-]{1,32}, unique
 *      "argv": ["x11vnc", "-display", ":1"], required, non-empty
 *      "env": ["DISPLAY=:1"],               added to the agent's environment
 *                                           (with "user": the whole environment,
 *                                           plus PATH from bin_path)
 *      "cwd": "/",
 *      "user": "vmba-browser",              run as this user (looked up in /etc/passwd
 *                                           at each start; root is refused; missing:
 *                                           the service fails, never runs as root;
 *                                           no_new_privs)
 *      "depends_on": ["Xvfb"],              names defined in the same file
 *      "probe": {"type": "none" | "displayfd" | "fd-line" | "tcp-banner" | "http",
 *                "host": "127.0.0.1", "port": 5901, "expect": "RFB ", "path": "/"},
 *      "restart": "always" | "on-failure" | "never",
 *      "on_demand": false,                  started only by supervisor_start_service()
 *      "quit_restarts": false,              an exit 0 after ready is a close: started again
 *                                           at once, outside the budget (restart "always"
 *                                           only; see ServiceDef)
 *      "stop_timeout_ms": 5000, "ready_timeout_ms": 20000,   0 = the config default
 *      "memory_max_mb": 1536,               its cgroup's memory.max, MiB, 0-1048576
 *                                           (ServiceDef.memory_max_mb); 0: none, as a
 *                                           built-in service's without its key
 *      "stale_lock": "/tmp/.X1-lock",       removed before start when its pid is dead,
 *                                           and so is what is in place of the display's
 *                                           socket (/tmp/.X11-unix/X1) unless a server of
 *                                           root's or the user's accepts connections on it
 *      "create_dirs": ["/var/lib/x"],        created (0700) before start; with "user"
 *                                           owned by it (an existing one must be already)
 *      "owned_files": ["/run/x/Xauthority"]  regular files the service's uid must own for
 *                                           it to start (an X server's -auth: a missing
 *                                           one admits every client); else it fails
 *   } ] }
 * The top level may also be the bare list. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SERVICES_MAX 32
/* memory_max_mb: 1 TiB, far past any VM's memory (config.h's MEMORY_MAX_MB_MAX). */
#define SERVICE_MEMORY_MAX_MB_MAX (1u << 20)
#define SERVICE_NAME_MAX 32
/* Where X servers make their sockets: stale_lock's display socket, and
 * the directory the display stack makes for its X server. */
#define X11_SOCKET_DIR "/tmp/.X11-unix"

typedef enum ProbeType {
        PROBE_NONE,       /* ready once spawned */
        PROBE_DISPLAYFD,  /* the child writes "N\n" to fd 3 when ready (Xvfb -displayfd 3) */
        PROBE_FD_LINE,    /* the child writes any line to fd 3 when ready (dbus-daemon --print-address=3) */
        PROBE_TCP_BANNER, /* connect host:port, read until `expect` (prefix) */
        PROBE_HTTP,       /* GET path from host:port answers with an HTTP status < 500 */
        PROBE_FILE,       /* the file at path, written since the start, contains expect
                           * (removed before each start; watched with inotify) */
        PROBE_UNIX_BANNER, /* connect the unix socket at path, read until `expect` (prefix)
                            * (removed before each start; its creation watched with inotify) */
        _PROBE_TYPE_MAX,
        _PROBE_TYPE_INVALID = -22,
} ProbeType;

typedef struct ProbeSpec {
        ProbeType type;
        char *host;     /* tcp-banner, http: default "127.0.0.1" */
        uint16_t port;  /* tcp-banner, http: required */
        char *expect;   /* tcp-banner, unix-banner: required prefix; file: required text */
        char *path;     /* http: default "/"; file, unix-banner: required, absolute */
} ProbeSpec;

/* An http probe's path: "/…", printable ASCII without spaces, at most this
 * long (it is the request line's target, sent as it is). */
#define PROBE_HTTP_PATH_MAX 256

typedef enum RestartPolicy {
        RESTART_ALWAYS,
        RESTART_ON_FAILURE, /* not after exit 0 */
        RESTART_NEVER,
        _RESTART_POLICY_MAX,
        _RESTART_POLICY_INVALID = -22,
} RestartPolicy;

typedef struct ServiceDef {
        char *name;
        char **argv;        /* NULL-terminated */
        char **env;         /* "K=V", NULL-terminated; may be NULL */
        char *cwd;          /* NULL: "/" */
        char *user;         /* NULL: the agent's own (root) */
        char **depends_on;  /* NULL-terminated; may be NULL */
        ProbeSpec probe;
        RestartPolicy restart;
        bool on_demand;
        uint32_t stop_timeout_ms;  /* 0: Config.stop_timeout_ms */
        uint32_t ready_timeout_ms; /* 0: Config.ready_timeout_ms */
        char *stale_lock;   /* NULL: none */
        char **create_dirs; /* NULL-terminated; may be NULL */
        char **owned_files; /* NULL-terminated; may be NULL */
        uint64_t ambient_caps; /* kept across the drop to user (1 << CAP_*); built in only, not a services-file key */
        uint32_t max_procs;    /* RLIMIT_NPROC: the tasks of user at once, 0: no limit; built in only */
        uint32_t memory_max_mb; /* its cgroup's memory.max, MiB (no swap; memory.oom.group: the OOM
                                 * killer takes all of it, and it ends as a crash does), where the
                                 * memory controller is (SupervisorOptions.memory); 0: none */
        const char *memory_max_key; /* the setting memory_max_mb comes from, named when a start keeps
                                     * reaching it ("browser_memory_max_mb"): a string literal, not
                                     * owned; NULL: the services_file's "memory_max_mb"; built in only */
        int oom_score_adj;     /* at least this (SpawnOptions.oom_score_adj), 0-1000; built in only */
        gid_t extra_gid;       /* with user: its one supplementary group, 0: none; built in only */
        char **quiet_output;   /* NULL-terminated line prefixes logged at debug, not info: what the
                                * service says at every start that means nothing is wrong; built in only */
        char **others_files;   /* NULL-terminated: paths in a shared directory the service writes at each
                                * start, where another user's file (not root's, not the service user's) would
                                * fail it; such a file is removed before each start; built in only */
        bool quit_restarts;    /* an exit 0 after it was ready, however soon, is it being closed (the
                                * person closed the browser's last window), not a failure: started again
                                * at once, outside the start budget and the backoff (before ready it is
                                * its restart policy's, within the budget); closed more than a few times
                                * in a row with no use in between (supervisor_service_used()), it quits by
                                * itself: started again after a backoff, still outside the budget and
                                * never failed for it; only with RESTART_ALWAYS */
        int stdin_socket;      /* > 0: the child's stdin, a bound TCP socket the agent keeps (not owned
                                * here), made to listen before each spawn (sv_prepare()); 0: /dev/null (the
                                * agent's own stdin is never handed on); built in only */
} ServiceDef;

typedef struct ServiceDefs {
        ServiceDef *services; /* dependency order after service_defs_finalize() */
        size_t n;
} ServiceDefs;

const char *probe_type_to_string(ProbeType t);
ProbeType probe_type_from_string(const char *s);
const char *restart_policy_to_string(RestartPolicy p);
RestartPolicy restart_policy_from_string(const char *s);

void service_def_done(ServiceDef *d);
void service_defs_done(ServiceDefs *d);

/* Appends *def (ownership moves: *def is zeroed), -E2BIG past SERVICES_MAX. */
int service_defs_add(ServiceDefs *d, ServiceDef *def);

/* Checks names, argv, probes and dependencies (unknown name, cycle) and
 * sorts the list so every service comes after its dependencies (stable).
 * -EINVAL with a message naming the service and the problem. */
int service_defs_finalize(ServiceDefs *d, char *errbuf, size_t size);

/* Parses and finalizes a services_file.  *ret written only on success. */
int service_defs_from_json(const char *text, ServiceDefs *ret, char *errbuf, size_t size);

/* The environment of a service (a list of copies, strv_free()), given
 * agent_env, the agent's own (environ).  Without a user: its own K=V
 * entries first, then agent_env's, minus the keys it overrides and the
 * agent's own systemd ones.  With a user: nothing of the agent's, only
 * its own entries and PATH=bin_path (DEFAULT_PATH when NULL) unless it
 * sets PATH.  NULL on OOM.  Pure. */
char **service_def_env(const ServiceDef *def, const char *bin_path, char *const *agent_env);

/* Sets entry ("K=V", copied) in def's env: in place of the entry with
 * its key, or at the end.  -EINVAL without a key and '=', -ENOMEM (def
 * unchanged). */
int service_def_set_env(ServiceDef *def, const char *entry);

/* Index of name in d, or -ENOENT. */
int service_defs_find(const ServiceDefs *d, const char *name);

