/* Unit tests for common/in-addr-util.c: CIDR parsing and matching (IPv4,
 * IPv6, v4-mapped peers), CIDR lists, loopback detection. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "in-addr-util.h"
#include "macro.h"

static SockaddrIn sa_of(const char *addr) {
        SockaddrIn a;
        socklen_t len;

        assert_int_equal(sockaddr_in_parse(addr, 0, &a, &len), 0);
        return a;
}

static void test_sockaddr_in_parse(void **state) {
        SockaddrIn a;
        socklen_t len = 0;

        assert_int_equal(sockaddr_in_parse("10.1.2.3", 8080, &a, &len), 0);
        assert_int_equal(a.sa.sa_family, AF_INET);
        assert_int_equal(len, sizeof(struct sockaddr_in));
        assert_int_equal(ntohs(a.in.sin_port), 8080);
        assert_int_equal(ntohl(a.in.sin_addr.s_addr), 0x0a010203);
        assert_int_equal(sockaddr_in_parse("fe80::1", 1, &a, &len), 0);
        assert_int_equal(a.sa.sa_family, AF_INET6);
        assert_int_equal(len, sizeof(struct sockaddr_in6));
        assert_int_equal(ntohs(a.in6.sin6_port), 1);
        assert_int_equal(a.in6.sin6_addr.s6_addr[15], 1);
        for (const char *const *bad = (const char *const[]){ "localhost", "[::1]", "10.1.2", "10.1.2.3:80", "",
                                                             " 10.1.2.3", NULL };
             *bad; bad++)
                assert_int_equal(sockaddr_in_parse(*bad, 1, &a, &len), -EINVAL);
        assert_int_equal(sockaddr_in_parse(NULL, 1, &a, &len), -EINVAL);
}

static SockaddrIn at(const char *addr, uint16_t port) {
        SockaddrIn a;
        socklen_t len;

        assert_int_equal(sockaddr_in_parse(addr, port, &a, &len), 0);
        return a;
}

/* The same address and port, as a socket's getsockname() and a config's
 * address compare: a wildcard of one family is not the other's. */
static void test_sockaddr_in_equal(void **state) {
        SockaddrIn a = at("0.0.0.0", 6080), b = at("0.0.0.0", 6080), none = { .sa.sa_family = AF_UNIX };

        assert_true(sockaddr_in_equal(&a, &b));
        b = at("0.0.0.0", 6081);
        assert_false(sockaddr_in_equal(&a, &b));
        b = at("127.0.0.1", 6080);
        assert_false(sockaddr_in_equal(&a, &b));
        b = at("::", 6080);
        assert_false(sockaddr_in_equal(&a, &b));
        a = at("::", 6080);
        assert_true(sockaddr_in_equal(&a, &b));
        a = at("fe80::1", 6080);
        b = at("fe80::2", 6080);
        assert_false(sockaddr_in_equal(&a, &b));
        /* A v4-mapped address is its IPv4 address (sockaddr_bytes()). */
        a = at("::ffff:10.0.0.1", 6080);
        b = at("10.0.0.1", 6080);
        assert_true(sockaddr_in_equal(&a, &b));
        assert_false(sockaddr_in_equal(&none, &none));
}

