/* See login.h.  One place applies session events and their effects, so
 * every path that ends a session (captured, delivered, failed, expired,
 * closed) stops the CLI, closes the browser (unless another login still
 * needs it) and wipes the secret the same way.  Sessions in a final state
 * stay (without secrets) so the host can read why they ended, except
 * delivered ones: those are gone (404).
 *
 * A CLI's HOME (its credential file in it) is removed when the session
 * ends, but only once the CLI has exited: it may still be writing there.
 * A session that goes while its CLI is still stopping (delivered, replaced)
 * leaves the CLI behind as a Leftover that removes the HOME on its exit.
 *
 * Each CLI login runs as a user of its own from the pool (cli-pool.h),
 * held until its CLI and HOME are gone (a Leftover holds it meanwhile).
 *
 * Longer than the usual 800 lines: the HOMEs, the Leftovers, the CLI
 * users and the $BROWSER requests all change sessions, and the point of this file is
 * that only it does (through on_enter()); the pure parts are apart
 * (session-fsm.c, login-json.c, provider-def.c, url-scan.c, cli-pool.c). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "control-socket.h"
#include "env-file.h"
#include "errbuf.h"
#include "fileio.h"
#include "home-mount.h"
#include "home-remove.h"
#include "home-tmpfs.h"
#include "id-util.h"
#include "json-wipe.h"
#include "log.h"
#include "login-json.h"
#include "login.h"
#include "macro.h"
#include "transcript.h"
#include "url-util.h"

#define HOME_NAME_MAX (sizeof HOME_LOGIN_PREFIX + SESSION_ID_MAX)

typedef struct Listener {
        LoginListener cb;
        void *userdata;
} Listener;

typedef struct Leftover Leftover;
struct Leftover {
        LoginManager *lm;
        CliRunner *runner;            /* being stopped */
        char id[SESSION_ID_MAX + 1];  /* its HOME is <login_home>/login-<id> */
        int cli_slot;                 /* its user, given back once it has exited */
        Leftover *next;
};

struct LoginManager {
        LoginOptions o;
        ProviderSet *providers;
        LoginSession *sessions[LOGIN_SESSIONS_MAX];
        Listener listeners[LOGIN_LISTENERS_MAX];
        Leftover *leftovers;
        uint64_t last_serial;         /* of the newest session */
        char *browser;                /* $BROWSER of the CLIs: <runtime_dir>-cli/bin/vmba-open-url */
        char *cli_path;               /* PATH of the CLIs: <runtime_dir>-cli/bin:<bin_path> */
        ControlSocket *control;
        HomeRemover *remover;         /* of the HOMEs, off the event loop */
        bool stopping;                /* login_manager_free(): HOMEs removed here and now */
        bool proxy_secret_warned;     /* environment_file's proxy credentials readable by all: said once */
        LoginHome home;               /* login_home and its tmpfs */
        CliPool pool;                 /* the CLIs' users, one per live login */
        CliCpuTotals cli_cpu;         /* of the CLIs that ended, Leftovers' included */
        char cli_error[512];          /* why no CLI can run, when o.cli_error is not set: a provider's */
};

#define PROVIDERS_MAX_SIZE (256 * 1024)
/* After the capture a CLI still answers the browser and exits by itself. */
#define CLI_EXIT_GRACE_USEC (5 * USEC_PER_SEC)

static void session_wipe(LoginSession *s) {
        if (s->credentials) {
                json_wipe(s->credentials);
                json_decref(s->credentials);
                s->credentials = NULL;
        }
        s->oauth_state = erase_and_free(s->oauth_state);
}

static void notify(LoginSession *s, LoginChange change) {
        for (size_t i = 0; i < LOGIN_LISTENERS_MAX; i++)
                if (s->lm->listeners[i].cb)
                        s->lm->listeners[i].cb(s, change, s->lm->listeners[i].userdata);
}

/* A login's HOME below login_home: "login-" + its id, so no id ("..",
 * ".") names anything but a directory of its own. */
static void home_name(const char *id, char buf[static HOME_NAME_MAX]) {
        snprintf(buf, HOME_NAME_MAX, HOME_LOGIN_PREFIX "%s", id);
}

/* Removes <login_home>/login-<id> and all below it without following a
 * symlink the CLI left there: its name is free at once, the tree goes in
 * a child (home-remove.h). */
static void home_remove(LoginManager *lm, const char *id) {
        char name[HOME_NAME_MAX];
        int r;

        home_name(id, name);
        r = home_remover_remove(lm->remover, name, lm->stopping);
        if (r < 0)
                log_warning_errno(r, "Login %s: failed to remove its HOME below %s: %m", id, lm->o.login_home);
        else
                log_debug("Login %s: HOME removed%s.", id, lm->stopping ? "" : " (what it held is being removed)");
}

/* Kills whatever runs as slot i's user.  A released (DRAINING) user in
 * which nothing was found is free for the next login: a process left
 * behind would otherwise run as that login's user, in reach of its HOME
 * and its control socket requests. */
static void user_sweep(LoginManager *lm, int i) {
        uid_t uid = lm->pool.uid[i];
        int n = launcher_kill_uid(lm->o.launcher, uid);

        if (n < 0)
                log_warning_errno(n, "Could not look for what CLI user uid %u left running: %m", (unsigned)uid);
        else if (n > 0)
                log_info("Sent SIGKILL to %d process(es) of CLI user uid %u left running after its login.", n,
                         (unsigned)uid);
        else
                (void)cli_pool_drained(&lm->pool, i); /* -ESTALE while a login still has it */
}

/* Its login is over, its CLI and HOME gone: the user goes back to the
 * pool, free once nothing of it is left. */
static void user_release(LoginManager *lm, int *slot) {
        if (*slot < 0)
                return;
        (void)cli_pool_release(&lm->pool, *slot);
        user_sweep(lm, *slot);
        *slot = -1;
}

/* A user of its own for s: the released ones whose processes are gone by
 * now are free again first.  -EUSERS when none is. */
