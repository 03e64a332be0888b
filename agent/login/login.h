/* Login sessions: the LoginManager owns every session (CLI-driven or
 * host-driven) with its CLI runner, credential capture and the control
 * socket the CLIs' $BROWSER talks to, and drives the browser.  It knows
 * nothing of HTTP or of how credentials leave the VM: whoever cares (the
 * host API routes, the push handoff) subscribes to session changes.
 * Effects of entering a state (stop the CLI, close the browser once no
 * live login waits on it, wipe the secret, remove the CLI's HOME) happen here, in one place, after the
 * subscribers were told. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "capture.h"
#include "cli-pool.h"
#include "cli-runner.h"
#include "id-util.h"
#include "launch.h"
#include "macro.h"
#include "provider-def.h"
#include "session-fsm.h"
#include "time-util.h"
#include "vnc/browser.h"

typedef struct LoginManager LoginManager;
typedef struct ControlSocket ControlSocket;

#define LOGIN_SESSIONS_MAX 16
#define LOGIN_LISTENERS_MAX 4

typedef struct LoginSession {
        LoginManager *lm;
        char id[SESSION_ID_MAX + 1];
        uint64_t serial;              /* this session object's, unique in the manager: ids are reused */
        char provider[65];            /* as the host named it ("codex_cli"); "oauth" for host-driven */
        const ProviderDef *def;       /* NULL for host-driven */
        SessionState state;
        usec_t started;               /* CLOCK_MONOTONIC */
        char *oauth_url;
        char *error;
        char *oauth_state;            /* host-driven: expected state (secret) */
        unsigned wrong_states;        /* callbacks with another state while it waited (either callback route) */
        json_t *credentials;          /* secret */
        char *cred_path;
        bool delivering;              /* a pull's response (GET /credentials/get) is being sent */
        bool pushed;                  /* queued for the push handoff: delivered that way, never pulled */
        char *home;                   /* the CLI's own HOME, <login_home>/<id>; NULL: none (host-driven) or removed */
        int cli_slot;                 /* its CLI's user in the pool (cli-pool.h), until its CLI and HOME are gone; -1: none */
        usec_t modified;              /* CLOCK_REALTIME µs */
        CliRunner *runner;
        Capture *capture;
        sd_event_source *expire;
        BrowserOpen *browser_op;      /* its authorize URL on its way to the browser */
} LoginSession;

typedef enum LoginChange {
        LOGIN_CHANGE_STATE,   /* s->state is new; secrets still there when it is AUTHENTICATED */
        LOGIN_CHANGE_REMOVED, /* s is about to be freed (its secrets already wiped) */
} LoginChange;

/* Subscribers must not free s; they may apply events to it. */
typedef void (*LoginListener)(LoginSession *s, LoginChange change, void *userdata);

typedef struct LoginOptions {
        sd_event *event;
        const Launcher *launcher;     /* starts the CLIs */
        Browser *browser;             /* NULL: no browser (opening a URL gives -EAGAIN) */
        const char *providers_file;
        const char *login_home;       /* absolute; each CLI login's HOME is <login_home>/login-<session id> */
        uint32_t login_home_size_mb;  /* > 0: login_home and each HOME a tmpfs of this size */
        const char *environment_file; /* the host's proxy defaults (/etc/environment); "" = none */
        const char *control_socket;   /* "" = none; exported to CLIs as VMBA_CONTROL_SOCKET */
        const char *runtime_dir;      /* absolute; the CLIs' browser links go in <runtime_dir>-cli/bin */
        /* The CLIs' shared account (never root; its uid runs nothing, its
         * group every CLI) and the users the CLIs run as, one per live
         * login (cli-pool.h): cli_error NULL or "" when they were found;
         * else why not, and no CLI runs. */
        uid_t cli_uid;
        gid_t cli_gid;
        const uid_t *cli_uids;
        size_t n_cli_uids;
        const char *cli_error;
        const char *display;          /* DISPLAY of the CLIs */
        const char *bin_path;         /* PATH of the CLIs */
        uint32_t session_ttl_s;
        uint32_t cli_tasks_max;       /* RLIMIT_NPROC on each CLI (its login's user's tasks at once); 0: none */
        uint32_t cli_memory_max_mb;   /* memory.max of each CLI's cgroup (SpawnOptions.memory_max); 0: none */
        uint64_t cli_ambient_caps;    /* capabilities a CLI with a callback_port keeps (1 << CAP_*), as
                                       * spawn_can_keep_caps() allows; the others keep none */
} LoginOptions;

