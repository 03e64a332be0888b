/* Table-driven tests for the file texts a plan implies (ipcfg-files.c):
 * a kernel command line (through the real parser) and the old file in,
 * the exact text out, or NULL when the file is to be left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "macro.h"
#include "netinit/ipcfg.h"

#define HEADER "# Written by vm-browser-agent netinit from the kernel command line.\n"
#define MARK " # vm-browser-agent netinit\n"

typedef struct ResolvCase {
        const char *cmdline;
        const char *text; /* NULL: nothing to write */
} ResolvCase;

static const ResolvCase resolv_cases[] = {
        /* Neither a server nor a domain: the image's resolv.conf stays. */
        { "", NULL },
        { "ip=10.0.0.2:::24::eth0:off", NULL },
        { "ip=eth0:dhcp", NULL },
        /* nameserver= alone configures no interface, so it has nowhere to go. */
        { "nameserver=1.1.1.1", NULL },
        /* A domain alone (the kernel makes none of it a resolver setting)
         * would replace the image's servers with none: the file stays. */
        { "ip=10.0.0.2:::24:vm.example.test:eth0:off", NULL },
        /* A hostname without a domain is no search domain. */
        { "ip=10.0.0.2:::24:vm:eth0:off:1.1.1.1", HEADER "nameserver 1.1.1.1\n" },
        /* nameserver= in command-line order, after the interface's own. */
        { "ip=dhcp nameserver=8.8.8.8 nameserver=1.1.1.1", HEADER "nameserver 8.8.8.8\nnameserver 1.1.1.1\n" },
        { "nameserver=9.9.9.9 ip=10.0.0.2:::24::::1.1.1.1 nameserver=1.1.1.1",
          HEADER "nameserver 1.1.1.1\nnameserver 9.9.9.9\n" },
        /* Every interface's servers in order, each once across interfaces
         * (the netns test test_two_interfaces_and_merged_nameservers). */
        { "ip=10.77.0.2::10.77.0.1:24:vm.example.test:eth0:off:10.77.0.1 "
          "ip=10.88.0.2:::24::eth1:off:10.88.0.1:10.77.0.1 nameserver=1.1.1.1 nameserver=10.77.0.1",
          HEADER "nameserver 10.77.0.1\nnameserver 1.1.1.1\nnameserver 10.88.0.1\nsearch example.test\n" },
        /* The search domain is the first one given, whichever interface. */
        { "ip=eth0:dhcp ip=10.0.0.2:::24:a.one.test:eth1:off ip=10.0.0.3:::24:b.two.test:eth2:off "
          "nameserver=1.1.1.1", HEADER "nameserver 1.1.1.1\nsearch one.test\n" },
        /* IPv6 servers as resolv.conf writes them, beside IPv4 ones. */
        { "ip=[fd00::2]::[fd00::1]:64::eth0:none:[fd00::53]:[2001:4860:4860::8888] nameserver=1.1.1.1",
          HEADER "nameserver fd00::53\nnameserver 2001:4860:4860::8888\nnameserver 1.1.1.1\n" },
        { "ip=dhcp nameserver=FD00:0::53", HEADER "nameserver fd00::53\n" },
        /* A link-local server only answers through its device: glibc
         * sends nothing to fe80::1 without "%eth0".  nameserver= ones take
         * the device of the first interface; one without a device (the
         * applier names it once the link is found) stays unscoped. */
        { "ip=[fd00::2]::[fe80::1]:64::eth0:off:[fe80::1] nameserver=fe80::53 nameserver=fd00::53",
          HEADER "nameserver fe80::1%eth0\nnameserver fe80::53%eth0\nnameserver fd00::53\n" },
        { "ip=10.0.0.2:::24::eth1:off:1.1.1.1 ip=10.1.0.2:::24::eth0:off:[fe80::1] nameserver=fe80::53",
          HEADER "nameserver 1.1.1.1\nnameserver fe80::53%eth1\nnameserver fe80::1%eth0\n" },
        { "ip=dhcp nameserver=fe80::53", HEADER "nameserver fe80::53\n" },
        /* The first link that lists it and can have IPv6 (eth0's MTU is
         * below 1280: it has none). */
        { "ip=10.0.0.2:::24::eth0:off:1000 ip=10.1.0.2:::24::eth1:off nameserver=fe80::53",
          HEADER "nameserver fe80::53%eth1\n" },
};