static int user_take(LoginSession *s) {
        LoginManager *lm = s->lm;
        int i;

        if (s->cli_slot >= 0)
                return 0;
        for (size_t k = 0; k < lm->pool.n; k++)
                if (lm->pool.state[k] == CLI_SLOT_DRAINING)
                        user_sweep(lm, (int)k);
        i = cli_pool_take(&lm->pool);
        if (i < 0)
                return i;
        /* A connection of that uid made before now is not this login's
         * (its maker may be gone, the connection handed on). */
        control_socket_drop_peer(lm->control, lm->pool.uid[i]);
        s->cli_slot = i;
        return 0;
}

uid_t login_session_cli_uid(const LoginSession *s) {
        return s->cli_slot >= 0 ? s->lm->pool.uid[s->cli_slot] : (uid_t)-1;
}

const char *login_manager_users_busy(LoginManager *lm, char *buf, size_t size) {
        size_t draining = cli_pool_count(&lm->pool, CLI_SLOT_DRAINING);

        if (draining > 0)
                snprintf(buf, size, "All %zu CLI users are in use (%zu of them until what their logins left "
                         "running is gone)", lm->pool.n, draining);
        else
                snprintf(buf, size, "All %zu CLI users are in use", lm->pool.n);
        return buf;
}

/* Only once the CLI is gone (not running): its HOME, then its user, who
 * could otherwise reach that HOME as another login's. */
static void session_home_remove(LoginSession *s) {
        if (s->home) {
                home_remove(s->lm, s->id);
                free(s->home);
                s->home = NULL;
        }
        user_release(s->lm, &s->cli_slot);
}

/* The CLI user passes through to its HOME, no other may: an existing
 * login_home of root's is fixed up, another's refused (-EPERM). */
static int login_home_prepare(LoginManager *lm) {
        if (isempty(lm->o.login_home) || lm->o.login_home[0] != '/')
                return -EINVAL;
        return mkdir_owned(lm->o.login_home, 0710, 0, lm->o.cli_gid);
}

/* A fresh <login_home>/login-<id>, a tmpfs of its own with the CLI's
 * TMPDIR in it (home-tmpfs.h), or nothing of it when a step fails:
 * whatever an earlier run left under that name (an agent that stopped
 * before removing it) goes first, so no login starts next to a credential
 * file that is not its own.  -errno with what failed in error (the HOME's
 * path, the step, the errno's text). */
static int session_home_create(LoginSession *s, char *error, size_t size) {
        const char *parent = s->lm->o.login_home;
        _cleanup_(closep) int fd = -EBADF;
        _cleanup_(freep) char *home = NULL;
        char name[HOME_NAME_MAX], why[192];
        int r;

        /* Part of a path component: a valid id has no '/'. */
        if (!session_id_is_valid(s->id) || isempty(parent) || parent[0] != '/')
                return -EINVAL;
        home_name(s->id, name);
        if (asprintf(&home, "%s/%s", parent, name) < 0)
                return -ENOMEM;
        r = login_home_prepare(s->lm);
        if (r < 0) {
                snprintf(error, size, "cannot make login_home %s root's, 0710, with cli_user's group: %s", parent,
                         strerror(-r));
                return r;
        }
        fd = login_home_open(&s->lm->home);
        if (fd < 0) {
                snprintf(error, size, "cannot open login_home %s: %s", parent, strerror(-fd));
                return fd;
        }
        r = home_remover_remove(s->lm->remover, name, false);
        if (r < 0)
                snprintf(why, sizeof why, "removing what an earlier login left there failed: %s", strerror(-r));
        if (r >= 0)
                r = home_tmpfs_make_at(fd, name, CLI_TMPDIR_NAME, s->lm->o.login_home_size_mb,
                                       login_session_cli_uid(s), s->lm->o.cli_gid, why, sizeof why);
        if (r < 0) {
                snprintf(error, size, "cannot make its HOME %s: %s", home, why);
                return r;
        }
        s->home = TAKE_PTR(home);
        return 0;
}

static bool cli_running(LoginManager *lm) {
        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++)
                if (lm->sessions[i] && cli_runner_running(lm->sessions[i]->runner))
                        return true;
        for (Leftover *lo = lm->leftovers; lo; lo = lo->next)
                if (cli_runner_running(lo->runner))
                        return true;
        return false;
}

static bool has_leftover(LoginManager *lm, const char *id) {
        for (Leftover *lo = lm->leftovers; lo; lo = lo->next)
                if (streq(lo->id, id))
                        return true;
        return false;
}

/* HOMEs below login_home that no session or stopping CLI has: one whose
 * removal failed while something of the CLI user still wrote into it, or
 * one an agent that stopped before removing it left.  Removed. */
static void homes_collect(LoginManager *lm) {
        DIR *d = opendir(lm->o.login_home);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                const char *id = startswith(de->d_name, HOME_LOGIN_PREFIX);
                LoginSession *s;

                if (!id || !session_id_is_valid(id) || has_leftover(lm, id))
                        continue;
                s = login_session_find(lm, id);
                if (s && s->home)
                        continue;
                home_remove(lm, id);
        }
        closedir(d);
        /* And the trees a remover could not finish. */
        home_remover_collect(lm->remover, lm->stopping);
}

/* What the CLIs started in sessions of their own (setsid(), Node's
 * detached spawn) is out of reach of their group kills: once no CLI runs,
 * every process of their user goes, and then the HOMEs nobody has.  While
 * another login's CLI runs, they wait for it: the user's processes are not
 * told apart, since reading which login one belongs to (its environment)
 * would read its memory, which it could stall. */
static void cli_sweep(LoginManager *lm) {
        int n;

        if (login_manager_cli_unavailable(lm) || lm->o.cli_uid == 0 || cli_running(lm))
                return;
        n = launcher_kill_uid(lm->o.launcher, lm->o.cli_uid);
        if (n < 0)
                log_warning_errno(n, "Could not look for what the provider CLIs left running: %m");
        else if (n > 0)
                log_info("Sent SIGKILL to %d process(es) of the provider CLIs' user left running after them.", n);
        homes_collect(lm);
}

static void leftover_unlink(LoginManager *lm, Leftover *lo) {
        for (Leftover **p = &lm->leftovers; *p; p = &(*p)->next)
                if (*p == lo) {
                        *p = lo->next;
                        return;
                }
}

