/* The one netinit entry point.  `vm-browser-agent netinit` (netinit-main.c)
 * and the agent's start (agent/run.c) both call netinit_run(): read the
 * kernel command line, parse its ip= into a plan, decide with ONE policy
 * whether this process may configure the network and the hostname, and
 * apply the plan when asked and allowed.  It logs nothing above debug;
 * each caller logs the outcome once, in its own words.
 *
 * The policy (netinit_policy_decide(), pure, netinit-policy.c):
 *
 *   owner    := PID 1 in the initial PID namespace (the machine's init)
 *               or a service of the machine's systemd
 *   network  := force
 *               or owner
 *               or PID 1 of another PID namespace (a test's or a
 *                  container's init) unless its network namespace is
 *                  known to be the initial one; before Linux 6.18 it
 *                  cannot tell, and is trusted
 *               or any other process whose network namespace is known to
 *                  be neither the initial one nor PID 1's
 *   hostname := network and (force or owner or a UTS namespace other than
 *               the initial one)
 *
 * Where the two callers differed, one rule now holds for both:
 *  - PID 1 of a PID namespace in the initial network namespace is refused
 *    (the agent refused it, the verb let any PID 1 through; the verb never
 *    runs as PID 1: main.c runs the agent then).
 *  - The hostname follows the agent's rule for both, plus --force: the
 *    verb set it wherever it configured the network, so
 *    `ip netns exec NS vm-browser-agent netinit --apply` set the
 *    machine's own hostname.  Only sethostname()/setdomainname() are
 *    refused; the files are the paths the caller gave.
 *  - Without ip= (or with ip=off) applying brings up the loopback device
 *    only and reports not_configured, for both: the agent skipped netinit
 *    altogether, the verb brought the loopback up.  A refusal is a
 *    failure for both, whatever the plan.
 *  - A namespace that cannot be told (no /proc) counts on the cautious
 *    side: a PID namespace as not the initial one (no owner), a UTS
 *    namespace as the initial one (no hostname); the agent let a PID 1
 *    that could not tell its UTS namespace set the hostname.
 *  - The refusal reads the same for both ("Refusing to configure
 *    interfaces: not PID 1 and in the initial network namespace ...").
 *
 * tests/unit/netinit/test-netinit-policy.c has every combination. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ipcfg.h"

/* Whose network namespace this process is in.  INITIAL: the initial one
 * (its nsfs inode is fixed, common/nsfs-util.h) or, for a process other
 * than PID 1, the same as PID 1's; OTHER: known to be neither; UNKNOWN:
 * cannot tell (/proc unreadable, or a kernel before 6.18, which numbers
 * the initial namespace like any other). */
typedef enum NetinitNetns {
        NETINIT_NETNS_INITIAL,
        NETINIT_NETNS_OTHER,
        NETINIT_NETNS_UNKNOWN,
        _NETINIT_NETNS_MAX,
        _NETINIT_NETNS_INVALID = -EINVAL,
} NetinitNetns;

/* What the policy decides on.  netinit_facts_probe() fills the first
 * four; the caller knows the last two. */
typedef struct NetinitFacts {
        bool is_pid1;
        bool pid_ns_is_initial;
        NetinitNetns net_ns;
        bool uts_ns_is_initial;
        bool system_service; /* a service of the machine's systemd (the agent knows) */
        bool force;          /* the verb's --force */
        int net_ns_error;    /* -errno why net_ns is UNKNOWN, else 0; not a policy input */
} NetinitFacts;

typedef enum NetinitRefusal {
        NETINIT_REFUSAL_NONE,
        NETINIT_REFUSAL_INITIAL_NETNS,         /* not PID 1, in the initial (or PID 1's) netns */
        NETINIT_REFUSAL_NETNS_UNKNOWN,         /* not PID 1, cannot tell */
        NETINIT_REFUSAL_PIDNS_INIT_INITIAL_NETNS, /* PID 1 of a PID namespace, in the initial netns */
        NETINIT_REFUSAL_INITIAL_UTSNS,         /* network yes, hostname no */
        _NETINIT_REFUSAL_MAX,
        _NETINIT_REFUSAL_INVALID = -EINVAL,
} NetinitRefusal;

