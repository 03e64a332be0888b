/* Runs one provider CLI for a login: in a PTY when the provider needs one
 * (posix_openpt), through the Launcher (no shell; its own session/process
 * group), with BROWSER pointing back at the agent, the request's proxy
 * settings in its environment, and the provider's env.  Its output is
 * scanned for the authorize URL, terminal queries and prompts are
 * answered, and a redacted transcript is kept.  Stopping kills the whole
 * process group (SIGTERM, SIGKILL after a grace period); when the CLI
 * (the group's leader) has exited, whatever is left of its group is
 * killed too: the login is over for all of it.  What it started in a
 * session of its own is killed with the cgroup the Launcher gives it
 * (cgroup_name), when the agent has cgroups, and is its user's to sweep
 * in any case (login.c).  It runs as an unprivileged user of its own,
 * its terminal that user's, with a /tmp, /var/tmp, /dev/shm, /run/lock and IPC
 * namespace of its own (SpawnOptions.private_tmp), empty at its start
 * and gone with it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "launch.h"
#include "macro.h"
#include "provider-def.h"
#include "time-util.h"

typedef struct CliRunner CliRunner;

/* The CPU time of the provider CLIs that ended (exited, or were killed
 * and forgotten by cli_runner_free()), each read from its cgroup
 * (cgroup_name: the CLI and all it started) before that went.  Without
 * that cgroup, or with its cpu.stat unreadable, a CLI's is unknown:
 * counted apart, never as 0. */
typedef struct CliCpuTotals {
        uint64_t usec;        /* summed over the CLIs whose CPU time is known */
        uint64_t unknown;     /* the CLIs whose CPU time is not */
} CliCpuTotals;

/* Each callback may free r (cli_runner_free()): the runner touches nothing
 * of it afterwards. */
typedef struct CliRunnerCallbacks {
        /* The first URL on the screen that matches the provider's patterns. */
        void (*on_url)(CliRunner *r, const char *url, void *userdata);
        /* After the URL, the first of the provider's failures shown: the
         * text from it to the end of its row. */
        void (*on_failure)(CliRunner *r, const char *line, void *userdata);
        /* Last thing the runner does for this exit; how says it in words:
         * "exited 1", "killed by SIGKILL", or, when the kernel's OOM killer
         * killed in its cgroup, "killed by the kernel: out of memory
         * (memory.max 1024 MiB)" (at its limit) or "... (the VM's)"; when
         * it kept reaching its memory.max without that, then "; " and
         * cli_runner_memory_note()'s note. */
        void (*on_exit)(CliRunner *r, int wstatus, const char *how, void *userdata);
} CliRunnerCallbacks;

/* The CLI's TMPDIR, below its HOME (the login makes it, 0700 and the
 * CLI user's): what the CLI leaves there goes with the HOME, never to the
 * next login that gets the same user.  Its /tmp is its own too, for what
 * it writes there by name. */
#define CLI_TMPDIR_NAME "tmp"

/* The oom_score_adj of every CLI and all it starts (SpawnOptions): third-
 * party code that may allocate without end, which the kernel's OOM killer
 * is to take before the agent (which would lose every login and what it
 * has not delivered yet), the display stack and the browser (0): +500
 * adds half the VM's memory to its badness, so it goes first unless
 * another process holds half the memory more than it does.  Where its
 * cgroup has a memory.max (login_memory_max_mb), that limit is hit
 * first; this is what is left where it cannot be had. */
#define CLI_OOM_SCORE_ADJ 500