static void on_leftover_exit(CliRunner *r, int wstatus, const char *how, void *userdata) {
        Leftover *lo = userdata;
        LoginManager *lm = lo->lm;

        leftover_unlink(lm, lo);
        home_remove(lm, lo->id);
        cli_runner_free(lo->runner);
        user_release(lm, &lo->cli_slot);
        free(lo);
        /* What the CLI left running (now, unless another CLI runs), and
         * its HOME again if that was still being written. */
        cli_sweep(lm);
}

/* A new login with the id of one whose CLI is still stopping: that CLI
 * must not write into the new HOME, nor remove it when it exits.  Killed
 * now; the caller removes the old HOME. */
static void leftover_take_over(LoginManager *lm, const char *id) {
        for (Leftover *lo = lm->leftovers, *next; lo; lo = next) {
                next = lo->next;
                if (!streq(lo->id, id))
                        continue;
                leftover_unlink(lm, lo);
                cli_runner_free(lo->runner);
                user_release(lm, &lo->cli_slot);
                free(lo);
        }
}

/* The session is over: its CLI (r, its or its Leftover's) is stopped.
 * Delivered the moment they were captured (a host that polls), the CLI
 * may not have answered the browser yet (Gemini CLI writes its tokens,
 * then asks for the account, then redirects): it keeps what is left of
 * the grace the capture gave it, or the person sees a reset for a
 * sign-in that worked.  Otherwise, or with the agent stopping: now. */
static void session_cli_stop(LoginSession *s, CliRunner *r) {
        if (s->state == SESSION_DELIVERED && !s->lm->stopping)
                cli_runner_stop_after(r, CLI_EXIT_GRACE_USEC);
        else
                cli_runner_stop(r);
}

/* The session goes: its CLI too, and its HOME once the CLI has exited. */
static void session_release_cli(LoginSession *s) {
        LoginManager *lm = s->lm;
        Leftover *lo;

        if (s->home && cli_runner_running(s->runner) && (lo = calloc(1, sizeof *lo))) {
                *lo = (Leftover){ .lm = lm, .runner = TAKE_PTR(s->runner), .cli_slot = s->cli_slot,
                                  .next = lm->leftovers };
                s->cli_slot = -1;
                memcpy(lo->id, s->id, sizeof lo->id);
                cli_runner_set_callbacks(lo->runner, &(CliRunnerCallbacks){ .on_exit = on_leftover_exit }, lo);
                session_cli_stop(s, lo->runner);
                lm->leftovers = lo;
                free(s->home);
                s->home = NULL;
                return;
        }
        /* Exited already (its exit swept), or no memory to wait for it:
         * killed now, and what it left with it. */
        if (cli_runner_running(s->runner)) {
                s->runner = cli_runner_free(s->runner);
                cli_sweep(lm);
        }
        s->runner = cli_runner_free(s->runner);
        session_home_remove(s);
}

static void session_free(LoginSession *s) {
        if (!s)
                return;
        session_wipe(s);
        /* Whoever holds on to it (a start request waiting for its URL, a
         * queued push) lets go now. */
        notify(s, LOGIN_CHANGE_REMOVED);
        browser_open_cancel(s->browser_op);
        session_release_cli(s);
        capture_free(s->capture);
        sd_event_source_disable_unref(s->expire);
        free(s->oauth_url);
        free(s->error);
        free(s->cred_path);
        free(s->home);
        free(s);
}

int login_manager_subscribe(LoginManager *lm, LoginListener cb, void *userdata) {
        for (size_t i = 0; i < LOGIN_LISTENERS_MAX; i++)
                if (!lm->listeners[i].cb) {
                        lm->listeners[i] = (Listener){ .cb = cb, .userdata = userdata };
                        return 0;
                }
        return -E2BIG;
}

const ProviderSet *login_manager_providers(LoginManager *lm) {
        return lm->providers;
}

const char *login_manager_cli_unavailable(LoginManager *lm) {
        if (!isempty(lm->o.cli_error))
                return lm->o.cli_error;
        return isempty(lm->cli_error) ? NULL : lm->cli_error;
}

LoginSession *login_manager_session_at(LoginManager *lm, size_t i) {
        return i < LOGIN_SESSIONS_MAX ? lm->sessions[i] : NULL;
}

LoginSession *login_session_find(LoginManager *lm, const char *id) {
        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++)
                if (lm->sessions[i] && streq(lm->sessions[i]->id, id))
                        return lm->sessions[i];
        return NULL;
}

void login_session_drop(LoginSession *s) {
        LoginManager *lm;

        if (!s)
                return;
        lm = s->lm;
        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++)
                if (lm->sessions[i] == s)
                        lm->sessions[i] = NULL;
        session_free(s);
}

uint64_t login_session_elapsed_ms(LoginSession *s) {
        return (now(CLOCK_MONOTONIC) - s->started) / USEC_PER_MSEC;
}

unsigned login_manager_active(LoginManager *lm) {
        unsigned n = 0;

        for (size_t i = 0; lm && i < LOGIN_SESSIONS_MAX; i++)
                if (lm->sessions[i] && session_state_is_live(lm->sessions[i]->state))
                        n++;
        return n;
}

const CliCpuTotals *login_manager_cli_cpu(LoginManager *lm) {
        return &lm->cli_cpu;
}

const char *login_session_memory_note(LoginSession *s, char *buf, size_t size) {
        char note[CLI_MEMORY_NOTE_MAX];

        if (*cli_runner_memory_note(s->runner, note, sizeof note))
                snprintf(buf, size, "CLI %s %s", s->provider, note);
        else if (size > 0)
                buf[0] = '\0';
        return buf;
}

static int on_expire(sd_event_source *es, uint64_t usec, void *userdata) {
        LoginSession *s = userdata;
        const char *reason = s->error ?: "Session expired";
        char note[LOGIN_MEMORY_NOTE_MAX];
        _cleanup_(freep) char *msg = NULL;

        login_session_memory_note(s, note, sizeof note);
        /* The note alone: an earlier error may quote the CLI. */
        log_info("Login session %s expired%s%s.", s->id, note[0] ? "; " : "", note);
        if (note[0] && asprintf(&msg, "%s; %s", reason, note) < 0)
                msg = NULL;
        login_session_fail(s, SESSION_EVENT_EXPIRE, msg ?: reason);
        return 0;
}

