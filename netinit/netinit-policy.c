/* "Whose network is it": the one policy both netinit callers apply, as a
 * pure function from facts to a decision; and the names of what netinit
 * reports, which /health shows without linking the netlink adapter.  No
 * system calls; netinit.c gathers the facts, and netinit.h states the rule
 * and the decisions behind it. */
#include "macro.h"
#include "netinit.h"
#include "string-table.h"

static const char *const netinit_refusal_table[_NETINIT_REFUSAL_MAX] = {
        [NETINIT_REFUSAL_INITIAL_NETNS] =
                "not PID 1 and in the initial network namespace (this machine's own network)",
        [NETINIT_REFUSAL_NETNS_UNKNOWN] = "cannot tell whether this is the initial network namespace",
        [NETINIT_REFUSAL_PIDNS_INIT_INITIAL_NETNS] =
                "PID 1 of a PID namespace, but in the initial network namespace (this machine's own network)",
        [NETINIT_REFUSAL_INITIAL_UTSNS] =
                "in the initial UTS namespace (this machine's own hostname) and not the machine's init",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(netinit_refusal, NetinitRefusal);

static bool machine_owner(const NetinitFacts *f) {
        return (f->is_pid1 && f->pid_ns_is_initial) || f->system_service;
}

static NetinitRefusal network_refusal(const NetinitFacts *f) {
        if (f->force || machine_owner(f))
                return NETINIT_REFUSAL_NONE;
        /* A PID namespace's init: someone made the namespaces for it (a
         * test, a container).  Only a network namespace known to be the
         * initial one is not its own. */
        if (f->is_pid1)
                return f->net_ns == NETINIT_NETNS_INITIAL ? NETINIT_REFUSAL_PIDNS_INIT_INITIAL_NETNS
                                                          : NETINIT_REFUSAL_NONE;
        switch (f->net_ns) {
        case NETINIT_NETNS_OTHER:
                return NETINIT_REFUSAL_NONE;
        case NETINIT_NETNS_INITIAL:
                return NETINIT_REFUSAL_INITIAL_NETNS;
        default:
                return NETINIT_REFUSAL_NETNS_UNKNOWN;
        }
}

NetinitPolicy netinit_policy_decide(const NetinitFacts *f) {
        NetinitPolicy p = { .refusal = network_refusal(f) };

        p.may_configure_network = p.refusal == NETINIT_REFUSAL_NONE;
        p.may_set_hostname = p.may_configure_network &&
                             (f->force || machine_owner(f) || !f->uts_ns_is_initial);
        if (p.may_configure_network && !p.may_set_hostname)
                p.refusal = NETINIT_REFUSAL_INITIAL_UTSNS;
        p.reason = netinit_refusal_to_string(p.refusal);
        return p;
}

static const char *const netinit_status_table[_NETINIT_STATUS_MAX] = {
        [NETINIT_NOT_CONFIGURED] = "not_configured",
        [NETINIT_APPLIED] = "applied",
        [NETINIT_FAILED] = "failed",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(netinit_status, NetinitStatus);
