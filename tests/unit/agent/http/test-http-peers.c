/* Unit tests for agent/http/http-peers.c: which client an address counts
 * as (loopback is one, an IPv6 /64 off the host's addresses is one), the
 * per-client limit, the host's reserve beyond
 * the connection limit, and release. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/http/http-peers.h"
#include "in-addr-util.h"
#include "macro.h"

/* The browser's user in these tests. */
#define BROWSER 1002

/* The key of addr, for a loopback peer of user owner; host: the peer is
 * the host's (allow_from). */
static HttpPeerKey peer_key(const char *addr, uid_t owner, bool host) {
        SockaddrIn a;
        socklen_t len;

        assert_int_equal(sockaddr_in_parse(addr, 0, &a, &len), 0);
        return http_peer_key(&a.sa, owner, BROWSER, host);
}

static HttpPeerKey owned(const char *addr, uid_t owner) {
        return peer_key(addr, owner, false);
}

static HttpPeerKey host_key(const char *addr) {
        return peer_key(addr, HTTP_PEER_OWNER_UNKNOWN, true);
}

static HttpPeerKey key_of(const char *addr) {
        return owned(addr, HTTP_PEER_OWNER_UNKNOWN);
}

static bool same(const char *a, const char *b) {
        HttpPeerKey x = key_of(a), y = key_of(b);
        return memcmp(&x, &y, sizeof x) == 0;
}

static bool same_key(HttpPeerKey x, HttpPeerKey y) {
        return memcmp(&x, &y, sizeof x) == 0;
}

static void test_keys(void **state) {
        assert_true(same("127.0.0.1", "127.0.0.2"));
        assert_true(same("127.0.0.1", "127.255.1.9"));
        assert_true(same("127.0.0.1", "::1"));
        assert_true(same("127.0.0.1", "::ffff:127.0.0.5"));
        assert_true(same("10.0.0.1", "::ffff:10.0.0.1"));
        assert_false(same("10.0.0.1", "10.0.0.2"));
        assert_false(same("10.0.0.1", "127.0.0.1"));
        assert_true(same("fd00::1", "fd00::2"));
}

/* The key of link-local addr on the link with index zone. */
static HttpPeerKey zoned(const char *addr, uint32_t zone) {
        SockaddrIn a;
        socklen_t len;

        assert_int_equal(sockaddr_in_parse(addr, 0, &a, &len), 0);
        a.in6.sin6_scope_id = zone;
        return http_peer_key(&a.sa, HTTP_PEER_OWNER_UNKNOWN, BROWSER, false);
}

/* An IPv6 peer off the host's addresses is its /64: one machine holds the
 * whole of it (SLAAC privacy addresses, any address it takes), so one
 * neighbour had a share per address.  Link-local is one /64 for the whole
 * link, the zone not compared.  v4-mapped is IPv4, ::1 loopback. */
static void test_ipv6_prefix_keys(void **state) {
        assert_true(same("fd00:0:0:1::1", "fd00:0:0:1:ffff:ffff:ffff:fffe"));
        assert_true(same("2001:db8:1:2:a::", "2001:db8:1:2:b:c:d:e"));
        assert_false(same("fd00:0:0:1::1", "fd00:0:0:2::1"));
        assert_false(same("fd00::1", "fd01::1"));
        assert_true(same("fe80::1", "fe80::2:3"));
        assert_true(same_key(zoned("fe80::1", 1), zoned("fe80::2", 2)));
        assert_false(same("fe80::1", "fe80:0:0:1::1")); /* not link-local's /64 */
        /* IPv4, per address: v4-mapped ones too, not a /64 of ::ffff:0:0. */
        assert_false(same("::ffff:10.0.0.1", "::ffff:10.0.0.2"));
        assert_true(same("::ffff:10.0.0.1", "10.0.0.1"));
        /* A /64 is not an address with zeroes after it, nor IPv4. */
        assert_false(same_key(key_of("fd00::5"), host_key("fd00::")));
        assert_false(same_key(key_of("::a00:1"), key_of("10.0.0.1")));
        assert_true(same("::1", "127.0.0.1"));
        assert_false(same("::1", "::2"));
}

