/* See browser.h.  Preferences are user.js (read at every start, so a
 * profile the person changed is put back); what a page must never reach
 * (file://, about:config) is the image's enterprise policy, which user.js
 * cannot override.
 *
 * Opening a URL, on the event loop:
 *   1. OpenURL on the instance's bus name.  A method return: accepted.
 *   2. ServiceUnknown (no instance), the bus's NoReply (the instance
 *      went away without answering: it crashed with the URL, or had
 *      exited before the bus saw it go), or no bus to talk to: start the
 *      service with the URL as its argument: accepted once spawned (in a
 *      backoff after an exit: once its restart spawned it; waiting for
 *      its dependencies, Xvfb or its bus: once they were ready and it
 *      spawned; still stopping: once it exited and the next one spawned;
 *      each within a bound that says what it waited for).
 *   3. The service is already starting (or running, but not yet on the
 *      bus: Firefox registers its name seconds after exec): wait for
 *      the name's NameOwnerChanged, then 1 again; a timeout bounds the
 *      wait.  Ready and not on its bus, it is quitting (Firefox gives its
 *      name up early in its shutdown, and may hang there): stop it, and
 *      the URL waits for that stop as for any (below).  The service going down meanwhile with no
 *      instance to come (a quit's exit 0, or a crash with no restart
 *      left) ends the wait: 2 again, at once.
 * While the service is starting or stopping, 1 waits for that to end: an
 * instance not yet ready, or told to exit, accepts a URL it never shows.
 * The bus is the browser user's; the agent connects as root, to a socket
 * opened without following symlinks and served by that uid (SO_PEERCRED),
 * so the browser user cannot point the agent at another socket. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>

#include "browser.h"
#include "fileio.h"
#include "firefox-remote.h"
#include "log.h"
#include "macro.h"
#include "socket-util.h"
#include "strv.h"
#include "time-util.h"
#include "url-util.h"
#include "xdo-window.h"

/* WM_CLASS of Firefox's windows ("firefox-esr", "firefox"): a regex. */
#define BROWSER_WM_CLASS "[Ff]irefox"
#define WINDOW_WAIT_S "60"
/* OpenURL answers within a second on an idle machine; this only bounds a
 * hung instance. */
#define CALL_TIMEOUT_USEC (30 * USEC_PER_SEC)
/* A starting Firefox registers its name 4-5 s after exec on a loaded
 * two-core machine (more under an emulated CPU). */
#define NAME_WAIT_USEC (120 * USEC_PER_SEC)
/* A start that spawns later: a backoff (10 s at most by default), or
 * dependencies coming back (Xvfb's backoff and ready periods: 30 s, more
 * while busy); one failed over its budget is tried again only after
 * failed_retry_s (300 s by default), longer than a request should hang. */
#define SPAWN_WAIT_USEC (120 * USEC_PER_SEC)
/* What a start appends at most: launch_argv(). */
#define LAUNCH_ARGV_MAX (2 * BROWSER_PAGES_MAX + 1)

struct Browser {
        BrowserOptions o;
        BrowserHooks hooks;
        sd_bus *bus;
        BrowserOpen *ops;
        char **pages;            /* browser_set_pages(): a start shows them too */
        char *exe;               /* the agent's binary, for the arranger */
        pid_t arranger;          /* 0: none running */
};

struct BrowserOpen {
        Browser *b;
        BrowserOpen *next, *prev;
        char *url;
        char *name;              /* the instance's bus name */
        BrowserOpenFn cb;
        void *userdata;
        BrowserOpen **owner;
        sd_bus_slot *call, *match;
        sd_event_source *timer, *done;
        bool waiting;            /* launched by someone else: wait for the name */
        bool held;               /* the instance is starting or stopping: sent once that is over */
        bool starting;           /* in the start hook: the change it reports is this start's */
        bool deferred;           /* the start spawns later (backoff, dependencies): answered once it did */
        bool gone;               /* OpenURL found no instance on the bus */
        char gone_error[192];    /* the bus's answer that said so, for the line a stop logs */
        usec_t called;           /* CLOCK_MONOTONIC when OpenURL went out */
        int result;
        const char *method;
        char error[256];         /* why it failed, when more than result says; "" none */
};