/* A slot: a free one, else the oldest session that is over. */
static int free_slot(LoginManager *lm) {
        int best = -1;

        for (int i = 0; i < LOGIN_SESSIONS_MAX; i++) {
                LoginSession *s = lm->sessions[i];
                if (!s)
                        return i;
                if (session_state_is_final(s->state) && (best < 0 || s->started < lm->sessions[best]->started))
                        best = i;
        }
        if (best >= 0)
                login_session_drop(lm->sessions[best]);
        return best;
}

int login_session_new(LoginManager *lm, const char *id, const char *provider, LoginSession **ret) {
        LoginSession *s = login_session_find(lm, id);
        int slot, r;

        if (s && session_state_is_live(s->state))
                return -EEXIST;
        login_session_drop(s);
        slot = free_slot(lm);
        if (slot < 0)
                return -EUSERS;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->lm = lm;
        s->cli_slot = -1;
        s->serial = ++lm->last_serial;
        snprintf(s->id, sizeof s->id, "%s", id);
        snprintf(s->provider, sizeof s->provider, "%s", provider);
        s->state = SESSION_STARTING;
        s->started = now(CLOCK_MONOTONIC);
        r = sd_event_add_time(lm->o.event, &s->expire, CLOCK_MONOTONIC,
                              s->started + (usec_t)lm->o.session_ttl_s * USEC_PER_SEC, 0,
                              on_expire, s);
        if (r < 0) {
                free(s);
                return r;
        }
        lm->sessions[slot] = s;
        *ret = s;
        return 0;
}

/* The browser is one service for every login: it closes only once no
 * live login still shows, or waits to show, its sign-in page there.  A
 * login that has captured needs it no more.  A prestarted one starts
 * again on the pages browser_pages_update() set, none by now: call that
 * first.  ended: the login whose end this is, named in the line that
 * says why the browser stops (a URL handed to it meanwhile starts it
 * again, and the stop would otherwise look like the URL's doing). */
static int browser_close_unless_needed(LoginManager *lm, const LoginSession *ended) {
        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++) {
                LoginSession *s = lm->sessions[i];
                if (s && session_state_is_signing_in(s->state))
                        return 0;
        }
        if (!lm->o.browser)
                return 0;
        log_info("Login %s %s: no login needs the browser any more: its pages close (Firefox stops, or, "
                 "prestarted, starts again blank).", ended->id, session_state_to_string(ended->state));
        return browser_close(lm->o.browser);
}

/* The sign-in pages a browser that crashed comes back with: those of the
 * live logins it shows or is about to, still waiting for a sign-in (not
 * the URL it was started with, maybe a login's that is over). */
_Static_assert(LOGIN_SESSIONS_MAX <= BROWSER_PAGES_MAX, "every login's page fits");
static void browser_pages_update(LoginManager *lm) {
        const char *urls[LOGIN_SESSIONS_MAX + 1];
        size_t n = 0;
        int r;

        if (!lm->o.browser)
                return;
        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++) {
                LoginSession *s = lm->sessions[i];
                if (s && s->oauth_url && session_state_is_signing_in(s->state))
                        urls[n++] = s->oauth_url;
        }
        urls[n] = NULL;
        r = browser_set_pages(lm->o.browser, (char *const *)urls);
        if (r < 0)
                log_debug_errno(r, "Could not set the pages a restarted browser opens: %m");
}

static void on_enter(LoginSession *s, SessionState st) {
        LoginManager *lm = s->lm;
        int r;

        switch (st) {
        case SESSION_AUTHENTICATED:
                cli_runner_stop_after(s->runner, CLI_EXIT_GRACE_USEC);
                s->capture = capture_free(s->capture);
                browser_pages_update(lm);
                r = browser_close_unless_needed(lm, s);
                if (r < 0)
                        log_warning_errno(r, "Failed to close the browser after login %s: %m", s->id);
                break;
        case SESSION_DELIVERED:
        case SESSION_FAILED:
        case SESSION_EXPIRED:
        case SESSION_CLOSED:
                /* An open still held (the browser not ready yet) would show
                 * a login that is over. */
                browser_open_cancel(s->browser_op);
                s->browser_op = NULL;
                browser_pages_update(lm);
                session_wipe(s);
                session_cli_stop(s, s->runner);
                /* Else once it has exited (on_cli_exit) or, when the
                 * session goes first, as a Leftover. */
                if (!cli_runner_running(s->runner))
                        session_home_remove(s);
                s->capture = capture_free(s->capture);
                s->expire = sd_event_source_disable_unref(s->expire);
                if (st != SESSION_DELIVERED) {
                        r = browser_close_unless_needed(lm, s);
                        if (r < 0)
                                log_debug_errno(r, "Failed to close the browser: %m");
                }
                break;
        default:
                break;
        }
}

int login_session_event(LoginSession *s, SessionEvent e) {
        int next = session_fsm_next(s->state, e);

        if (next < 0) {
                log_debug("Login %s: event %s ignored in state %s.", s->id, session_event_to_string(e),
                          session_state_to_string(s->state));
                return next;
        }
        log_debug("Login %s: %s -> %s (%s).", s->id, session_state_to_string(s->state),
                  session_state_to_string(next), session_event_to_string(e));
        s->state = next;
        notify(s, LOGIN_CHANGE_STATE);
        on_enter(s, next);
        return next;
}

void login_session_fail(LoginSession *s, SessionEvent e, const char *reason) {
        char *copy;

        if (session_fsm_next(s->state, e) < 0)
                return;
        copy = strdup(reason); /* reason may be s->error itself */
        if (copy) /* answered in JSON, which takes UTF-8 only; a reason may quote a CLI */
                string_valid_utf8(copy);
        free(s->error);
        s->error = copy;
        (void)login_session_event(s, e);
}

void login_session_pull_start(LoginSession *s, LoginPull *ret) {
        memcpy(ret->id, s->id, sizeof ret->id);
        ret->serial = s->serial;
        s->delivering = true;
}