/* o's strings, launcher and browser must outlive the manager.  Provider
 * definitions that fail to load are logged and leave CLI logins off
 * (login_manager_providers() is NULL); host-driven logins still work.
 * With providers and the CLIs' user, <runtime_dir>-cli (root's, 0710,
 * the CLI user's group) gets bin/, holding the links the CLIs open URLs
 * with (control-socket.h): $BROWSER is bin/vmba-open-url, a program path
 * without arguments, and bin, holding xdg-open and x-www-browser too,
 * comes first on the CLIs' PATH.  Links that cannot be made are logged:
 * the CLIs then cannot hand over a URL they do not print.  login_home is
 * made root's, 0710, with the CLI user's group: that user passes through
 * to the HOMEs, no other (the browser's) may. */
int login_manager_new(const LoginOptions *o, LoginManager **ret);
LoginManager *login_manager_free(LoginManager *lm);
DEFINE_TRIVIAL_CLEANUP_FUNC(LoginManager *, login_manager_free);

int login_manager_subscribe(LoginManager *lm, LoginListener cb, void *userdata);
/* Live sessions, for /health's activeSessions. */
unsigned login_manager_active(LoginManager *lm);
/* The CPU time of the logins' CLIs that ended, for /metrics (borrowed). */
const CliCpuTotals *login_manager_cli_cpu(LoginManager *lm);
/* The provider definitions (borrowed), NULL when they did not load. */
const ProviderSet *login_manager_providers(LoginManager *lm);
/* Why no provider CLI can run (static or the manager's), NULL when they can. */
const char *login_manager_cli_unavailable(LoginManager *lm);

LoginSession *login_session_find(LoginManager *lm, const char *id);
/* Every slot, for callers that look for a session by something else than
 * its id (a state, a callback port): i < LOGIN_SESSIONS_MAX; may be NULL. */
LoginSession *login_manager_session_at(LoginManager *lm, size_t i);
/* A new session in STARTING; -EEXIST when id is live, -EUSERS when full.
 * A final session with the same id is replaced. */
int login_session_new(LoginManager *lm, const char *id, const char *provider, LoginSession **ret);
/* Applies an event: the subscribers are told, then the effects of the new
 * state happen.  Returns the new state or -ESTALE. */
int login_session_event(LoginSession *s, SessionEvent e);
/* When s's CLI kept reaching its memory.max since it started (the
 * kernel reclaiming in its cgroup and the CLI reading back what was
 * evicted: it crawls, and its login times out rather than fails): "CLI
 * <provider> at its memory.max N MiB: the kernel reclaimed its memory K
 * times since it started and read back R pages ...; raise
 * login_memory_max_mb", into buf
 * (LOGIN_MEMORY_NOTE_MAX); else "" (no CLI, no limit, or the OOM killer
 * killed in its cgroup: its exit says so).  Returns buf. */
#define LOGIN_MEMORY_NOTE_MAX (CLI_MEMORY_NOTE_MAX + 64)
const char *login_session_memory_note(LoginSession *s, char *buf, size_t size);
/* Fails s with reason (copied) unless it is final already. */
void login_session_fail(LoginSession *s, SessionEvent e, const char *reason);
/* Wipes secrets and removes the session (404 afterwards).  NULL-safe. */
void login_session_drop(LoginSession *s);
uint64_t login_session_elapsed_ms(LoginSession *s);

/* A pull of a session's credentials (GET /credentials/get) whose
 * response is on its way.  It names the session object, not only its
 * id: by the time the response is over the session may have ended and a
 * new one been started under the same id. */
typedef struct LoginPull {
        char id[SESSION_ID_MAX + 1];
        uint64_t serial;
} LoginPull;