static const char user_js[] =
        "// Written by vm-browser-agent at every login; edits are overwritten.\n"
        "user_pref(\"browser.aboutwelcome.enabled\", false);\n"
        "user_pref(\"browser.startup.homepage_override.mstone\", \"ignore\");\n"
        "user_pref(\"startup.homepage_welcome_url\", \"\");\n"
        "user_pref(\"startup.homepage_welcome_url.additional\", \"\");\n"
        "user_pref(\"browser.startup.page\", 0);\n"
        "user_pref(\"browser.startup.homepage\", \"about:blank\");\n"
        "user_pref(\"browser.newtabpage.enabled\", false);\n"
        "user_pref(\"trailhead.firstrun.didSeeAboutWelcome\", true);\n"
        "user_pref(\"datareporting.policy.dataSubmissionEnabled\", false);\n"
        "user_pref(\"datareporting.policy.firstRunURL\", \"\");\n"
        "user_pref(\"datareporting.healthreport.uploadEnabled\", false);\n"
        "user_pref(\"toolkit.telemetry.enabled\", false);\n"
        "user_pref(\"toolkit.telemetry.unified\", false);\n"
        "user_pref(\"toolkit.telemetry.archive.enabled\", false);\n"
        "user_pref(\"toolkit.telemetry.reportingpolicy.firstRun\", false);\n"
        "user_pref(\"app.shield.optoutstudies.enabled\", false);\n"
        "user_pref(\"app.normandy.enabled\", false);\n"
        "user_pref(\"app.update.auto\", false);\n"
        "user_pref(\"app.update.enabled\", false);\n"
        "user_pref(\"app.update.checkInstallTime\", false);\n"
        "user_pref(\"extensions.update.enabled\", false);\n"
        "user_pref(\"browser.shell.checkDefaultBrowser\", false);\n"
        "user_pref(\"browser.sessionstore.resume_from_crash\", false);\n"
        "user_pref(\"browser.sessionstore.max_resumed_crashes\", 0);\n"
        "user_pref(\"browser.sessionstore.resume_session_once\", false);\n"
        "user_pref(\"signon.rememberSignons\", false);\n"
        "user_pref(\"signon.autofillForms\", false);\n"
        "user_pref(\"signon.generation.enabled\", false);\n"
        "user_pref(\"browser.formfill.enable\", false);\n"
        "user_pref(\"browser.tabs.warnOnClose\", false);\n"
        "user_pref(\"browser.warnOnQuit\", false);\n"
        "user_pref(\"browser.link.open_newwindow\", 3);\n"
        "user_pref(\"browser.discovery.enabled\", false);\n"
        "user_pref(\"browser.safebrowsing.downloads.remote.enabled\", false);\n"
        "user_pref(\"network.captive-portal-service.enabled\", false);\n"
        "user_pref(\"network.connectivity-service.enabled\", false);\n"
        /* No connection a page did not ask a request on: a page's <link
         * rel=preconnect> (and hovering, typing) would open connections
         * that send nothing and fill the browser user's loopback share of
         * the agent's HTTP connections, which the OAuth redirects need. */
        "user_pref(\"network.http.speculative-parallel-limit\", 0);\n"
        "user_pref(\"network.predictor.enabled\", false);\n"
        "user_pref(\"network.prefetch-next\", false);\n"
        "user_pref(\"browser.urlbar.speculativeConnect.enabled\", false);\n"
        "user_pref(\"browser.places.speculativeConnect.enabled\", false);\n"
        /* Local network access: Firefox 153 keeps a public page's
         * fetches, images and beacons from loopback, not its WebSockets,
         * and a handshake is a GET of any path the page names:
         * ws://127.0.0.1:1455/cancel ended a Codex login (the policy
         * blocks documents at a path /cancel, nothing else).  WebSockets
         * are checked too, and refused without asking (nobody is there to
         * answer; the two others are Firefox 153's defaults, pinned).
         * Top-level navigations (the provider's redirect) are left alone. */
        "user_pref(\"network.lna.enabled\", true);\n"
        "user_pref(\"network.lna.websocket.enabled\", true);\n"
        "user_pref(\"network.lna.blocking\", true);\n"
        /* localhost is 127.0.0.1 alone: a provider's redirect to
         * http://localhost:PORT/callback (Claude Code's; its listener is
         * on 127.0.0.1) found nothing there once that login had ended,
         * and Firefox 153 tried [::1]:PORT next, where any local user may
         * listen, and handed it the code and state. */
        "user_pref(\"network.dns.ipv4OnlyDomains\", \"localhost\");\n"
        /* What a page may write to the disk, bounded: no HTTP cache on the
         * disk (a page filled 60 MiB of it; the memory cache stays), and
         * its sites' storage (IndexedDB, Cache API...) within a fixed
         * total, in KiB, not half the free disk (300 MiB and counting). */
        "user_pref(\"browser.cache.disk.enable\", false);\n"
        "user_pref(\"dom.quotaManager.temporaryStorage.fixedLimit\", 51200);\n"
        /* Downloads, .part files too, in HOME/Downloads, the capped tmpfs
         * (desktop.h), as Firefox 153 does by default: never in TMPDIR. */
        "user_pref(\"browser.download.folderList\", 1);\n"
        "user_pref(\"browser.download.start_downloads_in_tmp_dir\", false);\n"
        /* A profile whose sessions were killed (the supervisor restarts a
         * crashed browser) must not open the Troubleshoot Mode prompt. */
        "user_pref(\"toolkit.startup.max_resumed_crashes\", -1);\n";

