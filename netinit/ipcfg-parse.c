/* The `ip=` grammar: turns a kernel command line into an IpcfgPlan.  Pure:
 * no system calls, no allocation, so the unit tests and the fuzzer link it
 * alone.  Where the kernel, systemd and dracut disagree, DESIGN.md decides;
 * tests/unit/netinit/test-ipcfg.c says which behaviour each case follows.
 *
 * Tokens as the kernel splits them (common/cmdline-util.c); a bare `--`
 * ends the kernel's part of the line.  Keys are matched exactly:
 *
 *   ip=<client>:<server>:<gateway>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>:<ntp0>
 *   ip=<client>:<server>:<gateway>:<netmask>:<hostname>:<device>:<autoconf>:<mtu>[:<mac>]
 *   ip=<device>:<autoconf>[:[<mtu>][:<mac>]]          (dracut/systemd)
 *   ip=<autoconf>                                      (device: the first one)
 *   ip= | ip=off | ip=none | ip=static                 (no network setup)
 *   nfsaddrs=...                                       (alias of ip=)
 *   nameserver=<address>                               (repeatable)
 *
 *   address   := dotted quad, each octet 0..255 without leading zeros,
 *                or "[" IPv6 "]"; empty, 0.0.0.0 or [::] = not given.
 *                nameserver= also takes a bare IPv6 address.  A client
 *                must not be multicast, 255.255.255.255, loopback or in
 *                0.0.0.0/8; a gateway not that either, nor any
 *                interface's client address or its subnet's broadcast
 *                address.
 *   netmask   := contiguous dotted quad | prefix length (0..32, 0..128 for
 *                an IPv6 client); empty or 0.0.0.0: classful guess from an
 *                IPv4 client (A /8, B /16, C /24; E: error), /128 for IPv6.
 *   hostname  := RFC 1123 labels joined by dots, <= 64 characters; the
 *                first label is the hostname, the rest the domain.
 *   device    := 0..15 printable bytes, no '/', not "." or ".."; empty =
 *                as the kernel picks one (ipcfg_link_is_candidate(), the
 *                lowest ifindex; the applier waits for it).
 *   autoconf  := off|none|static | on|any|dhcp|bootp|rarp|both | dhcp6|auto6
 *                | dhcp,<type>,<client-id>   (the kernel's DHCP client
 *                identifier: type 0..255 decimal, id 1..251 printable
 *                bytes, commas included; as field 7 it ends at the next
 *                ':', as the whole value it may hold colons)
 *   mtu       := 68..65535, decimal (1280.. with an IPv6 client or
 *                gateway: IPv6's minimum);  mac := xx:xx:xx:xx:xx:xx or
 *                xx-xx-xx-xx-xx-xx (systemd), unicast.
 *
 * Field 8 is an MTU (then field 9 on is the MAC, colons and all) when it is
 * all digits, or when it is empty and the value has more than 10 fields or
 * a field 9 with a dash (a MAC written with dashes) as its last.  The
 * device form is chosen when field 2 is an autoconf keyword and field 1 is
 * not an address.  A client address makes the entry static whatever the
 * autoconf keyword; without one, an empty autoconf means DHCP (the kernel's
 * default) and off/none/static mean method "none" (link up, no address).
 * Several ip=: entries with the same device merge field by field (the
 * later non-empty field wins), an off/none clears everything before it, at
 * most IPCFG_MAX_IFACES devices.  nameserver= addresses are appended to
 * every interface's dns after its own dns0/dns1, duplicates dropped.
 *
 * Over 800 lines on purpose: one grammar, whose every rule above has its
 * code below; split, the comment and the code would drift apart. */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cmdline-util.h"
#include "ipcfg.h"
#include "macro.h"
#include "string-table.h"

typedef struct Span {
        const char *p;
        size_t n;
} Span;

/* One ip= (or a merge of several with the same device), before the
 * method, prefix guess and DNS list are settled in entry_finish(). */
typedef struct Entry {
        char device[IFNAMSIZ];
        IpcfgMethod autoconf; /* keyword's meaning; _INVALID: not given */
        IpcfgAddr client, server, gateway, dns0, dns1, ntp0;
        int prefix; /* -1: not given */
        int prefix_family; /* the address family field 4 was read for */
        const char *key;   /* "ip" or "nfsaddrs", whichever gave it last: its errors name it */
        bool has_hostname;
        char hostname[IPCFG_HOSTNAME_MAX + 1];
        char domain[IPCFG_HOSTNAME_MAX + 1];
        uint32_t mtu;
        int mtu_field; /* where the MTU was given (8, or 3 in the device form): its errors name it */
        bool has_mac;
        uint8_t mac[6];
        uint8_t dhcp_client_id_type;
        char dhcp_client_id[IPCFG_DHCP_CLIENT_ID_MAX + 1];
} Entry;

typedef struct State {
        Entry entries[IPCFG_MAX_IFACES];
        size_t n_entries;
        IpcfgAddr ns[IPCFG_MAX_DNS];
        size_t n_ns;
        const char *key; /* of the ip= being parsed, for errors */
        IpcfgError *error;
} State;

#define MAX_FIELDS 16