typedef struct NetinitPolicy {
        bool may_configure_network;
        bool may_set_hostname;  /* implies may_configure_network */
        NetinitRefusal refusal; /* the first "no": the network's, else the hostname's */
        const char *reason;     /* static: netinit_refusal_to_string(refusal); NULL for NONE */
} NetinitPolicy;

/* Pure: no system calls. */
NetinitPolicy netinit_policy_decide(const NetinitFacts *f);

/* One phrase without a final period, e.g. "not PID 1 and in
 * the initial network namespace (this machine's own network)"; NULL for
 * NETINIT_REFUSAL_NONE and out of range. */
const char *netinit_refusal_to_string(NetinitRefusal r);

/* The facts about this process's namespaces: stat() of /proc/self/ns/{pid,net,uts}
 * and /proc/1/ns/net, uname() for the kernel version.  Opens no socket.
 * system_service and force are left false. */
void netinit_facts_probe(NetinitFacts *ret);

typedef enum NetinitStatus {
        NETINIT_NOT_CONFIGURED, /* not asked to apply, or no ip= (the loopback at most) */
        NETINIT_APPLIED,        /* the plan's interfaces are configured */
        NETINIT_FAILED,         /* asked to apply, and it did not happen in full */
        _NETINIT_STATUS_MAX,
        _NETINIT_STATUS_INVALID = -EINVAL,
} NetinitStatus;

/* "not_configured", "applied", "failed" (the /health words).  Pure
 * (netinit-policy.c): the HTTP core links it without the adapter. */
const char *netinit_status_to_string(NetinitStatus s);

/* Where netinit_run() stopped. */
typedef enum NetinitStage {
        NETINIT_STAGE_READ,   /* reading the command line */
        NETINIT_STAGE_PARSE,  /* invalid (-EINVAL) or too long (-E2BIG) */
        NETINIT_STAGE_POLICY, /* refused */
        NETINIT_STAGE_APPLY,  /* netlink, or the files */
        NETINIT_STAGE_DONE,   /* nothing failed */
        _NETINIT_STAGE_MAX,
        _NETINIT_STAGE_INVALID = -EINVAL,
} NetinitStage;

typedef struct NetinitOptions {
        const char *cmdline;      /* the command line itself; NULL: read cmdline_path */
        const char *cmdline_path; /* NULL: "/proc/cmdline" */
        /* NULL, or the plan the command line's is laid over
         * (ipcfg_plan_overlay(): a handover re-addresses the devices it
         * names, the others keep this plan's interfaces). */
        const IpcfgPlan *base;
        bool apply;               /* false: parse only (--dry-run, or someone else applies) */
        bool force;
        bool system_service;
        /* Paths, device timeout; set_hostname is further limited by the
         * policy.  Initialise with ipcfg_apply_options_default(). */
        IpcfgApplyOptions apply_options;
        /* NULL: netinit_facts_probe().  Tests pass their own; force and
         * system_service are taken from these options either way. */
        const NetinitFacts *facts;
} NetinitOptions;

typedef struct NetinitOutcome {
        NetinitStatus status;
        NetinitStage stage;
        /* Parsed even when not applied: the agent's allow_from default
         * admits the ip= gateway and /health shows it.  Empty until
         * parsing succeeded. */
        IpcfgPlan plan;
        NetinitFacts facts;      /* only when applying */
        NetinitPolicy policy;    /* only when applying */
        IpcfgApplyResult result; /* what was applied, also by a failed apply (stage APPLY) */
        /* "" or one line without a final period, for the log and
         * /health: the path and errno, ipcfg_error_format()'s line, the
         * refusal, or ipcfg_apply()'s failures, each with its errno.
         * Never a secret. */
        char error[768];
        uint64_t parse_nsec;     /* time in ipcfg_parse_cmdline() */
        uint64_t apply_usec;     /* time in ipcfg_apply() */
} NetinitOutcome;

/* Runs netinit as o says and fills *out in every case (it is the report,
 * failures included).  Returns 0, or the -errno the outcome's error is
 * about: a read error, -EINVAL/-E2BIG for the command line, -EPERM (or
 * why the namespace could not be told) for a refusal, ipcfg_apply()'s
 * error.  status is FAILED for a failure only when o->apply; without it
 * a failure leaves NOT_CONFIGURED (the agent then only reports it).  The
 * refusal comes before any netlink socket is opened. */
int netinit_run(const NetinitOptions *o, NetinitOutcome *out);
