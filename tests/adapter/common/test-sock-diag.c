/* Adapter tests of common/sock-diag.c against real loopback
 * connections of this process: the owner of the peer's socket over IPv4,
 * IPv6 and a v4-mapped dual-stack listener; another user's socket (root
 * only: made with that effective uid); a peer that closed its end; the
 * listener a connection to 127.0.0.1:port reaches; and who holds the
 * other end of a connection made. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "sock-diag.h"
#include "in-addr-util.h"

typedef struct Pair {
        int listener, client, server;
} Pair;

/* A listener on addr (port 0), a client of family client_family made
 * with effective uid as_uid (unless (uid_t)-1), bound to device "lo"
 * when lo_bound, connected to it, and the accepted end. */
static Pair pair_open_on(const char *listen_addr, int client_family, const char *connect_addr, uid_t as_uid,
                         bool lo_bound) {
        Pair p;
        SockaddrIn a, c;
        socklen_t len, clen;
        uid_t saved = geteuid();

        assert_int_equal(sockaddr_in_parse(listen_addr, 0, &a, &len), 0);
        p.listener = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(p.listener >= 0);
        if (a.sa.sa_family == AF_INET6)
                assert_int_equal(setsockopt(p.listener, IPPROTO_IPV6, IPV6_V6ONLY, &(int){ 0 }, sizeof(int)), 0);
        assert_int_equal(bind(p.listener, &a.sa, len), 0);
        assert_int_equal(listen(p.listener, 4), 0);
        assert_int_equal(getsockname(p.listener, &a.sa, &len), 0);
        assert_int_equal(sockaddr_in_parse(connect_addr, ntohs(a.sa.sa_family == AF_INET ? a.in.sin_port : a.in6.sin6_port),
                                           &c, &clen), 0);
        assert_int_equal(c.sa.sa_family, client_family);
        if (as_uid != (uid_t)-1)
                assert_int_equal(seteuid(as_uid), 0);
        p.client = socket(client_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (as_uid != (uid_t)-1)
                assert_int_equal(seteuid(saved), 0);
        assert_true(p.client >= 0);
        if (lo_bound)
                assert_int_equal(setsockopt(p.client, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3), 0);
        assert_int_equal(connect(p.client, &c.sa, clen), 0);
        p.server = accept4(p.listener, NULL, NULL, SOCK_CLOEXEC);
        assert_true(p.server >= 0);
        return p;
}

static Pair pair_open(const char *listen_addr, int client_family, const char *connect_addr, uid_t as_uid) {
        return pair_open_on(listen_addr, client_family, connect_addr, as_uid, false);
}

static void pair_close(Pair *p) {
        close(p->server);
        if (p->client >= 0)
                close(p->client);
        close(p->listener);
}

static void test_ipv4(void **state) {
        Pair p = pair_open("127.0.0.1", AF_INET, "127.0.0.1", (uid_t)-1);
        uid_t owner = 12345;

        assert_int_equal(sock_diag_peer_owner(p.server, &owner), 0);
        assert_int_equal(owner, geteuid());
        pair_close(&p);
}

static bool have_ipv6_loopback(void) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;

        if (fd >= 0)
                close(fd);
        return ok;
}

static void test_ipv6(void **state) {
        Pair p;
        uid_t owner = 12345;

        if (!have_ipv6_loopback())
                skip();
        p = pair_open("::1", AF_INET6, "::1", (uid_t)-1);

        assert_int_equal(sock_diag_peer_owner(p.server, &owner), 0);
        assert_int_equal(owner, geteuid());
        pair_close(&p);
}

/* An IPv4 client of a dual-stack listener: the accepted end's peer is
 * ::ffff:127.0.0.1, the client's socket an IPv4 one. */
static void test_v4_mapped(void **state) {
        Pair p = pair_open("::", AF_INET, "127.0.0.1", (uid_t)-1);
        SockaddrIn peer;
        socklen_t len = sizeof peer;
        uid_t owner = 12345;

        assert_int_equal(getpeername(p.server, &peer.sa, &len), 0);
        assert_int_equal(peer.sa.sa_family, AF_INET6);
        assert_int_equal(sock_diag_peer_owner(p.server, &owner), 0);
        assert_int_equal(owner, geteuid());
        pair_close(&p);
}