int login_manager_pull_done(LoginManager *lm, const LoginPull *p, bool completely_sent) {
        LoginSession *s = login_session_find(lm, p->id);

        if (s && s->serial != p->serial)
                s = NULL; /* a later session under the same id: not this pull's */
        if (s)
                s->delivering = false;
        if (!s || s->state != SESSION_AUTHENTICATED)
                return -ESTALE;
        if (!completely_sent)
                return 0;
        (void)login_session_event(s, SESSION_EVENT_DELIVERED);
        login_session_drop(s);
        return 1;
}

LoginSession *login_manager_newest_listener_session(LoginManager *lm, bool (*in_state)(SessionState)) {
        LoginSession *best = NULL;

        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++) {
                LoginSession *s = lm->sessions[i];
                if (s && s->def && s->def->callback_port > 0 && in_state(s->state) &&
                    (!best || s->started > best->started))
                        best = s;
        }
        return best;
}

LoginSession *login_manager_callback_session(LoginManager *lm) {
        return login_manager_newest_listener_session(lm, session_state_is_signing_in);
}

void login_session_captured(LoginSession *s, json_t *credentials, const char *path, usec_t modified) {
        char *p = strdup(path);

        if (!p || session_fsm_next(s->state, SESSION_EVENT_CAPTURED) < 0) {
                json_wipe(credentials);
                json_decref(credentials);
                free(p);
                return;
        }
        free(s->cred_path);
        s->cred_path = p;
        s->credentials = credentials;
        s->modified = modified;
        log_info("Login %s (%s): credentials captured.", s->id, s->provider);
        (void)login_session_event(s, SESSION_EVENT_CAPTURED);
}

static bool capture_complete(const json_t *credentials, void *userdata) {
        LoginSession *s = userdata;

        return provider_credentials_complete(s->def, credentials);
}

static void on_capture(Capture *c, json_t *credentials, usec_t modified, void *userdata) {
        LoginSession *s = userdata;
        _cleanup_(freep) char *path = NULL;

        if (asprintf(&path, "%s/%s", s->home, s->def->credential_file) < 0)
                path = NULL;
        login_session_captured(s, credentials, path ?: "", modified);
}

static void on_session_url_opened(int r, const char *method, const char *error, void *userdata) {
        LoginSession *s = userdata;
        char msg[320];
        bool no_browser;

        s->browser_op = NULL;
        if (r == -ECANCELED)
                return; /* shutting down */
        if (r >= 0) {
                log_info("Login %s: authorize URL opened (%s).", s->id, method);
                browser_pages_update(s->lm);
                return;
        }
        /* No browser is -EAGAIN without a cause; a spawn that failed with
         * EAGAIN (its user at its task limit) has one, and fails the
         * login as any other failed spawn does. */
        no_browser = r == -EAGAIN && !error;
        error = error ?: strerror(-r);
        log_warning("Login %s: failed to open the authorize URL in the browser: %s", s->id, error);
        if (no_browser || s->state == SESSION_AUTHENTICATED || session_fsm_next(s->state, SESSION_EVENT_ERROR) < 0)
                return;
        snprintf(msg, sizeof msg, "The browser could not open the authorize URL: %s", error);
        login_session_fail(s, SESSION_EVENT_ERROR, msg);
}

void login_session_open_url(LoginSession *s) {
        int r;

        browser_open_cancel(s->browser_op);
        s->browser_op = NULL;
        r = login_manager_open_url(s->lm, s->oauth_url, on_session_url_opened, s, &s->browser_op);
        if (r < 0)
                /* Before the caller applied its URL event: logged only. */
                log_warning_errno(r, "Login %s: failed to open the authorize URL in the browser: %m", s->id);
}

/* A session's authorize URL, from the CLI's output or its $BROWSER. */
static void session_url_found(LoginManager *lm, LoginSession *s, const char *url) {
        if (s->oauth_url || session_fsm_next(s->state, SESSION_EVENT_URL) < 0)
                return;
        cli_runner_url_known(s->runner);
        s->oauth_url = strdup(url);
        if (!s->oauth_url)
                return;
        login_session_open_url(s);
        (void)login_session_event(s, SESSION_EVENT_URL);
}

static void on_cli_url(CliRunner *r, const char *url, void *userdata) {
        LoginSession *s = userdata;

        session_url_found(s->lm, s, url);
}

/* A CLI that stays up after a failed sign-in (it shows the failure and
 * waits for another try) would otherwise keep the session waiting until
 * it expires. */
static void on_cli_failure(CliRunner *r, const char *line, void *userdata) {
        LoginSession *s = userdata;
        _cleanup_(erase_and_freep) char *redacted = redact_secrets(line);
        _cleanup_(freep) char *msg = NULL;
        char note[LOGIN_MEMORY_NOTE_MAX];

        if (session_state_is_final(s->state) || session_fsm_next(s->state, SESSION_EVENT_ERROR) < 0)
                return;
        /* Whole, not cut to a buffer: the row is bounded already, and a cut
         * inside a character would leave no valid JSON string of the error
         * (every /credentials/status a 500). */
        login_session_memory_note(s, note, sizeof note);
        if (asprintf(&msg, "CLI %s: %s%s%s", s->provider, redacted ?: "sign-in failed", note[0] ? "; " : "",
                     note) < 0)
                msg = NULL;
        log_info("Login %s: the CLI reported a failed sign-in%s%s.", s->id, note[0] ? "; " : "", note);
        login_session_fail(s, SESSION_EVENT_ERROR, msg ?: "CLI sign-in failed");
}

static void on_cli_exit(CliRunner *r, int wstatus, const char *how, void *userdata) {
        LoginSession *s = userdata;
        char msg[128 + CLI_MEMORY_NOTE_MAX];

        /* What it started in sessions of its own runs as its user alone:
         * gone now, whatever other logins' CLIs do. */
        if (s->cli_slot >= 0)
                user_sweep(s->lm, s->cli_slot);
        cli_sweep(s->lm);
        if (session_state_is_final(s->state)) {
                session_home_remove(s);
                return;
        }
        if (session_fsm_next(s->state, SESSION_EVENT_EXITED) < 0)
                return;
        /* The file may be complete although its inotify event has not been
         * dispatched yet (two event sources, one loop iteration). */
        if (s->capture && capture_poll(s->capture) > 0)
                return;
        snprintf(msg, sizeof msg, "CLI %s", how);
        login_session_fail(s, SESSION_EVENT_EXITED, msg);
}

