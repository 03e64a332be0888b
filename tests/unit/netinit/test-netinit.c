/* Unit tests for netinit_run() (netinit.c) on the paths that never reach
 * netlink: reading and parsing the command line, and refusals decided on
 * facts the test gives (so no test here can configure this machine: an
 * allowed apply is the netns tier's, tests/netns/test_netinit.py).  Each
 * checks the whole report the callers log and /health shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "macro.h"
#include "netinit/netinit.h"

#define FC "ip=10.77.0.2::10.77.0.1:24:vm.example.test:eth0:off"
#define REFUSED "Refusing to configure interfaces: "

/* The verb's facts in the initial network namespace. */
static const NetinitFacts host_facts = {
        .pid_ns_is_initial = true,
        .net_ns = NETINIT_NETNS_INITIAL,
        .uts_ns_is_initial = true,
};

static NetinitOptions options(const char *cmdline, bool apply) {
        NetinitOptions o = { .cmdline = cmdline, .apply = apply, .facts = &host_facts };

        ipcfg_apply_options_default(&o.apply_options);
        return o;
}

static void assert_gateway(const NetinitOutcome *n, const char *gw) {
        char buf[INET6_ADDRSTRLEN];

        assert_int_equal(n->plan.n_ifaces, 1);
        assert_string_equal(ipcfg_addr_to_string(&n->plan.ifaces[0].gateway, buf, sizeof buf), gw);
}

static void test_parse_only(void **state) {
        NetinitOptions o = options(FC, false);
        NetinitOutcome n;

        assert_int_equal(netinit_run(&o, &n), 0);
        assert_int_equal(n.status, NETINIT_NOT_CONFIGURED);
        assert_int_equal(n.stage, NETINIT_STAGE_DONE);
        assert_string_equal(n.error, "");
        assert_gateway(&n, "10.77.0.1");
        /* Not applying: nothing is probed or decided. */
        assert_false(n.policy.may_configure_network);
        assert_int_equal(n.policy.refusal, NETINIT_REFUSAL_NONE);
}

static void test_read_file(void **state) {
        static const char text[] = "BOOT_IMAGE=/vmlinuz " FC " quiet\n";
        char path[] = "/tmp/test-netinit-XXXXXX";
        int fd = mkstemp(path);
        NetinitOptions o = options(NULL, false);
        NetinitOutcome n;

        assert_true(fd >= 0);
        assert_int_equal(loop_write(fd, text, strlen(text)), 0);
        close(fd);
        o.cmdline_path = path;
        assert_int_equal(netinit_run(&o, &n), 0);
        assert_gateway(&n, "10.77.0.1");
        unlink(path);

        /* Unreadable: stage READ, the path and errno; a failure only when
         * applying, and then before any fact is gathered. */
        assert_int_equal(netinit_run(&o, &n), -ENOENT);
        assert_int_equal(n.stage, NETINIT_STAGE_READ);
        assert_int_equal(n.status, NETINIT_NOT_CONFIGURED);
        assert_true(startswith(n.error, "/tmp/test-netinit-"));
        assert_non_null(strstr(n.error, ": No such file or directory"));
        o.apply = true;
        assert_int_equal(netinit_run(&o, &n), -ENOENT);
        assert_int_equal(n.status, NETINIT_FAILED);
        assert_false(n.facts.uts_ns_is_initial); /* host_facts says true: not gathered */
}

static void test_too_long(void **state) {
        char path[] = "/tmp/test-netinit-XXXXXX";
        _cleanup_(freep) char *line = malloc(2 * IPCFG_CMDLINE_MAX + 2);
        int fd = mkstemp(path);
        NetinitOptions o = options(NULL, true);
        NetinitOutcome n;

        assert_non_null(line);
        assert_true(fd >= 0);
        memset(line, 'x', 2 * IPCFG_CMDLINE_MAX + 1);
        line[2 * IPCFG_CMDLINE_MAX + 1] = 0;
        /* Longer than even the read limit: the same answer as the parser's. */
        assert_int_equal(loop_write(fd, line, strlen(line)), 0);
        close(fd);
        o.cmdline_path = path;
        assert_int_equal(netinit_run(&o, &n), -E2BIG);
        unlink(path);
        assert_int_equal(n.stage, NETINIT_STAGE_PARSE);
        assert_int_equal(n.status, NETINIT_FAILED);
        assert_string_equal(n.error, "Kernel command line longer than 4096 bytes");
        line[IPCFG_CMDLINE_MAX + 1] = 0;
        o.cmdline = line;
        assert_int_equal(netinit_run(&o, &n), -E2BIG);
        assert_string_equal(n.error, "Kernel command line longer than 4096 bytes");
}

