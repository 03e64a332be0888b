/* See cli-runner.h.  The CLI's output goes to the transcript and to a
 * terminal emulator (screen.h) of the PTY's size; after each read the
 * runner writes back the terminal's answers, then looks at the rendered
 * screen for prompts and the authorize URL.  The PTY is made wide
 * (PTY_COLS) so CLIs print the URL on one line; the screen still joins a
 * URL wrapped at that width.  Output and the exit are events on the loop
 * (io source on the PTY master, the Launcher's exit callback); nothing
 * here blocks.  The runner outlives the child: the session reads the
 * transcript after the exit.
 *
 * The owner may free the runner from any of its callbacks.  Those called
 * while the runner is still at work on the CLI's output (on_url,
 * on_failure) find it "dispatching": cli_runner_free() then does all of
 * its work but the free() itself (the group killed, the sources gone, the
 * screen and transcript wiped), marks it freed, and the dispatch that
 * called out frees it on its way out, touching nothing else of it. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli-runner.h"
#include "control-socket.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "prompt-match.h"
#include "screen.h"
#include "transcript.h"
#include "url-scan.h"

#define PTY_ROWS 50
#define PTY_COLS 1000
#define TRANSCRIPT_MAX (64 * 1024)
#define KILL_GRACE_USEC (3 * USEC_PER_SEC)
#define ENV_MAX (PROVIDER_LIST_MAX + 16)

struct CliRunner {
        sd_event *event;
        const Launcher *launcher;
        const ProviderDef *provider;
        char *login_id;     /* owned: the runner may outlive its login's session */
        CliCpuTotals *cpu_totals;
        const char *memory_max_key; /* borrowed (CliRunnerOptions) */
        LaunchMemory memory;  /* its cgroup's, read at its exit (all 0: not read) */
        CliRunnerCallbacks cb;
        void *userdata;
        pid_t pid;          /* 0 once exited */
        int master;         /* pty master or pipe read end */
        sd_event_source *io, *kill_timer, *stop_timer;
        Screen *screen;
        PromptMatcher prompts;
        FailureWatch failures;
        Transcript *transcript;
        bool url_reported;
        bool failure_reported;
        unsigned dispatching; /* depth of our own dispatches that call the owner back */
        bool freed;           /* cli_runner_free() ran during one: free() once it is over */
};

/* The entries may carry proxy credentials (http_proxy=http://user:pass@). */
static void env_erase(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                v[i] = erase_and_free(v[i]);
}

/* Sized once, not asprintf(): a proxy value's credentials would be left
 * in the freed copies of its growing buffer. */
static int env_add(char **env, size_t *n, const char *key, const char *value) {
        size_t kl, vl;

        if (!value)
                return 0;
        if (*n >= ENV_MAX - 1)
                return -E2BIG;
        kl = strlen(key);
        vl = strlen(value);
        env[*n] = malloc(kl + vl + 1);
        if (!env[*n])
                return -ENOMEM;
        memcpy(env[*n], key, kl);
        memcpy(env[*n] + kl, value, vl + 1);
        (*n)++;
        return 0;
}

/* A fresh environment: nothing of the agent's own leaks into the CLI. */
static int build_env(const CliRunnerOptions *o, char **env) {
        char tmpdir[PATH_MAX];
        size_t n = 0;
        int r = 0;

        if ((size_t)snprintf(tmpdir, sizeof tmpdir, "%s/" CLI_TMPDIR_NAME, o->home) >= sizeof tmpdir)
                return -ENAMETOOLONG;
        r = r ?: env_add(env, &n, "HOME=", o->home);
        r = r ?: env_add(env, &n, "TMPDIR=", tmpdir);
        r = r ?: env_add(env, &n, "PATH=", o->path);
        r = r ?: env_add(env, &n, "TERM=", "xterm-256color");
        r = r ?: env_add(env, &n, "LANG=", "C.UTF-8");
        r = r ?: env_add(env, &n, "BROWSER=", o->browser);
        r = r ?: env_add(env, &n, "VMBA_CONTROL_SOCKET=", o->control_socket);
        r = r ?: env_add(env, &n, OPEN_URL_SESSION_ENV "=", o->login_id);
        r = r ?: env_add(env, &n, "DISPLAY=", o->display);
        r = r ?: env_add(env, &n, "HTTP_PROXY=", o->http_proxy);
        r = r ?: env_add(env, &n, "http_proxy=", o->http_proxy);
        r = r ?: env_add(env, &n, "HTTPS_PROXY=", o->https_proxy);
        r = r ?: env_add(env, &n, "https_proxy=", o->https_proxy);
        r = r ?: env_add(env, &n, "NO_PROXY=", o->no_proxy);
        r = r ?: env_add(env, &n, "no_proxy=", o->no_proxy);
        for (char **e = o->provider->env; !r && e && *e; e++)
                r = env_add(env, &n, "", *e);
        env[n] = NULL;
        return r;
}