/* The host's addresses keep a client each, in its /64 or not: a neighbour
 * in the same /64 neither shares nor takes their count. */
static void test_ipv6_host_keys(void **state) {
        assert_false(same_key(host_key("fd00::1"), host_key("fd00::2")));
        assert_false(same_key(host_key("fe80::1"), host_key("fe80::2")));
        assert_false(same_key(host_key("fd00::1"), key_of("fd00::1")));
        assert_false(same_key(host_key("fd00::1"), key_of("fd00::2")));
        assert_true(same_key(host_key("fd00::1"), host_key("fd00::1")));
        assert_true(same_key(host_key("::ffff:10.0.0.1"), key_of("10.0.0.1")));
        assert_true(same_key(host_key("127.0.0.1"), key_of("127.0.0.1")));
}

/* A neighbour taking many addresses in its /64 holds max_per_peer
 * connections in all, not that many per address: before, it filled the
 * pool alone and every other neighbour was refused.  Another /64 still
 * gets in, and the host's addresses in the same /64 have their shares and
 * the reserve. */
static void test_ipv6_prefix_limits(void **state) {
        HttpAdmission guest = { .max_connections = 8, .max_per_peer = 2 };
        HttpAdmission from_host = { .max_connections = 8, .max_per_peer = 2, .host = true };
        HttpPeerKey other = key_of("fd00:0:0:2::9"), host = host_key("fd00:0:0:1::1");
        HttpPeers *p = NULL;
        char addr[64];

        assert_int_equal(http_peers_new(&p), 0);
        for (int i = 0; i < 6; i++) {
                snprintf(addr, sizeof addr, "fd00:0:0:1::%x", 0x100 + i);
                HttpPeerKey k = key_of(addr);
                assert_int_equal(http_peers_admit(p, &k, &guest), i < 2 ? 0 : -EUSERS);
        }
        assert_int_equal(http_peers_total(p), 2);
        for (int i = 0; i < 2; i++)
                assert_int_equal(http_peers_admit(p, &other, &guest), 0);
        assert_int_equal(http_peers_admit(p, &other, &guest), -EUSERS);
        for (int i = 0; i < 2; i++)
                assert_int_equal(http_peers_admit(p, &host, &from_host), 0);
        assert_int_equal(http_peers_admit(p, &host, &from_host), -EUSERS);
        HttpPeerKey host2 = host_key("fd00:0:0:1::2");
        assert_int_equal(http_peers_admit(p, &host2, &from_host), 0);
        assert_int_equal(http_peers_count(p, &host), 2);
        assert_int_equal(http_peers_total(p), 7);
        /* Released from another address of the same /64: its room again. */
        HttpPeerKey k = key_of("fd00:0:0:1::ffff");
        http_peers_release(p, &k);
        assert_int_equal(http_peers_admit(p, &k, &guest), 0);
        assert_int_equal(http_peers_admit(p, &k, &guest), -EUSERS);
        assert_null(http_peers_free(p));
}

/* Loopback is one client per local user, whatever its address; the
 * unknown owner is one more; the owner does not matter off loopback. */
static void test_loopback_owner_keys(void **state) {
        assert_true(same_key(owned("127.0.0.1", 1000), owned("::1", 1000)));
        assert_true(same_key(owned("127.0.0.9", 1000), owned("::ffff:127.0.0.1", 1000)));
        assert_false(same_key(owned("127.0.0.1", 1000), owned("127.0.0.1", 1001)));
        assert_false(same_key(owned("127.0.0.1", 0), owned("127.0.0.1", HTTP_PEER_OWNER_UNKNOWN)));
        assert_false(same_key(owned("127.0.0.1", 0), owned("127.0.0.1", 0x01000000)));
        assert_true(same_key(owned("10.0.0.1", 0), owned("10.0.0.1", 1000)));
        assert_false(same_key(owned("10.0.0.1", 0), owned("::1", 0)));
}