typedef struct CliRunnerOptions {
        const ProviderDef *provider;  /* borrowed; must outlive the runner */
        const char *home;             /* its HOME, and TMPDIR below it (CLI_TMPDIR_NAME) */
        const char *browser;          /* the BROWSER value */
        const char *control_socket;   /* exported as VMBA_CONTROL_SOCKET */
        const char *login_id;         /* never NULL (-EINVAL): exported as VMBA_LOGIN_SESSION, whose
                                       * $BROWSER it is, and named in the CLI's end line */
        uid_t uid;                    /* the CLI runs as uid:gid (never 0: refused) */
        gid_t gid;
        /* RLIMIT_NPROC: the tasks uid may have at once, 0: no limit.  A
         * login's processes are killed by a bounded number of passes over
         * /proc; a CLI forking without end would outrun them. */
        uint32_t max_procs;
        uint64_t memory_max;          /* SpawnOptions.memory_max of its cgroup, bytes; 0: none */
        const char *memory_max_key;   /* the setting memory_max comes from, named when the CLI kept
                                       * reaching it (cli_runner_memory_note()); borrowed, must
                                       * outlive the runner; NULL: "its memory.max" */
        uint64_t ambient_caps;        /* capabilities it keeps (SpawnOptions.ambient_caps), 0: none */
        const char *display;          /* DISPLAY, may be NULL */
        const char *path;             /* PATH for lookup and the CLI */
        const char *http_proxy, *https_proxy, *no_proxy; /* NULL: none */
        const char *cgroup_name;      /* SpawnOptions.cgroup_name: a cgroup of the CLI's own, killed
                                       * whole once it exited or is killed; NULL: none */
        CliCpuTotals *cpu_totals;     /* borrowed, must outlive the runner: its CPU time is added at
                                       * its end (and logged with it); NULL: only logged */
        char *error;                  /* SpawnOptions.error: NULL, or error_size bytes saying what
                                       * failed when the CLI's exec (or a step before it) did */
        size_t error_size;
} CliRunnerOptions;

/* e and launcher must outlive the runner. */
int cli_runner_start(sd_event *e, const Launcher *launcher, const CliRunnerOptions *o,
                     const CliRunnerCallbacks *cb, void *userdata, CliRunner **ret);
/* Hands the runner to a new owner: its callbacks from now on. */
void cli_runner_set_callbacks(CliRunner *r, const CliRunnerCallbacks *cb, void *userdata);
/* Kills the process group (if still running) and frees; NULL-safe.  From
 * one of r's callbacks too: r is then gone for the caller at once (no
 * callback, no source, its secrets wiped), its memory released when the
 * runner's own dispatch returns. */
CliRunner *cli_runner_free(CliRunner *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(CliRunner *, cli_runner_free);
/* Sends SIGTERM to the group and SIGKILL after grace; keeps the runner. */
void cli_runner_stop(CliRunner *r);
/* The CLI is done (its credentials are captured) but may still be
 * answering the browser or flushing files: stop it after delay unless it
 * exits by itself first. */
void cli_runner_stop_after(CliRunner *r, usec_t delay);
/* The login's URL came another way (the CLI handed it to the browser
 * link before printing it): from now on the screen is watched for a
 * failed sign-in, and no URL is looked for there.  Without this, a
 * failure drawn over the URL before the agent read either (both in one
 * read of the terminal) would never count.  What the CLI wrote before
 * and the agent has not read yet is taken first (no callback is made
 * from here): a failure it shows predates the sign-in.  NULL-safe. */
void cli_runner_url_known(CliRunner *r);
/* Why the CLI may have crawled rather than failed: its cgroup kept
 * reaching its memory.max since it started, the kernel reclaiming in it
 * and the CLI reading back what was evicted ("at its memory.max 64 MiB:
 * the kernel reclaimed its memory K times since it started and read back
 * R pages it had evicted, ...; raise login_memory_max_mb":
 * memory_pressure_to_string(), naming memory_max_key), into buf; returns
 * buf.  Read now while it runs, else as read at its exit.  "" when it did
 * not (reclaims without refaults: a full file cache given back cheaply),
 * has no memory.max, or the OOM killer killed in its cgroup (its exit
 * says so).  NULL-safe. */
#define CLI_MEMORY_NOTE_MAX MEMORY_PRESSURE_MAX
const char *cli_runner_memory_note(CliRunner *r, char *buf, size_t size);
/* Redacted transcript so far; owned by the caller. */
char *cli_runner_output(CliRunner *r);
pid_t cli_runner_pid(CliRunner *r);
bool cli_runner_running(CliRunner *r);
