/* The supervisor adapter: runs the pure state machine (sv-fsm.c) for each
 * service on the sd-event loop it is given.  Events come from children.c
 * (exits, reaped by the owner of SIGCHLD), readiness probes (probe.c),
 * and one timer per service whose meaning is the state's (ready timeout
 * in STARTING, stop timeout in STOPPING, restart delay in BACKOFF,
 * recovery delay in FAILED when the machine asked for a retry, in READY
 * the next read of its memory.events and memory.stat while it keeps
 * reaching its memory.max: sv-memory.h; between runs of those
 * memory.events is watched with inotify).  Effects:
 * spawn (spawn.c) into a new process group (and a cgroup of its own when
 * the agent has cgroups: cgroup.h), signal the group, kill the cgroup once
 * the main process exited or when it thrashed at its memory.max for
 * memory_thrash_kill_s, arm timers, tell dependents.  Services are kept in dependency order, so "reverse
 * order" is just walking the array backwards.
 *
 * Re-entrancy: handling one service's event may deliver events to its
 * dependents (recursively, bounded by the dependency graph).  Whole-
 * supervisor checks (chain ready, stop_all progress) run only when the
 * outermost event is done.
 *
 * Over 800 lines: every part here reads or writes the private Service;
 * what does not (spawning, probes, output, preparing a start) is in files
 * of its own already, and a split of the rest would hand Service out
 * through a header. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "children.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "probe.h"
#include "service-def.h"
#include "spawn.h"
#include "strv.h"
#include "supervisor.h"
#include "sv-fsm.h"
#include "sv-memory.h"
#include "sv-output.h"
#include "sv-prepare.h"

/* The ready timeout counts time without progress.  A start still busy on
 * the CPU when it expires (under TCG the display was ready only ~37 s
 * after the kernel started: bench/README.md, Boot) gets the same time
 * again, up to this many times; a child that sits blocked (hung, or
 * waiting for something that will not come) uses next to no CPU and fails
 * on time.  Busy = at least 1% of the period on the CPU, and at least two
 * clock ticks (/proc counts in 10 ms ticks: an exec alone may be charged
 * one).  A start still busy when its last period ends is more likely a
 * slow machine (an emulated CPU shared with other guests) than a spinning
 * hang, and a restart begins from nothing: every later start of that
 * service gets twice the periods, up to READY_DOUBLINGS_MAX times, so
 * that a slow machine converges and a spinning child is still stopped. */
#define READY_EXTENSIONS_MAX 3
#define READY_DOUBLINGS_MAX 3
#define READY_BUSY_MIN_USEC (20 * USEC_PER_MSEC)

/* A close (quit_restarts: the prestarted browser's exit 0 after ready) is
 * no failure however soon it comes, and is started again at once: a
 * person may close a window as soon as it shows.  But a person closes a
 * browser that was used (it showed a URL: supervisor_service_used()); one
 * that quits again and again with no use in between quits by itself, and
 * each start again is a whole one (Firefox: seconds of CPU).  So closes
 * are counted from the last use (from the agent's start, for one never
 * used), and from the last run longer than the longest backoff
 * (ran_fine(): that one counts as the first): this many come back at
 * once (the person closing a page shown, or a blank browser, more than
 * once), and from the next one on its restart backs off as a failed
 * start's would (backoff_initial_ms doubling to backoff_max_ms), with no
 * error and never FAILED for it: a person may be the one closing it. */
#define IDLE_QUITS_AT_ONCE 3

typedef struct Service {
        Supervisor *sv;
        const ServiceDef *def;
        size_t index;
        size_t deps[SERVICES_MAX], n_deps;
        ServiceState state;
        bool want;
        bool clean_exit;         /* the last exit was "exited 0", and not after our stop */
        bool not_found;          /* the last spawn found no binary, no (or a root) user, or not its owned_files */
        bool restarting;         /* supervisor_restart_service(), a stop for a dependency, a close: start
                                  * again once exited (a close quitting by itself: after a backoff),
                                  * the spawn outside the budget */
        bool asked;              /* supervisor_start_service(): the next spawn is asked for, not a restart */
        unsigned idle_quits;     /* closes (quit_restarts) since its last use or a run that ran fine:
                                  * see IDLE_QUITS_AT_ONCE */
        int spawn_error;         /* the last spawn's -errno, 0 once one started */
        pid_t pid;
        unsigned spawns, failures; /* spawns: processes created; restarts: all but the first */
        usec_t *starts;          /* ring of the last burst spawn times (monotonic) */
        unsigned starts_next;
        usec_t spawn_usec;       /* monotonic, of the current spawn */
        usec_t ready_boottime;
        usec_t ready_usec;       /* monotonic, of the current READY; 0 = not ready since spawn */
        uint64_t ready_cpu_usec; /* CPU time at the start of the current ready period */
        unsigned ready_extensions;
        unsigned ready_doublings; /* learned for the service's lifetime: see READY_DOUBLINGS_MAX */
        char last_exit[160];
        char agent_kill[160];    /* why the agent killed it (thrashing), for its exit's last_exit; "": not */
        char last_error[512];    /* room for a probe's error and why the start crawled (memory) */
        char **extra_argv;
        sd_event_source *timer;
        SvOutput *output;
        Probe *probe;
        Cgroup *cgroup;          /* NULL: no cgroups (SupervisorOptions.cgroup_base) */
        CgroupMemory memory;     /* the current start's memory.max (.max 0: none) */
        sd_event_source *memory_watch; /* READY with a memory.max, not rising: its memory.events */
        SvMemoryWatch memory_run; /* READY with a memory.max: its reaching it (sv-memory.h) */
        unsigned spawns_uncounted; /* processes spawned without a cgroup of their own: CPU time unknown */
} Service;

struct Supervisor {
        SupervisorOptions o;
        SupervisorHooks hooks;
        ServiceDefs defs;
        Service *services;
        size_t n;
        unsigned depth;
        bool in_check, check_again, chain_ready;
        bool stopping_all;
        void (*stop_done)(void *userdata);
        void *stop_userdata;
        uint64_t rnd;
};

static void service_event(Service *s, SvEvent ev);

static uint32_t sv_random(Supervisor *sv) {
        /* xorshift64: jitter only needs to differ between VMs and restarts. */
        sv->rnd ^= sv->rnd << 13;
        sv->rnd ^= sv->rnd >> 7;
        sv->rnd ^= sv->rnd << 17;
        return (uint32_t)(sv->rnd >> 32);
}

static void sv_status(Supervisor *sv, const char *fmt, ...) _printf_(2, 3);
static void sv_status(Supervisor *sv, const char *fmt, ...) {
        char line[256];
        va_list ap;

        if (!sv->hooks.on_status)
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        sv->hooks.on_status(line, sv->hooks.userdata);
}