/* Each local user has loopback's per-client limit of its own. */
static void test_loopback_owner_limits(void **state) {
        HttpPeers *p = NULL;
        HttpPeerKey cli = owned("127.0.0.1", 1001), browser = owned("127.0.0.1", BROWSER),
                    unknown = owned("127.0.0.1", HTTP_PEER_OWNER_UNKNOWN);
        HttpAdmission a = { .max_connections = 1, .max_per_peer = 2 };

        assert_int_equal(http_peers_new(&p), 0);
        for (int i = 0; i < 2; i++)
                assert_int_equal(http_peers_admit(p, &cli, &a), 0);
        assert_int_equal(http_peers_admit(p, &cli, &a), -EUSERS);
        assert_int_equal(http_peers_admit(p, &browser, &a), 0);
        assert_int_equal(http_peers_admit(p, &unknown, &a), 0);
        assert_int_equal(http_peers_count(p, &cli), 2);
        assert_int_equal(http_peers_count(p, &browser), 1);
        http_peers_release(p, &cli);
        assert_int_equal(http_peers_admit(p, &cli, &a), 0);
        assert_int_equal(http_peers_total(p), 4);
        http_peers_free(p);
}

static void test_limits(void **state) {
        HttpPeers *p = NULL;
        HttpPeerKey lo = key_of("127.0.0.3"), a = key_of("10.0.0.11"), b = key_of("10.0.0.12"),
                    host = key_of("10.0.0.1");
        HttpAdmission guest = { .max_connections = 5, .max_per_peer = 3 };
        HttpAdmission from_host = { .max_connections = 5, .max_per_peer = 3, .host = true };

        assert_int_equal(http_peers_new(&p), 0);
        /* Per client: the fourth from a is refused, loopback is one client. */
        for (int i = 0; i < 3; i++)
                assert_int_equal(http_peers_admit(p, &a, &guest), 0);
        assert_int_equal(http_peers_admit(p, &a, &guest), -EUSERS);
        assert_int_equal(http_peers_admit(p, &lo, &guest), 0);
        assert_int_equal(http_peers_admit(p, &lo, &guest), 0);
        assert_int_equal(http_peers_total(p), 5);
        /* Loopback is outside the pool (3 of 5 taken): b fits twice. */
        assert_int_equal(http_peers_admit(p, &b, &guest), 0);
        assert_int_equal(http_peers_admit(p, &b, &guest), 0);
        assert_int_equal(http_peers_total(p), 7);
        /* Full: b is refused; loopback still has its own client's room (one
         * more, ::1 is the same client) and no more; the host gets its
         * reserve. */
        assert_int_equal(http_peers_admit(p, &b, &guest), -EUSERS);
        HttpPeerKey lo2 = key_of("::1");
        assert_int_equal(http_peers_admit(p, &lo2, &guest), 0);
        assert_int_equal(http_peers_admit(p, &lo2, &guest), -EUSERS);
        for (int i = 0; i < 3; i++)
                assert_int_equal(http_peers_admit(p, &host, &from_host), 0);
        assert_int_equal(http_peers_admit(p, &host, &from_host), -EUSERS); /* its own per-client limit */
        assert_int_equal(http_peers_count(p, &host), 3);
        assert_int_equal(http_peers_total(p), 11);
        /* Released: room again for the others. */
        http_peers_release(p, &a);
        assert_int_equal(http_peers_count(p, &a), 2);
        for (int i = 0; i < 3; i++)
                http_peers_release(p, &host);
        assert_int_equal(http_peers_count(p, &host), 0);
        assert_int_equal(http_peers_total(p), 7); /* a 2, b 2, loopback 3 */
        HttpPeerKey c = key_of("10.9.9.9");
        assert_int_equal(http_peers_admit(p, &c, &guest), 0);
        assert_int_equal(http_peers_admit(p, &c, &guest), -EUSERS); /* the pool is full again */
        /* Loopback's release makes no room in the pool. */
        http_peers_release(p, &lo);
        assert_int_equal(http_peers_admit(p, &c, &guest), -EUSERS);
        /* Releasing what was never admitted changes nothing. */
        HttpPeerKey d = key_of("10.9.9.8");
        http_peers_release(p, &d);
        assert_int_equal(http_peers_total(p), 7);
        assert_null(http_peers_free(p));
}