static void test_cidr_parse(void **state) {
        static const struct {
                const char *in;
                int ret;
                int family;
                unsigned prefix;
        } t[] = {
                { "10.0.0.0/8", 0, AF_INET, 8 },
                { "10.77.0.1", 0, AF_INET, 32 },
                { "0.0.0.0/0", 0, AF_INET, 0 },
                { "192.168.1.7/32", 0, AF_INET, 32 },
                { "::1", 0, AF_INET6, 128 },
                { "fd00::/8", 0, AF_INET6, 8 },
                { "::/0", 0, AF_INET6, 0 },
                { "10.0.0.0/33", -EINVAL, 0, 0 },
                { "fd00::/129", -EINVAL, 0, 0 },
                { "10.0.0.0/", -EINVAL, 0, 0 },
                { "10.0.0.0/08", -EINVAL, 0, 0 },   /* leading zero: ambiguous */
                { "10.0.0.0/-1", -EINVAL, 0, 0 },
                { "10.0.0.0/8x", -EINVAL, 0, 0 },
                { "10.0.0/8", -EINVAL, 0, 0 },      /* inet_pton is strict: no short forms */
                { "010.0.0.1", -EINVAL, 0, 0 },
                { "", -EINVAL, 0, 0 },
                { "/8", -EINVAL, 0, 0 },
                { "localhost", -EINVAL, 0, 0 },
                { "[::1]", -EINVAL, 0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                Cidr c = { .family = -1 };
                int r = cidr_parse(t[i].in, &c);

                print_message("%s\n", t[i].in);
                assert_int_equal(r, t[i].ret);
                if (r < 0) {
                        assert_int_equal(c.family, -1); /* untouched on failure */
                        continue;
                }
                assert_int_equal(c.family, t[i].family);
                assert_int_equal(c.prefix, t[i].prefix);
        }
        assert_int_equal(cidr_parse(NULL, &(Cidr) {}), -EINVAL);
}

static void test_cidr_match(void **state) {
        static const struct {
                const char *cidr, *peer;
                bool match;
        } t[] = {
                { "10.0.0.0/8", "10.255.1.2", true },
                { "10.0.0.0/8", "11.0.0.1", false },
                { "10.77.0.1", "10.77.0.1", true },
                { "10.77.0.1", "10.77.0.2", false },
                { "10.77.0.0/23", "10.77.1.255", true },
                { "10.77.0.0/23", "10.77.2.0", false },
                { "10.77.0.9/24", "10.77.0.200", true }, /* host bits ignored */
                { "0.0.0.0/0", "203.0.113.5", true },
                { "10.0.0.0/8", "::ffff:10.1.2.3", true }, /* v4-mapped peer */
                { "10.0.0.0/8", "::ffff:11.1.2.3", false },
                { "10.0.0.0/8", "fd00::1", false },        /* other family */
                { "fd00::/8", "fd12::1", true },
                { "fd00::/8", "fe80::1", false },
                { "fd00::/9", "fd7f::1", true },
                { "fd00::/9", "fd80::1", false },
                { "::/0", "2001:db8::1", true },
                { "::/0", "10.0.0.1", false },
                { "::1", "::1", true },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                Cidr c;
                SockaddrIn a = sa_of(t[i].peer);

                print_message("%s vs %s\n", t[i].cidr, t[i].peer);
                assert_int_equal(cidr_parse(t[i].cidr, &c), 0);
                assert_int_equal(cidr_match(&c, &a.sa), t[i].match);
        }
        Cidr c;
        assert_int_equal(cidr_parse("0.0.0.0/0", &c), 0);
        assert_false(cidr_match(&c, NULL));
        SockaddrIn unix_sa = { .sa.sa_family = AF_UNIX };
        assert_false(cidr_match(&c, &unix_sa.sa));
}

static void test_acl(void **state) {
        char *list[] = { (char *)"127.0.0.0/8", (char *)"10.77.0.1", (char *)"fd00::/8", NULL };
        char *bad[] = { (char *)"10.0.0.0/8", (char *)"10.0.0.0/99", NULL };
        char *empty[] = { NULL };
        Cidr *acl = NULL;
        const char *which = NULL;
        size_t n = 99;
        SockaddrIn a;

        assert_int_equal(cidr_list_parse(list, &acl, &n, NULL), 0);
        assert_int_equal(n, 3);
        a = sa_of("127.0.0.5");
        assert_true(cidr_list_match(acl, n, &a.sa));
        a = sa_of("10.77.0.1");
        assert_true(cidr_list_match(acl, n, &a.sa));
        a = sa_of("10.77.0.2");
        assert_false(cidr_list_match(acl, n, &a.sa));
        a = sa_of("fdaa::2");
        assert_true(cidr_list_match(acl, n, &a.sa));
        free(acl);

        acl = NULL;
        n = 99;
        assert_int_equal(cidr_list_parse(bad, &acl, &n, &which), -EINVAL);
        assert_string_equal(which, "10.0.0.0/99");
        assert_null(acl);
        assert_int_equal(n, 99);

        /* An empty list is valid and matches nobody: control routes closed. */
        assert_int_equal(cidr_list_parse(empty, &acl, &n, NULL), 0);
        assert_int_equal(n, 0);
        a = sa_of("127.0.0.1");
        assert_false(cidr_list_match(acl, n, &a.sa));
        free(acl);
}

static void test_loopback(void **state) {
        static const struct {
                const char *peer;
                bool loopback;
        } t[] = {
                { "127.0.0.1", true },
                { "127.255.0.9", true },
                { "128.0.0.1", false },
                { "10.0.0.1", false },
                { "::1", true },
                { "::2", false },
                { "::ffff:127.0.0.1", true },
                { "::ffff:10.0.0.1", false },
                { "::", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                SockaddrIn a = sa_of(t[i].peer);
                print_message("%s\n", t[i].peer);
                assert_int_equal(sockaddr_is_loopback(&a.sa), t[i].loopback);
        }
        assert_false(sockaddr_is_loopback(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sockaddr_in_parse),
                cmocka_unit_test(test_sockaddr_in_equal),
                cmocka_unit_test(test_cidr_parse),
                cmocka_unit_test(test_cidr_match),
                cmocka_unit_test(test_acl),
                cmocka_unit_test(test_loopback),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
