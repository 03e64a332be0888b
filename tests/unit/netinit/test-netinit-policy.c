/* Unit tests for netinit_policy_decide() (netinit-policy.c): every
 * combination of the facts, one row each, with the decision both netinit
 * callers get.  The rows are the rule of netinit.h spelled out; the cells
 * where the verb and the agent used to differ say so.  test_exhaustive
 * fails when a combination has no row or two; test_decisions also runs
 * each row with every byte the row does not set as 0 and as 1, so a fact
 * added to NetinitFacts and read by the policy fails it until the table
 * has it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "macro.h"
#include "netinit/netinit.h"

#define INIT NETINIT_NETNS_INITIAL
#define OTHER NETINIT_NETNS_OTHER
#define UNKN NETINIT_NETNS_UNKNOWN

#define NONE NETINIT_REFUSAL_NONE
#define INIT_NET NETINIT_REFUSAL_INITIAL_NETNS
#define UNKN_NET NETINIT_REFUSAL_NETNS_UNKNOWN
#define PIDNS_INIT NETINIT_REFUSAL_PIDNS_INIT_INITIAL_NETNS
#define INIT_UTS NETINIT_REFUSAL_INITIAL_UTSNS

typedef struct Row {
        bool pid1, pidns_init;
        NetinitNetns net;
        bool uts_init, service, force;
        bool may_net, may_host;
        NetinitRefusal refusal;
} Row;

static const Row rows[] = {
        /* pid1, PID ns initial, net ns, UTS ns initial, systemd service, force
         *                           → network, hostname, refusal */
        /* Not PID 1 and not a systemd service: the verb, or the agent started by hand. */
        { 0, 0, INIT , 1, 0, 0,  0, 0, INIT_NET }, /* this machine's own network: refused */
        { 0, 0, INIT , 1, 0, 1,  1, 1, NONE }, /* --force: its network and hostname, as asked */
        { 0, 0, INIT , 0, 0, 0,  0, 0, INIT_NET },
        { 0, 0, INIT , 0, 0, 1,  1, 1, NONE },
        { 0, 0, OTHER, 1, 0, 0,  1, 0, INIT_UTS }, /* ip netns exec: the network, not the machine's hostname (the verb set it) */
        { 0, 0, OTHER, 1, 0, 1,  1, 1, NONE },
        { 0, 0, OTHER, 0, 0, 0,  1, 1, NONE }, /* a test's namespaces (unshare --net --uts) */
        { 0, 0, OTHER, 0, 0, 1,  1, 1, NONE },
        { 0, 0, UNKN , 1, 0, 0,  0, 0, UNKN_NET }, /* /proc/1/ns unreadable before Linux 6.18 */
        { 0, 0, UNKN , 1, 0, 1,  1, 1, NONE },
        { 0, 0, UNKN , 0, 0, 0,  0, 0, UNKN_NET },
        { 0, 0, UNKN , 0, 0, 1,  1, 1, NONE },
        { 0, 1, INIT , 1, 0, 0,  0, 0, INIT_NET },
        { 0, 1, INIT , 1, 0, 1,  1, 1, NONE },
        { 0, 1, INIT , 0, 0, 0,  0, 0, INIT_NET },
        { 0, 1, INIT , 0, 0, 1,  1, 1, NONE },
        { 0, 1, OTHER, 1, 0, 0,  1, 0, INIT_UTS },
        { 0, 1, OTHER, 1, 0, 1,  1, 1, NONE },
        { 0, 1, OTHER, 0, 0, 0,  1, 1, NONE },
        { 0, 1, OTHER, 0, 0, 1,  1, 1, NONE },
        { 0, 1, UNKN , 1, 0, 0,  0, 0, UNKN_NET },
        { 0, 1, UNKN , 1, 0, 1,  1, 1, NONE },
        { 0, 1, UNKN , 0, 0, 0,  0, 0, UNKN_NET },
        { 0, 1, UNKN , 0, 0, 1,  1, 1, NONE },
        /* Not PID 1, a service of the machine's systemd: the agent in an image booting systemd. */
        { 0, 0, INIT , 1, 1, 0,  1, 1, NONE }, /* the machine's systemd started it: the machine's network */
        { 0, 0, INIT , 1, 1, 1,  1, 1, NONE },
        { 0, 0, INIT , 0, 1, 0,  1, 1, NONE },
        { 0, 0, INIT , 0, 1, 1,  1, 1, NONE },
        { 0, 0, OTHER, 1, 1, 0,  1, 1, NONE },
        { 0, 0, OTHER, 1, 1, 1,  1, 1, NONE },
        { 0, 0, OTHER, 0, 1, 0,  1, 1, NONE },
        { 0, 0, OTHER, 0, 1, 1,  1, 1, NONE },
        { 0, 0, UNKN , 1, 1, 0,  1, 1, NONE },
        { 0, 0, UNKN , 1, 1, 1,  1, 1, NONE },
        { 0, 0, UNKN , 0, 1, 0,  1, 1, NONE },
        { 0, 0, UNKN , 0, 1, 1,  1, 1, NONE },
        { 0, 1, INIT , 1, 1, 0,  1, 1, NONE },
        { 0, 1, INIT , 1, 1, 1,  1, 1, NONE },
        { 0, 1, INIT , 0, 1, 0,  1, 1, NONE },
        { 0, 1, INIT , 0, 1, 1,  1, 1, NONE },
        { 0, 1, OTHER, 1, 1, 0,  1, 1, NONE },
        { 0, 1, OTHER, 1, 1, 1,  1, 1, NONE },
        { 0, 1, OTHER, 0, 1, 0,  1, 1, NONE },
        { 0, 1, OTHER, 0, 1, 1,  1, 1, NONE },
        { 0, 1, UNKN , 1, 1, 0,  1, 1, NONE },
        { 0, 1, UNKN , 1, 1, 1,  1, 1, NONE },
        { 0, 1, UNKN , 0, 1, 0,  1, 1, NONE },
        { 0, 1, UNKN , 0, 1, 1,  1, 1, NONE },
        /* PID 1 of the initial PID namespace: the machine's init. */
        { 1, 1, INIT , 1, 0, 0,  1, 1, NONE }, /* init= on the kernel command line */
        { 1, 1, INIT , 1, 0, 1,  1, 1, NONE },
        { 1, 1, INIT , 0, 0, 0,  1, 1, NONE },
        { 1, 1, INIT , 0, 0, 1,  1, 1, NONE },
        { 1, 1, OTHER, 1, 0, 0,  1, 1, NONE },
        { 1, 1, OTHER, 1, 0, 1,  1, 1, NONE },
        { 1, 1, OTHER, 0, 0, 0,  1, 1, NONE },
        { 1, 1, OTHER, 0, 0, 1,  1, 1, NONE },
        { 1, 1, UNKN , 1, 0, 0,  1, 1, NONE },
        { 1, 1, UNKN , 1, 0, 1,  1, 1, NONE },
        { 1, 1, UNKN , 0, 0, 0,  1, 1, NONE },
        { 1, 1, UNKN , 0, 0, 1,  1, 1, NONE },
        /* PID 1 of another PID namespace: a test's or a container's init. */
        { 1, 0, INIT , 1, 0, 0,  0, 0, PIDNS_INIT }, /* the verb let any PID 1 through (it never runs as one) */
        { 1, 0, INIT , 1, 0, 1,  1, 1, NONE },
        { 1, 0, INIT , 0, 0, 0,  0, 0, PIDNS_INIT },
        { 1, 0, INIT , 0, 0, 1,  1, 1, NONE },
        { 1, 0, OTHER, 1, 0, 0,  1, 0, INIT_UTS },
        { 1, 0, OTHER, 1, 0, 1,  1, 1, NONE },
        { 1, 0, OTHER, 0, 0, 0,  1, 1, NONE }, /* tests/netns/test_pid1.py (unshare --pid --uts in a test netns) */
        { 1, 0, OTHER, 0, 0, 1,  1, 1, NONE },
        { 1, 0, UNKN , 1, 0, 0,  1, 0, INIT_UTS }, /* before Linux 6.18 it cannot tell, and is trusted */
        { 1, 0, UNKN , 1, 0, 1,  1, 1, NONE },
        { 1, 0, UNKN , 0, 0, 0,  1, 1, NONE },
        { 1, 0, UNKN , 0, 0, 1,  1, 1, NONE },
        /* PID 1 and a service at once: never reported (manager_is_system_service()
         * excludes PID 1), decided all the same. */
        { 1, 1, INIT , 1, 1, 0,  1, 1, NONE },
        { 1, 1, INIT , 1, 1, 1,  1, 1, NONE },
        { 1, 1, INIT , 0, 1, 0,  1, 1, NONE },
        { 1, 1, INIT , 0, 1, 1,  1, 1, NONE },
        { 1, 1, OTHER, 1, 1, 0,  1, 1, NONE },
        { 1, 1, OTHER, 1, 1, 1,  1, 1, NONE },
        { 1, 1, OTHER, 0, 1, 0,  1, 1, NONE },
        { 1, 1, OTHER, 0, 1, 1,  1, 1, NONE },
        { 1, 1, UNKN , 1, 1, 0,  1, 1, NONE },
        { 1, 1, UNKN , 1, 1, 1,  1, 1, NONE },
        { 1, 1, UNKN , 0, 1, 0,  1, 1, NONE },
        { 1, 1, UNKN , 0, 1, 1,  1, 1, NONE },
        { 1, 0, INIT , 1, 1, 0,  1, 1, NONE },
        { 1, 0, INIT , 1, 1, 1,  1, 1, NONE },
        { 1, 0, INIT , 0, 1, 0,  1, 1, NONE },
        { 1, 0, INIT , 0, 1, 1,  1, 1, NONE },
        { 1, 0, OTHER, 1, 1, 0,  1, 1, NONE },
        { 1, 0, OTHER, 1, 1, 1,  1, 1, NONE },
        { 1, 0, OTHER, 0, 1, 0,  1, 1, NONE },
        { 1, 0, OTHER, 0, 1, 1,  1, 1, NONE },
        { 1, 0, UNKN , 1, 1, 0,  1, 1, NONE },
        { 1, 0, UNKN , 1, 1, 1,  1, 1, NONE },
        { 1, 0, UNKN , 0, 1, 0,  1, 1, NONE },
        { 1, 0, UNKN , 0, 1, 1,  1, 1, NONE },
};