typedef struct Proxy {
        char *http, *https, *no;
} Proxy;

static void proxy_done(Proxy *p) {
        p->http = erase_and_free(p->http);
        p->https = erase_and_free(p->https);
        p->no = erase_and_free(p->no);
}

/* One proxy variable from the environment file, upper case first. */
static char *env_proxy(const char *text, const char *upper, const char *lower) {
        char *v = NULL;

        if (env_file_get(text, upper, &v) < 0)
                (void)env_file_get(text, lower, &v);
        if (v && !*v)
                v = erase_and_free(v);
        return v;
}

/* Whether a proxy URL carries credentials ("scheme://user:pass@host",
 * or without a scheme, "user:pass@host:port", as curl takes it). */
static bool proxy_has_credentials(const char *url) {
        const char *a = url ? strstr(url, "://") : NULL;

        a = a ? a + 3 : url;
        return a && memchr(a, '@', strcspn(a, "/?#"));
}

/* Whether any proxy variable of the file carries credentials: either
 * case, also the one a CLI may read that env_proxy() passes over. */
static bool env_proxies_have_credentials(const char *text) {
        static const char *const names[] = { "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                                             "ALL_PROXY", "all_proxy" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_(erase_and_freep) char *v = NULL;

                if (env_file_get(text, names[i], &v) >= 0 && proxy_has_credentials(v))
                        return true;
        }
        return false;
}

/* /etc/environment is 0644 on Debian: a proxy password there is every
 * local user's (a CLI's code from the npm registry, the browser's).  The
 * agent cannot make it less so; it says so, once, as for a token file
 * others can read, without the credentials. */
static void proxy_secret_check(LoginManager *lm, const char *text, mode_t mode) {
        if (lm->proxy_secret_warned || !(mode & 0044) || !env_proxies_have_credentials(text))
                return;
        lm->proxy_secret_warned = true;
        log_warning("%s holds a proxy's credentials and is readable by group or others (mode %04o): every local "
                    "user can read them; expected mode 0600, or the proxy in each login request.",
                    lm->o.environment_file, (unsigned)(mode & 07777));
}

/* The proxy the host wrote into the rootfs's environment file (as it did
 * for the Node agent): the CLIs' default when a login request names none.
 * A file that is missing or unreadable means no proxy.  Its mode is the
 * open file's: the one read, even if the path was replaced since. */
