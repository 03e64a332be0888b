/* The one netinit driver (netinit.h): gathers the facts the policy decides
 * on, then reads, parses, decides and applies, and reports everything in a
 * NetinitOutcome.  The side effects are here and in ipcfg-nl.c; the
 * decision is netinit-policy.c's.  Library code: nothing is logged above
 * debug, the callers log the outcome once. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "netinit.h"
#include "nsfs-util.h"
#include "time-util.h"

/* Whether this kernel numbers init_net statically, judged by its version:
 * only a kernel known to do so may treat "not NSFS_NET_INIT_INO" as proof
 * of another namespace.  Erring low would call the host's namespace safe. */
static bool kernel_has_fixed_netns_ino(void) {
        struct utsname u;
        unsigned major = 0, minor = 0;

        if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
                return false;
        return major > 6 || (major == 6 && minor >= 18);
}

/* *error: -errno why the answer is UNKNOWN, else 0. */
static NetinitNetns netns_probe(bool is_pid1, int *error) {
        struct stat self, init;

        *error = 0;
        if (stat("/proc/self/ns/net", &self) < 0) {
                *error = negative_errno();
                return NETINIT_NETNS_UNKNOWN;
        }
        if (self.st_ino == NSFS_NET_INIT_INO)
                return NETINIT_NETNS_INITIAL;
        /* Any other process compares with PID 1's namespace; PID 1 would
         * find only itself. */
        if (!is_pid1) {
                if (stat("/proc/1/ns/net", &init) >= 0)
                        return self.st_dev == init.st_dev && self.st_ino == init.st_ino ? NETINIT_NETNS_INITIAL
                                                                                       : NETINIT_NETNS_OTHER;
                /* /proc/1/ns needs ptrace access to PID 1, which a root
                 * without all of PID 1's capabilities (a sandbox) lacks. */
                *error = negative_errno();
        }
        if (kernel_has_fixed_netns_ino()) {
                *error = 0;
                return NETINIT_NETNS_OTHER;
        }
        if (*error == 0)
                *error = -EOPNOTSUPP; /* PID 1 on a kernel that numbers init_net like any other */
        return NETINIT_NETNS_UNKNOWN;
}

void netinit_facts_probe(NetinitFacts *ret) {
        bool pid1 = getpid() == 1;
        struct stat uts;
        NetinitFacts f = {
                .is_pid1 = pid1,
                .pid_ns_is_initial = nsfs_inode_is("/proc/self/ns/pid", NSFS_PID_INIT_INO),
                /* The initial one unless shown otherwise: no hostname then. */
                .uts_ns_is_initial = stat("/proc/self/ns/uts", &uts) < 0 || uts.st_ino == NSFS_UTS_INIT_INO,
        };

        f.net_ns = netns_probe(pid1, &f.net_ns_error);
        *ret = f;
}

_printf_(2, 3) static void set_error(NetinitOutcome *out, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(out->error, sizeof out->error, fmt, ap);
        va_end(ap);
}

/* Parsing takes about a microsecond: µs would round it away. */
static uint64_t now_nsec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int plan_load(const NetinitOptions *o, NetinitOutcome *out) {
        _cleanup_(freep) char *buf = NULL;
        const char *path = o->cmdline_path ?: "/proc/cmdline", *line = o->cmdline;
        IpcfgError e = {};
        uint64_t t0;
        int r = 0;

        out->stage = NETINIT_STAGE_READ;
        if (!line) {
                /* Twice the limit, so that "too long" is the parser's word. */
                r = read_full_file(path, 2 * IPCFG_CMDLINE_MAX, &buf, NULL);
                if (r < 0 && r != -EFBIG) {
                        set_error(out, "%s: %s", path, strerror(-r));
                        return r;
                }
                line = buf;
        }
        out->stage = NETINIT_STAGE_PARSE;
        t0 = now_nsec();
        r = r < 0 ? -E2BIG : ipcfg_parse_cmdline(line, &out->plan, &e);
        out->parse_nsec = now_nsec() - t0;
        if (r == -E2BIG)
                set_error(out, "Kernel command line longer than %d bytes", IPCFG_CMDLINE_MAX);
        else if (r < 0)
                ipcfg_error_format(&e, out->error, sizeof out->error);
        else if (o->base && (r = ipcfg_plan_overlay(o->base, &out->plan, &out->plan)) < 0)
                set_error(out, "More than %d interfaces with the ones kept from before", IPCFG_MAX_IFACES);
        return r;
}

static int decide(const NetinitOptions *o, NetinitOutcome *out) {
        out->stage = NETINIT_STAGE_POLICY;
        if (o->facts)
                out->facts = *o->facts;
        else
                netinit_facts_probe(&out->facts);
        out->facts.force = o->force;
        out->facts.system_service = o->system_service;
        out->policy = netinit_policy_decide(&out->facts);
        if (out->policy.may_configure_network)
                return 0;
        if (out->policy.refusal == NETINIT_REFUSAL_NETNS_UNKNOWN && out->facts.net_ns_error < 0) {
                set_error(out, "Refusing to configure interfaces: %s: %s", out->policy.reason,
                          strerror(-out->facts.net_ns_error));
                return out->facts.net_ns_error;
        }
        set_error(out, "Refusing to configure interfaces: %s", out->policy.reason);
        return -EPERM;
}

static int apply(const NetinitOptions *o, NetinitOutcome *out) {
        IpcfgApplyOptions ao = o->apply_options;
        usec_t t0;
        int r;

        out->stage = NETINIT_STAGE_APPLY;
        ao.set_hostname = ao.set_hostname && out->policy.may_set_hostname;
        t0 = now(CLOCK_MONOTONIC);
        r = ipcfg_apply(&out->plan, &ao, &out->result, out->error, sizeof out->error);
        out->apply_usec = now(CLOCK_MONOTONIC) - t0;
        return r;
}

int netinit_run(const NetinitOptions *o, NetinitOutcome *out) {
        int r;

        *out = (NetinitOutcome){ .status = NETINIT_NOT_CONFIGURED };
        r = plan_load(o, out);
        if (r >= 0 && o->apply)
                r = decide(o, out);
        if (r >= 0 && o->apply)
                r = apply(o, out);
        if (r < 0) {
                out->status = o->apply ? NETINIT_FAILED : NETINIT_NOT_CONFIGURED;
                return r;
        }
        out->stage = NETINIT_STAGE_DONE;
        out->status = o->apply && out->plan.n_ifaces > 0 ? NETINIT_APPLIED : NETINIT_NOT_CONFIGURED;
        return 0;
}
