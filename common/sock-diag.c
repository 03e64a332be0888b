/* Implementation of sock-diag.h: exact-socket requests to
 * NETLINK_SOCK_DIAG (SOCK_DIAG_BY_FAMILY without NLM_F_DUMP), each naming
 * a socket as its own side sees it (a peer's local address and port are
 * ours as its remote ones); the kernel answers with the socket its own
 * lookup for an arriving packet finds. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "in-addr-util.h"
#include "macro.h"
#include "sock-diag.h"

/* The loopback device's index, the same in every network namespace. */
#define LOOPBACK_IFINDEX 1

typedef struct DiagRequest {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
} DiagRequest;

/* Fills the address half of id from sa: 0, or -EAFNOSUPPORT.  A
 * v4-mapped IPv6 address is an IPv4 connection: family becomes AF_INET. */
static int id_side(const SockaddrIn *sa, uint8_t *family, __be32 addr[4], __be16 *port) {
        uint8_t a[16];
        int f = sockaddr_bytes(&sa->sa, a);

        if (f == AF_UNSPEC)
                return -EAFNOSUPPORT;
        memcpy(addr, a, f == AF_INET ? 4 : 16);
        *family = (uint8_t)f;
        *port = htons(sockaddr_in_port(sa));
        return 0;
}