static void proxy_from_environment(LoginManager *lm, Proxy *ret) {
        _cleanup_(erase_and_freep) char *text = NULL;
        _cleanup_(closep) int fd = -EBADF;
        struct stat st;
        int r;

        if (isempty(lm->o.environment_file))
                return;
        fd = open(lm->o.environment_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        r = fd < 0 ? -errno : read_full_fd(fd, 64 * 1024, &text, NULL);
        if (r < 0) {
                if (r != -ENOENT)
                        log_warning_errno(r, "Cannot read %s for the proxy defaults: %m", lm->o.environment_file);
                return;
        }
        ret->http = env_proxy(text, "HTTP_PROXY", "http_proxy");
        ret->https = env_proxy(text, "HTTPS_PROXY", "https_proxy");
        ret->no = env_proxy(text, "NO_PROXY", "no_proxy");
        if (fstat(fd, &st) >= 0)
                proxy_secret_check(lm, text, st.st_mode);
}

/* Runs s's CLI (its user, HOME and capture ready) with these proxies. */
static int session_run_cli(LoginSession *s, const char *http_proxy, const char *https_proxy,
                           const char *no_proxy, char *error, size_t size) {
        const LoginOptions *c = &s->lm->o;
        char name[HOME_NAME_MAX];
        int r;

        home_name(s->id, name);
        CliRunnerOptions o = {
                .provider = s->def,
                .home = s->home,
                .browser = s->lm->browser,
                .control_socket = c->control_socket,
                .login_id = s->id,
                .uid = login_session_cli_uid(s),
                .gid = c->cli_gid,
                .max_procs = c->cli_tasks_max,
                .memory_max = (uint64_t)c->cli_memory_max_mb << 20,
                .memory_max_key = "login_memory_max_mb",
                /* Only a CLI with a fixed port of its own to listen on. */
                .ambient_caps = s->def->callback_port ? c->cli_ambient_caps : 0,
                .display = c->display,
                .path = s->lm->cli_path,
                .http_proxy = http_proxy,
                .https_proxy = https_proxy,
                .no_proxy = no_proxy,
                /* Named as its HOME: one login's at a time. */
                .cgroup_name = name,
                .cpu_totals = &s->lm->cli_cpu,
                .error = error,
                .error_size = size,
        };
        CliRunnerCallbacks cb = { .on_url = on_cli_url, .on_failure = on_cli_failure, .on_exit = on_cli_exit };
        r = cli_runner_start(c->event, c->launcher, &o, &cb, s, &s->runner);
        if (r < 0)
                return r;
        log_info("Login %s: started %s (pid %d, uid %u).", s->id, s->def->argv[0], (int)cli_runner_pid(s->runner),
                 (unsigned)login_session_cli_uid(s));
        (void)login_session_event(s, SESSION_EVENT_SPAWNED);
        return 0;
}

int login_session_start_cli(LoginSession *s, const char *http_proxy, const char *https_proxy,
                            const char *no_proxy, char *error, size_t size) {
        LoginManager *lm = s->lm;
        const LoginOptions *c = &lm->o;
        _cleanup_(proxy_done) Proxy dflt = {};
        int r;

        if (size > 0)
                error[0] = '\0';
        if (!http_proxy && !https_proxy && !no_proxy) {
                proxy_from_environment(lm, &dflt);
                http_proxy = dflt.http;
                https_proxy = dflt.https;
                no_proxy = dflt.no;
        }

        s->def = lm->providers ? provider_set_find(lm->providers, s->provider) : NULL;
        if (!s->def)
                return -ENOENT;
        if (login_manager_cli_unavailable(lm))
                return -EPERM;
        leftover_take_over(lm, s->id);
        /* What an earlier CLI left running would write into the new HOME
         * (it has the same path): gone first, unless another CLI runs. */
        cli_sweep(lm);
        r = user_take(s);
        if (r < 0)
                return r;
        r = session_home_create(s, error, size);
        if (r < 0)
                return r;
        r = capture_start(c->event, s->home, s->def->credential_file, login_session_cli_uid(s), c->cli_gid,
                          capture_complete, on_capture, s, &s->capture);
        if (r < 0)
                return r;
        return session_run_cli(s, http_proxy, https_proxy, no_proxy, error, size);
}

int login_manager_open_url(LoginManager *lm, const char *url, BrowserOpenFn cb, void *userdata,
                           BrowserOpen **ret) {
        if (!lm->o.browser)
                return -EAGAIN;
        return browser_open(lm->o.browser, url, cb, userdata, ret);
}

/* Whether url can become s's authorize URL: a live CLI session still
 * without one, whose patterns match. */
static bool session_takes_url(const LoginSession *s, const char *url) {
        return s->def && !s->oauth_url && session_state_is_signing_in(s->state) &&
               provider_url_matches(s->def, url);
}

/* The login a request from peer_uid may be for: a CLI user's own (its id
 * in *ret_id), whatever id it names, since every process of that user,
 * and only of it, is that login's; root's (the agent's uid), the one it
 * names (NULL: none).  -EPERM, logged, for a CLI user naming another
 * login or having none. */
static int peer_login(LoginManager *lm, const char *url, const char *login_id, uid_t peer_uid,
                      const char **ret_id) {
        int slot = cli_pool_find(&lm->pool, peer_uid);
        LoginSession *own = NULL;

        if (slot < 0) {
                *ret_id = login_id;
                return 0;
        }
        for (size_t i = 0; i < LOGIN_SESSIONS_MAX && !own; i++)
                if (lm->sessions[i] && lm->sessions[i]->cli_slot == slot)
                        own = lm->sessions[i];
        if (!own) {
                log_warning("Refused a CLI's $BROWSER URL at %.*s: uid %u is no login's CLI user now.",
                            (int)url_loggable_len(url), url, (unsigned)peer_uid);
                return -EPERM;
        }
        if (login_id && !streq(login_id, own->id)) {
                log_warning("Refused a CLI's $BROWSER URL at %.*s: it names login %s, and uid %u is login %s's "
                            "CLI user.", (int)url_loggable_len(url), url, login_id, (unsigned)peer_uid, own->id);
                return -EPERM;
        }
        *ret_id = own->id;
        return 0;
}

/* The control socket's entry: a URL from a CLI's $BROWSER, with the login
 * its CLI runs for (VMBA_LOGIN_SESSION) when the opener kept the CLI's
 * environment; from a CLI user, only that user's login.  It becomes that session's authorize URL; without a login
 * named, the one waiting session it can be, and never a guess among
 * several (another caller's login would get it).  Anything else is
 * refused: every process of the CLIs' user can reach the socket, and the
 * browser is in front of the person signing in, so only what a login's
 * provider patterns allow goes there.  The refusal is logged without the
 * URL's query and fragment (a code or a token may be in them). */
int login_manager_browser_request(LoginManager *lm, const char *url, const char *login_id, uid_t peer_uid,
                                  const char **ret_method) {
        LoginSession *to = NULL;
        size_t candidates = 0;

        if (peer_login(lm, url, login_id, peer_uid, &login_id) < 0)
                return -EPERM;

        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++) {
                LoginSession *s = lm->sessions[i];

                if (!s || (login_id && !streq(s->id, login_id)))
                        continue;
                /* CLIs that print the URL and also call $BROWSER with it
                 * (Codex): the browser already shows it, no second tab. */
                if (s->oauth_url && session_state_is_live(s->state) && streq(s->oauth_url, url)) {
                        *ret_method = "session";
                        return 0;
                }
                if (session_takes_url(s, url)) {
                        to = s;
                        candidates++;
                }
        }
        if (candidates == 1) {
                session_url_found(lm, to, url);
                *ret_method = "session";
                return 0;
        }
        if (candidates > 1)
                log_warning("Refused a CLI's $BROWSER URL at %.*s: it fits %zu waiting logins and names none.",
                            (int)url_loggable_len(url), url, candidates);
        else if (login_id)
                log_warning("Refused a CLI's $BROWSER URL at %.*s: not the authorize URL of login %s.",
                            (int)url_loggable_len(url), url, login_id);
        else
                log_warning("Refused a CLI's $BROWSER URL at %.*s: not the authorize URL of any login.",
                            (int)url_loggable_len(url), url);
        return -EPERM;
}

static int load_providers(LoginManager *lm, char *err, size_t size) {
        _cleanup_(freep) char *text = NULL;
        size_t n;
        int r;

        r = read_full_file(lm->o.providers_file, PROVIDERS_MAX_SIZE, &text, &n);
        if (r < 0) {
                snprintf(err, size, "%s: %s", lm->o.providers_file, strerror(-r));
                return r;
        }
        return provider_set_parse(text, n, &lm->providers, err, size);
}

/* A provider's program where each CLI has an empty /tmp of its own would
 * fail every login of that provider at its exec (ENOENT, in the CLI's
 * mount namespace: found here, missing there), as would one that a
 * symlink leads there, a script whose "#!" interpreter is there or is a
 * relative name that stays in the CLI's new, empty HOME (where the kernel
 * looks it up), and one that the CLIs'
 * user may not execute or reach (EACCES), or read for its interpreter.
 * As for the paths the agent checks before (o.cli_error), no CLI runs,
 * and start says why: whether a provider can run is not told apart from
 * whether the CLIs can.  A bare name is looked up as each login's exec
 * does, on lm->cli_path.  Every CLI user has the same group and no
 * other; the first uid stands for any of them. */
static void providers_check(LoginManager *lm) {
        bool user = isempty(lm->o.cli_error) && lm->o.n_cli_uids > 0;
        ProgramHidden h;
        const ProviderDef *p = provider_set_program_hidden(lm->providers, lm->cli_path, user ? lm->o.cli_uids[0] : 0,
                                                           lm->o.cli_gid, &h);

        if (p)
                provider_program_hidden_describe(p, &h, lm->cli_error, sizeof lm->cli_error);
}

static int on_browser_request(const char *url, const char *login_id, uid_t peer_uid, const char **ret_method,
                              void *userdata) {
        return login_manager_browser_request(userdata, url, login_id, peer_uid, ret_method);
}