static void test_other_user(void **state) {
        Pair p;
        uid_t owner = 12345;

        if (geteuid() != 0)
                skip();
        p = pair_open("127.0.0.1", AF_INET, "127.0.0.1", 65534);
        assert_int_equal(sock_diag_peer_owner(p.server, &owner), 0);
        assert_int_equal(owner, 65534);
        pair_close(&p);
}

/* A peer bound to device "lo" (SO_BINDTODEVICE, open to any user): the
 * kernel finds it only when asked on that interface. */
static void test_peer_bound_to_lo(void **state) {
        Pair p = pair_open_on("127.0.0.1", AF_INET, "127.0.0.1", geteuid() == 0 ? 65534 : (uid_t)-1, true);
        uid_t owner = 12345;

        assert_int_equal(sock_diag_peer_owner(p.server, &owner), 0);
        assert_int_equal(owner, geteuid() == 0 ? 65534 : geteuid());
        pair_close(&p);
}

/* A peer that closed its socket has no owner (the kernel would say 0:
 * root), whatever state its connection is in. */
static void test_peer_closed(void **state) {
        Pair p = pair_open("127.0.0.1", AF_INET, "127.0.0.1", (uid_t)-1);
        uid_t owner = 12345;

        close(p.client);
        p.client = -1;
        assert_int_equal(sock_diag_peer_owner(p.server, &owner), -ENOTCONN);
        assert_int_equal(owner, 12345);
        pair_close(&p);
}

/* This kernel has the diagnostics the tests above used; a protocol
 * without a diagnostics handler (the kernel answers its dump with an
 * error inside NLMSG_DONE) is not supported. */
static void test_supported(void **state) {
        assert_int_equal(sock_diag_tcp_supported(), 0);
        assert_int_equal(sock_diag_supported(200), -ENOENT);
}

/* A listener on addr:port made as as_uid (unless (uid_t)-1), IPv6-only
 * when v6only; port 0 picks one (*port gets it). */
static int listener_on(const char *addr, uint16_t *port, uid_t as_uid, bool v6only) {
        SockaddrIn a;
        socklen_t len;
        uid_t saved = geteuid();
        int fd;

        assert_int_equal(sockaddr_in_parse(addr, *port, &a, &len), 0);
        if (as_uid != (uid_t)-1)
                assert_int_equal(seteuid(as_uid), 0);
        fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (as_uid != (uid_t)-1)
                assert_int_equal(seteuid(saved), 0);
        assert_true(fd >= 0);
        if (a.sa.sa_family == AF_INET6)
                assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){ v6only }, sizeof(int)), 0);
        assert_int_equal(bind(fd, &a.sa, len), 0);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(getsockname(fd, &a.sa, &len), 0);
        *port = ntohs(a.sa.sa_family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
        return fd;
}

/* An IPv6-only listener on [::] (made as as_uid) and a socket of the
 * test's own bound to 127.0.0.1, not listening yet, on one port: from
 * then on nobody else can listen there.  The port bind(0) picks for the
 * first is free for IPv6 only: on this machine's own network namespace
 * another process may hold it on 127.0.0.1 or 0.0.0.0 (a listener, a
 * connection, one in TIME_WAIT), so a port taken there is passed over
 * for the next one bind(0) picks. */
static void v6_listener_and_v4_bound(uid_t as_uid, int *ret_v6, int *ret_v4, uint16_t *ret_port) {
        for (int i = 0; i < 100; i++) {
                uint16_t port = 0;
                int v6 = listener_on("::", &port, as_uid, true);
                SockaddrIn a;
                socklen_t len;
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

                assert_true(fd >= 0);
                assert_int_equal(sockaddr_in_parse("127.0.0.1", port, &a, &len), 0);
                if (bind(fd, &a.sa, len) == 0) {
                        *ret_v6 = v6;
                        *ret_v4 = fd;
                        *ret_port = port;
                        return;
                }
                assert_int_equal(errno, EADDRINUSE);
                close(fd);
                close(v6);
        }
        fail_msg("no port free on both [::] and 127.0.0.1 in 100 picks");
}

/* The listener a connection to 127.0.0.1:port reaches: on 127.0.0.1, the
 * IPv4 wildcard, the dual-stack wildcard; not an IPv6-only one, which
 * another user may hold beside the CLI's. */