static int build_request(int fd, DiagRequest *m) {
        SockaddrIn local, peer;
        socklen_t llen = sizeof local, plen = sizeof peer;
        uint8_t lfam = 0, pfam = 0;
        struct inet_diag_sockid *id = &m->req.id;

        if (getsockname(fd, &local.sa, &llen) < 0 || getpeername(fd, &peer.sa, &plen) < 0)
                return -errno;
        *m = (DiagRequest){
                .nlh = { .nlmsg_len = sizeof *m, .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                         .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
                /* The interface is loopback's (index 1 in every namespace):
                 * with 0 the kernel misses a peer bound to "lo"
                 * (SO_BINDTODEVICE, open to any user), and falls back to a
                 * listener on the peer's address and port, another user's. */
                .req = { .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u,
                         .id = { .idiag_if = LOOPBACK_IFINDEX,
                                 .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
        };
        if (id_side(&peer, &pfam, id->idiag_src, &id->idiag_sport) < 0 ||
            id_side(&local, &lfam, id->idiag_dst, &id->idiag_dport) < 0)
                return -EAFNOSUPPORT;
        if (pfam != lfam)
                return -EAFNOSUPPORT;
        m->req.sdiag_family = pfam;
        return 0;
}

/* The kernel's error in an NLMSG_ERROR message h; -EBADMSG when it is
 * cut short or carries none. */
static int reply_error(const struct nlmsghdr *h) {
        const struct nlmsgerr *e = NLMSG_DATA(h);

        return h->nlmsg_len >= NLMSG_LENGTH(sizeof *e) && e->error < 0 ? e->error : -EBADMSG;
}

/* What the kernel says of one socket. */
typedef struct DiagSocket {
        uint8_t state;
        uid_t uid;
        uint32_t inode;
} DiagSocket;

/* The answer to request m: the socket it names, or the kernel's error.
 * A socket with other ports is none, and a listener is one only when
 * asked for (for a connection, the kernel falls back to a listener on the
 * peer's address and port). */
static int parse_reply(const DiagRequest *m, const void *buf, size_t n, bool listener, DiagSocket *ret) {
        for (const struct nlmsghdr *h = buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
                if (h->nlmsg_type == NLMSG_ERROR)
                        return reply_error(h);
                if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
                        const struct inet_diag_msg *d = NLMSG_DATA(h);
                        if (h->nlmsg_len < NLMSG_LENGTH(sizeof *d))
                                return -EBADMSG;
                        if ((d->idiag_state == TCP_LISTEN) != listener ||
                            d->id.idiag_sport != m->req.id.idiag_sport || d->id.idiag_dport != m->req.id.idiag_dport)
                                return -ENOENT;
                        *ret = (DiagSocket){ .state = d->idiag_state, .uid = d->idiag_uid, .inode = d->idiag_inode };
                        return 0;
                }
        }
        return -EBADMSG;
}

/* The owner of a socket a process holds.  One no process holds (closed,
 * TIME_WAIT, a pending request, one not accepted yet) has no inode; some
 * kernels report such sockets as uid 0, not as their last owner. */
static int held_owner(const DiagSocket *d, uid_t *ret) {
        if (d->inode == 0)
                return -ENOTCONN;
        *ret = d->uid;
        return 0;
}

typedef union DiagReply {
        struct nlmsghdr h;
        uint8_t bytes[1024];
} DiagReply;

/* Sends m on a new NETLINK_SOCK_DIAG socket and reads the first reply
 * datagram into buf: its length, or -errno. */
static ssize_t ask(const DiagRequest *m, DiagReply *buf) {
        _cleanup_(closep) int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        ssize_t n;

        if (nl < 0)
                return -errno;
        if (send(nl, m, sizeof *m, 0) < 0)
                return -errno;
        do
                n = recv(nl, buf, sizeof *buf, 0);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : n;
}

/* Asks the kernel for the socket m names (a listener when listener). */
static int query(const DiagRequest *m, bool listener, DiagSocket *ret) {
        DiagReply buf;
        ssize_t n = ask(m, &buf);

        if (n < 0)
                return (int)n;
        return parse_reply(m, &buf, (size_t)n, listener, ret);
}

/* -ENOENT for fd's connection: -ENOTCONN when it was reset meanwhile. */
static int not_found(int fd) {
        SockaddrIn peer;
        socklen_t len = sizeof peer;

        return getpeername(fd, &peer.sa, &len) < 0 && errno == ENOTCONN ? -ENOTCONN : -ENOENT;
}

int sock_diag_peer_owner(int fd, uid_t *ret) {
        DiagRequest m;
        DiagSocket d;
        int r = build_request(fd, &m);

        if (r < 0)
                return r;
        r = query(&m, false, &d);
        /* Not found because the peer reset the connection meanwhile? */
        if (r == -ENOENT)
                return not_found(fd);
        return r < 0 ? r : held_owner(&d, ret);
}

/* The listener is asked for first.  A connection no process accepted yet
 * waits in the queue of the listener it reached (or, as a pending
 * request, will join it); found there after the listener was, that
 * listener was listening when it was asked for (its close would have
 * reset the connection), and on one address and port only one user's
 * listeners can be (bind(2) refuses another's; SO_REUSEPORT only the
 * same uid's): the one found. */
int sock_diag_connection_owner(int fd, uid_t *ret) {
        DiagRequest m, lm;
        DiagSocket d, l;
        int r = build_request(fd, &m), rl;

        if (r < 0)
                return r;
        /* No local side: the listener lookup, as a packet arriving there. */
        lm = m;
        memset(lm.req.id.idiag_dst, 0, sizeof lm.req.id.idiag_dst);
        lm.req.id.idiag_dport = 0;
        rl = query(&lm, true, &l);
        r = query(&m, false, &d);
        if (r == -ENOENT)
                return not_found(fd);
        if (r < 0)
                return r;
        if (d.inode != 0 || (d.state != TCP_ESTABLISHED && d.state != TCP_SYN_RECV))
                return held_owner(&d, ret);
        if (rl < 0)
                return rl == -ENOENT ? -ENOTCONN : rl;
        return held_owner(&l, ret);
}

/* A dump of the TCP sockets in no state: NLMSG_DONE, whose payload is
 * the dump's result: 0 when the kernel has TCP socket diagnostics, else
 * an error (-ENOENT: no tcp_diag); NLMSG_ERROR without inet_diag. */
int sock_diag_supported(uint8_t protocol) {
        DiagRequest m = {
                .nlh = { .nlmsg_len = sizeof m, .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                         .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
                .req = { .sdiag_family = AF_INET, .sdiag_protocol = protocol, .idiag_states = 0 },
        };
        DiagReply buf;
        ssize_t n = ask(&m, &buf);

        if (n < 0)
                return (int)n;
        for (const struct nlmsghdr *h = &buf.h; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
                if (h->nlmsg_type == NLMSG_DONE) {
                        int err = 0;
                        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof err))
                                memcpy(&err, NLMSG_DATA(h), sizeof err);
                        return err < 0 ? err : 0;
                }
                if (h->nlmsg_type == NLMSG_ERROR)
                        return reply_error(h);
        }
        return -EBADMSG;
}

int sock_diag_tcp_supported(void) {
        return sock_diag_supported(IPPROTO_TCP);
}

/* The lookup a connection to 127.0.0.1:port makes on arrival (on lo):
 * the kernel's own choice among the listeners, wildcard, dual-stack and
 * v4-mapped ones included, IPv6-only ones not. */
int sock_diag_loopback_listener_owner(uint16_t port, uid_t *ret) {
        DiagRequest m = {
                .nlh = { .nlmsg_len = sizeof m, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST,
                         .nlmsg_seq = 1 },
                .req = { .sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u,
                         .id = { .idiag_sport = htons(port), .idiag_src = { htonl(INADDR_LOOPBACK) },
                                 .idiag_if = LOOPBACK_IFINDEX,
                                 .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
        };
        DiagSocket d;
        int r = query(&m, true, &d);

        return r < 0 ? r : held_owner(&d, ret);
}