/* The local users but root and the browser's hold HTTP_LOCAL_SHARES (2)
 * per-client shares together, however many of them there are; root and
 * the browser's user keep their own beside them, and the bridge's pool
 * and the host's reserve are apart: so what is admitted at once never
 * passes http_peers_most(), which libmicrohttpd's limit is set above.
 * Before, each local user had a share of its own and no bound on all of
 * them: three users' 64 with a full pool passed that limit, and the
 * host's connections waited unaccepted. */
static void test_local_users_together(void **state) {
        HttpAdmission guest = { .max_connections = 3, .max_per_peer = 2 };
        HttpAdmission from_host = { .max_connections = 3, .max_per_peer = 2, .host = true };
        HttpPeerKey users[] = { owned("127.0.0.1", 1001), owned("::1", 1003), owned("127.0.0.7", 1004),
                                owned("127.0.0.1", HTTP_PEER_OWNER_UNKNOWN) };
        HttpPeerKey root = owned("127.0.0.1", 0), browser = owned("127.0.0.9", BROWSER);
        HttpPeerKey hosts[] = { key_of("10.0.0.1"), key_of("10.0.0.2") }, bridge[] = { key_of("10.0.0.3"),
                                                                                      key_of("10.0.0.4") };
        HttpPeers *p = NULL;

        assert_int_equal(http_peers_new(&p), 0);
        for (size_t i = 0; i < ELEMENTSOF(users); i++)
                for (int k = 0; k < 2; k++)
                        assert_int_equal(http_peers_admit(p, &users[i], &guest), i < 2 ? 0 : -EUSERS);
        for (int k = 0; k < 2; k++) {
                assert_int_equal(http_peers_admit(p, &root, &guest), 0);
                assert_int_equal(http_peers_admit(p, &browser, &guest), 0);
        }
        assert_int_equal(http_peers_admit(p, &root, &guest), -EUSERS);
        assert_int_equal(http_peers_admit(p, &browser, &guest), -EUSERS);
        for (size_t i = 0; i < ELEMENTSOF(bridge); i++)
                for (int k = 0; k < 2; k++)
                        (void)http_peers_admit(p, &bridge[i], &guest);
        for (size_t i = 0; i < ELEMENTSOF(hosts); i++)
                for (int k = 0; k < 2; k++)
                        (void)http_peers_admit(p, &hosts[i], &from_host);
        /* pool 3 + reserve 64 (the host's 4 here) + root 2 + browser 2 + local 4 */
        assert_int_equal(http_peers_total(p), 3 + 4 + 2 + 2 + 4);
        assert_int_equal(http_peers_most(&guest), 3 + HTTP_HOST_RESERVE + 2 + 2 + 4);
        assert_true(http_peers_total(p) <= http_peers_most(&guest));
        /* A local user's release makes room for another local user. */
        http_peers_release(p, &users[0]);
        assert_int_equal(http_peers_admit(p, &users[2], &guest), 0);
        assert_int_equal(http_peers_admit(p, &users[3], &guest), -EUSERS);
        /* Root's release makes none for them. */
        http_peers_release(p, &root);
        assert_int_equal(http_peers_admit(p, &users[3], &guest), -EUSERS);
        assert_null(http_peers_free(p));
}