/* The profile is an entry of the browser user's own directory, which
 * that user may replace with a symlink to any directory between two
 * logins: opened without following one, and written below that fd, so
 * root never creates a file where the link points. */
int browser_prepare_profile(const char *profile_dir) {
        _cleanup_(closep) int fd = -EBADF;

        if (isempty(profile_dir))
                return -EINVAL;
        fd = open(profile_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return write_file_atomic_at(fd, "user.js", user_js, strlen(user_js), 0644);
}

static void op_free(BrowserOpen *op) {
        Browser *b = op->b;

        if (op->prev)
                op->prev->next = op->next;
        else if (b->ops == op)
                b->ops = op->next;
        if (op->next)
                op->next->prev = op->prev;
        if (op->owner)
                *op->owner = NULL;
        sd_bus_slot_unref(op->call);
        sd_bus_slot_unref(op->match);
        sd_event_source_disable_unref(op->timer);
        sd_event_source_disable_unref(op->done);
        free(op->url);
        free(op->name);
        free(op);
}

static void launch_argv(const Browser *b, const char *first, char *const *pages, char *ret[LAUNCH_ARGV_MAX + 1]);

/* What the deferred spawn appends: the pages and the URLs still waiting
 * for it (a URL that is not must not be shown, for nobody). */
static int restart_argv_update(Browser *b) {
        char *restart[LAUNCH_ARGV_MAX + 1];

        if (!b->hooks.set_restart_argv)
                return 0;
        launch_argv(b, NULL, b->pages, restart);
        return b->hooks.set_restart_argv(restart, b->hooks.userdata);
}

void browser_open_cancel(BrowserOpen *op) {
        Browser *b;
        bool deferred;
        int r;

        if (!op)
                return;
        b = op->b;
        deferred = op->deferred;
        op_free(op);
        r = deferred ? restart_argv_update(b) : 0;
        if (r < 0)
                log_debug_errno(r, "Cannot take a cancelled URL out of the browser's restart: %m");
}

static int on_done(sd_event_source *s, void *userdata) {
        BrowserOpen *op = userdata;
        BrowserOpenFn cb = op->cb;
        void *data = op->userdata;
        int r = op->result;
        const char *method = op->method;
        char error[sizeof op->error];

        memcpy(error, op->error, sizeof error);
        op_free(op);
        cb(r, method, error[0] ? error : NULL, data);
        return 0;
}

/* The outcome, delivered from the loop (never inside browser_open()). */
static void op_finish(BrowserOpen *op, int r, const char *method) {
        op->call = sd_bus_slot_unref(op->call);
        op->match = sd_bus_slot_unref(op->match);
        op->timer = sd_event_source_disable_unref(op->timer);
        /* Answered: browser_service_changed() leaves it alone. */
        op->waiting = op->held = op->deferred = false;
        op->result = r;
        op->method = method;
        if (sd_event_source_set_enabled(op->done, SD_EVENT_ONESHOT) < 0)
                on_done(op->done, op); /* cannot defer: now, rather than never */
}

/* Connects to the browser user's bus as root: the socket path must not be
 * a symlink, and its server must be that user.  Non-blocking: the socket
 * is in that user's directory, and a listener there whose backlog is full
 * would block a blocking connect() (and PID 1's loop) for ever; a unix
 * socket connects at once or fails (EAGAIN: the bus is busy). */
static int bus_connect_fd(const Browser *b) {
        _cleanup_(closep) int fd = -EBADF;
        struct ucred cred;
        socklen_t l = sizeof cred;
        int r;

        r = unix_connect_start(b->o.bus_socket, &fd);
        if (r < 0)
                return r;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0)
                return -errno;
        if (cred.uid != b->o.uid)
                return -EPERM;
        return TAKE_FD(fd);
}