/* The CLIs' PATH: their browser links first (setup_browser_links()). */
static int cli_path_make(LoginManager *lm) {
        if (asprintf(&lm->cli_path, "%s-cli/bin%s%s", strempty(lm->o.runtime_dir), isempty(lm->o.bin_path) ? "" : ":",
                     strempty(lm->o.bin_path)) < 0) {
                lm->cli_path = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* The links the CLIs open URLs with, and their $BROWSER: in
 * <runtime_dir>-cli/bin (cli_path_make()), since runtime_dir is root's
 * alone. */
static int setup_browser_links(LoginManager *lm) {
        _cleanup_(freep) char *exe = self_exe_path(), *top = NULL, *dir = NULL;
        int r;

        if (!exe)
                return -ENOMEM;
        if (isempty(lm->o.runtime_dir) || lm->o.runtime_dir[0] != '/')
                return -EINVAL;
        if (asprintf(&top, "%s-cli", lm->o.runtime_dir) < 0)
                return -ENOMEM;
        if (asprintf(&dir, "%s/bin", top) < 0)
                return -ENOMEM;
        if (asprintf(&lm->browser, "%s/%s", dir, OPEN_URL_BROWSER_LINK) < 0) {
                lm->browser = NULL;
                return -ENOMEM;
        }
        r = mkdir_owned(top, 0710, 0, lm->o.cli_gid);
        if (r >= 0)
                r = open_url_links_create(dir, exe);
        if (r < 0)
                log_warning_errno(r, "Failed to make the CLIs' browser links to %s in %s: %m", exe, dir);
        return 0;
}

/* A path the CLIs must reach that cli_user cannot pass through (an
 * operator's control_socket in a root-only directory, say) is said at
 * start, not found out by the first login. */
static void warn_unreachable(LoginManager *lm, const char *key, const char *value, const char *path) {
        char blocked[PATH_MAX];

        /* Every CLI user passes with the same group; the uid stands for
         * any of them. */
        if (path_passable(path, lm->pool.uid[0], lm->o.cli_gid, blocked, sizeof blocked) == -EACCES)
                log_warning("cli_user cannot pass through %s to %s %s: the provider CLIs will fail there.", blocked,
                            key, value);
}

/* The providers, loaded and judged once lm->cli_path is known; without
 * them, or when none can run, start says why and logins are refused. */
static void providers_setup(LoginManager *lm) {
        char err[256] = "";

        if (load_providers(lm, err, sizeof err) < 0)
                log_warning("Provider logins unavailable: %s", err);
        else
                providers_check(lm);
        if (lm->providers && login_manager_cli_unavailable(lm))
                log_error("Provider CLI logins unavailable: %s.", login_manager_cli_unavailable(lm));
}

int login_manager_new(const LoginOptions *o, LoginManager **ret) {
        _cleanup_(login_manager_freep) LoginManager *lm = NULL;
        _cleanup_(freep) char *home = NULL, *exe = NULL;
        int r;

        lm = calloc(1, sizeof *lm);
        if (!lm)
                return -ENOMEM;
        json_wipe_on_free();
        lm->o = *o;
        lm->home = (LoginHome){ .dir = o->login_home, .size_mb = o->login_home_size_mb, .cli_gid = o->cli_gid };
        exe = self_exe_path();
        if (!exe)
                return -ENOMEM;
        r = home_remover_new(o->launcher, o->login_home, exe, &lm->remover);
        if (r < 0)
                return r;
        r = cli_path_make(lm);
        if (r < 0)
                return r;
        providers_setup(lm);
        /* The links and the socket only serve the CLIs' $BROWSER: without
         * providers or their user there are no CLIs, and no reason to touch
         * the file system. */
        if (!lm->providers || login_manager_cli_unavailable(lm)) {
                *ret = TAKE_PTR(lm);
                return 0;
        }
        r = cli_pool_init(&lm->pool, o->cli_uids, o->n_cli_uids);
        if (r < 0)
                return r;
        r = setup_browser_links(lm);
        if (r < 0)
                return r;
        r = login_home_prepare(lm);
        if (r < 0)
                log_warning_errno(r, "Cannot make login_home %s root's, 0710, with cli_user's group: %m",
                                  o->login_home);
        else if (o->login_home_size_mb > 0)
                login_home_mount_logged(&lm->home);
        /* HOMEs an earlier run left (credential files with them) go now. */
        homes_collect(lm);
        if (!isempty(o->control_socket)) {
                r = control_socket_new(o->event, o->control_socket, lm->pool.uid, lm->pool.n, o->cli_gid,
                                       on_browser_request, lm, &lm->control);
                if (r < 0)
                        return r;
                warn_unreachable(lm, "control_socket", o->control_socket, o->control_socket);
        }
        warn_unreachable(lm, "the browser links in runtime_dir", o->runtime_dir, lm->browser);
        if (asprintf(&home, "%s/login-", o->login_home) < 0)
                home = NULL;
        else
                warn_unreachable(lm, "login_home", o->login_home, home);
        *ret = TAKE_PTR(lm);
        return 0;
}

LoginManager *login_manager_free(LoginManager *lm) {
        if (!lm)
                return NULL;
        /* Nothing waits for the loop any more: HOMEs are removed here and
         * now, not handed to children. */
        lm->stopping = true;
        for (size_t i = 0; i < LOGIN_SESSIONS_MAX; i++)
                login_session_drop(lm->sessions[i]);
        /* Nobody waits for these any more: killed now, their HOMEs removed
         * without waiting for the exit. */
        while (lm->leftovers) {
                Leftover *lo = lm->leftovers;
                lm->leftovers = lo->next;
                cli_runner_free(lo->runner);
                user_release(lm, &lo->cli_slot);
                free(lo);
        }
        /* Every process of the CLI user first, then their HOMEs.  No
         * remover: login_manager_new() failed before it (ENOMEM), before
         * any CLI ran; the HOMEs an earlier run left wait for the next. */
        if (lm->remover)
                cli_sweep(lm);
        lm->remover = home_remover_free(lm->remover);
        control_socket_free(lm->control);
        provider_set_free(lm->providers);
        free(lm->browser);
        free(lm->cli_path);
        free(lm);
        return NULL;
}