static void test_invalid(void **state) {
        NetinitOptions o = options("quiet ip=10.77.0.2::10.77.0.1:255.0.255.0::eth0:off", false);
        NetinitOutcome n;

        assert_int_equal(netinit_run(&o, &n), -EINVAL);
        assert_int_equal(n.stage, NETINIT_STAGE_PARSE);
        assert_int_equal(n.status, NETINIT_NOT_CONFIGURED);
        assert_string_equal(n.error, "ip=: field 4 (netmask): invalid value \"255.0.255.0\": not contiguous");
        assert_int_equal(n.plan.n_ifaces, 0);
        o.apply = true;
        assert_int_equal(netinit_run(&o, &n), -EINVAL);
        assert_int_equal(n.status, NETINIT_FAILED);
}

/* Refused before any socket: the plan is still there (the agent's
 * allow_from admits its gateway), the facts and decision are reported. */
static void test_refused(void **state) {
        NetinitOptions o = options(FC, true);
        NetinitOutcome n;

        assert_int_equal(netinit_run(&o, &n), -EPERM);
        assert_int_equal(n.status, NETINIT_FAILED);
        assert_int_equal(n.stage, NETINIT_STAGE_POLICY);
        assert_string_equal(n.error, REFUSED "not PID 1 and in the initial network namespace "
                                     "(this machine's own network)");
        assert_int_equal(n.policy.refusal, NETINIT_REFUSAL_INITIAL_NETNS);
        assert_int_equal(n.facts.net_ns, NETINIT_NETNS_INITIAL);
        assert_gateway(&n, "10.77.0.1");
        assert_int_equal(n.result.ifindex, 0);

        /* No ip=: still refused (the loopback is this machine's too). */
        o.cmdline = "console=ttyS0";
        assert_int_equal(netinit_run(&o, &n), -EPERM);
        assert_int_equal(n.status, NETINIT_FAILED);
}

static void test_refused_unknown(void **state) {
        NetinitFacts f = { .net_ns = NETINIT_NETNS_UNKNOWN, .net_ns_error = -EACCES, .uts_ns_is_initial = true };
        NetinitOptions o = options(FC, true);
        NetinitOutcome n;

        o.facts = &f;
        assert_int_equal(netinit_run(&o, &n), -EACCES);
        assert_string_equal(n.error, REFUSED "cannot tell whether this is the initial network namespace: "
                                     "Permission denied");
        f.net_ns_error = 0;
        assert_int_equal(netinit_run(&o, &n), -EPERM);
        assert_string_equal(n.error, REFUSED "cannot tell whether this is the initial network namespace");
}

/* force and system_service come from the options, never from the facts. */
static void test_options_decide_who(void **state) {
        NetinitFacts f = host_facts;
        NetinitOptions o = options(FC, true);
        NetinitOutcome n;

        f.force = f.system_service = true;
        o.facts = &f;
        assert_int_equal(netinit_run(&o, &n), -EPERM);
        assert_false(n.facts.force);
        assert_false(n.facts.system_service);
        /* PID 1 of a PID namespace in the initial network namespace. */
        f = (NetinitFacts){ .is_pid1 = true, .net_ns = NETINIT_NETNS_INITIAL };
        assert_int_equal(netinit_run(&o, &n), -EPERM);
        assert_string_equal(n.error, REFUSED "PID 1 of a PID namespace, but in the initial network namespace "
                                     "(this machine's own network)");
}

/* Whatever this machine is, the probe answers within the enum, with an
 * errno exactly when it cannot tell, and claims no systemd or --force. */
static void test_probe(void **state) {
        NetinitFacts f;

        netinit_facts_probe(&f);
        assert_true(f.net_ns >= 0 && f.net_ns < _NETINIT_NETNS_MAX);
        assert_true((f.net_ns == NETINIT_NETNS_UNKNOWN) == (f.net_ns_error < 0));
        assert_false(f.system_service);
        assert_false(f.force);
        assert_int_equal(f.is_pid1, getpid() == 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_only),
                cmocka_unit_test(test_read_file),
                cmocka_unit_test(test_too_long),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_refused_unknown),
                cmocka_unit_test(test_options_decide_who),
                cmocka_unit_test(test_probe),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