static int browser_bus(Browser *b, sd_bus **ret) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        int fd, r;

        if (b->bus && sd_bus_is_open(b->bus) > 0) {
                *ret = b->bus;
                return 0;
        }
        /* Pending calls keep the old connection alive through their slots. */
        b->bus = sd_bus_unref(b->bus);
        fd = bus_connect_fd(b);
        if (fd < 0)
                return fd;
        r = sd_bus_new(&bus);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        r = sd_bus_set_fd(bus, fd, fd);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_attach_event(bus, b->o.event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = b->bus = TAKE_PTR(bus);
        return 0;
}

static void on_arranger_exit(pid_t pid, int wstatus, void *userdata) {
        Browser *b = userdata;
        char why[64];

        if (pid == b->arranger)
                b->arranger = 0;
        log_debug("Browser window arranger %s.", WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 ?
                  "done" : wstatus_to_string(wstatus, why, sizeof why));
}

static void arranger_stop(Browser *b) {
        if (b->arranger <= 0)
                return;
        launcher_kill_forget(b->o.launcher, b->arranger);
        b->arranger = 0;
}

/* Arranges the browser's windows from a child of the browser's user (see
 * xdo-window.h), now or once one is mapped; one at a time, the newest
 * (the window to show is the latest URL's).  Not fatal if it cannot. */
static void arrange_windows(Browser *b) {
        char *argv[] = { b->exe, (char *)XDO_WINDOW_VERB, (char *)b->o.display, (char *)BROWSER_WM_CLASS,
                         (char *)WINDOW_WAIT_S, NULL };
        _cleanup_(freep) char *xauth = NULL;
        SpawnOptions so = { .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .extra_fd = -1,
                            .uid = b->o.uid, .gid = b->o.gid, .extra_gid = b->o.x_gid, .no_new_privs = true };
        int r;

        arranger_stop(b);
        if (!b->o.launcher || !b->exe || isempty(b->o.display) || b->o.uid == 0 || b->o.uid == (uid_t)-1)
                return;
        if (asprintf(&xauth, "XAUTHORITY=%s", strempty(b->o.xauthority)) < 0)
                return;
        so.envp = (char *[]){ xauth, NULL };
        r = launcher_start(b->o.launcher, &so, on_arranger_exit, b, &b->arranger);
        if (r < 0) {
                b->arranger = 0;
                log_debug_errno(r, "Cannot start the browser window arranger: %m");
        }
}

static void op_launch(BrowserOpen *op);
static int op_wait_name(BrowserOpen *op, sd_bus *bus);

