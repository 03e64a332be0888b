/* See browser.h.  Preferences are user.js (read at every start, so a
 * profile the person changed is put back) rather than policies.json,
 * which would need write access to the Firefox installation. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "browser.h"
#include "fileio.h"
#include "launch.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"
#include "url-util.h"
#include "xdo-window.h"

/* WM_CLASS of Firefox's windows ("firefox-esr", "firefox"): a regex. */
#define BROWSER_WM_CLASS "[Ff]irefox"
#define WINDOW_WAIT_USEC (60 * USEC_PER_SEC)

struct Browser {
        BrowserOptions o;
        BrowserHooks hooks;
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
        "user_pref(\"network.connectivity-service.enabled\", false);\n";

const char *browser_user_js(void) {
        return user_js;
}

int browser_prepare_profile(const char *profile_dir) {
        _cleanup_(freep) char *path = NULL;
        int r;

        if (isempty(profile_dir))
                return -EINVAL;
        r = mkdir_all(profile_dir, 0755, 0700);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/user.js", profile_dir) < 0)
                return -ENOMEM;
        return write_file_atomic(path, user_js, strlen(user_js), 0600);
}

static void on_remote_exit(pid_t pid, int wstatus, void *userdata) {
        char b[64];

        log_debug("firefox --new-tab (pid %d) %s.", (int)pid, wstatus_to_string(wstatus, b, sizeof b));
}

/* The short-lived remote client: hands the URL to the running instance of
 * the same profile and exits. */
static int navigate(Browser *b, const char *url) {
        const BrowserOptions *o = &b->o;
        _cleanup_(freep) char *display = NULL, *home = NULL, *path = NULL;
        char *argv[] = { (char *)o->firefox, (char *)"--profile", (char *)o->profile,
                         (char *)"--new-tab", (char *)url, NULL };
        pid_t pid;

        if (asprintf(&display, "DISPLAY=%s", o->display) < 0 ||
            asprintf(&home, "HOME=%s", o->home) < 0 ||
            asprintf(&path, "PATH=%s", o->bin_path) < 0)
                return -ENOMEM;
        char *envp[] = { display, home, path, NULL };
        SpawnOptions so = { .argv = argv, .envp = envp, .path = o->bin_path, .stdin_fd = -1,
                            .stdout_fd = -1, .stderr_fd = -1, .extra_fd = -1 };
        return launcher_start(o->launcher, &so, on_remote_exit, NULL, &pid);
}

int browser_open(Browser *b, const char *url, const char **ret_method) {
        char *extra[] = { (char *)url, NULL };
        int r;

        if (!http_url_is_valid(url))
                return -EINVAL;
        r = browser_prepare_profile(b->o.profile);
        if (r < 0)
                log_debug_errno(r, "Failed to write the browser profile prefs in %s: %m", b->o.profile);
        r = b->hooks.start(extra, b->hooks.userdata);
        if (r >= 0) {
                /* Arranged once its window is mapped; not fatal if not. */
                r = xdo_watch_new(b->o.event, b->o.display, BROWSER_WM_CLASS, WINDOW_WAIT_USEC, NULL);
                if (r < 0)
                        log_debug_errno(r, "Cannot watch for the browser window: %m");
                *ret_method = "browser_launch";
                return 0;
        }
        if (r == -ENOENT)
                return -EAGAIN; /* a stack without a browser */
        if (r != -EALREADY)
                return r;
        r = navigate(b, url);
        if (r < 0)
                return r;
        r = xdo_arrange_windows(b->o.display, BROWSER_WM_CLASS);
        if (r < 0)
                log_debug_errno(r, "Cannot arrange the browser window: %m");
        *ret_method = "navigate";
        return 0;
}

int browser_close(Browser *b) {
        return b->hooks.stop(b->hooks.userdata);
}

int browser_new(const BrowserOptions *o, const BrowserHooks *hooks, Browser **ret) {
        Browser *b = calloc(1, sizeof *b);

        if (!b)
                return -ENOMEM;
        b->o = *o;
        b->hooks = *hooks;
        *ret = b;
        return 0;
}

Browser *browser_free(Browser *b) {
        free(b);
        return NULL;
}