static NetinitFacts facts(const Row *r, int fill) {
        NetinitFacts f;

        memset(&f, fill, sizeof f);
        f.is_pid1 = r->pid1;
        f.pid_ns_is_initial = r->pidns_init;
        f.net_ns = r->net;
        f.uts_ns_is_initial = r->uts_init;
        f.system_service = r->service;
        f.force = r->force;
        return f;
}

static void test_exhaustive(void **state) {
        size_t combos = 0;

        for (int pid1 = 0; pid1 < 2; pid1++)
                for (int pidns = 0; pidns < 2; pidns++)
                        for (int net = 0; net < _NETINIT_NETNS_MAX; net++)
                                for (int uts = 0; uts < 2; uts++)
                                        for (int svc = 0; svc < 2; svc++)
                                                for (int force = 0; force < 2; force++) {
                                                        unsigned n = 0;

                                                        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                                                                n += rows[i].pid1 == pid1 && rows[i].pidns_init == pidns &&
                                                                     (int)rows[i].net == net && rows[i].uts_init == uts &&
                                                                     rows[i].service == svc && rows[i].force == force;
                                                        if (n != 1)
                                                                fail_msg("%u rows for pid1=%d pidns=%d net=%d uts=%d "
                                                                         "service=%d force=%d", n, pid1, pidns, net,
                                                                         uts, svc, force);
                                                        combos++;
                                                }
        assert_int_equal(ELEMENTSOF(rows), combos);
}