static const SupervisorOptions *cfg(Service *s) {
        return &s->sv->o;
}

static bool deps_ready(Service *s) {
        for (size_t i = 0; i < s->n_deps; i++)
                if (s->sv->services[s->deps[i]].state != SERVICE_READY)
                        return false;
        return true;
}

static SvInput service_input(Service *s) {
        const SupervisorOptions *c = cfg(s);
        RestartPolicy p = s->def->restart;

        return (SvInput){
                .want = s->want,
                .deps_ready = deps_ready(s),
                .over_budget = sv_over_budget(s->starts, c->restart_burst, c->restart_burst,
                                              (usec_t)c->restart_window_s * USEC_PER_SEC,
                                              now(CLOCK_MONOTONIC)),
                .restart = p == RESTART_ALWAYS || (p == RESTART_ON_FAILURE && !s->clean_exit),
                .restarting = s->restarting,
                .quits_idle = s->idle_quits > IDLE_QUITS_AT_ONCE,
        };
}

static void service_kill(Service *s, int sig) {
        if (s->pid > 0)
                launch_signal(s->pid, sig);
}

/* The timer due at usec, CLOCK_MONOTONIC. */
static int arm_timer_at(Service *s, usec_t usec) {
        int r = sd_event_source_set_time(s->timer, usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to arm the %s timer of %s: %m",
                                service_state_to_string(s->state), s->def->name);
        return r;
}

/* The timer due usec from the event loop's last wake-up. */
static int arm_timer(Service *s, usec_t usec) {
        uint64_t t;

        if (sd_event_now(sd_event_source_get_event(s->timer), CLOCK_MONOTONIC, &t) < 0)
                t = now(CLOCK_MONOTONIC);
        return arm_timer_at(s, usec_add(t, usec));
}

static void on_enter_ready(Service *s) {
        Supervisor *sv = s->sv;
        size_t ready = 0;

        s->last_error[0] = '\0';
        s->ready_boottime = now(CLOCK_BOOTTIME);
        s->ready_usec = now(CLOCK_MONOTONIC);
        for (size_t i = 0; i < sv->n; i++)
                ready += sv->services[i].state == SERVICE_READY;
        log_info("Service %s ready (pid %d) %.1f ms after spawn.", s->def->name, (int)s->pid,
                 (double)(now(CLOCK_MONOTONIC) - s->spawn_usec) / USEC_PER_MSEC);
        sv_status(sv, "%s ready (%zu/%zu)", s->def->name, ready, sv->n);
}

/* Ready for longer than the longest restart delay: a service that dies
 * right after its probe passes (or that has none) did not run fine. */
static bool ran_fine(Service *s) {
        return s->ready_usec != 0 &&
               now(CLOCK_MONOTONIC) - s->ready_usec >= (usec_t)cfg(s)->backoff_max_ms * USEC_PER_MSEC;
}

static void on_enter_backoff(Service *s) {
        const SupervisorOptions *c = cfg(s);
        usec_t max = (usec_t)c->backoff_max_ms * USEC_PER_MSEC, d;

        /* Back to the first delay only after it ran fine. */
        if (ran_fine(s))
                s->failures = 0;
        s->ready_usec = 0;
        d = sv_backoff_usec((usec_t)c->backoff_initial_ms * USEC_PER_MSEC, max, s->failures++,
                            sv_random(s->sv));

        log_notice("Service %s: restarting in %.0f ms.", s->def->name, (double)d / USEC_PER_MSEC);
        (void)arm_timer(s, d);
}

/* retry: the machine asked for a retry after the recovery delay
 * (RETRY_LATER), which failed_retry_s 0 turns off. */
static void on_enter_failed(Service *s, bool retry) {
        char cause[sizeof s->last_error], again[64] = "";
        uint32_t delay_s = cfg(s)->failed_retry_s;

        /* Over budget: keep the cause of the last failure, say we gave up.
         * A missing binary is its own reason: no retries were made. */
        if (!s->not_found) {
                snprintf(cause, sizeof cause, "%s", s->last_error);
                snprintf(s->last_error, sizeof s->last_error, "%.440s%sgave up after %u starts in %u s", cause,
                         cause[0] ? "; " : "", cfg(s)->restart_burst, cfg(s)->restart_window_s);
        }
        /* One line per failure, naming when it is tried again: the retry
         * logs one more, so a cause that stays costs two lines (and the
         * budget's starts) per delay, not a flood. */
        if (retry && delay_s > 0 && arm_timer(s, (usec_t)delay_s * USEC_PER_SEC) >= 0)
                snprintf(again, sizeof again, "; trying again in %" PRIu32 " s", delay_s);
        log_error("Service %s failed: %s%s", s->def->name, s->last_error, again);
        sv_status(s->sv, "%s failed: %s%s", s->def->name, s->last_error, again);
}

/* Leaving FAILED by a start, asked for or the retry: the budget and the
 * backoff start again, and the reason it failed is no longer current. */
static void service_fresh_budget(Service *s) {
        memset(s->starts, 0, sizeof *s->starts * cfg(s)->restart_burst);
        s->failures = 0;
        s->last_error[0] = '\0';
}

static uint32_t ready_timeout_ms(Service *s) {
        return s->def->ready_timeout_ms ?: cfg(s)->ready_timeout_ms;
}

static unsigned ready_extensions_max(Service *s) {
        return ((READY_EXTENSIONS_MAX + 1) << s->ready_doublings) - 1;
}

/* The CPU time of the current start: its cgroup's, which counts what the
 * main process started (Firefox's content processes, a wrapper's
 * children), else the main process's alone. */
static int service_cpu_usec(Service *s, uint64_t *ret) {
        if (cgroup_cpu_usec(s->cgroup, ret) >= 0)
                return 0;
        return spawn_cpu_usec(s->pid, ret);
}

/* The setting its memory.max comes from, to raise. */
static const char *memory_max_key(Service *s) {
        return s->def->memory_max_key ?: "its memory_max_mb in the services_file";
}

/* Why a start that is not ready may be busy for nothing: its cgroup
 * kept reaching its memory.max and reading back what the kernel evicted
 * (memory_pressure_to_string()), into buf; "" when not, or without a
 * limit. */
static const char *service_memory_pressure(Service *s, char *buf, size_t size) {
        LaunchMemory mem;

        cgroup_memory_since(s->cgroup, &s->memory, &mem);
        return memory_pressure_to_string(&mem, memory_max_key(s), buf, size);
}

