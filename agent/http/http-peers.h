/* Connections per client, and who gets a connection when the table is
 * full.  libmicrohttpd's own per-IP limit counts each of 127.0.0.1,
 * 127.0.0.2, ... as a client of its own, so a local process could open
 * 64 connections from each loopback address; here loopback (127/8, ::1,
 * their v4-mapped forms) is one client per local user (the owner of the
 * peer's socket, common/sock-diag.h; one more client for those whose owner
 * is unknown), so that a provider CLI cannot take the room of the
 * browser, which runs as a user of its own.  An IPv6 client that is not
 * the host is its /64 (link-local: all of fe80::/64 one client), as one
 * machine holds a whole /64: counted per address, one neighbour taking
 * many addresses in its /64 had a share for each and filled the pool
 * alone; the host's addresses keep one client each.  Beyond
 * max_connections only the host (the ip= gateway, allow_from — never
 * loopback) is let in, into a reserve of its own, so neither the bridge
 * nor a local process can lock the host's probes out.  Loopback is outside that pool: the VM's own
 * browser brings the OAuth redirects there, which clients on the bridge
 * filling the table (long polls of the public /health/ready) must not lock
 * out.  Root (the agent's own probes) and the browser's user have a
 * per-client share each; every other local user (the CLIs', the display's,
 * any other, the unknown owner) has one too, but all of them together
 * HTTP_LOCAL_SHARES: so the most connections admitted at once is bounded
 * (http_peers_most()), and libmicrohttpd's own limit, set above it, is
 * never what refuses the host however many local users hold connections.
 * Pure: a table in memory, no sockets. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "macro.h"

/* Connections kept beyond max_connections for the host alone. */
#define HTTP_HOST_RESERVE 64u
/* Per-client shares that all local users but root and the browser's hold
 * together on loopback: two, so that no one of them takes it all. */
#define HTTP_LOCAL_SHARES 2u

typedef struct HttpPeerKey {
        /* family byte (4, 6; 64 for an IPv6 /64; loopback: 1, or 2 for
         * root and the browser's user) + address (a /64's first 8 bytes);
         * for loopback the owner's uid, zero-filled */
        uint8_t bytes[17];
} HttpPeerKey;

#define HTTP_PEER_OWNER_UNKNOWN ((uid_t)-1)

typedef struct HttpPeers HttpPeers;

int http_peers_new(HttpPeers **ret);
HttpPeers *http_peers_free(HttpPeers *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpPeers *, http_peers_free);

/* The client a peer address counts as; owner only counts for loopback:
 * the user whose socket the peer is, or HTTP_PEER_OWNER_UNKNOWN; browser
 * is the browser's user (HTTP_PEER_OWNER_UNKNOWN: none), which like root
 * is not in the local users' HTTP_LOCAL_SHARES.  host: the peer is the
 * host's (allow_from), a client per address; any other IPv6 peer (not
 * loopback, not v4-mapped: those are IPv4) is its /64. */
HttpPeerKey http_peer_key(const struct sockaddr *sa, uid_t owner, uid_t browser, bool host);

typedef struct HttpAdmission {
        uint32_t max_connections, max_per_peer;
        bool host;  /* the peer is the host (not loopback) */
} HttpAdmission;

/* A new connection from key: 0 and counted, or -EUSERS (over its client's
 * limit, or the table is full and it is neither the host's nor loopback's,
 * or it is a local user's and they hold their HTTP_LOCAL_SHARES), -ENOMEM. */
int http_peers_admit(HttpPeers *p, const HttpPeerKey *key, const HttpAdmission *a);
/* An admitted connection closed. */
void http_peers_release(HttpPeers *p, const HttpPeerKey *key);
/* The most connections admitted at once with a's limits (the host's and
 * not): the pool, the host's reserve, root's and the browser's shares and
 * the local users' ones; saturated at UINT32_MAX. */
uint32_t http_peers_most(const HttpAdmission *a);
/* Connections counted now, in all (loopback's too) and from key. */
size_t http_peers_total(const HttpPeers *p);
unsigned http_peers_count(const HttpPeers *p, const HttpPeerKey *key);
