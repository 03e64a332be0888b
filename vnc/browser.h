/* The VM's browser for logins: Firefox from the display stack (the
 * supervisor's on-demand "firefox" service, run as the browser user) with
 * a prepared profile.  A URL is handed to the running instance over its
 * D-Bus remote interface (firefox-remote.h) on the browser user's session
 * bus, which the agent joins as root; when no instance answers, the
 * service is started with the URL as its one extra argument.  The URL is
 * never seen by a shell.
 *
 * The browser starts, stops and restarts its service through the hooks
 * it is given (the agent wires them to the supervisor): it depends on
 * neither. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "launch.h"
#include "macro.h"
#include "time-util.h"

typedef struct Browser Browser;
typedef struct BrowserOpen BrowserOpen;

typedef struct BrowserOptions {
        sd_event *event;
        const char *firefox;       /* argv[0] of the command line handed over */
        const char *profile;       /* profile directory (its real path names the instance) */
        const char *display;       /* DISPLAY, for arranging its window */
        const char *bus_socket;    /* the browser user's session bus; NULL or "" = no browser */
        uid_t uid;                 /* the browser user: the bus must be served by this uid */
        gid_t gid;                 /* its group: the window arranger runs as uid/gid */
        gid_t x_gid;               /* the X socket's group, the arranger's supplementary one; 0: none */
        const char *xauthority;    /* the browser user's copy of the X cookie */
        const Launcher *launcher;  /* starts the window arranger (xdo-window.h); NULL: not arranged */
        bool prestart;             /* the service runs with the display stack: closing restarts it */
        usec_t spawn_wait_usec;    /* a URL waits at most this for a start answered 1; 0: 120 s */
} BrowserOptions;

typedef struct BrowserHooks {
        /* Starts the browser service with extra_argv appended (the URL):
         * 0, or 1 when it does not spawn yet, backing off after an exit,
         * waiting for its dependencies, or still stopping (its restart,
         * or its spawn once they are ready or it exited, is with
         * extra_argv: browser_service_changed() follows),
         * -EALREADY when it runs already, -ENOENT when there is no
         * browser service or its binary is missing (error "" when it
         * never ran: no browser; the cause when it is gone since it ran:
         * a spawn that failed), -ESHUTDOWN when stopping, -ESRCH/-EPERM when
         * its user is missing/root, else why its spawn failed (made now,
         * or the one a 1 before waited for; its exec too: -EAGAIN at the
         * browser user's task limit, -ENOENT with a cause for a missing
         * interpreter).  On an error, error (size bytes, "" when it
         * cannot say) gets the cause as the service's state has it
         * ("spawn: Permission denied", "execute /usr/bin/firefox-esr as
         * uid 1002: Resource temporarily unavailable"). */
        int (*start)(char *const *extra_argv, char *error, size_t size, void *userdata);
        /* Stops it: 0 also when it was not running or does not exist. */
        int (*stop)(void *userdata);
        /* Restarts it if it runs (starting or ready), with what
         * set_restart_argv() set; one that does not run starts later as
         * it would, and a failed one stays failed: 0 then too, and when it
         * does not exist or everything is being stopped.  May be NULL
         * unless prestart. */
        int (*restart)(void *userdata);
        /* Sets what its automatic restart appends to its argv (in place
         * of the start's URL).  May be NULL. */
        int (*set_restart_argv)(char *const *extra_argv, void *userdata);
        /* true while the service is started but not ready, or stopping:
         * Firefox owns its bus name before its first window is restored,
         * and after it was told to exit (a login's end closes it), and a
         * URL handed over then is accepted but never shown.  May be NULL. */
        bool (*changing)(void *userdata);
        /* What a start answered with 1 waits for ("Xvfb: failed (...)"),
         * into reason (size bytes): > 0 when it says.  May be NULL. */
        int (*waits_for)(char *reason, size_t size, void *userdata);
        /* A URL was shown (the running instance took it, or the service
         * was started with it): the browser is in use, and what closes
         * it next is a person (prestarted, it comes back at once; one
         * that quits again and again with none shown quits by itself,
         * and the supervisor backs its restarts off).  May be NULL. */
        void (*shown)(void *userdata);
        void *userdata;
} BrowserHooks;

/* The outcome of browser_open(): r = 0 and method "keyboard_navigation"
 * (the running instance accepted the URL: a D-Bus method return; the name
 * is the one hosts know for "shown by the browser already running") or
 * "browser_launch"
 * (the service was started with the URL as its argument: spawned, after
 * its backoff, once its dependencies were ready, or once the instance
 * stopping exited, if it waited), or r < 0:
 * -EAGAIN and no error: no browser (an -EAGAIN with an error is a spawn
 * that failed so: its user at its task limit), -ETIMEDOUT a starting
 * instance never registered on
 * the bus, or the service did not spawn within spawn_wait_usec, else what
 * the bus or the start said (a spawn that failed, now or the one the URL
 * waited for: answered then, not at the bound).  error (r < 0 only; may
 * be NULL): a line saying why, valid during the call ("The browser did
 * not start within 120 s: it waits for Xvfb: failed (Xvfb: not found)",
 * "The browser did not start: spawn: Permission denied"). */
typedef void (*BrowserOpenFn)(int r, const char *method, const char *error, void *userdata);

/* The browser service's state changed: URLs held while it was starting
 * or stopping go to it now (or start it, if it stopped or failed), and
 * URLs waiting for an instance's bus name start it if none runs any more
 * (it quit after giving its name up, or crashed with no restart left). */
void browser_service_changed(Browser *b);

/* o's strings and hooks must outlive the browser. */
int browser_new(const BrowserOptions *o, const BrowserHooks *hooks, Browser **ret);
/* Pending opens are answered with -ECANCELED first.  NULL-safe. */
Browser *browser_free(Browser *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Browser *, browser_free);

/* Opens url (it must satisfy http_url_is_valid(): -EINVAL otherwise; no
 * browser configured: -EAGAIN).  0: cb is called exactly once, from the
 * event loop (never before this returns), unless browser_open_cancel()
 * comes first; *ret (may be NULL) is only for cancelling. */
int browser_open(Browser *b, const char *url, BrowserOpenFn cb, void *userdata, BrowserOpen **ret);
/* The caller went away: cb will not be called, and a restart after a
 * backoff that the URL waited for no longer brings it.  NULL-safe. */
void browser_open_cancel(BrowserOpen *op);
/* Closes the pages shown (the last login's): stops the browser service
 * or, prestarted, restarts it with the pages set by browser_set_pages()
 * (set them first; none: a blank page), as the display stack needs it
 * running and the next login wants it warm.  Either way a window
 * arranger still waiting goes: the window it waits for is gone, and the
 * next URL shown arranges the new one. */
int browser_close(Browser *b);
/* The pages a browser that crashed comes back with (each must satisfy
 * http_url_is_valid(): -EINVAL otherwise, nothing changed; NULL or empty:
 * none; more than BROWSER_PAGES_MAX: -E2BIG), in place of the URL it was
 * started with, which may be of a login that is over.  Session restore is
 * off (user.js): without this a crash loses every page.  A start for a
 * URL shows them too, behind it.  0 when the hooks cannot set them. */
#define BROWSER_PAGES_MAX 16
int browser_set_pages(Browser *b, char *const *urls);

/* Writes user.js into the profile (0644, root's, in the browser user's
 * 0700 directory): no first-run pages, telemetry, update checks,
 * default-browser prompt, session restore, password saving, or the
 * Troubleshoot Mode prompt after killed sessions. */
int browser_prepare_profile(const char *profile_dir);