/* Someone uses the browser: its next quit is a person closing it. */
static void url_shown(Browser *b) {
        if (b->hooks.shown)
                b->hooks.shown(b->hooks.userdata);
}

/* A NoReply before the call's timeout is the bus's: the instance the
 * call went to disconnected without answering, so it is gone as if there
 * were none (the browser's bus sets no reply timeout of its own,
 * desktop_bus_config_text()).  sd-bus's timeout is a NoReply too, with
 * the bus as its sender, only at the deadline: a hung instance stays an
 * error. */
static bool instance_gone(const BrowserOpen *op, const sd_bus_error *e) {
        return sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) &&
               now(CLOCK_MONOTONIC) < op->called + CALL_TIMEOUT_USEC;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BrowserOpen *op = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        op->call = sd_bus_slot_unref(op->call);
        if (!e) {
                arrange_windows(op->b);
                url_shown(op->b);
                op_finish(op, 0, "keyboard_navigation");
        } else if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
                   instance_gone(op, e)) {
                /* No instance (yet, or any more): a start (in a backoff, the restart's
                 * URL); a NoReply's instance died with the call, its exit on its way. */
                op->gone = !sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY);
                snprintf(op->gone_error, sizeof op->gone_error, "%s: %s", e->name, strempty(e->message));
                if (!op->gone) /* the start that follows says nothing of the call */
                        log_info("Firefox's OpenURL got no reply before its timeout (%s): the URL goes to the "
                                 "instance running or started next.", op->gone_error);
                op_launch(op);
        } else {
                if (sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY)) /* not gone: slow, or hung */
                        log_info("Firefox did not answer OpenURL within %d s: it runs on, the URL is refused.",
                                 (int)(CALL_TIMEOUT_USEC / USEC_PER_SEC));
                else
                        log_debug("Firefox's OpenURL failed: %s: %s", e->name, e->message ?: "");
                op_finish(op, -sd_bus_error_get_errno(e) ?: -EIO, NULL);
        }
        return 0;
}

static bool service_changing(const Browser *b) {
        return b->hooks.changing && b->hooks.changing(b->hooks.userdata);
}

static int op_call(BrowserOpen *op, sd_bus *bus) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(freep) uint8_t *blob = NULL;
        char *argv[] = { (char *)op->b->o.firefox, (char *)"--new-tab", op->url, NULL };
        size_t n;
        int r;

        if (service_changing(op->b)) {
                if (!op->held)
                        log_info("The browser is starting or stopping: a URL waits until it is done.");
                op->held = true;
                return 0;
        }
        op->held = false;
        r = firefox_remote_command_line("/", argv, &blob, &n);
        if (r >= 0)
                r = sd_bus_message_new_method_call(bus, &m, op->name, FIREFOX_REMOTE_PATH, FIREFOX_REMOTE_INTERFACE,
                                                   FIREFOX_REMOTE_METHOD);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', blob, n);
        op->called = now(CLOCK_MONOTONIC);
        if (r >= 0)
                r = sd_bus_call_async(bus, &op->call, m, on_reply, op, CALL_TIMEOUT_USEC);
        return r;
}

/* What a start appends: first (may be NULL), the URLs of the other opens
 * waiting for a restart after a backoff (a start replaces the argv the
 * restart spawns with: without them the URLs answered before would be
 * lost), then the pages of the logins waiting (a browser started again
 * after it gave up), each once, at most LAUNCH_ARGV_MAX. */
static bool argv_has(char *const *v, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i], s))
                        return true;
        return false;
}

static void launch_argv(const Browser *b, const char *first, char *const *pages, char *ret[LAUNCH_ARGV_MAX + 1]) {
        size_t n = 0;

        if (first)
                ret[n++] = (char *)first;
        for (BrowserOpen *o = b->ops; o && n < BROWSER_PAGES_MAX + 1; o = o->next)
                if (o->deferred && !argv_has(ret, n, o->url))
                        ret[n++] = o->url;
        for (char *const *p = pages; p && *p && n < LAUNCH_ARGV_MAX; p++)
                if (!argv_has(ret, n, *p))
                        ret[n++] = *p;
        ret[n] = NULL;
}