/* Without a browser user, only root's loopback is apart; the unknown
 * owner never is. */
static void test_no_browser_user(void **state) {
        SockaddrIn lo;
        socklen_t len;
        HttpAdmission a = { .max_connections = 1, .max_per_peer = 1 };
        HttpPeers *p = NULL;

        assert_int_equal(sockaddr_in_parse("127.0.0.1", 0, &lo, &len), 0);
        HttpPeerKey root = http_peer_key(&lo.sa, 0, HTTP_PEER_OWNER_UNKNOWN, false),
                    unknown = http_peer_key(&lo.sa, HTTP_PEER_OWNER_UNKNOWN, HTTP_PEER_OWNER_UNKNOWN, false),
                    u1 = http_peer_key(&lo.sa, 1001, HTTP_PEER_OWNER_UNKNOWN, false),
                    u2 = http_peer_key(&lo.sa, 1002, HTTP_PEER_OWNER_UNKNOWN, false);

        assert_int_equal(http_peers_new(&p), 0);
        assert_int_equal(http_peers_admit(p, &unknown, &a), 0);
        assert_int_equal(http_peers_admit(p, &u1, &a), 0);
        assert_int_equal(http_peers_admit(p, &u2, &a), -EUSERS);
        assert_int_equal(http_peers_admit(p, &root, &a), 0);
        assert_null(http_peers_free(p));
}

/* The largest limits the configuration takes: the host's reserve on top
 * of them does not wrap round to a small limit (64 - 1 = 63). */
static void test_limits_at_their_largest(void **state) {
        HttpAdmission from_host = { .max_connections = UINT32_MAX, .max_per_peer = UINT32_MAX, .host = true };
        HttpPeerKey host = key_of("10.0.0.1");
        HttpPeers *p = NULL;

        assert_int_equal(http_peers_new(&p), 0);
        for (int i = 0; i < 100; i++)
                assert_int_equal(http_peers_admit(p, &host, &from_host), 0);
        assert_int_equal(http_peers_count(p, &host), 100);
        assert_int_equal(http_peers_most(&from_host), UINT32_MAX);
        HttpAdmission per_peer = { .max_connections = 1, .max_per_peer = UINT32_MAX / 3 };
        assert_int_equal(http_peers_most(&per_peer), UINT32_MAX); /* 4 shares */
        http_peers_free(p);
}

static void test_many_clients(void **state) {
        HttpAdmission a = { .max_connections = 1000, .max_per_peer = 1 };
        HttpPeers *p = NULL;
        char addr[32];

        assert_int_equal(http_peers_new(&p), 0);
        for (int i = 0; i < 600; i++) {
                snprintf(addr, sizeof addr, "10.1.%d.%d", i / 250, i % 250 + 1);
                HttpPeerKey k = key_of(addr);
                assert_int_equal(http_peers_admit(p, &k, &a), 0);
        }
        assert_int_equal(http_peers_total(p), 600);
        for (int i = 599; i >= 0; i -= 2) {
                snprintf(addr, sizeof addr, "10.1.%d.%d", i / 250, i % 250 + 1);
                HttpPeerKey k = key_of(addr);
                http_peers_release(p, &k);
        }
        assert_int_equal(http_peers_total(p), 300);
        http_peers_free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_keys),
                cmocka_unit_test(test_ipv6_prefix_keys),
                cmocka_unit_test(test_ipv6_host_keys),
                cmocka_unit_test(test_ipv6_prefix_limits),
                cmocka_unit_test(test_loopback_owner_keys),
                cmocka_unit_test(test_loopback_owner_limits),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_local_users_together),
                cmocka_unit_test(test_no_browser_user),
                cmocka_unit_test(test_limits_at_their_largest),
                cmocka_unit_test(test_many_clients),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