/* At the ready timeout: 1 if the child kept the CPU busy during the period
 * that just ended and may have more time, 0 if not.  Busy at its last
 * period, it doubles the periods of the service's later starts. */
static int ready_timeout_extend(Service *s) {
        usec_t period = (usec_t)ready_timeout_ms(s) * USEC_PER_MSEC;
        uint64_t cpu, used;

        if (s->pid <= 0 || service_cpu_usec(s, &cpu) < 0)
                return 0;
        used = cpu - MIN(cpu, s->ready_cpu_usec);
        s->ready_cpu_usec = cpu;
        if (used < MAX(period / 100, READY_BUSY_MIN_USEC))
                return 0;
        if (s->ready_extensions >= ready_extensions_max(s)) {
                if (s->ready_doublings < READY_DOUBLINGS_MAX) {
                        s->ready_doublings++;
                        log_notice("Service %s: still busy at its last period, its later starts get %u periods of %u ms.",
                                   s->def->name, ready_extensions_max(s) + 1, ready_timeout_ms(s));
                }
                return 0;
        }
        s->ready_extensions++;
        /* Once a period: a start crawling at its memory.max says so at
         * each, not only at its end. */
        char memory[MEMORY_PRESSURE_MAX];
        service_memory_pressure(s, memory, sizeof memory);
        log_notice("Service %s: not ready after %llu ms but busy (%.0f ms CPU), waiting %u ms more (%u/%u)%s%s.",
                   s->def->name, (unsigned long long)ready_timeout_ms(s) * s->ready_extensions,
                   (double)used / USEC_PER_MSEC,
                   ready_timeout_ms(s), s->ready_extensions, ready_extensions_max(s), memory[0] ? "; " : "",
                   memory);
        return arm_timer(s, period) >= 0;
}

static int on_memory_events(sd_event_source *src, const struct inotify_event *ev, void *userdata);

static void memory_watch_stop(Service *s) {
        s->memory_watch = sd_event_source_disable_unref(s->memory_watch);
}

static usec_t memory_period(Service *s) {
        return cfg(s)->memory_period_ms ? (usec_t)cfg(s)->memory_period_ms * USEC_PER_MSEC : SV_MEMORY_PERIOD_USEC;
}

/* Its memory.events' "max" counter and memory.stat's refaults, the
 * first file watched first (a change after the read is not missed): 0,
 * or -errno with the watch stopped. */
static int memory_watch_counters(Service *s, SvMemoryCounters *ret) {
        CgroupOom o;
        uint64_t refaults;
        int stall = -1, r = 0;

        if (!s->memory_watch)
                r = cgroup_memory_events_watch(s->cgroup, s->sv->o.event, on_memory_events, s, &s->memory_watch);
        if (r >= 0)
                r = cgroup_oom_events(s->cgroup, &o);
        if (r >= 0)
                r = cgroup_memory_refaults(s->cgroup, &refaults);
        /* Unreadable or not the kernel's form: as without PSI, no kill. */
        if (r >= 0 && cgroup_memory_stall(s->cgroup, &stall) < 0)
                stall = -1;
        if (r < 0) {
                memory_watch_stop(s);
                return log_warning_errno(r, "Service %s: its memory.events and memory.stat cannot be watched, a "
                                         "memory.max it keeps reaching will not be said: %m", s->def->name);
        }
        *ret = (SvMemoryCounters){ .reclaims = o.reclaims, .refaults = refaults, .stall = stall };
        return 0;
}

/* It thrashed at its memory.max for memory_thrash_kill_s (k, the stall
 * now): all of its cgroup SIGKILLed, as the OOM killer would with
 * memory.oom.group (its process group too: all there is without the
 * kernel's cgroup.kill); its exit says why, and it is restarted as
 * after an OOM kill. */
static void memory_thrash_kill(Service *s, const SvMemoryLine *k, int stall) {
        char line[512];

        sv_memory_kill_to_string(s->memory.max, k, s->agent_kill, sizeof s->agent_kill);
        log_warning("%s", sv_memory_kill_line_to_string(s->def->name, s->memory.max, k, stall, memory_max_key(s),
                                                        line, sizeof line));
        if (cgroup_kill_all(s->cgroup) < 0)
                log_warning("Service %s: its cgroup cannot be killed, only its process group is.", s->def->name);
        service_kill(s, SIGKILL);
}

/* READY: its memory.events changed, or its timer (the next read) is due.
 * A line when it keeps reaching its memory.max and reading back what was
 * evicted, the kill when it thrashed so long (memory_thrash_kill_s);
 * while it reaches it, read again on the timer, not at each change (up
 * to 100 a second). */
static void memory_watch_read(Service *s) {
        SvMemoryStep p = { .period = memory_period(s), .interval = SV_MEMORY_INTERVAL_USEC,
                           .kill_after = (usec_t)cfg(s)->memory_thrash_kill_ms * USEC_PER_MSEC };
        SvMemoryCounters c;
        SvMemoryLine l, k;
        char line[384];
        usec_t next, t;

        if (memory_watch_counters(s, &c) < 0)
                return;
        t = now(CLOCK_MONOTONIC);
        next = sv_memory_step(&s->memory_run, c, t, &p, &l, &k);
        if (l.reclaims > 0)
                log_notice("%s", sv_memory_line_to_string(s->def->name, s->memory.max, &l, c.stall, memory_max_key(s), line,
                                                          sizeof line));
        if (k.reclaims > 0) {
                memory_watch_stop(s);
                memory_thrash_kill(s, &k, c.stall);
                return;
        }
        if (next == 0)
                return;
        memory_watch_stop(s);
        log_debug("Service %s: reached its memory.max, reading memory.events again in %llu ms.", s->def->name,
                  (unsigned long long)(next / USEC_PER_MSEC));
        /* From this read's time, not the loop's wake-up before it: the
         * next read comes a whole period after this one, which the span
         * of a thrash kill counts on. */
        (void)arm_timer_at(s, usec_add(t, next));
}

static int on_memory_events(sd_event_source *src, const struct inotify_event *ev, void *userdata) {
        memory_watch_read(userdata);
        return 0;
}

/* Entering READY: where it has a memory.max, its reaching it is watched
 * from now on (what it counted before is not rising). */
static void memory_watch_start(Service *s) {
        SvMemoryCounters c;

        if (!s->cgroup || s->memory.max == 0 || memory_watch_counters(s, &c) < 0)
                return;
        s->memory_run = sv_memory_watch_init(c);
}