static int service_close(Browser *b) {
        if (b->o.prestart && b->hooks.restart)
                return b->hooks.restart(b->hooks.userdata);
        return b->hooks.stop(b->hooks.userdata);
}

/* Ready, and not on its bus: Firefox gives its name up early in its
 * shutdown (the person closed its last window), and one that hangs there
 * never brings it back nor exits.  Stopped (SIGKILL after the stop
 * timeout), it goes as it was going; the URL waits for that and then
 * goes to the instance started again (prestarted) or starts one. */
static void op_quitting(BrowserOpen *op) {
        int r;

        log_info("Firefox runs but is not on its bus (it is quitting): OpenURL answered %s; stopping it, a URL "
                 "waits for the next one.", op->gone_error);
        op->held = true;
        r = service_close(op->b);
        if (r < 0)
                op_finish(op, r, NULL);
}

static int on_spawn_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        BrowserOpen *op = userdata;
        Browser *b = op->b;
        char what[192] = "";
        int r;

        if (!b->hooks.waits_for || b->hooks.waits_for(what, sizeof what, b->hooks.userdata) <= 0)
                what[0] = '\0';
        snprintf(op->error, sizeof op->error, "The browser did not start within %g s%s%s",
                 (double)b->o.spawn_wait_usec / USEC_PER_SEC, what[0] ? ": it waits for " : "",
                 what);
        /* Answered: its later spawn must not show the URL, for nobody. */
        op->deferred = false;
        r = restart_argv_update(b);
        if (r < 0)
                log_debug_errno(r, "Cannot take a URL given up out of the browser's start: %m");
        op_finish(op, -ETIMEDOUT, NULL);
        return 0;
}

/* The start spawns later (a backoff after an exit, its dependencies not
 * ready, or the instance stopping not gone yet): answered once it spawned
 * with the URL, as a start for a
 * browser not running is (the spawn may fail as well), or after
 * SPAWN_WAIT_USEC, saying what it waited for: a dependency that stays
 * failed must not hold the request for ever.  No instance's name to wait
 * for meanwhile. */
static void op_defer(BrowserOpen *op) {
        Browser *b = op->b;
        int r;

        log_info("The browser is not running and starts later (backing off, stopping, or waiting for Xvfb or "
                 "its bus): a URL waits for its start.");
        op->deferred = true;
        op->waiting = false;
        op->match = sd_bus_slot_unref(op->match);
        op->timer = sd_event_source_disable_unref(op->timer);
        r = sd_event_add_time_relative(b->o.event, &op->timer, CLOCK_MONOTONIC,
                                       b->o.spawn_wait_usec, 0, on_spawn_timeout, op);
        if (r < 0)
                op_finish(op, r, NULL);
}

/* The start failed: there is no browser to start (no service or a
 * binary that never ran: -ENOENT without a cause; its user missing or
 * root, everything stopping: as without a browser, nothing to add), or
 * its spawn failed (a binary gone since it ran: -ENOENT with a cause),
 * made now or the one the URL waited for
 * (in a backoff): answered at once with the cause, rather than waiting
 * for a restart no likelier to spawn.  The URL, set for the service's
 * restart by this start or one before, is taken out again: answered, it
 * must not be shown later, for nobody. */
static void op_start_failed(BrowserOpen *op, int r, const char *why) {
        Browser *b = op->b;
        bool none = (r == -ENOENT && isempty(why)) || r == -ESRCH || r == -EPERM || r == -ESHUTDOWN;

        if (!none && !isempty(why))
                snprintf(op->error, sizeof op->error, "The browser did not start: %s", why);
        op_finish(op, none && r == -ENOENT ? -EAGAIN : r, NULL);
        r = restart_argv_update(b);
        if (r < 0)
                log_debug_errno(r, "Cannot take a URL that failed out of the browser's restart: %m");
}