static const char *const ipcfg_method_table[_IPCFG_METHOD_MAX] = {
        [IPCFG_METHOD_NONE] = "none",
        [IPCFG_METHOD_STATIC] = "static",
        [IPCFG_METHOD_DHCP] = "dhcp",
        [IPCFG_METHOD_DHCP6] = "dhcp6",
        [IPCFG_METHOD_AUTO6] = "auto6",
};

DEFINE_STRING_TABLE_LOOKUP(ipcfg_method, IpcfgMethod);

/* The kernel's keyword set (ic_proto_name) plus DESIGN's static/dhcp6/auto6.
 * STATIC here means "no autoconfiguration". */
static const struct {
        const char *word;
        IpcfgMethod method;
} autoconf_words[] = {
        { "off", IPCFG_METHOD_STATIC },  { "none", IPCFG_METHOD_STATIC },
        { "static", IPCFG_METHOD_STATIC }, { "on", IPCFG_METHOD_DHCP },
        { "any", IPCFG_METHOD_DHCP },    { "dhcp", IPCFG_METHOD_DHCP },
        { "bootp", IPCFG_METHOD_DHCP },  { "rarp", IPCFG_METHOD_DHCP },
        { "both", IPCFG_METHOD_DHCP },   { "dhcp6", IPCFG_METHOD_DHCP6 },
        { "auto6", IPCFG_METHOD_AUTO6 },
};

static bool span_eq(Span s, const char *word) {
        return s.n == strlen(word) && memcmp(s.p, word, s.n) == 0;
}

static IpcfgMethod autoconf_from_span(Span s) {
        for (size_t i = 0; i < ELEMENTSOF(autoconf_words); i++)
                if (span_eq(s, autoconf_words[i].word))
                        return autoconf_words[i].method;
        return _IPCFG_METHOD_INVALID;
}

static bool is_dhcp_client_id(Span s) {
        return s.n >= 5 && memcmp(s.p, "dhcp,", 5) == 0;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool all_digits(Span s) {
        for (size_t i = 0; i < s.n; i++)
                if (!is_digit(s.p[i]))
                        return false;
        return s.n > 0;
}

/* Strict decimal: 1..max_digits digits, no sign, no leading zero. */
static const char *parse_uint(Span s, size_t max_digits, uint32_t *ret) {
        uint32_t v = 0;

        if (!all_digits(s))
                return "not a number";
        if (s.n > 1 && s.p[0] == '0')
                return "leading zero";
        if (s.n > max_digits)
                return "out of range";
        for (size_t i = 0; i < s.n; i++)
                v = v * 10 + (uint32_t)(s.p[i] - '0');
        *ret = v;
        return NULL;
}

/* Exactly four decimal octets.  "010" is refused: the kernel's in_aton()
 * reads it as 10 but inet_aton() as 8, so either reading would be a guess. */
static const char *parse_ipv4(Span s, struct in_addr *ret) {
        uint32_t v = 0;
        size_t i = 0;

        for (int octet = 0; octet < 4; octet++) {
                Span o = { s.p + i, 0 };
                uint32_t x;
                const char *why;

                while (i < s.n && s.p[i] != '.')
                        i++, o.n++;
                if (o.n == 0 || !all_digits(o))
                        return "not a dotted quad";
                why = parse_uint(o, 3, &x);
                if (why && streq(why, "leading zero"))
                        return why;
                if (why || x > 255)
                        return "octet out of range";
                v = v << 8 | x;
                if (octet < 3 && (i >= s.n || s.p[i] != '.'))
                        return "not a dotted quad";
                i++;
        }
        if (i <= s.n)
                return "not a dotted quad"; /* a fifth part */
        ret->s_addr = htonl(v);
        return NULL;
}

static const char *parse_ipv6(Span s, struct in6_addr *ret) {
        char buf[INET6_ADDRSTRLEN];

        if (s.n == 0 || s.n >= sizeof buf)
                return "not an IPv6 address";
        memcpy(buf, s.p, s.n);
        buf[s.n] = 0;
        if (inet_pton(AF_INET6, buf, ret) != 1)
                return "not an IPv6 address";
        return NULL;
}

/* Empty, 0.0.0.0 and [::] leave *ret unset (AF_UNSPEC), as the kernel
 * treats INADDR_ANY as "not given".  bare_v6 allows IPv6 without brackets
 * (nameserver=, which has no colon-separated fields). */
static const char *parse_addr(Span s, bool bare_v6, IpcfgAddr *ret) {
        IpcfgAddr a = { .family = AF_UNSPEC };
        const char *why;

        if (s.n == 0) {
                *ret = a;
                return NULL;
        }
        if (s.p[0] == '[') {
                if (s.n < 2 || s.p[s.n - 1] != ']')
                        return "unterminated [";
                why = parse_ipv6((Span){ s.p + 1, s.n - 2 }, &a.in6);
                a.family = AF_INET6;
        } else if (bare_v6 && memchr(s.p, ':', s.n)) {
                why = parse_ipv6(s, &a.in6);
                a.family = AF_INET6;
        } else {
                why = parse_ipv4(s, &a.in);
                a.family = AF_INET;
        }
        if (why)
                return why;
        if ((a.family == AF_INET && a.in.s_addr == INADDR_ANY) ||
            (a.family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&a.in6)))
                a.family = AF_UNSPEC;
        *ret = a;
        return NULL;
}