typedef struct HostsCase {
        const char *cmdline;
        const char *old;  /* NULL: no file */
        const char *text; /* NULL: nothing to write */
} HostsCase;

#define LOCAL "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
#define FC "ip=10.77.0.2::10.77.0.1:24:demo-vm.example.test:eth0:off"
#define FC_LINE "10.77.0.2\tdemo-vm.example.test demo-vm" MARK

static const HostsCase hosts_cases[] = {
        /* Absent or empty file: our line alone. */
        { FC, NULL, FC_LINE },
        { FC, "", FC_LINE },
        { FC, "\n", "\n" FC_LINE },
        /* The administrator's lines stay, ours is appended. */
        { FC, LOCAL, LOCAL FC_LINE },
        /* Our earlier line is replaced (it moves to the end), wherever it was. */
        { FC, "127.0.0.1\tlocalhost\n10.1.1.1\told" MARK "::1\tlocalhost ip6-localhost\n", LOCAL FC_LINE },
        { FC, LOCAL "10.1.1.1\told.example old" MARK, LOCAL FC_LINE },
        { FC, FC_LINE, FC_LINE },
        /* A last line without its newline gets one. */
        { FC, "127.0.0.1\tlocalhost", "127.0.0.1\tlocalhost\n" FC_LINE },
        { FC, "10.1.1.1\told # vm-browser-agent netinit", FC_LINE },
        /* Only a line ENDING in the marker is ours; blank lines stay. */
        { FC, "# vm-browser-agent netinit wrote the last line\n\n",
          "# vm-browser-agent netinit wrote the last line\n\n" FC_LINE },
        /* No domain: the short name alone. */
        { "ip=10.0.0.2:::24:vm1", LOCAL, LOCAL "10.0.0.2\tvm1" MARK },
        /* IPv6 address. */
        { "ip=[fd00::2]:::64:vm.example.test:eth0", NULL, "fd00::2\tvm.example.test vm" MARK },
        /* The first interface naming a hostname is the one. */
        { "ip=10.0.0.2:::24::eth0:off ip=10.0.0.3:::24:vm2:eth1:off", NULL, "10.0.0.3\tvm2" MARK },
        /* Nothing to write: no hostname, or the named interface has no
         * address (DHCP would give one; we have no client), even when a
         * later interface has one. */
        { "ip=10.0.0.2:::24::eth0", LOCAL, NULL },
        { "ip=::::vm:eth0:dhcp", LOCAL, NULL },
        { "ip=::::vm:eth0:dhcp ip=10.0.0.3:::24:vm2:eth1:off", LOCAL, NULL },
        { "", LOCAL, NULL },
        /* A re-apply without a hostname (a restored clone's new address):
         * the machine keeps its hostname, so our line keeps its names at
         * the new address; without an address it goes.  The others stay. */
        { "ip=10.0.0.9:::24::eth0:off", LOCAL FC_LINE, LOCAL "10.0.0.9\tdemo-vm.example.test demo-vm" MARK },
        { "ip=10.0.0.9:::24::eth0:off", "127.0.0.1\tlocalhost\n" FC_LINE "::1\tlocalhost ip6-localhost",
          LOCAL "10.0.0.9\tdemo-vm.example.test demo-vm" MARK },
        { "ip=[fd00::9]:::64::eth0:off", "10.1.1.1   vm1  \t # vm-browser-agent netinit", "fd00::9\tvm1" MARK },
        { "", FC_LINE, "" },
        { "ip=eth0:dhcp", LOCAL FC_LINE, LOCAL },
        /* A new hostname whose interface has no address: our old line,
         * which names the old one, goes (not moved to eth1's address). */
        { "ip=::::newname:eth0:off ip=10.0.0.3:::24::eth1:off", LOCAL "10.0.0.2\toldname" MARK, LOCAL },
        /* Our line with no names is not moved. */
        { "ip=10.0.0.9:::24::eth0:off", LOCAL "10.1.1.1 # vm-browser-agent netinit\n", LOCAL },
};