static void test_loopback_listener(void **state) {
        uid_t other = geteuid() == 0 ? 65534 : geteuid(), owner;
        uint16_t port = 0;
        int fd = listener_on("127.0.0.1", &port, other == geteuid() ? (uid_t)-1 : other, false), v6 = -EBADF;

        owner = 12345;
        assert_int_equal(sock_diag_loopback_listener_owner(port, &owner), 0);
        assert_int_equal(owner, other);
        close(fd);
        assert_int_equal(sock_diag_loopback_listener_owner(port, &owner), -ENOENT);

        port = 0;
        fd = listener_on("0.0.0.0", &port, (uid_t)-1, false);
        assert_int_equal(sock_diag_loopback_listener_owner(port, &owner), 0);
        assert_int_equal(owner, geteuid());
        close(fd);
        if (!have_ipv6_loopback())
                return;
        port = 0;
        fd = listener_on("::", &port, (uid_t)-1, false);
        assert_int_equal(sock_diag_loopback_listener_owner(port, &owner), 0);
        assert_int_equal(owner, geteuid());
        close(fd);
        /* [::]:port IPv6-only (another user's) beside 127.0.0.1:port (the
         * CLI's): the connection reaches the latter. */
        v6_listener_and_v4_bound(other == geteuid() ? (uid_t)-1 : other, &v6, &fd, &port);
        assert_int_equal(sock_diag_loopback_listener_owner(port, &owner), -ENOENT);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(sock_diag_loopback_listener_owner(port, &owner), 0);
        assert_int_equal(owner, geteuid());
        close(fd);
        close(v6);
}

/* A client of this process's connected to listen_addr:port. */
static int client_to(const char *addr, uint16_t port) {
        SockaddrIn a;
        socklen_t len;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(sockaddr_in_parse(addr, port, &a, &len), 0);
        assert_int_equal(connect(fd, &a.sa, len), 0);
        return fd;
}

/* Who holds the other end of a connection made: while it waits in the
 * queue, its listener's owner; once accepted, the accepting socket's
 * (here this process's, not the listener's); once that is closed, or
 * the listener closed with the connection still queued, nobody. */
static void test_connection_owner(const char *listen_addr) {
        uid_t other = geteuid() == 0 ? 65534 : geteuid(), owner = 12345;
        uint16_t port = 0;
        int l = listener_on(listen_addr, &port, other == geteuid() ? (uid_t)-1 : other, false);
        int c = client_to("127.0.0.1", port), server;

        assert_int_equal(sock_diag_connection_owner(c, &owner), 0);
        assert_int_equal(owner, other);
        server = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        assert_true(server >= 0);
        owner = 12345;
        assert_int_equal(sock_diag_connection_owner(c, &owner), 0);
        assert_int_equal(owner, geteuid());
        close(server);
        owner = 12345;
        assert_int_equal(sock_diag_connection_owner(c, &owner), -ENOTCONN);
        assert_int_equal(owner, 12345);
        close(c);

        c = client_to("127.0.0.1", port);
        close(l);
        /* The reset reached the client (however late its softirq runs). */
        assert_int_equal(poll(&(struct pollfd){ .fd = c, .events = POLLIN }, 1, -1), 1);
        assert_int_equal(sock_diag_connection_owner(c, &owner), -ENOTCONN);
        assert_int_equal(owner, 12345);
        close(c);
}

static void test_connection_owner_ipv4(void **state) {
        test_connection_owner("127.0.0.1");
}

/* A dual-stack listener: the connection's other end is v4-mapped. */
static void test_connection_owner_dual_stack(void **state) {
        if (!have_ipv6_loopback())
                skip();
        test_connection_owner("::");
}

static void test_not_a_tcp_socket(void **state) {
        int sv[2];
        uid_t owner;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(sock_diag_peer_owner(sv[0], &owner), -EAFNOSUPPORT);
        assert_int_equal(sock_diag_connection_owner(sv[0], &owner), -EAFNOSUPPORT);
        close(sv[0]);
        close(sv[1]);
        assert_int_equal(sock_diag_peer_owner(-1, &owner), -EBADF);
        assert_int_equal(sock_diag_connection_owner(-1, &owner), -EBADF);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ipv4),
                cmocka_unit_test(test_ipv6),
                cmocka_unit_test(test_v4_mapped),
                cmocka_unit_test(test_other_user),
                cmocka_unit_test(test_peer_bound_to_lo),
                cmocka_unit_test(test_peer_closed),
                cmocka_unit_test(test_not_a_tcp_socket),
                cmocka_unit_test(test_supported),
                cmocka_unit_test(test_loopback_listener),
                cmocka_unit_test(test_connection_owner_ipv4),
                cmocka_unit_test(test_connection_owner_dual_stack),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