/* A dotted netmask must be contiguous; 0.0.0.0 is "not given" (kernel). */
static const char *parse_netmask(Span s, int family, int *ret) {
        struct in_addr m;
        uint32_t v;
        const char *why;

        if (s.n == 0) {
                *ret = -1;
                return NULL;
        }
        if (memchr(s.p, '.', s.n)) {
                if (family == AF_INET6)
                        return "dotted netmask with an IPv6 address";
                why = parse_ipv4(s, &m);
                if (why)
                        return why;
                v = ntohl(m.s_addr);
                if (v & (~v >> 1))
                        return "not contiguous";
                *ret = v == 0 ? -1 : 32 - __builtin_ctz(v);
                return NULL;
        }
        why = parse_uint(s, 3, &v);
        if (why && !streq(why, "out of range"))
                return why;
        if (why || v > (family == AF_INET6 ? 128u : 32u))
                return "prefix length out of range";
        *ret = (int)v;
        return NULL;
}

static bool is_ldh(char c) {
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* RFC 1123: letters, digits, hyphens; labels 1..63, no hyphen at either end. */
static const char *parse_hostname(Span s, Entry *e) {
        size_t start = 0, dot;

        if (s.n > IPCFG_HOSTNAME_MAX)
                return "longer than 64 characters";
        for (size_t i = 0; i <= s.n; i++) {
                if (i < s.n && s.p[i] != '.') {
                        if (!is_ldh(s.p[i]))
                                return "invalid character";
                        continue;
                }
                if (i == start)
                        return "empty label";
                if (i - start > 63)
                        return "label longer than 63 characters";
                if (s.p[start] == '-' || s.p[i - 1] == '-')
                        return "label starts or ends with a hyphen";
                start = i + 1;
        }
        for (dot = 0; dot < s.n && s.p[dot] != '.'; dot++)
                ;
        memcpy(e->hostname, s.p, dot);
        e->hostname[dot] = 0;
        if (dot < s.n) {
                memcpy(e->domain, s.p + dot + 1, s.n - dot - 1);
                e->domain[s.n - dot - 1] = 0;
        } else
                e->domain[0] = 0;
        e->has_hostname = true;
        return NULL;
}

/* As the kernel's dev_valid_name(), and printable ASCII only. */
static const char *parse_device(Span s, char ret[static IFNAMSIZ]) {
        if (s.n >= IFNAMSIZ)
                return "longer than 15 bytes";
        if (span_eq(s, ".") || span_eq(s, ".."))
                return "not an interface name";
        for (size_t i = 0; i < s.n; i++)
                if (s.p[i] <= ' ' || s.p[i] > '~' || s.p[i] == '/')
                        return "invalid character";
        memcpy(ret, s.p, s.n);
        ret[s.n] = 0;
        return NULL;
}

static const char *parse_mtu(Span s, uint32_t *ret) {
        uint32_t v;
        const char *why = parse_uint(s, 5, &v);

        if (why && !streq(why, "out of range"))
                return why;
        if (why || v < 68 || v > 65535)
                return "out of range 68..65535";
        *ret = v;
        return NULL;
}

/* Exactly six hex pairs separated by colons, or by dashes as systemd
 * also accepts; one separator throughout.  A NIC refuses multicast and
 * all-zero addresses, so say so here rather than at apply time. */
static const char *parse_mac(Span s, uint8_t ret[static 6]) {
        uint8_t m[6];
        char sep;

        if (s.n != 17 || (s.p[2] != ':' && s.p[2] != '-'))
                return "not a MAC address";
        sep = s.p[2];
        for (size_t i = 0; i < 6; i++) {
                int hi = unhexchar(s.p[3 * i]), lo = unhexchar(s.p[3 * i + 1]);
                char c = i < 5 ? s.p[3 * i + 2] : sep;

                if (hi < 0 || lo < 0 || (c != ':' && c != '-'))
                        return "not a MAC address";
                if (c != sep)
                        return "mixed separators";
                m[i] = (uint8_t)(hi << 4 | lo);
        }
        if (m[0] & 1)
                return "multicast MAC address";
        if (!(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
                return "all-zero MAC address";
        memcpy(ret, m, 6);
        return NULL;
}

/* The kernel's DHCP client identifier, "dhcp,<type>,<client-id>"
 * (ic_proto_name() in net/ipv4/ipconfig.c): a type byte, then the id's
 * text, everything after the second comma, which the kernel sends as
 * option 61 as it is.  The kernel ignores a malformed one and runs DHCP
 * anyway; DESIGN: an error.  Its kstrtou8(, 0) also reads 0x01 and octal
 * 01; here the type is decimal, as every number in this grammar. */
static const char *parse_dhcp_client_id(Span s, Entry *e) {
        Span rest = { s.p + 5, s.n - 5 }, type, id;
        const char *comma = memchr(rest.p, ',', rest.n);
        uint32_t t;

        if (!comma)
                return "expected dhcp,<type>,<client-id>";
        type = (Span){ rest.p, (size_t)(comma - rest.p) };
        id = (Span){ comma + 1, (size_t)(rest.p + rest.n - comma - 1) };
        if (parse_uint(type, 3, &t) || t > 255)
                return "client identifier type not a decimal 0..255";
        if (id.n == 0)
                return "empty client identifier";
        if (id.n > IPCFG_DHCP_CLIENT_ID_MAX)
                return "client identifier longer than 251 bytes";
        for (size_t i = 0; i < id.n; i++)
                if (id.p[i] <= ' ' || id.p[i] > '~')
                        return "invalid character in client identifier";
        e->autoconf = IPCFG_METHOD_DHCP;
        e->dhcp_client_id_type = (uint8_t)t;
        memcpy(e->dhcp_client_id, id.p, id.n);
        e->dhcp_client_id[id.n] = 0;
        return NULL;
}

/* Field 7: a keyword, or dhcp with a client identifier. */
static const char *parse_autoconf(Span s, Entry *e) {
        if (is_dhcp_client_id(s))
                return parse_dhcp_client_id(s, e);
        e->autoconf = autoconf_from_span(s);
        return e->autoconf < 0 ? "unknown autoconf keyword" : NULL;
}

static void span_to_value(Span s, char *buf, size_t size) {
        if (s.n < size) {
                memcpy(buf, s.p, s.n);
                buf[s.n] = 0;
        } else {
                memcpy(buf, s.p, size - 4);
                memcpy(buf + size - 4, "...", 4);
        }
}

static int fail(State *st, int field, const char *name, Span v, const char *reason) {
        if (st->error) {
                *st->error = (IpcfgError){
                        .key = st->key,
                        .field = field,
                        .field_name = name,
                        .reason = reason,
                };
                span_to_value(v, st->error->value, sizeof st->error->value);
        }
        return -EINVAL;
}

static int fail_addr(State *st, int field, const char *name, const IpcfgAddr *a,
                     const char *reason) {
        char buf[INET6_ADDRSTRLEN];

        ipcfg_addr_to_string(a, buf, sizeof buf);
        return fail(st, field, name, (Span){ buf, strlen(buf) }, reason);
}

/* A number a field settled on, refused (its text as written may differ). */
static int fail_number(State *st, int field, const char *name, long value, const char *reason) {
        char buf[24];

        snprintf(buf, sizeof buf, "%ld", value);
        return fail(st, field, name, (Span){ buf, strlen(buf) }, reason);
}

/* A prefix length the netmask field settled on, refused (field 4). */
static int fail_prefix(State *st, int prefix, const char *reason) {
        return fail_number(st, 4, "netmask", prefix, reason);
}

static const char *const kernel_names[] = {
        NULL, "client", "server", "gateway", "netmask", "hostname",
        "device", "autoconf", "dns0", "dns1", "ntp0",
};

static const char *kernel_field_name(size_t field) {
        return field < ELEMENTSOF(kernel_names) ? kernel_names[field] : "extra";
}

/* Splits at ':' outside [brackets].  Brackets are only special at the
 * start of a field, where an IPv6 address may stand. */
static int split_fields(State *st, Span v, Span f[static MAX_FIELDS], size_t *ret_n) {
        size_t n = 0, i = 0;

        for (;;) {
                size_t start = i;

                if (n == MAX_FIELDS)
                        return fail(st, 0, st->key, v, "too many fields");
                if (i < v.n && v.p[i] == '[') {
                        const char *close = memchr(v.p + i, ']', v.n - i);

                        if (!close)
                                return fail(st, (int)n + 1, kernel_field_name(n + 1),
                                            (Span){ v.p + i, v.n - i }, "unterminated [");
                        i = (size_t)(close - v.p) + 1;
                        if (i < v.n && v.p[i] != ':')
                                return fail(st, (int)n + 1, kernel_field_name(n + 1),
                                            (Span){ v.p + start, v.n - start }, "text after ]");
                } else
                        while (i < v.n && v.p[i] != ':')
                                i++;
                f[n++] = (Span){ v.p + start, i - start };
                if (i >= v.n)
                        break;
                i++; /* the ':' */
        }
        *ret_n = n;
        return 0;
}

static Span rest_from(Span v, Span field) {
        return (Span){ field.p, (size_t)(v.p + v.n - field.p) };
}

static int check(State *st, const char *why, int field, const char *name, Span s) {
        return why ? fail(st, field, name, s, why) : 0;
}

/* Why an address can be neither a client nor a next hop, or NULL: what
 * the kernel refuses as a gateway only when the route is added, after the
 * address (fib_check_nh(), ip6_validate_gw()), and 0.x.x.x, which it
 * takes as an address or an on-link gateway though nothing can answer for
 * it (RFC 1122: "this network", a source only).  0.0.0.0 itself never
 * gets here: it is "not given". */
static const char *host_refusal(const IpcfgAddr *a) {
        uint32_t v = ntohl(a->in.s_addr);

        if (a->family == AF_INET6)
                return IN6_IS_ADDR_MULTICAST(&a->in6) ? "not a unicast address" :
                       IN6_IS_ADDR_LOOPBACK(&a->in6) ? "a loopback address" : NULL;
        if (a->family != AF_INET)
                return NULL;
        return IN_MULTICAST(v) || v == INADDR_BROADCAST ? "not a unicast address" :
               (v >> IN_CLASSA_NSHIFT) == IN_LOOPBACKNET ? "a loopback address" :
               (v >> IN_CLASSA_NSHIFT) == 0 ? "in 0.0.0.0/8, never a destination" : NULL;
}

/* Whether g is the broadcast address of c's subnet.  /31 and /32 have
 * none (RFC 3021); the applier sets none for them either. */
static bool is_subnet_broadcast(const IpcfgAddr *c, int prefix, const IpcfgAddr *g) {
        return c->family == AF_INET && g->family == AF_INET && prefix >= 0 && prefix <= 30 &&
               (ntohl(c->in.s_addr) | (prefix == 0 ? UINT32_MAX : UINT32_MAX >> prefix)) == ntohl(g->in.s_addr);
}

/* The gateway against the client, once both are merged and the prefix is
 * settled (the classful guess included): the same family, not the
 * client's own address (IPv4: a dead default route; IPv6: refused by the
 * kernel after the address is added), not its subnet's broadcast address
 * (refused by the kernel, as 255.255.255.255). */
static int gateway_check_client(State *st, const Entry *e, int prefix) {
        const IpcfgAddr *c = &e->client, *g = &e->gateway;

        if (c->family == AF_UNSPEC || g->family == AF_UNSPEC)
                return 0;
        if (c->family != g->family)
                return fail_addr(st, 3, "gateway", g, "address family differs from the client's");
        if (ipcfg_addr_equal(c, g))
                return fail_addr(st, 3, "gateway", g, "the client's own address");
        if (is_subnet_broadcast(c, prefix, g))
                return fail_addr(st, 3, "gateway", g, "the broadcast address of the client's subnet");
        return 0;
}

/* Each interface's gateway against every other interface's address, once
 * all are settled: the kernel refuses an on-link route via another
 * device's address or subnet broadcast address ("Nexthop has invalid
 * gateway") once that address is in, and takes one in a shared subnet as
 * a default route to itself.  Which one is applied first must not decide
 * it, so the plan does. */
static int gateways_check_others(State *st, const IpcfgPlan *p) {
        for (size_t k = 0; k < p->n_ifaces; k++) {
                const IpcfgAddr *g = &p->ifaces[k].gateway;

                st->key = st->entries[k].key ?: "ip";
                for (size_t j = 0; j < p->n_ifaces && g->family != AF_UNSPEC; j++) {
                        const IpcfgIface *o = &p->ifaces[j];

                        if (j == k || o->address.family == AF_UNSPEC)
                                continue;
                        if (ipcfg_addr_equal(&o->address, g))
                                return fail_addr(st, 3, "gateway", g, "another interface's client address");
                        if (is_subnet_broadcast(&o->address, o->prefix, g))
                                return fail_addr(st, 3, "gateway", g,
                                                 "the broadcast address of another interface's subnet");
                }
        }
        return 0;
}

/* IPv6 needs a link MTU of at least 1280 (RFC 8200): below it the kernel
 * takes the MTU, drops the device's IPv6 state, and then refuses the
 * address or the route with a bare EINVAL that does not name the MTU. */
static int mtu_check_family(State *st, const Entry *e) {
        if (e->mtu == 0 || e->mtu >= IPCFG_IPV6_MIN_MTU ||
            (e->client.family != AF_INET6 && e->gateway.family != AF_INET6))
                return 0;
        return fail_number(st, e->mtu_field, "mtu", (long)e->mtu, "below 1280, too small for IPv6");
}

/* Names where the server was given: field 8 or 9 of interface i's ip=,
 * else a nameserver=. */
static int dns_fail_linklocal(State *st, size_t i, const IpcfgAddr *a) {
        static const char why[] = "link-local, and its link's MTU is below 1280, too small for IPv6";
        const Entry *e = &st->entries[i];

        st->key = e->key ?: "ip";
        if (ipcfg_addr_equal(&e->dns0, a))
                return fail_addr(st, 8, "dns0", a, why);
        if (ipcfg_addr_equal(&e->dns1, a))
                return fail_addr(st, 9, "dns1", a, why);
        st->key = "nameserver";
        return fail_addr(st, 0, "nameserver", a, why);
}

/* A link-local IPv6 DNS server is reached through a link that lists it;
 * when every one of them has an MTU below 1280 (no IPv6 on the link),
 * resolv.conf would name a server nothing can reach. */
static int dns_check_linklocal(State *st, const IpcfgPlan *p) {
        for (size_t i = 0; i < p->n_ifaces; i++)
                for (size_t j = 0; j < p->ifaces[i].n_dns; j++) {
                        const IpcfgAddr *a = &p->ifaces[i].dns[j];

                        if (a->family != AF_INET6 || !IN6_IS_ADDR_LINKLOCAL(&a->in6) ||
                            ipcfg_plan_dns_scope(p, a))
                                continue;
                        return dns_fail_linklocal(st, i, a);
                }
        return 0;
}

/* Fields 1-4: client, server, gateway, netmask. */
static int parse_kernel_addrs(State *st, const Span *g, Entry *e) {
        int family, r;

        r = check(st, parse_addr(g[1], false, &e->client), 1, "client", g[1]);
        if (r < 0)
                return r;
        r = check(st, host_refusal(&e->client), 1, "client", g[1]);
        if (r < 0)
                return r;
        r = check(st, parse_addr(g[2], false, &e->server), 2, "server", g[2]);
        if (r < 0)
                return r;
        r = check(st, parse_addr(g[3], false, &e->gateway), 3, "gateway", g[3]);
        if (r < 0)
                return r;
        r = check(st, host_refusal(&e->gateway), 3, "gateway", g[3]);
        if (r < 0)
                return r;
        family = e->client.family ?: e->gateway.family ?: AF_INET;
        e->prefix_family = family;
        return check(st, parse_netmask(g[4], family, &e->prefix), 4, "netmask", g[4]);
}

/* Fields 5-10, or 5-7 then mtu and mac. */
static int parse_kernel_rest(State *st, Span v, const Span *g, size_t n, bool mtu_form, Entry *e) {
        int r = 0;

        if (g[5].n > 0)
                r = check(st, parse_hostname(g[5], e), 5, "hostname", g[5]);
        if (r >= 0)
                r = check(st, parse_device(g[6], e->device), 6, "device", g[6]);
        if (r >= 0 && g[7].n > 0)
                r = check(st, parse_autoconf(g[7], e), 7, "autoconf", g[7]);
        if (r < 0)
                return r;
        if (mtu_form) {
                if (g[8].n > 0)
                        r = check(st, parse_mtu(g[8], &e->mtu), 8, "mtu", g[8]);
                e->mtu_field = 8;
                if (r >= 0 && n >= 9 && (n > 9 || g[9].n > 0)) {
                        Span mac = rest_from(v, g[9]);

                        r = check(st, parse_mac(mac, e->mac), 9, "mac", mac);
                        e->has_mac = r >= 0;
                }
                return r;
        }
        r = check(st, parse_addr(g[8], false, &e->dns0), 8, "dns0", g[8]);
        if (r >= 0)
                r = check(st, parse_addr(g[9], false, &e->dns1), 9, "dns1", g[9]);
        if (r >= 0)
                r = check(st, parse_addr(g[10], false, &e->ntp0), 10, "ntp0", g[10]);
        return r;
}

static int parse_kernel_form(State *st, Span v, const Span *f, size_t n, Entry *e) {
        Span g[11]; /* 1-based; absent fields are empty (not NULL: memcpy) */
        bool mtu_form;
        int r;

        for (size_t i = 0; i <= 10; i++)
                g[i] = i >= 1 && i <= n ? f[i - 1] : (Span){ "", 0 };
        /* An empty field 8 followed by a MAC is dracut's and systemd's
         * ":[<mtu>][:<mac>]": with colons the MAC makes 11+ fields, which
         * dns1 and ntp0 never reach; with dashes it is one field 9, and
         * no address has a dash. */
        mtu_form = n >= 8 && (all_digits(f[7]) ||
                              (f[7].n == 0 && (n > 10 || (n == 9 && memchr(f[8].p, '-', f[8].n)))));
        if (!mtu_form && n > 10)
                return fail(st, 11, "extra", rest_from(v, f[10]), "more than 10 fields");
        r = parse_kernel_addrs(st, g, e);
        if (r < 0)
                return r;
        return parse_kernel_rest(st, v, g, n, mtu_form, e);
}

/* ip=<device>:<autoconf>[:[<mtu>][:<mac>]] */
static int parse_device_form(State *st, Span v, const Span *f, size_t n, Entry *e) {
        int r;

        r = check(st, parse_device(f[0], e->device), 1, "device", f[0]);
        if (r < 0)
                return r;
        e->autoconf = autoconf_from_span(f[1]);
        if (n >= 3 && f[2].n > 0) {
                r = check(st, parse_mtu(f[2], &e->mtu), 3, "mtu", f[2]);
                if (r < 0)
                        return r;
                e->mtu_field = 3;
        }
        if (n >= 4 && (n > 4 || f[3].n > 0)) {
                Span mac = rest_from(v, f[3]);

                r = check(st, parse_mac(mac, e->mac), 4, "mac", mac);
                if (r < 0)
                        return r;
                e->has_mac = true;
        }
        return 0;
}

static bool looks_like_address(Span s) {
        struct in_addr a;

        return s.n > 0 && (s.p[0] == '[' || !parse_ipv4(s, &a));
}

static int parse_fields(State *st, Span v, Entry *e) {
        Span f[MAX_FIELDS];
        size_t n = 0;
        int r;

        r = split_fields(st, v, f, &n);
        if (r < 0)
                return r;
        if (n == 1 && autoconf_from_span(f[0]) >= 0) {
                e->autoconf = autoconf_from_span(f[0]);
                return 0;
        }
        if (n >= 2 && autoconf_from_span(f[1]) >= 0 && !looks_like_address(f[0]))
                return parse_device_form(st, v, f, n, e);
        return parse_kernel_form(st, v, f, n, e);
}

static int parse_ip_value(State *st, const char *val, Entry *ret) {
        Span v = { val, strlen(val) };
        Entry e = { .autoconf = _IPCFG_METHOD_INVALID, .prefix = -1 };
        int r;

        /* The kernel reads the whole value as an autoconf word before it
         * splits it at ':' (ip_auto_config_setup()): here a client
         * identifier may hold colons. */
        if (is_dhcp_client_id(v))
                r = check(st, parse_dhcp_client_id(v, &e), 1, "autoconf", v);
        else
                r = parse_fields(st, v, &e);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}

static void merge_addr(IpcfgAddr *into, const IpcfgAddr *from) {
        if (from->family != AF_UNSPEC)
                *into = *from;
}

/* Field by field, the later non-empty field wins. */
static void entry_merge(Entry *into, const Entry *from) {
        if (from->autoconf >= 0)
                into->autoconf = from->autoconf;
        merge_addr(&into->client, &from->client);
        merge_addr(&into->server, &from->server);
        merge_addr(&into->gateway, &from->gateway);
        merge_addr(&into->dns0, &from->dns0);
        merge_addr(&into->dns1, &from->dns1);
        merge_addr(&into->ntp0, &from->ntp0);
        if (from->prefix >= 0) {
                into->prefix = from->prefix;
                into->prefix_family = from->prefix_family;
        }
        if (from->has_hostname) {
                into->has_hostname = true;
                memcpy(into->hostname, from->hostname, sizeof into->hostname);
                memcpy(into->domain, from->domain, sizeof into->domain);
        }
        if (from->mtu > 0) {
                into->mtu = from->mtu;
                into->mtu_field = from->mtu_field;
        }
        if (from->has_mac) {
                into->has_mac = true;
                memcpy(into->mac, from->mac, sizeof into->mac);
        }
        if (from->dhcp_client_id[0]) {
                into->dhcp_client_id_type = from->dhcp_client_id_type;
                memcpy(into->dhcp_client_id, from->dhcp_client_id, sizeof into->dhcp_client_id);
        }
}

/* Merging from into a device's earlier entry: a client or gateway of the
 * other family would replace the earlier one field by field, and one
 * family's address and route would be gone without a word.  A device
 * has one address (and one gateway): no dual stack. */
static int merge_check(State *st, const Entry *into, const Entry *from) {
        static const char reason[] = "its device has one of the other family from an earlier ip= "
                                     "(one address family per device)";

        if (into->client.family != AF_UNSPEC && from->client.family != AF_UNSPEC &&
            into->client.family != from->client.family)
                return fail_addr(st, 1, "client", &from->client, reason);
        if (into->gateway.family != AF_UNSPEC && from->gateway.family != AF_UNSPEC &&
            into->gateway.family != from->gateway.family)
                return fail_addr(st, 3, "gateway", &from->gateway, reason);
        return 0;
}

static int handle_ip(State *st, const char *key, const char *val) {
        Entry e;
        int r;

        st->key = key;
        /* The kernel's "no static IP given": everything so far is off. */
        if (streq(val, "") || streq(val, "off") || streq(val, "none") || streq(val, "static")) {
                st->n_entries = 0;
                return 0;
        }
        r = parse_ip_value(st, val, &e);
        if (r < 0)
                return r;
        e.key = key;
        for (size_t i = 0; i < st->n_entries; i++)
                if (streq(st->entries[i].device, e.device)) {
                        r = merge_check(st, &st->entries[i], &e);
                        if (r < 0)
                                return r;
                        entry_merge(&st->entries[i], &e);
                        st->entries[i].key = key;
                        return 0;
                }
        if (st->n_entries >= IPCFG_MAX_IFACES)
                return fail(st, 0, key, (Span){ val, strlen(val) }, "more than 8 interfaces");
        st->entries[st->n_entries++] = e;
        return 0;
}

static int handle_nameserver(State *st, const char *val) {
        Span v = { val, strlen(val) };
        IpcfgAddr a;
        int r;

        st->key = "nameserver";
        if (v.n == 0)
                return fail(st, 0, "nameserver", v, "not an address");
        r = check(st, parse_addr(v, true, &a), 0, "nameserver", v);
        if (r < 0 || a.family == AF_UNSPEC)
                return r;
        for (size_t i = 0; i < st->n_ns; i++)
                if (ipcfg_addr_equal(&st->ns[i], &a))
                        return 0;
        if (st->n_ns >= IPCFG_MAX_DNS)
                return fail(st, 0, "nameserver", v, "more than 8 DNS servers");
        st->ns[st->n_ns++] = a;
        return 0;
}

/* Appends unless already present; false when the list is full. */
static bool dns_add(IpcfgIface *i, const IpcfgAddr *a) {
        if (a->family == AF_UNSPEC)
                return true;
        for (size_t k = 0; k < i->n_dns; k++)
                if (ipcfg_addr_equal(&i->dns[k], a))
                        return true;
        if (i->n_dns >= IPCFG_MAX_DNS)
                return false;
        i->dns[i->n_dns++] = *a;
        return true;
}

/* Settles the method, the prefix guess and the DNS list. */
static int entry_finish(State *st, const Entry *e, IpcfgIface *ret) {
        IpcfgIface i = { .address = e->client, .prefix = e->prefix, .server = e->server,
                         .gateway = e->gateway, .mtu = e->mtu, .has_mac = e->has_mac,
                         .dhcp_client_id_type = e->dhcp_client_id_type };
        int r;

        memcpy(i.device, e->device, sizeof i.device);
        memcpy(i.dhcp_client_id, e->dhcp_client_id, sizeof i.dhcp_client_id);
        memcpy(i.hostname, e->hostname, sizeof i.hostname);
        memcpy(i.domain, e->domain, sizeof i.domain);
        memcpy(i.mac, e->mac, sizeof i.mac);
        if (e->client.family != AF_UNSPEC)
                i.method = IPCFG_METHOD_STATIC; /* kernel: an address means no autoconf */
        else if (e->autoconf < 0)
                i.method = IPCFG_METHOD_DHCP;   /* kernel: autoconf defaults to "on" */
        else
                i.method = e->autoconf == IPCFG_METHOD_STATIC ? IPCFG_METHOD_NONE : e->autoconf;

        /* Merged entries: a netmask read for one family does not carry
         * over to a later client of the other. */
        if (i.prefix >= 0 && e->client.family != AF_UNSPEC && e->prefix_family != e->client.family)
                return fail_prefix(st, i.prefix, "given for an address of the other family");
        if (e->client.family == AF_INET && i.prefix < 0) {
                uint32_t v = ntohl(e->client.in.s_addr);

                /* The kernel's ic_defaults(): classful, and no guess for D/E. */
                if (IN_CLASSA(v))
                        i.prefix = 8;
                else if (IN_CLASSB(v))
                        i.prefix = 16;
                else if (IN_CLASSC(v))
                        i.prefix = 24;
                else
                        return fail_addr(st, 1, "client", &e->client,
                                         "no classful netmask for a class E address");
        } else if (e->client.family == AF_INET6 && i.prefix < 0)
                i.prefix = 128; /* systemd and dracut: a host address */
        if (e->client.family == AF_INET && i.prefix > 32)
                return fail_prefix(st, i.prefix, "prefix length out of range");
        r = gateway_check_client(st, e, i.prefix);
        if (r >= 0)
                r = mtu_check_family(st, e);
        if (r < 0)
                return r;

        dns_add(&i, &e->dns0);
        dns_add(&i, &e->dns1);
        for (size_t k = 0; k < st->n_ns; k++)
                if (!dns_add(&i, &st->ns[k]))
                        return fail_addr(st, 0, "nameserver", &st->ns[k], "more than 8 DNS servers");
        if (e->ntp0.family != AF_UNSPEC)
                i.ntp[i.n_ntp++] = e->ntp0;
        *ret = i;
        return 0;
}

static int parse_args(State *st, char *args) {
        while (*args) {
                char *param, *val;
                int r = 0;

                args = cmdline_next_arg(args, &param, &val);
                if (!val && streq(param, "--"))
                        break;
                if (!val)
                        continue;
                if (streq(param, "ip") || streq(param, "nfsaddrs"))
                        r = handle_ip(st, streq(param, "ip") ? "ip" : "nfsaddrs", val);
                else if (streq(param, "nameserver"))
                        r = handle_nameserver(st, val);
                if (r < 0)
                        return r;
        }
        return 0;
}

int ipcfg_parse_cmdline(const char *cmdline, IpcfgPlan *ret, IpcfgError *ret_error) {
        char buf[IPCFG_CMDLINE_MAX + 1];
        State st = { .error = ret_error, .key = "ip" };
        IpcfgPlan plan = {};
        size_t len;
        int r;

        if (!cmdline || !ret)
                return -EINVAL;
        len = strnlen(cmdline, IPCFG_CMDLINE_MAX + 1);
        if (len > IPCFG_CMDLINE_MAX)
                return -E2BIG;
        memcpy(buf, cmdline, len + 1);
        r = parse_args(&st, buf);
        if (r < 0)
                return r;
        for (size_t k = 0; k < st.n_entries; k++) {
                st.key = st.entries[k].key ?: "ip";
                r = entry_finish(&st, &st.entries[k], &plan.ifaces[k]);
                if (r < 0)
                        return r;
        }
        plan.n_ifaces = st.n_entries;
        r = gateways_check_others(&st, &plan);
        if (r >= 0)
                r = dns_check_linklocal(&st, &plan);
        if (r < 0)
                return r;
        *ret = plan;
        return 0;
}

/* Quotes the value so the line stays one line whatever the input held. */
static void escape_value(const char *s, char *out, size_t size) {
        size_t o = 0;

        for (; *s && o + 5 < size; s++) {
                unsigned char c = (unsigned char)*s;

                if (c == '"' || c == '\\')
                        o += (size_t)snprintf(out + o, size - o, "\\%c", c);
                else if (c < 0x20 || c >= 0x7f)
                        o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
                else
                        out[o++] = (char)c;
        }
        out[o] = 0;
}

void ipcfg_error_format(const IpcfgError *e, char *buf, size_t size) {
        char v[sizeof e->value * 4 + 1];

        if (!buf || size == 0)
                return;
        escape_value(e->value, v, sizeof v);
        if (e->field > 0)
                snprintf(buf, size, "%s=: field %d (%s): invalid value \"%s\": %s",
                         e->key ?: "ip", e->field, e->field_name ?: "?", v, e->reason ?: "invalid");
        else
                snprintf(buf, size, "%s=: invalid value \"%s\": %s",
                         e->field_name ?: e->key ?: "ip", v, e->reason ?: "invalid");
}