/* s (AUTHENTICATED, neither pushed nor being pulled) is being pulled:
 * s->delivering until login_manager_pull_done(p). */
void login_session_pull_start(LoginSession *s, LoginPull *ret);
/* The response of pull p is over.  Sent completely: its session is
 * delivered and dropped (1).  Cut off: the credentials stay for another
 * pull (0).  -ESTALE: its session is gone or no longer authenticated;
 * another session with the same id is not touched. */
int login_manager_pull_done(LoginManager *lm, const LoginPull *p, bool completely_sent);

/* Starts the provider CLI for s (its def is looked up by s->provider) as
 * a CLI user of its own, taken from the pool, in a HOME of its own,
 * <login_home>/login-<id>, made empty, 0700 and that user's (a tmpfs of
 * its own with login_home_size_mb, home-tmpfs.h); the
 * credential file is watched there.  The HOME is removed when the session
 * ends, once the CLI is gone; the user goes back to the pool then, and is
 * another login's only once nothing of it runs any more.
 * -ENOENT: unknown provider, or provider definitions not loaded;
 * -EPERM: no CLI user (login_manager_cli_unavailable());
 * -EUSERS: every CLI user is a live login's, or still has processes
 * (login_manager_users_busy() says so); a CLI whose exec (or a step of
 * its spawn before it) failed: its -errno, and error (size bytes, ""
 * for any other failure) says what failed ("execute /usr/bin/claude as
 * uid 1001: No such file or directory"); a HOME that could not be made
 * (s->home then stays NULL): its -errno, and error says which and why
 * ("cannot make its HOME /x/login-a: mounting a tmpfs of 64 MiB
 * (login_home_size_mb) on it failed: Operation not permitted"). */
int login_session_start_cli(LoginSession *s, const char *http_proxy, const char *https_proxy,
                            const char *no_proxy, char *error, size_t size);
/* Why no CLI user is free, for the host: into buf, which is returned. */
const char *login_manager_users_busy(LoginManager *lm, char *buf, size_t size);
/* The uid s's CLI runs as, (uid_t)-1 when it has none (host-driven, or
 * over and its user given back). */
uid_t login_session_cli_uid(const LoginSession *s);
/* Stores credentials (taken) and moves s to AUTHENTICATED. */
void login_session_captured(LoginSession *s, json_t *credentials, const char *path, usec_t modified);
/* The newest CLI session with a loopback listener of its own (a callback
 * port) whose state in_state accepts, or NULL. */
LoginSession *login_manager_newest_listener_session(LoginManager *lm, bool (*in_state)(SessionState));
/* The CLI session whose own loopback listener an OAuth redirect is for:
 * the newest live one with a callback port, not yet authenticated. */
LoginSession *login_manager_callback_session(LoginManager *lm);

/* Opens s->oauth_url in the browser.  A browser that cannot show it (a
 * starting instance never on its bus, a D-Bus error, a URL it refuses,
 * a spawn that failed, with EAGAIN too) fails s at once, naming the
 * cause: the person would never see the page and the login would wait
 * out its TTL.  No browser at all (-EAGAIN without a cause) is logged
 * only: the URL is the host's to show. */
void login_session_open_url(LoginSession *s);
/* Opens url in the browser: 0 and the outcome comes to cb later, as
 * browser_open() says (*ret, may be NULL, cancels it); -EAGAIN without a
 * browser. */
int login_manager_open_url(LoginManager *lm, const char *url, BrowserOpenFn cb, void *userdata,
                           BrowserOpen **ret);
/* A URL from a CLI's $BROWSER (the control socket), sent by peer_uid,
 * with the login its CLI runs for (NULL: not known): a live session's
 * authorize URL already (no second tab), or that waiting session's
 * authorize URL, its provider's patterns matching (without login_id, only
 * when one session can take it): "session".  A CLI user (not root) is
 * heard only for the one login it is the user of: another login's id is
 * refused.  Anything else: -EPERM, logged here (without the URL's query
 * or fragment), and the browser is not asked. */
int login_manager_browser_request(LoginManager *lm, const char *url, const char *login_id, uid_t peer_uid,
                                  const char **ret_method);