/* actions: the transition's (SvAction bits), for what entering new depends on. */
static void service_set_state(Service *s, ServiceState new, unsigned actions) {
        ServiceState old = s->state;
        uint32_t ms;

        (void)sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
        if (old == SERVICE_STARTING)
                s->probe = probe_free(s->probe);
        if (old == SERVICE_READY)
                memory_watch_stop(s);
        s->state = new;
        log_debug("Service %s: %s → %s", s->def->name, service_state_to_string(old),
                  service_state_to_string(new));
        switch (new) {
        case SERVICE_STARTING:
                s->ready_cpu_usec = 0; /* not spawned yet: counted from 0 */
                s->ready_extensions = 0;
                ms = ready_timeout_ms(s);
                if (ms > 0)
                        (void)arm_timer(s, (usec_t)ms * USEC_PER_MSEC);
                break;
        case SERVICE_STOPPING:
                ms = s->def->stop_timeout_ms ?: cfg(s)->stop_timeout_ms;
                (void)arm_timer(s, (usec_t)ms * USEC_PER_MSEC);
                break;
        case SERVICE_READY:
                on_enter_ready(s);
                memory_watch_start(s);
                break;
        case SERVICE_BACKOFF:
                on_enter_backoff(s);
                break;
        case SERVICE_FAILED:
                on_enter_failed(s, actions & SV_ACTION_RETRY_LATER);
                break;
        default:
                break;
        }
}

static void on_probe_ready(Probe *p, void *userdata) {
        service_event(userdata, SV_EVENT_PROBE_OK);
}

/* An on-demand service's exit 0 after it was ready, which its policy
 * does not restart: a normal end (the browser closed), not an error to
 * keep in /health.  Exit 0 before ready stays one (it never came up). */
static bool ended_normally(const Service *s) {
        return s->def->on_demand && s->state == SERVICE_READY && s->clean_exit &&
               s->def->restart != RESTART_ALWAYS && !s->def->quit_restarts;
}

/* What the main process (pid, its process group's leader) left in its
 * cgroup goes with it, one that left its process group too (setsid()).
 * The count is of those only: the group's SIGKILL, just before, hit the
 * others, which may take a while to exit (Firefox's content processes)
 * and did not escape. */
static void service_kill_cgroup(Service *s, pid_t pid) {
        int n;

        if (!s->cgroup)
                return;
        n = cgroup_kill(s->cgroup, pid);
        if (n < 0)
                log_warning_errno(n, "Service %s: failed to kill what is left in its cgroup: %m", s->def->name);
        else if (n > 0)
                log_notice("Service %s: killed %d process%s left in its cgroup.", s->def->name, n,
                           n == 1 ? "" : "es");
}

/* Closed (see quit_restarts): no error to report, and started again as
 * a restart is, outside the budget (restarting: at once, or after a
 * backoff when it quits by itself, IDLE_QUITS_AT_ONCE), however soon
 * after ready.  One that exits 0 at every start does so before ready,
 * and its policy and budget bound it. */
static void service_closed(Service *s, pid_t pid) {
        if (ran_fine(s))
                s->idle_quits = 0;
        s->restarting = true;
        if (++s->idle_quits <= IDLE_QUITS_AT_ONCE)
                log_info("Service %s (pid %d) quit (%s), starting it again.", s->def->name, (int)pid, s->last_exit);
        else
                log_notice("Service %s (pid %d) quit (%s), %u times since it was last used: starting it again "
                           "after a backoff.", s->def->name, (int)pid, s->last_exit, s->idle_quits);
}

static void on_child_exit(pid_t pid, int wstatus, void *userdata) {
        Service *s = userdata;
        LaunchMemory mem;

        /* Read before its cgroup is killed and removed: its OOM kills,
         * all that its exit says of its memory. */
        cgroup_memory_events_since(s->cgroup, &s->memory, &mem);
        exit_to_string(wstatus, s->memory.max ? &mem : NULL, s->last_exit, sizeof s->last_exit);
        /* Ours: a SIGKILL that says nothing else.  Not when it ended
         * otherwise first (a crash, an exit, its SIGCHLD still queued at
         * our kill), nor when the kernel's OOM killer killed in its cgroup
         * meanwhile: those say more. */
        if (s->agent_kill[0] && WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL && mem.oom_kills == 0)
                snprintf(s->last_exit, sizeof s->last_exit, "%s", s->agent_kill);
        s->agent_kill[0] = '\0';
        /* An exit after our SIGTERM says nothing of its health: when the
         * policy is asked about it, the stop was for its ready timeout, a
         * failure whatever the status (a TERM trap's exit 0 included). */
        s->clean_exit = s->state != SERVICE_STOPPING && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
        s->pid = 0;
        /* Whatever the leader left behind in its group goes with it, so a
         * restart starts from nothing. */
        (void)kill(-pid, SIGKILL);
        if (s->state == SERVICE_STOPPING)
                log_info("Service %s stopped (%s).", s->def->name, s->last_exit);
        else if (ended_normally(s))
                /* Quit by someone (the person closed the browser, or it
                 * was done): it ended as it should, nothing failed. */
                log_info("Service %s (pid %d) quit (%s).", s->def->name, (int)pid, s->last_exit);
        else if (s->state == SERVICE_READY && s->clean_exit && s->want && s->def->quit_restarts)
                service_closed(s, pid);
        else {
                /* 127 is a shell's "command not found" (a wrapper's
                 * command, or the interpreter of a script it runs), and
                 * our child's when its exec found nothing after spawn
                 * stopped waiting for it (SPAWN_EXEC_WAIT_USEC; before,
                 * that is a failed spawn): the binary itself was found (a
                 * missing one never gets this far), so this is an exit
                 * like any other, retried alike. */
                snprintf(s->last_error, sizeof s->last_error, "%s%s%s", s->last_exit,
                         s->state == SERVICE_STARTING ? " before ready" : "",
                         WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 127 ?
                                 ": a command or interpreter not found" : "");
                log_warning("Service %s (pid %d) %s.", s->def->name, (int)pid, s->last_exit);
        }
        /* Before the event, which may start it again in the same cgroup. */
        service_kill_cgroup(s, pid);
        service_event(s, SV_EVENT_EXITED);
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Service *s = userdata;
        char memory[MEMORY_PRESSURE_MAX];

        switch (s->state) {
        case SERVICE_STARTING:
                if (ready_timeout_extend(s) > 0)
                        break;
                service_memory_pressure(s, memory, sizeof memory);
                snprintf(s->last_error, sizeof s->last_error, "not ready after %llu ms%s%s%.120s%s%s",
                         (unsigned long long)ready_timeout_ms(s) * (s->ready_extensions + 1),
                         s->ready_extensions > 0 ? " (extended while busy)" : "",
                         s->probe && *probe_last_error(s->probe) ? ": " : "",
                         s->probe ? probe_last_error(s->probe) : "", memory[0] ? "; " : "", memory);
                log_warning("Service %s: %s", s->def->name, s->last_error);
                service_event(s, SV_EVENT_READY_TIMEOUT);
                break;
        case SERVICE_STOPPING:
                log_warning("Service %s did not stop in time, killing its process group.", s->def->name);
                service_event(s, SV_EVENT_STOP_TIMEOUT);
                break;
        case SERVICE_BACKOFF:
                service_event(s, SV_EVENT_BACKOFF_DONE);
                break;
        case SERVICE_FAILED:
                service_event(s, SV_EVENT_RETRY);
                break;
        case SERVICE_READY:
                memory_watch_read(s);
                break;
        default:
                break;
        }
        return 0;
}