static void test_decisions(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                for (int fill = 0; fill < 2; fill++) {
                        const Row *r = &rows[i];
                        NetinitFacts f = facts(r, fill);
                        NetinitPolicy p = netinit_policy_decide(&f);

                        if (p.may_configure_network != r->may_net || p.may_set_hostname != r->may_host ||
                            p.refusal != r->refusal)
                                fail_msg("row %zu%s: network %d hostname %d refusal %d, expected %d %d %d", i,
                                         fill ? " (other bytes 1: does a fact missing from the table decide?)" : "",
                                         p.may_configure_network, p.may_set_hostname, p.refusal,
                                         r->may_net, r->may_host, r->refusal);
                        assert_ptr_equal(p.reason, netinit_refusal_to_string(p.refusal));
                        assert_true(p.may_configure_network || !p.may_set_hostname);
                        assert_true((p.refusal == NONE) == (p.may_configure_network && p.may_set_hostname));
                }
}

static void test_reasons(void **state) {
        assert_null(netinit_refusal_to_string(NONE));
        for (NetinitRefusal r = NONE + 1; r < _NETINIT_REFUSAL_MAX; r++) {
                const char *s = netinit_refusal_to_string(r);

                assert_non_null(s);
                /* One phrase the callers put after "Refusing to ...: ". */
                assert_true(s[0] != '\0' && s[0] != ' ');
                assert_null(strchr(s, '\n'));
                assert_true(s[strlen(s) - 1] != '.');
        }
        assert_null(netinit_refusal_to_string(_NETINIT_REFUSAL_MAX));
        assert_null(netinit_refusal_to_string(_NETINIT_REFUSAL_INVALID));
        /* The verb's message, word for word (tests/netns/test_netinit.py). */
        assert_string_equal(netinit_refusal_to_string(INIT_NET),
                            "not PID 1 and in the initial network namespace (this machine's own network)");
        assert_string_equal(netinit_refusal_to_string(UNKN_NET),
                            "cannot tell whether this is the initial network namespace");
}

/* The words /health shows for netinit's status. */
static void test_status_names(void **state) {
        assert_string_equal(netinit_status_to_string(NETINIT_NOT_CONFIGURED), "not_configured");
        assert_string_equal(netinit_status_to_string(NETINIT_APPLIED), "applied");
        assert_string_equal(netinit_status_to_string(NETINIT_FAILED), "failed");
        assert_null(netinit_status_to_string(_NETINIT_STATUS_MAX));
        assert_null(netinit_status_to_string(_NETINIT_STATUS_INVALID));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exhaustive),
                cmocka_unit_test(test_decisions),
                cmocka_unit_test(test_reasons),
                cmocka_unit_test(test_status_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