static void op_launch(BrowserOpen *op) {
        char *extra[LAUNCH_ARGV_MAX + 1], why[192] = "";
        sd_bus *bus = NULL;
        bool gone;
        int r;

        launch_argv(op->b, op->url, op->b->pages, extra);
        op->starting = true;
        r = op->b->hooks.start(extra, why, sizeof why, op->b->hooks.userdata);
        op->starting = false;
        gone = op->gone;
        op->gone = false;
        if (r > 0) {
                if (!op->deferred)
                        op_defer(op);
                return;
        }
        if (r == -EALREADY && op->deferred)
                r = 0; /* the spawn it waited for came, with the URL */
        op->deferred = false;
        if (r == -EALREADY && gone && !service_changing(op->b)) {
                op_quitting(op);
                return;
        }
        if (r >= 0) {
                /* Arranged once its window is mapped. */
                arrange_windows(op->b);
                url_shown(op->b);
                op_finish(op, 0, "browser_launch");
                return;
        }
        if (r == -EALREADY && op->waiting)
                return; /* the name's NameOwnerChanged, the service's change, or the timeout */
        if (r == -EALREADY && browser_bus(op->b, &bus) >= 0 && op_wait_name(op, bus) >= 0)
                return;
        if (r == -EALREADY)
                op_finish(op, -EAGAIN, NULL);
        else
                op_start_failed(op, r, why);
}

static int on_name_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BrowserOpen *op = userdata;
        const char *name, *old, *new;
        sd_bus *bus = sd_bus_message_get_bus(m);
        int r;

        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || !streq(name, op->name) || isempty(new))
                return 0;
        op->call = sd_bus_slot_unref(op->call);
        r = op_call(op, bus);
        if (r < 0)
                op_finish(op, r, NULL);
        return 0;
}

/* The match is in place: the name may have appeared before it was. */
static int on_match_added(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BrowserOpen *op = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r;

        if (e) {
                op_finish(op, -sd_bus_error_get_errno(e) ?: -EIO, NULL);
                return 0;
        }
        if (op->call)
                return 0;
        r = op_call(op, sd_bus_message_get_bus(m));
        if (r < 0)
                op_finish(op, r, NULL);
        return 0;
}

static int on_name_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        BrowserOpen *op = userdata;

        if (op->held)
                return 0; /* it did appear; its start or stop is the supervisor's to time out */
        log_debug("Firefox did not appear on its bus as %s in time.", op->name);
        op_finish(op, -ETIMEDOUT, NULL);
        return 0;
}