static void on_output_line(void *userdata) {
        Service *s = userdata;

        if (s->state == SERVICE_STARTING)
                probe_kick(s->probe);
}

static const char *const *output_secrets(void *userdata) {
        Supervisor *sv = ((Service *)userdata)->sv;

        return sv->hooks.secrets ? sv->hooks.secrets(sv->hooks.userdata) : NULL;
}

/* A spawn that came to nothing (r < 0): its child, when there is one,
 * SIGKILLed with what it started already (unwatched, its exit would
 * never reach us), and its cgroup not left for the agent's life (a
 * missing binary is found only now, and is never retried; a child that
 * failed before its exec was reaped already).  Returns r. */
static int spawn_undo(Service *s, int r) {
        service_kill(s, SIGKILL);
        s->pid = 0;
        if (s->cgroup)
                (void)cgroup_kill(s->cgroup, 0);
        return r;
}

/* The service's memory.max (memory_max_mb) on its cgroup, made, where
 * the memory controller is; one that cannot be set is logged, and it
 * runs without (its oom_score_adj is then all there is).  Else none,
 * as for a login's cgroup: one taken over keeps no limit an agent
 * before left there. */
static void service_limit_memory(Service *s) {
        uint64_t bytes = s->sv->o.memory ? (uint64_t)s->def->memory_max_mb << 20 : 0;
        int r = cgroup_memory_limit(s->cgroup, bytes, &s->memory);

        if (r < 0 && bytes)
                log_warning_errno(r, "Service %s: no memory.max in its cgroup: %m", s->def->name);
        else if (r < 0)
                log_warning_errno(r, "Service %s: cannot lift the memory.max an agent before left in its cgroup: %m",
                                  s->def->name);
}

/* Spawns with stdout+stderr on a pipe we log, and for a displayfd probe a
 * second pipe as the child's fd 3.  -ENOENT and why "": the binary is
 * missing; a step in the child that failed (its exec, the drop to its
 * user, its cgroup): -errno, and why says which (SpawnOptions.error). */
static int service_spawn_process(Service *s, uid_t uid, gid_t gid, int *ret_probe_fd, char *why,
                                 size_t why_size) {
        _cleanup_(closep) int out_r = -EBADF, out_w = -EBADF, dfd_r = -EBADF, dfd_w = -EBADF;
        _cleanup_(strv_freep) char **argv = NULL, **env = NULL;
        const char *cgroup_procs = NULL;
        int p[2], r;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        out_r = p[0], out_w = p[1];
        if (probe_is_fd(s->def->probe.type)) {
                if (pipe2(p, O_CLOEXEC) < 0)
                        return -errno;
                dfd_r = p[0], dfd_w = p[1];
        }
        argv = strv_concat(s->def->argv, s->extra_argv);
        env = service_def_env(s->def, cfg(s)->bin_path, environ);
        if (!argv || !env)
                return -ENOMEM;
        s->memory = (CgroupMemory){};
        if (s->cgroup && (r = cgroup_make(s->cgroup, &cgroup_procs)) < 0)
                log_warning_errno(r, "Service %s: no cgroup of its own, only its process group is killed: %m",
                                  s->def->name);
        if (cgroup_procs)
                service_limit_memory(s);

        r = spawn_process(&(SpawnOptions){ .argv = argv, .envp = env, .path = cfg(s)->bin_path,
                                           .cwd = s->def->cwd, .stdin_fd = sv_stdin_fd(s->def), .stdout_fd = out_w,
                                           .stderr_fd = out_w, .extra_fd = dfd_w, .uid = uid, .gid = gid,
                                           .ambient_caps = s->def->ambient_caps,
                                           .max_procs = s->def->max_procs, .extra_gid = s->def->extra_gid,
                                           .oom_score_adj = s->def->oom_score_adj,
                                           /* A service of its own user (the display chain faces the
                                            * network and every web page) gains nothing from a setuid
                                            * binary of the image; a root one is the operator's. */
                                           .no_new_privs = uid != 0, .cgroup_procs = cgroup_procs,
                                           .error = why, .error_size = why_size },
                          &pid);
        if (r < 0)
                return spawn_undo(s, r);
        s->pid = pid;
        s->spawns_uncounted += !cgroup_procs;
        /* A cgroup taken over from a start before may have counted CPU
         * already: the ready timeout's periods count from here. */
        (void)cgroup_cpu_usec(s->cgroup, &s->ready_cpu_usec);
        r = children_watch(s->sv->o.children, pid, on_child_exit, s);
        if (r < 0)
                return spawn_undo(s, r);
        s->output = sv_output_free(s->output);
        r = sv_output_new(s->sv->o.event, TAKE_FD(out_r), s->def->name, on_output_line, output_secrets, s,
                          (const char *const *)s->def->quiet_output, &s->output);
        if (r < 0)
                log_warning_errno(r, "Service %s: cannot read its output: %m", s->def->name);
        *ret_probe_fd = TAKE_FD(dfd_r);
        return 0;
}

/* Its user, when it has one: 0 and uid/gid (0/0 without a user), or
 * -errno with last_error set; not_found for a user that is missing or
 * root (retrying will not help). */
static int service_user(Service *s, uid_t *uid, gid_t *gid) {
        int r;

        *uid = 0;
        *gid = 0;
        if (!s->def->user)
                return 0;
        r = sv_user_lookup(cfg(s)->passwd_path, s->def->user, uid, gid, s->last_error, sizeof s->last_error);
        s->not_found = r == -ESRCH || r == -EPERM;
        return r;
}

/* The spawn failed with r, why saying what failed in the child (""
 * before the fork): last_error says so.  A script whose interpreter is
 * missing fails its exec with ENOENT too: that is no missing binary but
 * a spawn that failed, retried as any.  Returns r. */
