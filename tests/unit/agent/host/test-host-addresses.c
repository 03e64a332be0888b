/* Unit tests for agent/host/host-addresses.c: the host's addresses as
 * websockify reads them (ip= command line or allow_from → exact text),
 * and the gateway match the HTTP server asks per request. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "agent/host/host-addresses.h"
#include "macro.h"

static void plan_of(const char *cmdline, IpcfgPlan *ret) {
        assert_int_equal(ipcfg_parse_cmdline(cmdline, ret, NULL), 0);
}

static void test_gateways(void **state) {
        static const struct {
                const char *cmdline, *want;
        } t[] = {
                { "ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off", "10.0.0.1/32" },
                /* Brackets, as systemd and dracut take IPv6. */
                { "ip=[fe80::2]::[fe80::1]:64::eth0:off", "fe80::1/128" },
                /* One per device, in the plan's order. */
                { "ip=10.0.0.2::10.0.0.1:24::eth0:off ip=[fd00::2]::[fd00::1]:64::eth1:off",
                  "10.0.0.1/32 fd00::1/128" },
                /* No gateway (0.0.0.0 is unset), DHCP, none: nobody is the host. */
                { "ip=10.0.0.2::0.0.0.0:24::eth0:off", "" },
                { "ip=dhcp", "" },
                { "ip=off", "" },
                { "", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                IpcfgPlan plan;
                char *text = NULL;

                plan_of(t[i].cmdline, &plan);
                assert_int_equal(host_addresses_text(NULL, &plan, &text), 0);
                assert_string_equal(text, t[i].want);
                free(text);
        }
}

static void test_allow_from(void **state) {
        static const struct {
                const char *list[4];
                const char *want;
        } t[] = {
                /* Written as parsed: a bare address gets its full prefix,
                 * host bits are kept (their reader ignores them, as
                 * cidr_match() does), IPv6 in its shortest form. */
                { { "10.0.0.1", "192.168.1.7/24", "fd00:0:0::1", NULL }, "10.0.0.1/32 192.168.1.7/24 fd00::1/128" },
                { { "0.0.0.0/0", "::/0", NULL }, "0.0.0.0/0 ::/0" },
                { { "127.0.0.0/8", NULL }, "127.0.0.0/8" },
                /* Set but empty: nobody, whatever the gateway. */
                { { NULL }, "" },
                /* One entry that does not parse: nobody (the HTTP server
                 * then refuses the control routes from every address). */
                { { "10.0.0.1", "10.0.0.0/33", NULL }, "" },
                { { "10.0.0.1", "host.example", NULL }, "" },
        };
        IpcfgPlan plan;

        plan_of("ip=10.0.0.2::10.0.0.1:24::eth0:off", &plan);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char *text = NULL;

                assert_int_equal(host_addresses_text((char *const *)t[i].list, &plan, &text), 0);
                assert_string_equal(text, t[i].want);
                free(text);
        }
}

static void test_longest(void **state) {
        /* The longest spelling (39 characters and "/128") fits, each
         * time; a dotted IPv4 tail is rewritten in hex. */
        const char *list[] = { "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", "255.255.255.255/32",
                               "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL };
        char *text = NULL;

        assert_int_equal(host_addresses_text((char *const *)list, NULL, &text), 0);
        assert_string_equal(text, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128 255.255.255.255/32 "
                                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
        free(text);
        assert_int_equal(host_addresses_text(NULL, NULL, &text), 0);
        assert_string_equal(text, "");
        free(text);
}

static void test_is_gateway(void **state) {
        struct sockaddr_in v4 = { .sin_family = AF_INET };
        struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 }, mapped = { .sin6_family = AF_INET6 };
        IpcfgPlan plan;

        plan_of("ip=10.0.0.2::10.0.0.1:24::eth0:off ip=[fe80::2]::[fe80::1]:64::eth1:off", &plan);
        inet_pton(AF_INET, "10.0.0.1", &v4.sin_addr);
        inet_pton(AF_INET6, "fe80::1", &v6.sin6_addr);
        inet_pton(AF_INET6, "::ffff:10.0.0.1", &mapped.sin6_addr);
        v6.sin6_scope_id = 3; /* the zone is not compared */
        assert_true(host_is_gateway(&plan, (struct sockaddr *)&v4));
        assert_true(host_is_gateway(&plan, (struct sockaddr *)&v6));
        assert_true(host_is_gateway(&plan, (struct sockaddr *)&mapped));
        inet_pton(AF_INET, "10.0.0.3", &v4.sin_addr);
        inet_pton(AF_INET6, "fe80::3", &v6.sin6_addr);
        assert_false(host_is_gateway(&plan, (struct sockaddr *)&v4));
        assert_false(host_is_gateway(&plan, (struct sockaddr *)&v6));
        plan_of("ip=dhcp", &plan);
        inet_pton(AF_INET, "0.0.0.0", &v4.sin_addr);
        assert_false(host_is_gateway(&plan, (struct sockaddr *)&v4));
        assert_false(host_is_gateway(NULL, (struct sockaddr *)&v4));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_gateways),
                cmocka_unit_test(test_allow_from),
                cmocka_unit_test(test_longest),
                cmocka_unit_test(test_is_gateway),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