static void parse(const char *cmdline, IpcfgPlan *plan) {
        IpcfgError e = {};
        char line[512];

        if (ipcfg_parse_cmdline(cmdline, plan, &e) < 0) {
                ipcfg_error_format(&e, line, sizeof line);
                fail_msg("'%s' does not parse: %s", cmdline, line);
        }
}

static void test_resolv(void **state) {
        const ResolvCase *c = *state;
        IpcfgPlan plan;
        char *text = (char *)&plan; /* not NULL: "nothing to write" must say so */
        int r;

        parse(c->cmdline, &plan);
        r = ipcfg_resolv_conf_text(&plan, &text);
        if (!c->text) {
                assert_int_equal(r, 0);
                assert_null(text);
                return;
        }
        assert_int_equal(r, 1);
        assert_string_equal(text, c->text);
        free(text);
}

static void test_hosts(void **state) {
        const HostsCase *c = *state;
        IpcfgPlan plan;
        char *text = (char *)&plan, *again = NULL;
        int r;

        parse(c->cmdline, &plan);
        r = ipcfg_hosts_text(c->old, &plan, &text);
        if (!c->text) {
                assert_int_equal(r, 0);
                assert_null(text);
                return;
        }
        assert_int_equal(r, 1);
        assert_string_equal(text, c->text);
        /* A second run over its own result changes nothing. */
        r = ipcfg_hosts_text(text, &plan, &again);
        if (strstr(c->text, MARK)) {
                assert_int_equal(r, 1);
                assert_string_equal(again, text);
        } else
                assert_int_equal(r, 0);
        free(text);
        free(again);
}

static void test_hostname_iface(void **state) {
        IpcfgPlan plan;

        parse("ip=eth0:dhcp ip=::::vm:eth1:dhcp ip=::::vm3:eth2:dhcp", &plan);
        assert_ptr_equal(ipcfg_plan_hostname_iface(&plan), &plan.ifaces[1]);
        parse("ip=eth0:dhcp", &plan);
        assert_null(ipcfg_plan_hostname_iface(&plan));
        assert_int_equal(ipcfg_hosts_text("x\n", &plan, &(char *){ NULL }), 0);
}

int main(void) {
        const struct CMUnitTest extra[] = {
                cmocka_unit_test(test_hostname_iface),
        };
        size_t nr = ELEMENTSOF(resolv_cases), nh = ELEMENTSOF(hosts_cases);
        _cleanup_(freep) struct CMUnitTest *t = calloc(nr + nh, sizeof *t);
        int r;

        if (!t)
                return EXIT_FAILURE;
        for (size_t i = 0; i < nr; i++)
                t[i] = (struct CMUnitTest){ .name = resolv_cases[i].cmdline, .test_func = test_resolv,
                                            .initial_state = (void *)&resolv_cases[i] };
        for (size_t i = 0; i < nh; i++)
                t[nr + i] = (struct CMUnitTest){ .name = hosts_cases[i].cmdline, .test_func = test_hosts,
                                                 .initial_state = (void *)&hosts_cases[i] };
        r = _cmocka_run_group_tests("ipcfg-files-table", t, nr + nh, NULL, NULL);
        return r + cmocka_run_group_tests_name("ipcfg-files-api", extra, NULL, NULL);
}