static int spawn_failed(Service *s, int r, const char *why) {
        s->not_found = r == -ENOENT && !why[0];
        if (s->not_found)
                snprintf(s->last_error, sizeof s->last_error, "%s: not found", s->def->argv[0]);
        else if (why[0])
                snprintf(s->last_error, sizeof s->last_error, "%s", why);
        else
                snprintf(s->last_error, sizeof s->last_error, "spawn: %s", strerror(-r));
        return r;
}

static int service_spawn(Service *s) {
        const SupervisorOptions *c = cfg(s);
        char why[sizeof s->last_error] = "";
        int probe_fd = -EBADF, r;
        uid_t uid;
        gid_t gid;

        /* The budget is for restarts after failures: a start asked for
         * (a browser opened per login), a restart asked for (new secrets)
         * and a dependent's after its dependency came back do not use it
         * up. */
        if (c->restart_burst > 0 && !s->asked && !s->restarting) {
                s->starts[s->starts_next] = now(CLOCK_MONOTONIC);
                s->starts_next = (s->starts_next + 1) % c->restart_burst;
        }
        s->spawn_usec = now(CLOCK_MONOTONIC);
        s->ready_usec = 0;
        s->restarting = false;
        s->asked = false;
        r = service_user(s, &uid, &gid);
        if (r < 0)
                return r;
        /* Written once, at the agent's start, for the uid then: starting
         * again will not bring them. */
        r = sv_check_owned_files(s->def, uid, s->last_error, sizeof s->last_error);
        s->not_found = r < 0;
        if (r < 0)
                return r;
        sv_prepare(s->def, uid, gid);

        r = service_spawn_process(s, uid, gid, &probe_fd, why, sizeof why);
        if (r < 0)
                return spawn_failed(s, r, why);
        /* Counted once a process exists: /health's restarts are processes
         * started again, not attempts that found no binary, user or file
         * (the budget above counts those: they are failed starts). */
        s->spawns++;
        if (s->def->user)
                log_info("Service %s started (pid %d, as %s).", s->def->name, (int)s->pid, s->def->user);
        else
                log_info("Service %s started (pid %d).", s->def->name, (int)s->pid);
        if (s->def->probe.type == PROBE_NONE)
                return 0; /* ready now: the caller feeds PROBE_OK */

        r = probe_start(s->sv->o.event, &s->def->probe, probe_fd, on_probe_ready, s, &s->probe);
        if (r < 0) {
                /* The ready timeout will stop it; say why meanwhile. */
                snprintf(s->last_error, sizeof s->last_error, "readiness probe: %s", strerror(-r));
                log_warning("Service %s: %s", s->def->name, s->last_error);
        }
        return 0;
}

static void notify_dependents(Service *s, bool up) {
        Supervisor *sv = s->sv;

        for (size_t i = s->index + 1; i < sv->n; i++) {
                Service *d = &sv->services[i];
                bool depends = false;
                for (size_t k = 0; k < d->n_deps && !depends; k++)
                        depends = d->deps[k] == s->index;
                if (!depends)
                        continue;
                if (!up) {
                        /* Stopped for its dependency, not for its own
                         * fault: once it exited it starts again as soon as
                         * the dependency is back, without a backoff. */
                        if (d->state == SERVICE_STARTING || d->state == SERVICE_READY)
                                d->restarting = d->want;
                        service_event(d, SV_EVENT_DEP_LOST);
                } else if (deps_ready(d))
                        service_event(d, SV_EVENT_DEPS_READY);
        }
}

static void supervisor_check(Supervisor *sv);

static void service_event(Service *s, SvEvent ev) {
        Supervisor *sv = s->sv;

        sv->depth++;
        while (ev >= 0) {
                SvInput in = service_input(s);
                SvTransition t = sv_next(s->state, ev, &in);
                int r;

                log_debug("Service %s: event %s in %s", s->def->name, sv_event_to_string(ev),
                          service_state_to_string(s->state));
                if (ev == SV_EVENT_RETRY && t.state != s->state)
                        log_notice("Service %s: trying again, %" PRIu32 " s after it failed, with a fresh start budget.",
                                   s->def->name, cfg(s)->failed_retry_s);
                ev = _SV_EVENT_INVALID;
                if (t.state != s->state)
                        service_set_state(s, t.state, t.actions);
                if (t.actions & SV_ACTION_FRESH_BUDGET)
                        service_fresh_budget(s);
                if (t.actions & SV_ACTION_TERM)
                        service_kill(s, SIGTERM);
                if (t.actions & SV_ACTION_KILL)
                        service_kill(s, SIGKILL);
                if (t.actions & SV_ACTION_SPAWN) {
                        r = service_spawn(s);
                        s->spawn_error = MIN(r, 0);
                        if (r < 0) {
                                log_error("Service %s: %s", s->def->name, s->last_error);
                                ev = s->not_found ? SV_EVENT_NOT_FOUND : SV_EVENT_SPAWN_FAILED;
                        } else if (s->def->probe.type == PROBE_NONE)
                                ev = SV_EVENT_PROBE_OK; /* ready once spawned, before any exit */
                }
                if (t.actions & SV_ACTION_NOTIFY_UP)
                        notify_dependents(s, true);
                if (t.actions & SV_ACTION_NOTIFY_DOWN)
                        notify_dependents(s, false);
        }
        if (--sv->depth == 0)
                supervisor_check(sv);
}

/* No process of it runs, and none will unless asked. */
static bool service_down(const Service *s) {
        return s->pid == 0 && s->state != SERVICE_STARTING && s->state != SERVICE_READY &&
               s->state != SERVICE_STOPPING;
}

/* Reverse dependency order: a service is told to stop once every service
 * that depends on it is down. */
static bool stop_all_progress(Supervisor *sv) {
        bool all_down = true;

        for (size_t i = sv->n; i-- > 0;) {
                Service *s = &sv->services[i];
                bool dependents_down = true;

                if (s->state == SERVICE_INACTIVE || s->state == SERVICE_FAILED)
                        continue;
                all_down = false;
                if (s->state == SERVICE_STOPPING)
                        continue;
                for (size_t j = i + 1; j < sv->n && dependents_down; j++)
                        for (size_t k = 0; k < sv->services[j].n_deps; k++)
                                if (sv->services[j].deps[k] == i && !service_down(&sv->services[j]))
                                        dependents_down = false;
                if (dependents_down)
                        service_event(s, SV_EVENT_STOP);
        }
        return all_down;
}

static void check_chain(Supervisor *sv) {
        char reason[128];
        bool ready = supervisor_chain_ready(sv, reason, sizeof reason);

        if (ready == sv->chain_ready)
                return;
        sv->chain_ready = ready;
        if (ready) {
                log_info("Display chain ready (%.1f ms after boot).",
                         (double)now(CLOCK_BOOTTIME) / USEC_PER_MSEC);
                sv_status(sv, "Display chain ready");
        } else if (!sv->stopping_all) {
                log_notice("Display chain not ready: %s", reason);
                sv_status(sv, "Degraded: %s", reason);
        }
}