static int op_wait_name(BrowserOpen *op, sd_bus *bus) {
        _cleanup_(freep) char *match = NULL;
        int r;

        log_info("Firefox runs: a URL waits for it to be on its bus.");
        op->waiting = true;
        if (asprintf(&match, "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                             "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'", op->name) < 0)
                return -ENOMEM;
        r = sd_bus_add_match_async(bus, &op->match, match, on_name_owner, on_match_added, op);
        if (r >= 0)
                r = sd_event_add_time_relative(op->b->o.event, &op->timer, CLOCK_MONOTONIC, NAME_WAIT_USEC, 0,
                                               on_name_timeout, op);
        return r;
}

/* The instance's name from the profile's real path, as Firefox makes it. */
static int instance_name(const char *profile, char **ret) {
        char real[PATH_MAX];

        return firefox_remote_bus_name(realpath(profile, real) ? real : profile, ret);
}

int browser_open(Browser *b, const char *url, BrowserOpenFn cb, void *userdata, BrowserOpen **ret) {
        _cleanup_(freep) BrowserOpen *op = NULL;
        sd_bus *bus = NULL;
        int r;

        if (!http_url_is_valid(url))
                return -EINVAL;
        if (isempty(b->o.bus_socket))
                return -EAGAIN;
        r = browser_prepare_profile(b->o.profile);
        if (r < 0)
                log_debug_errno(r, "Failed to write the browser profile prefs in %s: %m", b->o.profile);
        op = calloc(1, sizeof *op);
        if (!op)
                return -ENOMEM;
        *op = (BrowserOpen){ .b = b, .cb = cb, .userdata = userdata, .url = strdup(url) };
        r = op->url && instance_name(b->o.profile, &op->name) >= 0 ? 0 : -ENOMEM;
        if (r >= 0)
                r = sd_event_add_defer(b->o.event, &op->done, on_done, op);
        if (r >= 0)
                r = sd_event_source_set_enabled(op->done, SD_EVENT_OFF);
        if (r < 0) {
                sd_event_source_disable_unref(op->done);
                free(op->url);
                free(op->name);
                return r;
        }
        op->next = b->ops;
        if (b->ops)
                b->ops->prev = op;
        b->ops = op;
        if (ret) {
                *ret = op;
                op->owner = ret;
        }
        /* No bus to ask (not up yet): no instance can be running either. */
        r = browser_bus(b, &bus);
        if (r >= 0)
                r = op_call(op, bus);
        if (r < 0) {
                log_debug_errno(r, "Cannot ask Firefox over its bus, starting it: %m");
                op_launch(op);
        }
        TAKE_PTR(op);
        return 0;
}

void browser_service_changed(Browser *b) {
        /* Out of its backoff (spawned, or failed): asked again, the start
         * says which; still backing off, it says so and they wait on. */
        for (BrowserOpen *op = b->ops, *next; op; op = next) {
                next = op->next;
                if (op->deferred && !op->starting)
                        op_launch(op);
        }
        if (service_changing(b))
                return;
        for (BrowserOpen *op = b->ops, *next; op; op = next) {
                next = op->next;
                if (!op->held) {
                        /* Waiting for an instance's name, and none may
                         * bring it if none runs (the one that gave it up
                         * exited 0: inactive; or crashed with no restart
                         * left: failed): started with the URL as for a new
                         * one (in a backoff: deferred to the restart).  Still
                         * running, the start says so and the wait goes on. */
                        if (op->waiting && !op->call && !op->starting)
                                op_launch(op);
                        continue;
                }
                op->held = false;
                op->waiting = false;
                op->match = sd_bus_slot_unref(op->match);
                op->timer = sd_event_source_disable_unref(op->timer);
                /* Started with the URL if it does not run (it stopped or
                 * failed: asking its bus name first could reach an instance
                 * whose exit the bus has not seen yet); running, the start
                 * says so and the URL goes to it over the bus. */
                op_launch(op);
        }
}

int browser_set_pages(Browser *b, char *const *urls) {
        char **copy = NULL;

        if (strv_length(urls) > BROWSER_PAGES_MAX)
                return -E2BIG;
        for (char *const *u = urls; u && *u; u++)
                if (!http_url_is_valid(*u))
                        return -EINVAL;
        if (urls && *urls && !(copy = strv_concat(urls, NULL)))
                return -ENOMEM;
        strv_free(b->pages);
        b->pages = copy;
        /* URLs waiting for the restart after a backoff go with it. */
        return restart_argv_update(b);
}

int browser_close(Browser *b) {
        arranger_stop(b);
        return service_close(b);
}

int browser_new(const BrowserOptions *o, const BrowserHooks *hooks, Browser **ret) {
        Browser *b = calloc(1, sizeof *b);

        if (!b)
                return -ENOMEM;
        b->o = *o;
        if (!b->o.spawn_wait_usec)
                b->o.spawn_wait_usec = SPAWN_WAIT_USEC;
        b->hooks = *hooks;
        b->exe = self_exe_path();
        if (!b->exe) {
                free(b);
                return -ENOMEM;
        }
        *ret = b;
        return 0;
}

Browser *browser_free(Browser *b) {
        if (!b)
                return NULL;
        while (b->ops) {
                BrowserOpen *op = b->ops;
                BrowserOpenFn cb = op->cb;
                void *data = op->userdata;

                op_free(op);
                cb(-ECANCELED, NULL, NULL, data);
        }
        sd_bus_flush_close_unref(b->bus);
        arranger_stop(b);
        strv_free(b->pages);
        free(b->exe);
        free(b);
        return NULL;
}