/* The CLI's terminal is its user's, as login(1) makes a session's: a CLI
 * that reopens it by name (ttyname()) must be able to. */
static int open_pty(uid_t uid, gid_t gid, int *ret_master, int *ret_slave) {
        struct winsize ws = { .ws_row = PTY_ROWS, .ws_col = PTY_COLS };
        _cleanup_(closep) int master = -EBADF;
        char name[128];
        int slave;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (master < 0)
                return -errno;
        if (grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
                return negative_errno();
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return -errno;
        (void)ioctl(slave, TIOCSWINSZ, &ws);
        if (fchown(slave, uid, gid) < 0 || fchmod(slave, 0600) < 0) {
                int r = -errno;
                close(slave);
                return r;
        }
        *ret_master = TAKE_FD(master);
        *ret_slave = slave;
        return 0;
}

static void reply(CliRunner *r, const char *s, size_t n) {
        /* Short answers to a PTY that is drained by the CLI: a failure here
         * means the CLI is gone, and the exit handler will tell. */
        if (n > 0 && loop_write(r->master, s, n) < 0)
                log_debug("Could not answer the CLI's terminal.");
}

static bool watches_failures(const CliRunner *r) {
        return r->provider->failures && r->provider->failures[0] && !r->failure_reported;
}

static void answer_prompts(CliRunner *r, const ScreenView *v) {
        const char *keys[PROVIDER_LIST_MAX];
        size_t n;

        if (!r->provider->pty)
                return;
        n = prompt_matcher_look(&r->prompts, v, keys);
        for (size_t i = 0; i < n; i++)
                reply(r, keys[i], strlen(keys[i]));
}

/* Before the URL is known: the prompts are answered, the failures shown
 * are not the login's outcome. */
static void look_before_url(CliRunner *r, const ScreenView *v) {
        answer_prompts(r, v);
        if (watches_failures(r))
                failure_watch_ignore(&r->failures, v);
}

/* final: the output ended, a URL at the cursor is finished. */
static void look(CliRunner *r, bool final) {
        _cleanup_(erase_and_freep) char *url = NULL;
        ScreenView v;
        char line[256];
        int k;

        if (r->url_reported && (!r->provider->pty || r->provider->n_prompts == 0) && !watches_failures(r))
                return;
        k = screen_look(r->screen, &v);
        if (k < 0) {
                log_debug_errno(k, "Could not render the CLI's screen: %m");
                return;
        }
        if (!r->url_reported) {
                /* The browser gets the URL only once it is found: nobody
                 * signed in yet, a failure shown is not the login's. */
                look_before_url(r, &v);
                if (url_scan(r->provider->url_patterns, &v, final, &url) > 0) {
                        r->url_reported = true;
                        if (r->cb.on_url)
                                r->cb.on_url(r, url, r->userdata); /* it may free r */
                }
                return;
        }
        answer_prompts(r, &v);
        if (watches_failures(r) && failure_watch_find(&r->failures, &v, line, sizeof line)) {
                r->failure_reported = true;
                if (r->cb.on_failure)
                        r->cb.on_failure(r, line, r->userdata);
        }
}

/* Reads per wakeup at most: the loop stays fair. */
#define READS_PER_WAKEUP 16

/* One read of the CLI's output into buf: its size; 0 when there is no
 * more for now; -1 once the output ended (EOF, or EIO: every slave fd is
 * closed, the CLI is gone). */
static ssize_t read_output(int fd, char *buf, size_t size) {
        for (;;) {
                ssize_t n = read(fd, buf, size);

                if (n > 0)
                        return n;
                if (n < 0 && errno == EINTR)
                        continue;
                return n < 0 && errno == EAGAIN ? 0 : -1;
        }
}

static void feed(CliRunner *r, const char *buf, size_t n) {
        const char *answers;
        size_t k;

        transcript_feed(r->transcript, buf, n);
        screen_feed(r->screen, buf, n);
        answers = screen_take_replies(r->screen, &k);
        if (r->provider->pty)
                reply(r, answers, k);
}

/* What the CLI wrote before it handed the URL over may not have been
 * read yet: it is taken now, without calling the owner back (prompts and
 * the terminal are answered), and the failures it shows are the ones
 * from before the sign-in.  The end of the output is left to on_io(). */
static void take_pending(CliRunner *r) {
        char buf[4096];
        ScreenView v;

        for (int i = 0; r->io && i < READS_PER_WAKEUP; i++) {
                ssize_t n = read_output(r->master, buf, sizeof buf);
                if (n <= 0) /* its end is on_io()'s to see */
                        break;
                feed(r, buf, (size_t)n);
        }
        explicit_bzero(buf, sizeof buf);
        if (screen_look(r->screen, &v) >= 0)
                look_before_url(r, &v);
}

void cli_runner_url_known(CliRunner *r) {
        if (!r || r->url_reported)
                return;
        take_pending(r);
        r->url_reported = true;
}

static void on_output(CliRunner *r, const char *buf, size_t n) {
        feed(r, buf, n);
        look(r, false);
}

static void output_ended(CliRunner *r) {
        r->io = sd_event_source_disable_unref(r->io);
        look(r, true);
}

static void dispatch_enter(CliRunner *r) {
        r->dispatching++;
}

/* r is not to be touched after: the owner may have freed it meanwhile. */
static void dispatch_leave(CliRunner *r) {
        if (--r->dispatching == 0 && r->freed)
                free(r);
}

/* Up to READS_PER_WAKEUP reads of what the CLI wrote, each looked at;
 * within dispatch_enter()/dispatch_leave(): a callback may free r. */
static void read_available(CliRunner *r) {
        char buf[4096];

        for (int i = 0; r->io && i < READS_PER_WAKEUP; i++) {
                ssize_t n = read_output(r->master, buf, sizeof buf);
                if (n < 0)
                        output_ended(r);
                if (n <= 0)
                        break;
                on_output(r, buf, (size_t)n);
                if (r->freed) /* by a callback: its fd is closed */
                        break;
        }
        /* The CLI's output may hold a token: wiped on every way out. */
        explicit_bzero(buf, sizeof buf);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CliRunner *r = userdata;

        dispatch_enter(r);
        read_available(r);
        dispatch_leave(r);
        return 0;
}

/* The CLI's end (its login, pid, how it ended) in one line, with the
 * CPU time that it and all it started used (its cgroup's, read before the
 * cgroup went: from its on_exit, or before it is forgotten), which is
 * added to the totals; unknown without that cgroup, never 0.  The line
 * starts as the login's other lines do ("Login <id>: "), so a grep for
 * the login's id finds it. */
static void cpu_account(CliRunner *r, pid_t pid, const char *how, const char *note) {
        const char *sep = note[0] ? "; " : "";
        uint64_t usec;
        int k;

        k = launcher_cpu_usec(r->launcher, pid, &usec);
        if (k >= 0)
                log_info("Login %s: Provider CLI %s (pid %d) %s, CPU %llu ms%s%s.", r->login_id, r->provider->id,
                         (int)pid, how, (unsigned long long)(usec / USEC_PER_MSEC), sep, note);
        else if (k == -ENOENT || k == -EOPNOTSUPP)
                log_info("Login %s: Provider CLI %s (pid %d) %s, CPU unknown (no cgroup of its own)%s%s.", r->login_id,
                         r->provider->id, (int)pid, how, sep, note);
        else
                log_info_errno(k, "Login %s: Provider CLI %s (pid %d) %s, CPU unknown (its cgroup's cpu.stat: %m)%s%s.",
                               r->login_id, r->provider->id, (int)pid, how, sep, note);
        if (!r->cpu_totals)
                return;
        if (k >= 0)
                r->cpu_totals->usec += usec;
        else
                r->cpu_totals->unknown++;
}

/* The memory.max note of mem (memory_pressure_to_string()), into buf:
 * "" without reclaims and refaults both, or when the OOM killer killed in
 * its cgroup (its exit says that). */
static const char *memory_note(CliRunner *r, const LaunchMemory *mem, char *buf, size_t size) {
        if (mem->oom_kills > 0) {
                if (size > 0)
                        buf[0] = '\0';
                return buf;
        }
        return memory_pressure_to_string(mem, r->memory_max_key ?: "its memory.max", buf, size);
}

const char *cli_runner_memory_note(CliRunner *r, char *buf, size_t size) {
        LaunchMemory mem = {};

        if (size > 0)
                buf[0] = '\0';
        if (!r || r->freed)
                return buf;
        if (r->pid > 0 && launcher_memory(r->launcher, r->pid, &mem) < 0)
                return buf;
        return memory_note(r, r->pid > 0 ? &mem : &r->memory, buf, size);
}

/* How the CLI of pid ended, in words, into buf (exit_to_string()): its
 * cgroup's OOM kills name the kernel.  Its memory is kept for
 * cli_runner_memory_note(): the cgroup goes now. */
static const char *exit_how(CliRunner *r, pid_t pid, int wstatus, char *buf, size_t size) {
        bool read = launcher_memory(r->launcher, pid, &r->memory) >= 0;

        if (!read)
                r->memory = (LaunchMemory){};
        return exit_to_string(wstatus, read ? &r->memory : NULL, buf, size);
}

static void on_child_exit(pid_t pid, int wstatus, void *userdata) {
        CliRunner *r = userdata;
        char how[96 + CLI_MEMORY_NOTE_MAX], note[CLI_MEMORY_NOTE_MAX];
        size_t n;

        exit_how(r, pid, wstatus, how, sizeof how);
        memory_note(r, &r->memory, note, sizeof note);
        cpu_account(r, pid, how, note);
        /* The owner hears of the note with the exit, as of an OOM kill. */
        n = strlen(how);
        if (note[0])
                snprintf(how + n, sizeof how - n, "; %s", note);
        /* Helpers it left in its group would go on writing into the HOME
         * that is removed once the login ends.  The group id cannot name
         * another group yet: it stays taken while any member lives, and
         * a process that took the number since the reap would have to
         * have made itself a group leader in between. */
        (void)kill(-pid, SIGKILL);
        r->pid = 0;
        r->kill_timer = sd_event_source_disable_unref(r->kill_timer);
        r->stop_timer = sd_event_source_disable_unref(r->stop_timer);
        /* The exit and the last output can be seen in one wakeup, the exit
         * first: what it wrote before it exited (its error, a URL) is
         * read before the owner hears of the exit. */
        dispatch_enter(r);
        read_available(r);
        if (!r->freed && r->cb.on_exit)
                r->cb.on_exit(r, wstatus, how, r->userdata);
        dispatch_leave(r);
}

static int spawn_cli(CliRunner *r, const CliRunnerOptions *o, char **env) {
        _cleanup_(closep) int slave = -EBADF;
        int fds[2], k;

        if (o->provider->pty) {
                k = open_pty(o->uid, o->gid, &r->master, &slave);
                if (k < 0)
                        return k;
        } else {
                if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
                        return -errno;
                r->master = fds[0];
                slave = fds[1];
                /* The child gets a blocking end. */
                (void)fcntl(slave, F_SETFL, 0);
        }
        SpawnOptions so = {
                .argv = o->provider->argv,
                .envp = env,
                .path = o->path,
                .cwd = o->home,
                .stdin_fd = o->provider->pty ? slave : -1,
                .stdout_fd = slave,
                .stderr_fd = slave,
                .extra_fd = -1,
                .controlling_tty = o->provider->pty,
                .uid = o->uid,
                .gid = o->gid,
                /* Third-party code: no setuid binary of the image (su,
                 * mount, passwd) runs as anyone but its user. */
                .no_new_privs = true,
                .max_procs = o->max_procs,
                .memory_max = o->memory_max,
                .ambient_caps = o->ambient_caps,
                .cgroup_name = o->cgroup_name,
                .oom_score_adj = CLI_OOM_SCORE_ADJ,
                /* Its user is the next login's too: nothing it leaves
                 * outside its HOME by name (/tmp, SysV IPC) may outlive it. */
                .private_tmp = true,
                .error = o->error,
                .error_size = o->error_size,
        };
        return launcher_start(r->launcher, &so, on_child_exit, r, &r->pid);
}

int cli_runner_start(sd_event *e, const Launcher *launcher, const CliRunnerOptions *o,
                     const CliRunnerCallbacks *cb, void *userdata, CliRunner **ret) {
        char *env[ENV_MAX] = {};
        _cleanup_(cli_runner_freep) CliRunner *r = NULL;
        int k;

        if (o->uid == 0)
                return -EPERM; /* third-party code: never as root */
        if (!o->login_id)
                return -EINVAL;
        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        *r = (CliRunner) { .event = e, .launcher = launcher, .provider = o->provider, .cpu_totals = o->cpu_totals,
                           .memory_max_key = o->memory_max_key, .cb = *cb, .userdata = userdata,
                           .master = -EBADF };
        r->login_id = strdup(o->login_id);
        if (!r->login_id)
                return -ENOMEM;
        prompt_matcher_init(&r->prompts, o->provider->prompts, o->provider->n_prompts);
        failure_watch_init(&r->failures, o->provider->failures);
        /* Without a PTY nothing turns the CLI's "\n" into "\r\n". */
        k = screen_new(PTY_ROWS, PTY_COLS, o->provider->pty ? 0 : SCREEN_NEWLINE, &r->screen);
        if (k >= 0)
                k = transcript_new(TRANSCRIPT_MAX, &r->transcript);
        if (k >= 0)
                k = build_env(o, env);
        if (k >= 0)
                k = spawn_cli(r, o, env);
        env_erase(env);
        if (k >= 0)
                k = sd_event_add_io(e, &r->io, r->master, EPOLLIN, on_io, r);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        CliRunner *r = userdata;

        if (r->pid > 0)
                launch_signal(r->pid, SIGKILL);
        return 0;
}

void cli_runner_stop(CliRunner *r) {
        if (!r || r->pid <= 0 || r->kill_timer)
                return;
        launch_signal(r->pid, SIGTERM);
        launch_signal(r->pid, SIGCONT);
        if (sd_event_add_time_relative(r->event, &r->kill_timer, CLOCK_MONOTONIC, KILL_GRACE_USEC,
                                       0, on_kill_timer, r) < 0)
                launch_signal(r->pid, SIGKILL);
}

static int on_stop_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        cli_runner_stop(userdata);
        return 0;
}