static void supervisor_check(Supervisor *sv) {
        if (sv->in_check) {
                sv->check_again = true;
                return;
        }
        sv->in_check = true;
        do {
                sv->check_again = false;
                check_chain(sv);
                if (sv->hooks.on_change)
                        sv->hooks.on_change(sv->hooks.userdata);
                if (sv->stopping_all && stop_all_progress(sv) && sv->stop_done) {
                        void (*done)(void *) = TAKE_PTR(sv->stop_done);
                        log_info("All services stopped.");
                        done(sv->stop_userdata);
                }
        } while (sv->check_again);
        sv->in_check = false;
}

/* µs until a FAILED service's retry (at least 1: due, not yet run); 0 when
 * none will come: none was armed, or it was stopped since (its RETRY
 * would leave it failed). */
static usec_t service_retry_in(const Service *s) {
        uint64_t at;
        usec_t n;
        int enabled = SD_EVENT_OFF;

        if (s->state != SERVICE_FAILED || !s->want ||
            sd_event_source_get_enabled(s->timer, &enabled) < 0 || enabled == SD_EVENT_OFF ||
            sd_event_source_get_time(s->timer, &at) < 0)
                return 0;
        n = now(CLOCK_MONOTONIC);
        return at > n ? at - n : 1;
}

/* ---- Public API ---- */

size_t supervisor_n_services(Supervisor *sv) {
        return sv ? sv->n : 0;
}

int supervisor_get_status(Supervisor *sv, size_t i, ServiceStatus *ret) {
        const Service *s;

        if (!sv || i >= sv->n)
                return -ERANGE;
        s = &sv->services[i];
        *ret = (ServiceStatus){
                .name = s->def->name,
                .user = s->def->user,
                .state = s->state,
                .pid = s->pid,
                .restarts = s->spawns > 0 ? s->spawns - 1 : 0,
                .spawned = s->spawns > 0,
                .not_found = s->not_found,
                .last_exit = s->last_exit[0] ? s->last_exit : NULL,
                .last_error = s->last_error[0] ? s->last_error : NULL,
                .ready_boottime = s->ready_boottime,
                .retry_in = service_retry_in(s),
                .on_demand = s->def->on_demand,
                /* Only an exit leaves a wanted service INACTIVE: a start
                 * goes to STARTING or WAITING at once. */
                .ended = s->want && s->state == SERVICE_INACTIVE,
        };
        return 0;
}

int supervisor_service_cpu(Supervisor *sv, size_t i, ServiceCpu *ret) {
        Service *s;
        unsigned unread;

        if (!sv || i >= sv->n)
                return -ERANGE;
        s = &sv->services[i];
        *ret = (ServiceCpu){ .counted = !!s->cgroup };
        cgroup_cpu_total(s->cgroup, &ret->usec, &unread);
        ret->unknown = (uint64_t)s->spawns_uncounted + unread;
        return 0;
}

/* "x11vnc: starting", "Xvfb: failed (Xvfb: not found)": why s is not ready. */
static void service_describe(const Service *s, char *reason, size_t size) {
        if (s->last_error[0] && s->state != SERVICE_STARTING)
                snprintf(reason, size, "%s: %s (%s)", s->def->name, service_state_to_string(s->state),
                         s->last_error);
        else
                snprintf(reason, size, "%s: %s", s->def->name, service_state_to_string(s->state));
}

bool supervisor_chain_ready(Supervisor *sv, char *reason, size_t size) {
        for (size_t i = 0; sv && i < sv->n; i++) {
                const Service *s = &sv->services[i];
                if (s->def->on_demand || s->state == SERVICE_READY)
                        continue;
                service_describe(s, reason, size);
                return false;
        }
        if (size > 0)
                reason[0] = '\0';
        return true;
}

static Service *service_find(Supervisor *sv, const char *name) {
        int i = service_defs_find(&sv->defs, name);
        return i < 0 ? NULL : &sv->services[i];
}

/* A copy of extra_argv (may be NULL) in place of what s's spawns append. */
static int service_set_extra_argv(Service *s, char *const *extra_argv) {
        char **copy = NULL;

        if (extra_argv && !(copy = strv_concat(extra_argv, NULL)))
                return -ENOMEM;
        strv_free(s->extra_argv);
        s->extra_argv = copy;
        return 0;
}

/* Now rather than when its dependencies are ready: a service that
 * cannot run as its user is failed with the reason, not left waiting,
 * and the caller hears it (-errno).  0: its user is there. */
static int service_check_user(Service *s) {
        uid_t uid;
        gid_t gid;
        int r = service_user(s, &uid, &gid);

        if (r >= 0 || !s->not_found)
                return 0;
        log_error("Service %s: %s", s->def->name, s->last_error);
        service_event(s, SV_EVENT_NOT_FOUND);
        /* Already failed (it stays so): a retry armed before would only
         * fail the same way, and /health would promise it. */
        if (s->state == SERVICE_FAILED)
                (void)sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
        return r;
}

int supervisor_start_service(Supervisor *sv, const char *name, char *const *extra_argv) {
        Service *s = service_find(sv, name);
        int r;

        if (!s)
                return -ENOENT;
        if (sv->stopping_all)
                return -ESHUTDOWN;
        if (s->state == SERVICE_STARTING || s->state == SERVICE_READY)
                return -EALREADY;
        r = service_check_user(s);
        if (r < 0)
                return r;
        /* Backing off after a spawn that failed (no process: fork, a pipe,
         * a binary it may not run): the restart it would wait for is no
         * likelier to spawn, and a caller waiting for it (a URL deferred
         * to that restart, asking again at the change) must hear that it
         * failed, and why (last_error), not wait on for the next one. */
        if (s->state == SERVICE_BACKOFF && s->spawn_error < 0)
                return s->spawn_error;
        r = service_set_extra_argv(s, extra_argv);
        if (r < 0)
                return r;
        s->want = true;
        /* In a backoff the next spawn is the restart after its exit, and
         * waiting the spawn once its dependencies are ready, with the argv
         * set here: the start changes nothing else (the table's BACKOFF x
         * START, WAITING x START), so no event, and no change reported to
         * a caller that asks again at each change. */
        if (s->state == SERVICE_BACKOFF || s->state == SERVICE_WAITING)
                return 1;
        s->asked = true;
        /* Still stopping (a browser closed after a login, opened again for
         * the next): it starts again once it exited, as a restart does,
         * not after a backoff as if its exit were a failure.  Nothing is
         * spawned yet, and may not be then (its dependencies gone, the
         * spawn failing): 1, as in a backoff, and on_change says when. */
        if (s->state == SERVICE_STOPPING) {
                s->restarting = true;
                return 1;
        }
        s->spawn_error = 0;
        service_event(s, SV_EVENT_START);
        /* Its dependencies are not ready: nothing spawned yet, and the
         * caller must not take it for a start that did. */
        if (s->state == SERVICE_WAITING)
                return 1;
        /* Spawned now (nothing to wait for) and that failed: the caller
         * hears it, not a start that never came (last_error says why). */
        return s->spawn_error;
}

