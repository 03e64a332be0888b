/* Implementation of http-peers.h: an array of (client, count), searched
 * linearly: it holds the distinct clients connected now, a handful in
 * normal use and bounded by the connection limit under attack. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "http-peers.h"
#include "in-addr-util.h"

typedef struct Entry {
        HttpPeerKey key;
        unsigned count;
} Entry;

struct HttpPeers {
        Entry *entries;
        size_t n, allocated;
        size_t total;
        size_t pooled; /* all but loopback's: what max_connections bounds */
        size_t local;  /* loopback's but root's and the browser's: HTTP_LOCAL_SHARES */
};

enum {
        KEY_LOCAL = 1, /* loopback: a local user in HTTP_LOCAL_SHARES */
        KEY_APART = 2, /* loopback: root or the browser's user */
        KEY_PREFIX6 = 64, /* an IPv6 /64 (not the host's): its first 8 bytes */
};

/* Bytes of an IPv6 address that name its client when it is not the
 * host's: its /64, which one machine holds whole (SLAAC privacy
 * addresses, or any address it takes in it), so that it has one share and
 * not one per address.  Link-local is fe80::/64 for every neighbour on the
 * link, the zone not compared (the VM has one network device), so all of
 * them share one: counted per address, any neighbour could take as many
 * link-local addresses as it likes and fill the pool again; the host's
 * link-local address is in allow_from (the ip= gateway), counted apart. */
#define PREFIX6_BYTES 8

static bool is_loopback(const HttpPeerKey *key) {
        return key->bytes[0] == KEY_LOCAL || key->bytes[0] == KEY_APART;
}

static bool is_local(const HttpPeerKey *key) {
        return key->bytes[0] == KEY_LOCAL;
}

int http_peers_new(HttpPeers **ret) {
        HttpPeers *p = calloc(1, sizeof *p);

        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

HttpPeers *http_peers_free(HttpPeers *p) {
        if (p) {
                free(p->entries);
                free(p);
        }
        return NULL;
}

HttpPeerKey http_peer_key(const struct sockaddr *sa, uid_t owner, uid_t browser, bool host) {
        HttpPeerKey k = {};
        uint8_t a[16];
        int f;

        if (!sa)
                return k;
        if (sockaddr_is_loopback(sa)) {
                uint32_t u = owner;
                bool apart = owner == 0 || (owner == browser && owner != HTTP_PEER_OWNER_UNKNOWN);
                k.bytes[0] = apart ? KEY_APART : KEY_LOCAL;
                memcpy(k.bytes + 1, &u, sizeof u);
                return k;
        }
        f = sockaddr_bytes(sa, a);
        if (f == AF_INET6 && !host) {
                k.bytes[0] = KEY_PREFIX6;
                memcpy(k.bytes + 1, a, PREFIX6_BYTES);
        } else if (f == AF_INET || f == AF_INET6) {
                k.bytes[0] = f == AF_INET ? 4 : 6;
                memcpy(k.bytes + 1, a, f == AF_INET ? 4 : 16);
        }
        return k;
}

static Entry *find(const HttpPeers *p, const HttpPeerKey *key) {
        for (size_t i = 0; i < p->n; i++)
                if (memcmp(&p->entries[i].key, key, sizeof *key) == 0)
                        return &p->entries[i];
        return NULL;
}

static Entry *add(HttpPeers *p, const HttpPeerKey *key) {
        if (p->n == p->allocated) {
                size_t want = p->allocated ? p->allocated * 2 : 16;
                Entry *e = reallocarray(p->entries, want, sizeof *e);
                if (!e)
                        return NULL;
                p->entries = e;
                p->allocated = want;
        }
        p->entries[p->n] = (Entry){ .key = *key };
        return &p->entries[p->n++];
}

int http_peers_admit(HttpPeers *p, const HttpPeerKey *key, const HttpAdmission *a) {
        Entry *e = find(p, key);

        if (e && e->count >= a->max_per_peer)
                return -EUSERS;
        if (!is_loopback(key) && p->pooled >= add_sat_u32(a->max_connections, a->host ? HTTP_HOST_RESERVE : 0))
                return -EUSERS;
        if (is_local(key) && p->local >= mul_sat_u32(a->max_per_peer, HTTP_LOCAL_SHARES))
                return -EUSERS;
        if (!e && !(e = add(p, key)))
                return -ENOMEM;
        e->count++;
        p->total++;
        p->pooled += !is_loopback(key);
        p->local += is_local(key);
        return 0;
}

void http_peers_release(HttpPeers *p, const HttpPeerKey *key) {
        Entry *e = find(p, key);

        if (!e || e->count == 0)
                return;
        p->total--;
        p->pooled -= !is_loopback(key);
        p->local -= is_local(key);
        if (--e->count == 0)
                *e = p->entries[--p->n]; /* order does not matter */
}

uint32_t http_peers_most(const HttpAdmission *a) {
        uint32_t loopback = mul_sat_u32(a->max_per_peer, 2 + HTTP_LOCAL_SHARES); /* root, browser, the rest */

        return add_sat_u32(add_sat_u32(a->max_connections, HTTP_HOST_RESERVE), loopback);
}

size_t http_peers_total(const HttpPeers *p) {
        return p->total;
}

unsigned http_peers_count(const HttpPeers *p, const HttpPeerKey *key) {
        const Entry *e = find(p, key);
        return e ? e->count : 0;
}