void cli_runner_stop_after(CliRunner *r, usec_t delay) {
        if (!r || r->pid <= 0 || r->kill_timer || r->stop_timer)
                return;
        if (sd_event_add_time_relative(r->event, &r->stop_timer, CLOCK_MONOTONIC, delay, 0,
                                       on_stop_timer, r) < 0)
                cli_runner_stop(r);
}

void cli_runner_set_callbacks(CliRunner *r, const CliRunnerCallbacks *cb, void *userdata) {
        r->cb = *cb;
        r->userdata = userdata;
}

CliRunner *cli_runner_free(CliRunner *r) {
        unsigned dispatching;

        if (!r || r->freed)
                return NULL;
        if (r->pid > 0) {
                /* Nobody will wait for the grace period: kill now, the reaper
                 * collects it without us. */
                char note[CLI_MEMORY_NOTE_MAX];

                cpu_account(r, r->pid, "killed", cli_runner_memory_note(r, note, sizeof note));
                launcher_kill_forget(r->launcher, r->pid);
        }
        sd_event_source_disable_unref(r->io);
        sd_event_source_disable_unref(r->kill_timer);
        sd_event_source_disable_unref(r->stop_timer);
        safe_close(r->master);
        screen_free(r->screen);
        transcript_free(r->transcript);
        free(r->login_id);
        dispatching = r->dispatching;
        explicit_bzero(r, sizeof *r);
        if (dispatching > 0) {
                /* Called back from a dispatch of ours, which still holds
                 * r: it frees it on its way out. */
                *r = (CliRunner) { .master = -EBADF, .dispatching = dispatching, .freed = true };
                return NULL;
        }
        free(r);
        return NULL;
}

char *cli_runner_output(CliRunner *r) {
        return transcript_text(r->transcript);
}

pid_t cli_runner_pid(CliRunner *r) {
        return r->pid;
}

bool cli_runner_running(CliRunner *r) {
        return r && r->pid > 0;
}