int supervisor_service_waits_for(Supervisor *sv, const char *name, char *reason, size_t size) {
        Service *s = service_find(sv, name);

        if (!s)
                return -ENOENT;
        if (size > 0)
                reason[0] = '\0';
        if (s->state == SERVICE_BACKOFF) {
                snprintf(reason, size, "its restart after an exit");
                return 1;
        }
        if (s->state == SERVICE_STOPPING) {
                snprintf(reason, size, "the exit of the one stopping");
                return 1;
        }
        for (size_t i = 0; s->state == SERVICE_WAITING && i < s->n_deps; i++) {
                const Service *d = &sv->services[s->deps[i]];

                if (d->state != SERVICE_READY) {
                        service_describe(d, reason, size);
                        return 1;
                }
        }
        return 0;
}

int supervisor_service_used(Supervisor *sv, const char *name) {
        Service *s = service_find(sv, name);

        if (!s)
                return -ENOENT;
        s->idle_quits = 0;
        return 0;
}

int supervisor_set_restart_argv(Supervisor *sv, const char *name, char *const *extra_argv) {
        Service *s = service_find(sv, name);

        return s ? service_set_extra_argv(s, extra_argv) : -ENOENT;
}

int supervisor_set_env(Supervisor *sv, const char *name, const char *entry) {
        int i = service_defs_find(&sv->defs, name);

        return i < 0 ? i : service_def_set_env(&sv->defs.services[i], entry);
}

int supervisor_restart_service(Supervisor *sv, const char *name) {
        Service *s = service_find(sv, name);

        if (!s)
                return -ENOENT;
        if (sv->stopping_all)
                return -ESHUTDOWN;
        if (s->state != SERVICE_STARTING && s->state != SERVICE_READY)
                return 0; /* not running: it starts later with what is new */
        log_info("Restarting service %s.", s->def->name);
        s->restarting = s->want;
        service_event(s, SV_EVENT_RESTART);
        return 0;
}

int supervisor_stop_service(Supervisor *sv, const char *name) {
        Service *s = service_find(sv, name);

        if (!s)
                return -ENOENT;
        s->want = false;
        service_event(s, SV_EVENT_STOP);
        return 0;
}

int supervisor_start_all(Supervisor *sv) {
        if (sv->stopping_all)
                return -ESHUTDOWN;
        for (size_t i = 0; i < sv->n; i++) {
                Service *s = &sv->services[i];
                if (s->def->on_demand)
                        continue;
                s->want = true;
                service_event(s, SV_EVENT_START);
        }
        return 0;
}

int supervisor_stop_all(Supervisor *sv, void (*done)(void *userdata), void *userdata) {
        if (sv->stopping_all)
                return -EALREADY;
        sv->stopping_all = true;
        sv->stop_done = done;
        sv->stop_userdata = userdata;
        for (size_t i = 0; i < sv->n; i++)
                sv->services[i].want = false;
        log_info("Stopping %zu services.", sv->n);
        supervisor_check(sv);
        return 0;
}

static int service_init(Supervisor *sv, size_t i) {
        Service *s = &sv->services[i];
        const ServiceDef *d = &sv->defs.services[i];
        int r;

        *s = (Service){ .sv = sv, .def = d, .index = i, .state = SERVICE_INACTIVE };
        for (char **dep = d->depends_on; dep && *dep; dep++)
                s->deps[s->n_deps++] = (size_t)service_defs_find(&sv->defs, *dep);
        s->starts = calloc(MAX(sv->o.restart_burst, 1u), sizeof *s->starts);
        if (!s->starts)
                return -ENOMEM;
        if (sv->o.cgroup_base) {
                char name[SERVICE_NAME_MAX + sizeof ".service"];

                snprintf(name, sizeof name, "%s.service", d->name);
                r = cgroup_new(sv->o.event, sv->o.cgroup_base, name, &s->cgroup);
                if (r < 0)
                        return r;
        }
        r = sd_event_add_time_relative(sv->o.event, &s->timer, CLOCK_MONOTONIC, USEC_PER_SEC,
                                       USEC_PER_MSEC, on_timer, s);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
}

static int services_init(Supervisor *sv) {
        sv->services = calloc(MAX(sv->defs.n, (size_t)1), sizeof *sv->services);
        if (!sv->services)
                return -ENOMEM;
        for (; sv->n < sv->defs.n; sv->n++) {
                int r = service_init(sv, sv->n);
                if (r < 0) {
                        sv->n++; /* partly initialised: free it too */
                        return r;
                }
        }
        return 0;
}

int supervisor_new(const SupervisorOptions *o, ServiceDefs *defs, const SupervisorHooks *hooks,
                   Supervisor **ret) {
        _cleanup_(supervisor_freep) Supervisor *sv = NULL;
        int r;

        sv = calloc(1, sizeof *sv);
        if (!sv)
                return -ENOMEM;
        sv->o = *o;
        if (hooks)
                sv->hooks = *hooks;
        sv->defs = *defs;
        *defs = (ServiceDefs){};
        sv->rnd = now(CLOCK_MONOTONIC) ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)sv;
        if (sv->rnd == 0)
                sv->rnd = 0x9e3779b97f4a7c15ULL;
        r = services_init(sv);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(sv);
        return 0;
}

Supervisor *supervisor_free(Supervisor *sv) {
        if (!sv)
                return NULL;
        for (size_t i = 0; i < sv->n; i++) {
                Service *s = &sv->services[i];
                if (s->pid > 0) {
                        service_kill(s, SIGKILL);
                        children_unwatch(sv->o.children, s->pid);
                }
                sd_event_source_disable_unref(s->memory_watch);
                cgroup_free(s->cgroup);
                probe_free(s->probe);
                sv_output_free(s->output);
                sd_event_source_disable_unref(s->timer);
                strv_free(s->extra_argv);
                free(s->starts);
        }
        free(sv->services);
        service_defs_done(&sv->defs);
        free(sv);
        return NULL;
}
