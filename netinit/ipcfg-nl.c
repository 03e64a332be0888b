/* The netlink applier: turns an IpcfgPlan into kernel state with
 * libnl-route-3 (loopback up, wait for each device by RTNLGRP_LINK events,
 * MTU, MAC and link up, address, default route) and then
 * writes the files the plan implies (hostname, resolv.conf, /etc/hosts),
 * whose text ipcfg-files.c composes.
 * Every step compares with what the kernel or the file already has, so a
 * second run (or a kernel that already ran CONFIG_IP_PNP) changes nothing.
 * A failed step ends only what depends on it (the rest of its own
 * interface); the other interfaces and the files are still applied, and
 * the caller's errbuf names every failure (applier_record()).
 * Longer than the usual 800 lines: it is the one netlink adapter, and its
 * steps share the Applier (socket, report, result) and nl_errno(), the
 * one NLE_* translation; split, both would move to a header for it alone.
 * This is library code: it never logs above debug; failures come back as
 * -errno plus human-readable sentences in the caller's errbuf.  libnl's
 * NLE_* codes become -errno in exactly one place, nl_errno(). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "ipcfg.h"
#include "ipcfg-sysctl.h"
#include "log.h"
#include "macro.h"
#include "poll-util.h"
#include "time-util.h"

#define FILE_MAX (1024 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_sock *, nl_socket_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cache *, nl_cache_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_addr *, nl_addr_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_link *, rtnl_link_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_addr *, rtnl_addr_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_route *, rtnl_route_put);

/* What we wait for: a device by name, or (name "") the first non-loopback
 * device that can broadcast, as the kernel's ipconfig picks one. */
typedef struct LinkWait {
        const char *device;
        int ifindex;
        char name[IFNAMSIZ];
} LinkWait;

typedef struct Applier {
        struct nl_sock *sk;
        /* errno of the last NLMSG_ERROR the kernel sent (positive), kept
         * because libnl folds many errnos into NLE_FAILURE. */
        int kernel_error;
        const IpcfgApplyOptions *opts;
        const IpcfgPlan *plan; /* the one being applied */
        /* fail() writes the failed step's reason here. */
        char *errbuf;
        size_t errbuf_size;
        /* ipcfg_apply(): every failed step, applier_record() appends
         * them; error is the first one's -errno, 0 while none failed. */
        char *report;
        size_t report_size;
        int error;
        IpcfgApplyResult result;
        bool have_result;
        /* The interface whose gateway gave the default route, per family
         * (one each: a second would replace the first). */
        const IpcfgIface *default_v4, *default_v6;
        /* Each interface's device as link_resolve() found it (ifindex 0,
         * name "" until then), for its address and the files: an ip= may
         * name none. */
        LinkWait links[IPCFG_MAX_IFACES];
        /* Each interface's link MTU once configured (0: not known): a
         * link-local DNS server needs IPv6 on its link. */
        uint32_t mtus[IPCFG_MAX_IFACES];
} Applier;

/* The one translation from libnl results to -errno.  Clears the kernel's
 * errno so the next call starts clean; every libnl call goes through it. */
static int nl_errno(Applier *a, int nle) {
        int k = a->kernel_error;

        a->kernel_error = 0;
        if (nle >= 0)
                return nle;
        if (k > 0)
                return -k;
        switch (-nle) {
        case NLE_INTR: return -EINTR;
        case NLE_BAD_SOCK: return -EBADF;
        case NLE_AGAIN: return -EAGAIN;
        case NLE_NOMEM: return -ENOMEM;
        case NLE_EXIST: return -EEXIST;
        case NLE_INVAL: return -EINVAL;
        case NLE_RANGE: return -ERANGE;
        case NLE_MSGSIZE: return -EMSGSIZE;
        case NLE_OPNOTSUPP: return -EOPNOTSUPP;
        case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
        case NLE_OBJ_NOTFOUND: return -ENOENT;
        case NLE_NOADDR: return -EADDRNOTAVAIL;
        case NLE_BUSY: return -EBUSY;
        case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
        case NLE_NOACCESS: return -EACCES;
        case NLE_PERM: return -EPERM;
        case NLE_NODEV: return -ENODEV;
        case NLE_DUMP_INTR: return -EAGAIN;
        case NLE_MSG_TRUNC: case NLE_MSG_OVERFLOW: return -ENOBUFS;
        default: return -EIO;
        }
}

static int on_kernel_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg) {
        Applier *a = arg;

        a->kernel_error = -e->error;
        return NL_STOP;
}

_printf_(3, 4) static int fail(Applier *a, int r, const char *fmt, ...) {
        va_list ap;

        if (a->errbuf && a->errbuf_size > 0) {
                va_start(ap, fmt);
                vsnprintf(a->errbuf, a->errbuf_size, fmt, ap);
                va_end(ap);
        }
        return r;
}

/* Ends a step: a failure (its reason from fail()) is appended to the
 * report as "<reason>: <strerror>", "; " between two; the first one's
 * -errno is kept for ipcfg_apply() to return.  A report cut short ends in
 * "...". */
static void applier_record(Applier *a, int r) {
        size_t len;
        int n;

        if (r >= 0)
                return;
        if (a->error == 0)
                a->error = r;
        if (a->report && a->report_size > 0) {
                len = strnlen(a->report, a->report_size - 1);
                n = snprintf(a->report + len, a->report_size - len, "%s%s: %s", len > 0 ? "; " : "",
                             a->errbuf && a->errbuf[0] ? a->errbuf : "Failed to apply the network plan",
                             strerror(-r));
                if (n >= 0 && (size_t)n >= a->report_size - len && a->report_size >= 4)
                        memcpy(a->report + a->report_size - 4, "...", 4);
        }
        if (a->errbuf && a->errbuf_size > 0)
                a->errbuf[0] = '\0';
}

/* Adds a sentence to the result's warning: what worked with a caveat is
 * said for every interface.  A text cut short ends in
 * "...". */
_printf_(2, 3) static void warn(Applier *a, const char *fmt, ...) {
        char *w = a->result.warning;
        size_t len = strnlen(w, sizeof a->result.warning - 1);
        va_list ap;
        int n;

        if (len > 0)
                len += (size_t)snprintf(w + len, sizeof a->result.warning - len, " ");
        if (len >= sizeof a->result.warning - 1)
                return;
        va_start(ap, fmt);
        n = vsnprintf(w + len, sizeof a->result.warning - len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n >= sizeof a->result.warning - len)
                memcpy(w + sizeof a->result.warning - 4, "...", 4);
}

static size_t addr_len(int family) {
        return family == AF_INET6 ? sizeof(struct in6_addr) : sizeof(struct in_addr);
}

static const char *addr_str(const IpcfgAddr *x, char buf[static INET6_ADDRSTRLEN]) {
        return *ipcfg_addr_to_string(x, buf, INET6_ADDRSTRLEN) ? buf : "(none)";
}

static int addr_to_nl(const IpcfgAddr *x, int prefix, struct nl_addr **ret) {
        struct nl_addr *n = nl_addr_build(x->family, &x->in6, addr_len(x->family));

        if (!n)
                return -ENOMEM;
        if (prefix >= 0)
                nl_addr_set_prefixlen(n, prefix);
        *ret = n;
        return 0;
}

/* Whether a and b share the first `prefix` bits. */
/* A kernel object's address (NULL: none) is x's. */
static bool nl_addr_is(struct nl_addr *k, const IpcfgAddr *x) {
        return k && nl_addr_get_len(k) == addr_len(x->family) &&
               memcmp(nl_addr_get_binary_addr(k), &x->in6, addr_len(x->family)) == 0;
}

static bool addr_same_subnet(const IpcfgAddr *a, const IpcfgAddr *b, int prefix) {
        const uint8_t *x = (const uint8_t *)&a->in6, *y = (const uint8_t *)&b->in6;
        int bits = prefix;

        if (a->family != b->family)
                return false;
        for (size_t i = 0; bits > 0; i++, bits -= 8) {
                uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
                if ((x[i] ^ y[i]) & mask)
                        return false;
        }
        return true;
}

static int applier_open(Applier *a) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
        int r;

        if (!sk)
                return -ENOMEM;
        /* libnl opens its sockets with SOCK_CLOEXEC. */
        r = nl_errno(a, nl_connect(sk, NETLINK_ROUTE));
        if (r < 0)
                return r;
        r = nl_errno(a, nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, on_kernel_error, a));
        if (r < 0)
                return r;
        a->sk = TAKE_PTR(sk);
        return 0;
}

/* One RTM_NEWLINK (libnl falls back to RTM_SETLINK) for the link cur
 * names, with only what chg holds: each of MTU, MAC and IFF_UP alone. */
static int link_change(Applier *a, struct rtnl_link *cur, struct rtnl_link *chg) {
        return nl_errno(a, rtnl_link_change(a->sk, cur, chg, 0));
}

static int link_set_up(Applier *a, struct rtnl_link *cur, bool up) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *chg = rtnl_link_alloc();

        if (!chg)
                return -ENOMEM;
        if (up)
                rtnl_link_set_flags(chg, IFF_UP);
        else
                rtnl_link_unset_flags(chg, IFF_UP);
        return link_change(a, cur, chg);
}

static int link_set_mtu(Applier *a, struct rtnl_link *cur, uint32_t mtu) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *chg = rtnl_link_alloc();

        if (!chg)
                return -ENOMEM;
        rtnl_link_set_mtu(chg, mtu);
        return link_change(a, cur, chg);
}

static int link_set_mac(Applier *a, struct rtnl_link *cur, struct nl_addr *mac) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *chg = rtnl_link_alloc();

        if (!chg)
                return -ENOMEM;
        rtnl_link_set_addr(chg, mac); /* takes its own reference */
        return link_change(a, cur, chg);
}

static bool link_has_mac(struct rtnl_link *l, const uint8_t mac[static 6]) {
        struct nl_addr *now = rtnl_link_get_addr(l);

        return now && nl_addr_get_len(now) == 6 && memcmp(nl_addr_get_binary_addr(now), mac, 6) == 0;
}

/* Down (when up: drivers without IFF_LIVE_ADDR_CHANGE answer EBUSY to a
 * MAC change on a running link), the MAC, up.  Refused, the link gets its
 * old MAC and IFF_UP back, so a failed apply leaves no half of the change
 * behind; the error is the refusal's, and says so when the way back
 * failed too. */
static int link_change_mac(Applier *a, struct rtnl_link *cur, const char *name, const uint8_t mac[static 6]) {
        _cleanup_(nl_addr_putp) struct nl_addr *want = nl_addr_build(AF_LLC, mac, 6);
        struct nl_addr *old = rtnl_link_get_addr(cur); /* borrowed from cur */
        bool was_up = rtnl_link_get_flags(cur) & IFF_UP;
        char s[18], what[64];
        int r, back = 0;

        snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        snprintf(what, sizeof what, "set MAC %s on %s", s, name);
        if (!want)
                return fail(a, -ENOMEM, "Failed to %s", what);
        if (was_up && (r = link_set_up(a, cur, false)) < 0)
                return fail(a, r, "Failed to take %s down to set MAC %s", name, s);
        r = link_set_mac(a, cur, want);
        if (r >= 0) {
                r = link_set_up(a, cur, true);
                if (r >= 0)
                        return 0;
                snprintf(what, sizeof what, "bring up %s with MAC %s", name, s);
                if (old)
                        back = link_set_mac(a, cur, old);
        }
        if (was_up && back >= 0)
                back = link_set_up(a, cur, true);
        return fail(a, r, "Failed to %s%s", what, back < 0 ? "; could not restore its MAC and state" : "");
}

/* MTU, MAC and IFF_UP, each in a request of its own, so that a refusal
 * names what was refused and changes nothing else: in one RTM_NEWLINK
 * the kernel's do_setlink() applies IFLA_ADDRESS, then IFLA_MTU, then the
 * flags, and keeps what it applied when a later part is refused.  The
 * MTU first, on the link as it is (no need to take it down); then the MAC
 * (link_change_mac()); then up.  Writes the reason into errbuf.
 * *ret_mtu (may be NULL): the link's MTU from then on. */
static int link_configure(Applier *a, int ifindex, const char *name, uint32_t mtu, const uint8_t *mac,
                          uint32_t *ret_mtu) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *cur = NULL;
        int r;

        r = nl_errno(a, rtnl_link_get_kernel(a->sk, ifindex, NULL, &cur));
        if (r < 0)
                return fail(a, r, "Failed to look up %s", name);
        if (mtu > 0 && rtnl_link_get_mtu(cur) != mtu) {
                r = link_set_mtu(a, cur, mtu);
                if (r < 0)
                        return fail(a, r, "Failed to set MTU %u on %s", (unsigned)mtu, name);
        }
        if (ret_mtu)
                *ret_mtu = mtu > 0 ? mtu : rtnl_link_get_mtu(cur);
        if (mac && !link_has_mac(cur, mac))
                return link_change_mac(a, cur, name, mac);
        if (rtnl_link_get_flags(cur) & IFF_UP)
                return 0;
        r = link_set_up(a, cur, true);
        if (r < 0)
                return fail(a, r, "Failed to bring up %s", name);
        return 0;
}

static int loopback_up(Applier *a) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *lo = NULL;
        int r;

        r = nl_errno(a, rtnl_link_get_kernel(a->sk, 0, "lo", &lo));
        if (r < 0)
                return fail(a, r, "Failed to look up the loopback device");
        return link_configure(a, rtnl_link_get_ifindex(lo), "lo", 0, NULL, NULL);
}

static void link_wait_consider(LinkWait *w, struct rtnl_link *l) {
        const char *name = rtnl_link_get_name(l);
        unsigned flags = rtnl_link_get_flags(l);
        int ifindex = rtnl_link_get_ifindex(l);

        if (!name || ifindex <= 0)
                return;
        if (isempty(w->device)) {
                if (!ipcfg_link_is_candidate(name, flags))
                        return;
                if (w->ifindex > 0 && w->ifindex < ifindex)
                        return;
        } else if (!streq(name, w->device))
                return;
        w->ifindex = ifindex;
        snprintf(w->name, sizeof w->name, "%s", name);
}

static void link_wait_obj(struct nl_object *obj, void *arg) {
        if (nl_object_get_msgtype(obj) == RTM_NEWLINK)
                link_wait_consider(arg, (struct rtnl_link *)obj);
}

static int link_wait_event(struct nl_msg *msg, void *arg) {
        (void)nl_msg_parse(msg, link_wait_obj, arg);
        return NL_OK;
}

static void link_wait_cache_obj(struct nl_object *obj, void *arg) {
        link_wait_consider(arg, (struct rtnl_link *)obj);
}

/* One RTM_GETLINK dump; looks for the device in it and, when names is
 * non-NULL, lists every device for the timeout message. */
static int link_dump(Applier *a, LinkWait *w, char *names, size_t names_size) {
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        int r;

        r = nl_errno(a, rtnl_link_alloc_cache(a->sk, AF_UNSPEC, &cache));
        if (r < 0)
                return r;
        nl_cache_foreach(cache, link_wait_cache_obj, w);
        if (names) {
                size_t len = 0;
                names[0] = '\0';
                for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                        int n = snprintf(names + len, names_size - len, "%s%s", len ? ", " : "",
                                         rtnl_link_get_name((struct rtnl_link *)o));
                        if (n < 0 || (size_t)n >= names_size - len)
                                break;
                        len += (size_t)n;
                }
        }
        return 0;
}

static int link_wait_socket(Applier *a, LinkWait *w, struct nl_sock **ret) {
        _cleanup_(nl_socket_freep) struct nl_sock *ev = nl_socket_alloc();
        int r;

        if (!ev)
                return -ENOMEM;
        nl_socket_disable_seq_check(ev);
        if ((r = nl_errno(a, nl_socket_modify_cb(ev, NL_CB_VALID, NL_CB_CUSTOM, link_wait_event, w))) < 0 ||
            (r = nl_errno(a, nl_connect(ev, NETLINK_ROUTE))) < 0 ||
            (r = nl_errno(a, nl_socket_add_membership(ev, RTNLGRP_LINK))) < 0 ||
            (r = nl_errno(a, nl_socket_set_nonblocking(ev))) < 0)
                return r;
        *ret = TAKE_PTR(ev);
        return 0;
}

/* link_wait()'s state between poll_until()'s checks. */
typedef struct LinkWaitRun {
        Applier *a;
        struct nl_sock *ev; /* subscribed to RTNLGRP_LINK: borrowed */
        LinkWait w;
        bool dump; /* list the devices again: at first, and after lost events */
} LinkWaitRun;

/* poll_until()'s check: takes the queued link events, lists the devices
 * when asked to, and says whether the device is there.  A failed listing
 * leaves dump set (link_wait() tells it from a failed poll() by that). */
static int link_wait_check(void *userdata) {
        LinkWaitRun *run = userdata;
        int r = nl_recvmsgs_default(run->ev);

        /* An overflowed event queue (ENOBUFS) loses events: dump again. */
        if (r < 0 && r != -NLE_AGAIN)
                run->dump = true;
        if (run->dump) {
                r = link_dump(run->a, &run->w, NULL, 0);
                if (r < 0)
                        return fail(run->a, r, "Failed to list network devices");
                run->dump = false;
        }
        return run->w.ifindex > 0;
}

/* Waits for the device by RTNLGRP_LINK events.  Subscribes FIRST, then
 * dumps, so a device that appears between the two is seen either way.
 * poll() waits for the next event, up to the deadline: not a poll loop. */
static int link_wait(Applier *a, const char *device, LinkWait *ret) {
        _cleanup_(nl_socket_freep) struct nl_sock *ev = NULL;
        LinkWaitRun run = { .a = a, .w.device = device, .dump = true };
        usec_t deadline = now(CLOCK_MONOTONIC) + a->opts->device_timeout_usec;
        int r;

        r = link_wait_socket(a, &run.w, &ev);
        if (r < 0)
                return fail(a, r, "Failed to subscribe to link events");
        run.ev = ev;
        r = poll_until(deadline, &(struct pollfd){ .fd = nl_socket_get_fd(ev), .events = POLLIN }, 1,
                       link_wait_check, &run);
        if (r < 0 && r != -ETIMEDOUT && !run.dump) /* poll() failed, not the listing */
                return fail(a, r, "Failed to wait for link events");
        if (r < 0)
                return r;
        *ret = run.w;
        return 0;
}

static int link_resolve(Applier *a, const IpcfgIface *ifc, LinkWait *ret) {
        char names[512];
        int r;

        r = link_wait(a, ifc->device, ret);
        if (r != -ETIMEDOUT)
                return r;
        LinkWait none = { .device = "\x01" }; /* matches no device */
        if (link_dump(a, &none, names, sizeof names) < 0)
                snprintf(names, sizeof names, "(unknown)");
        return fail(a, -ENODEV, "Device %s did not appear within %llu ms; existing devices: %s",
                    isempty(ifc->device) ? "(any: broadcast or point-to-point, not dummy*)" : ifc->device,
                    (unsigned long long)(a->opts->device_timeout_usec / USEC_PER_MSEC), names);
}

typedef struct AddrMatch {
        const IpcfgAddr *want;
        int ifindex;
        bool other_devices; /* match on every device but ifindex (0: on every one) */
        int prefix;
        bool identical;
        struct rtnl_addr *stale; /* same address, other prefix: borrowed from the cache */
} AddrMatch;

static void addr_match_obj(struct nl_object *obj, void *arg) {
        struct rtnl_addr *x = (struct rtnl_addr *)obj;
        AddrMatch *m = arg;
        struct nl_addr *local = rtnl_addr_get_local(x);

        if ((rtnl_addr_get_ifindex(x) == m->ifindex) == m->other_devices ||
            rtnl_addr_get_family(x) != m->want->family || !nl_addr_is(local, m->want))
                return;
        if (rtnl_addr_get_prefixlen(x) == m->prefix)
                m->identical = true;
        else if (!m->stale)
                m->stale = x;
}

/* Deletes x, an address the kernel listed; on failure the step's reason
 * names it, its device and why it was to go. */
static int addr_remove(Applier *a, struct rtnl_addr *x, const char *why) {
        char s[INET6_ADDRSTRLEN], dev[IF_NAMESIZE];
        struct nl_addr *local = rtnl_addr_get_local(x);
        int r = nl_errno(a, rtnl_addr_delete(a->sk, x, 0));

        if (r >= 0)
                return 0;
        if (!local || !inet_ntop(rtnl_addr_get_family(x), nl_addr_get_binary_addr(local), s, sizeof s))
                snprintf(s, sizeof s, "?");
        if (!if_indextoname((unsigned)rtnl_addr_get_ifindex(x), dev))
                snprintf(dev, sizeof dev, "?");
        return fail(a, r, "Failed to remove %s/%u from %s (%s)", s, rtnl_addr_get_prefixlen(x), dev, why);
}

/* ifc's address as the kernel object to add on ifindex (its prefix >= 0:
 * iface_apply() checked). */
static int addr_new(const IpcfgIface *ifc, int ifindex, struct rtnl_addr **ret) {
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *addr = rtnl_addr_alloc();
        _cleanup_(nl_addr_putp) struct nl_addr *local = NULL, *bcast = NULL;
        int r;

        if (!addr)
                return -ENOMEM;
        if ((r = addr_to_nl(&ifc->address, ifc->prefix, &local)) < 0)
                return r;
        rtnl_addr_set_ifindex(addr, ifindex);
        rtnl_addr_set_family(addr, ifc->address.family);
        rtnl_addr_set_local(addr, local);
        rtnl_addr_set_prefixlen(addr, ifc->prefix);
        if (ifc->address.family == AF_INET && ifc->prefix <= 30) {
                IpcfgAddr b = ifc->address;
                b.in.s_addr |= htonl(ifc->prefix == 0 ? UINT32_MAX : (UINT32_MAX >> ifc->prefix));
                if ((r = addr_to_nl(&b, -1, &bcast)) < 0)
                        return r;
                rtnl_addr_set_broadcast(addr, bcast);
        }
        /* The host assigned this address; duplicate detection would only
         * hold it tentative (unusable as a source) for a second or more. */
        if (ifc->address.family == AF_INET6)
                rtnl_addr_set_flags(addr, IFA_F_NODAD);
        *ret = TAKE_PTR(addr);
        return 0;
}

/* Adds the address, or finds it already there (a kernel with CONFIG_IP_PNP,
 * or our own earlier run): that is success.  The same address with another
 * prefix is removed first, since the plan says which prefix it has.  The
 * step's reason names what failed. */
static int address_apply(Applier *a, int ifindex, const char *name, const IpcfgIface *ifc, bool *ret_existed) {
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *addr = NULL;
        AddrMatch m = { .want = &ifc->address, .ifindex = ifindex, .prefix = ifc->prefix };
        char s[INET6_ADDRSTRLEN], why[48];
        int r;

        r = nl_errno(a, rtnl_addr_alloc_cache(a->sk, &cache));
        if (r < 0)
                return fail(a, r, "Failed to list the addresses to add %s/%d to %s", addr_str(&ifc->address, s),
                            ifc->prefix, name);
        nl_cache_foreach(cache, addr_match_obj, &m);
        if (m.identical) {
                *ret_existed = true;
                return 0;
        }
        snprintf(why, sizeof why, "to add it again as /%d", ifc->prefix);
        if (m.stale && (r = addr_remove(a, m.stale, why)) < 0)
                return r;
        r = addr_new(ifc, ifindex, &addr);
        if (r >= 0)
                r = nl_errno(a, rtnl_addr_add(a->sk, addr, NLM_F_REPLACE));
        if (r < 0)
                return fail(a, r, "Failed to add address %s/%d to %s", addr_str(&ifc->address, s), ifc->prefix,
                            name);
        *ret_existed = false;
        return 0;
}

/* Whether the plan gives addr to one of its interfaces other than ifc. */
static bool plan_has_elsewhere(const IpcfgPlan *p, const IpcfgIface *ifc, const IpcfgAddr *addr) {
        for (size_t i = 0; p && i < p->n_ifaces; i++)
                if (&p->ifaces[i] != ifc && ipcfg_addr_equal(&p->ifaces[i].address, addr))
                        return true;
        return false;
}

/* Enough for one address on every device a microVM has. */
#define PREVIOUS_COPIES_MAX 16

/* A restored snapshot's addresses, where the new plan does not keep them:
 * one ifc takes is removed from every other device (it moved; another
 * prefix on this device is address_apply()'s), one the new plan has
 * nowhere from every device, this one too (left on the template's device,
 * the clone would answer for the template's address on the bridge); one
 * another interface of the plan takes is left to that one.  Absent is
 * fine.  The kernel drops the routes that went through it with it. */
static int previous_remove(Applier *a, int ifindex, const IpcfgIface *ifc) {
        const IpcfgPlan *prev = a->opts->previous;

        for (size_t i = 0; prev && i < prev->n_ifaces && i < IPCFG_MAX_IFACES; i++) {
                const IpcfgAddr *old = &prev->ifaces[i].address;
                bool taken = ipcfg_addr_equal(old, &ifc->address);

                if (old->family == AF_UNSPEC || (!taken && plan_has_elsewhere(a->plan, ifc, old)))
                        continue;
                /* One copy per pass, as long as there are copies. */
                for (unsigned n = 0; n < PREVIOUS_COPIES_MAX; n++) {
                        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
                        /* No prefix is -1: every copy comes back as stale. */
                        AddrMatch m = { .want = old, .ifindex = taken ? ifindex : 0, .other_devices = true,
                                        .prefix = -1 };
                        int r = nl_errno(a, rtnl_addr_alloc_cache(a->sk, &cache));

                        if (r < 0)
                                return fail(a, r, "Failed to list the addresses to remove the previous ones");
                        nl_cache_foreach(cache, addr_match_obj, &m);
                        if (!m.stale)
                                break;
                        r = addr_remove(a, m.stale, "the restored snapshot's address");
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int route_apply(Applier *a, int ifindex, const IpcfgAddr *gw, bool onlink) {
        _cleanup_(rtnl_route_putp) struct rtnl_route *route = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *dst = NULL, *via = NULL;
        IpcfgAddr any = { .family = gw->family };
        struct rtnl_nexthop *nh;
        int r;

        if (!(route = rtnl_route_alloc()))
                return -ENOMEM;
        if ((r = addr_to_nl(&any, 0, &dst)) < 0 || (r = addr_to_nl(gw, -1, &via)) < 0)
                return r;
        rtnl_route_set_family(route, gw->family);
        rtnl_route_set_table(route, RT_TABLE_MAIN);
        rtnl_route_set_protocol(route, RTPROT_BOOT);
        rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
        rtnl_route_set_type(route, RTN_UNICAST);
        if ((r = rtnl_route_set_dst(route, dst)) < 0)
                return nl_errno(a, r);
        if (!(nh = rtnl_route_nh_alloc()))
                return -ENOMEM;
        rtnl_route_nh_set_ifindex(nh, ifindex);
        rtnl_route_nh_set_gateway(nh, via);
        if (onlink) {
                /* With a single nexthop libnl sends rtm_flags, which is
                 * where the kernel reads RTNH_F_ONLINK from. */
                rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
                rtnl_route_set_flags(route, RTNH_F_ONLINK);
        }
        rtnl_route_add_nexthop(route, nh); /* the route owns nh now */
        return nl_errno(a, rtnl_route_add(a->sk, route, NLM_F_REPLACE));
}

/* The metric our default routes get: none is set, so the kernel's default
 * (IPv4 0, IPv6 IP6_RT_PRIO_USER).  The kernel's own ip= adds IPv4 ones
 * with 0 too. */
static uint32_t route_metric(int family) {
        return family == AF_INET6 ? 1024 : 0;
}

typedef struct RouteMatch {
        const IpcfgAddr *gw;
        int ifindex; /* 0: any */
        struct rtnl_route *found; /* borrowed from the cache */
} RouteMatch;

/* Exactly a default route as route_apply() adds it: via gw on ifindex,
 * main table, protocol boot, our metric; one an operator added with
 * another metric or protocol is not ours. */
static void route_match_obj(struct nl_object *obj, void *arg) {
        struct rtnl_route *x = (struct rtnl_route *)obj;
        RouteMatch *m = arg;
        struct nl_addr *dst = rtnl_route_get_dst(x), *via;
        struct rtnl_nexthop *nh;

        if (m->found || rtnl_route_get_family(x) != m->gw->family || rtnl_route_get_table(x) != RT_TABLE_MAIN ||
            rtnl_route_get_protocol(x) != RTPROT_BOOT || rtnl_route_get_priority(x) != route_metric(m->gw->family) ||
            (dst && nl_addr_get_prefixlen(dst) != 0) || rtnl_route_get_nnexthops(x) != 1)
                return;
        nh = rtnl_route_nexthop_n(x, 0);
        via = nh ? rtnl_route_nh_get_gateway(nh) : NULL;
        if (!nh || (m->ifindex && rtnl_route_nh_get_ifindex(nh) != m->ifindex) || !nl_addr_is(via, m->gw))
                return;
        m->found = x;
}

static bool plan_has_gateway(const IpcfgPlan *p, int family) {
        for (size_t i = 0; p && i < p->n_ifaces; i++)
                if (p->ifaces[i].gateway.family == family)
                        return true;
        return false;
}

/* The default route a restored snapshot's plan added, on whichever device,
 * when the new plan has no gateway of its family: removed.  A gateway of
 * the same family replaces it (route_apply()); none would leave it: an
 * IPv4 one goes with its address only when that changes, an IPv6 one
 * never does.  Best effort: what fails is a warning, the new plan is
 * applied all the same. */
static void previous_route_remove(Applier *a) {
        const IpcfgPlan *prev = a->opts->previous;

        for (size_t i = 0; prev && i < prev->n_ifaces && i < IPCFG_MAX_IFACES; i++) {
                const IpcfgAddr *gw = &prev->ifaces[i].gateway;
                _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
                RouteMatch m = { .gw = gw };
                char b[INET6_ADDRSTRLEN];
                int r;

                if (gw->family == AF_UNSPEC || plan_has_gateway(a->plan, gw->family))
                        continue;
                r = nl_errno(a, rtnl_route_alloc_cache(a->sk, gw->family, 0, &cache));
                if (r >= 0) {
                        nl_cache_foreach(cache, route_match_obj, &m);
                        if (m.found)
                                r = nl_errno(a, rtnl_route_delete(a->sk, m.found, 0));
                }
                if (r < 0 && r != -ESRCH)
                        warn(a, "Could not remove the previous default route via %s: %s.", addr_str(gw, b),
                             strerror(-r));
        }
}

static bool gateway_is_onlink(const IpcfgIface *ifc) {
        const IpcfgAddr *gw = &ifc->gateway;

        if (gw->family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&gw->in6))
                return false; /* reachable on the link by definition */
        if (ifc->address.family != gw->family || ifc->prefix < 0)
                return true;
        return !addr_same_subnet(&ifc->address, gw, ifc->prefix);
}

static void onlink_warning(Applier *a, const IpcfgIface *ifc, const char *device) {
        char gw[INET6_ADDRSTRLEN], addr[INET6_ADDRSTRLEN];

        if (ifc->address.family == AF_UNSPEC)
                warn(a, "Gateway %s: %s has no address: added the default route as on-link.",
                     addr_str(&ifc->gateway, gw), device);
        else
                warn(a, "Gateway %s is outside the subnet of address %s/%d: added the default route as on-link "
                     "on %s.", addr_str(&ifc->gateway, gw), addr_str(&ifc->address, addr), ifc->prefix, device);
}

/* A static ip= is the link's whole addressing, but the kernel takes IPv6
 * Router Advertisements on every link by default: any machine on the
 * segment could give the VM an address and a default route through
 * itself (which dual-stack names then prefer).  Refused before the link
 * is up. */
static int ra_refuse(Applier *a, const char *name) {
        char what[96];
        int r = ipcfg_sysctl_refuse_ra(name, what, sizeof what);

        if (r < 0)
                return fail(a, r, "Failed to refuse IPv6 router advertisements on %s (%s)", name, what);
        return r;
}

/* Only ip= routes the VM, but the kernel takes ICMP redirects by default:
 * any machine on the segment, writing in the gateway's name, could move
 * the VM's traffic to another next hop (itself). */
static int redirects_refuse(Applier *a, const char *name) {
        char what[96];
        int r = ipcfg_sysctl_refuse_redirects(name, what, sizeof what);

        if (r < 0)
                return fail(a, r, "Failed to refuse ICMP redirects on %s (%s)", name, what);
        return r;
}

/* Where the default route of ifc's gateway's family is kept. */
static const IpcfgIface **default_of(Applier *a, const IpcfgIface *ifc) {
        return ifc->gateway.family == AF_INET6 ? &a->default_v6 : &a->default_v4;
}

static bool method_needs_client(IpcfgMethod m) {
        return m == IPCFG_METHOD_DHCP || m == IPCFG_METHOD_DHCP6 || m == IPCFG_METHOD_AUTO6;
}

/* ifc's default route, on device name.  One per family (a second would
 * replace the first: the kernel matches a replace on destination and
 * metric, not on the device): the first gateway that could be added
 * gives it, a later one is said and left out. */
static int gateway_apply(Applier *a, const IpcfgIface *ifc, int ifindex, const char *name) {
        const IpcfgIface **first = default_of(a, ifc);
        char s1[INET6_ADDRSTRLEN], s2[INET6_ADDRSTRLEN];
        bool onlink = gateway_is_onlink(ifc);
        int r;

        if (*first) {
                warn(a, "Gateway %s on %s not added: the default route goes via %s, the first ip= with a gateway "
                     "of its family.", addr_str(&ifc->gateway, s1), name, addr_str(&(*first)->gateway, s2));
                return 0;
        }
        r = route_apply(a, ifindex, &ifc->gateway, onlink);
        if (r < 0)
                return fail(a, r, "Failed to add default route via %s%s on %s (address %s)",
                            addr_str(&ifc->gateway, s1), onlink ? " (on-link)" : "", name,
                            addr_str(&ifc->address, s2));
        if (onlink)
                onlink_warning(a, ifc, name);
        a->result.onlink_gateway |= onlink;
        *first = ifc;
        return 0;
}

/* ifc's link: found (waited for), then MTU, MAC and up.  The name it was
 * found by is kept for the addressing and the files. */
static int iface_link(Applier *a, const IpcfgIface *ifc) {
        LinkWait *w = &a->links[ifc - a->plan->ifaces];
        int r, ra = 0, redirects;

        r = link_resolve(a, ifc, w);
        if (r < 0)
                return r;
        /* Named, not fatal: the address and route still apply. */
        if (!method_needs_client(ifc->method))
                applier_record(a, ra = ra_refuse(a, w->name));
        applier_record(a, redirects = redirects_refuse(a, w->name));
        r = link_configure(a, w->ifindex, w->name, ifc->mtu, ifc->has_mac ? ifc->mac : NULL,
                           &a->mtus[ifc - a->plan->ifaces]);
        if (r < 0)
                return r;
        /* A link without IPv6 state (its MTU was below 1280) gets it back,
         * with the kernel's defaults, from an MTU of 1280 or more. */
        if (ra > 0)
                applier_record(a, ra_refuse(a, w->name));
        if (redirects > 0)
                applier_record(a, redirects_refuse(a, w->name));
        if (!a->have_result) {
                snprintf(a->result.device, sizeof a->result.device, "%s", w->name);
                a->result.ifindex = w->ifindex;
                a->have_result = true;
        }
        return 0;
}

/* IPv6 needs a link MTU of at least 1280 (RFC 8200); below it the link
 * has no IPv6 state, and the kernel refuses an address or a route with a
 * bare EINVAL.  The parser checks an MTU the ip= gives; this is for one
 * it left as it was (the device's own, or a restored snapshot's). */
static int ipv6_mtu_check(Applier *a, int ifindex, const char *name) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        unsigned mtu;
        int r;

        r = nl_errno(a, rtnl_link_get_kernel(a->sk, ifindex, NULL, &l));
        if (r < 0)
                return fail(a, r, "Failed to look up %s", name);
        mtu = rtnl_link_get_mtu(l);
        if (mtu < IPCFG_IPV6_MIN_MTU)
                return fail(a, -EINVAL, "%s: MTU %u is below 1280, too small for IPv6 (give one in ip=)", name,
                            mtu);
        return 0;
}

/* ifc's address and default route, on the link iface_link() set up. */
static int iface_address(Applier *a, const IpcfgIface *ifc) {
        const LinkWait *w = &a->links[ifc - a->plan->ifaces];
        char s1[INET6_ADDRSTRLEN];
        bool existed = false;
        int r;

        if (method_needs_client(ifc->method))
                return fail(a, -EOPNOTSUPP,
                            "%s: method %s needs a DHCP/autoconf client, which netinit does not have; "
                            "the link is up without an address", w->name, ipcfg_method_to_string(ifc->method));
        /* The parser always settles the prefix (classful guess, /128 for
         * IPv6); only a plan made elsewhere can lack one. */
        if (ifc->address.family != AF_UNSPEC &&
            (ifc->prefix < 0 || ifc->prefix > (ifc->address.family == AF_INET6 ? 128 : 32)))
                return fail(a, -EINVAL, "%s: no valid prefix length for %s", w->name,
                            addr_str(&ifc->address, s1));
        r = previous_remove(a, w->ifindex, ifc);
        if (r < 0)
                return r;
        previous_route_remove(a);
        if ((ifc->address.family == AF_INET6 || ifc->gateway.family == AF_INET6) &&
            (r = ipv6_mtu_check(a, w->ifindex, w->name)) < 0)
                return r;
        if (ifc->address.family != AF_UNSPEC) {
                r = address_apply(a, w->ifindex, w->name, ifc, &existed);
                if (r < 0)
                        return r;
                a->result.address_existed |= existed;
        }
        if (ifc->gateway.family != AF_UNSPEC)
                return gateway_apply(a, ifc, w->ifindex, w->name);
        return 0;
}

/* A file that is a mount point (a container's bind-mounted resolv.conf,
 * hosts and hostname) cannot be renamed over (EBUSY): it is rewritten in
 * place, through no symlink. */
static int file_rewrite(const char *path, const char *content, size_t len) {
        _cleanup_(closep) int fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return -errno;
        return loop_write(fd, content, len);
}

/* Writes path only when its content differs: a second run leaves the file
 * (and its mtime) alone.  No fsync: every boot regenerates these files from
 * the command line before anything reads them, and an fsync per file was
 * most of the apply time (bench/README.md); rename() keeps it atomic. */
static int file_update(const char *path, const char *content) {
        _cleanup_(freep) char *old = NULL;
        size_t len = strlen(content);
        int r;

        if (read_full_file(path, FILE_MAX, &old, NULL) >= 0 && streq(old, content))
                return 0;
        r = write_file_atomic_flags(path, content, len, 0644, WRITE_FILE_NO_SYNC);
        return r == -EBUSY ? file_rewrite(path, content, len) : r;
}

/* A link-local IPv6 server that no link listing it can reach (each
 * one's MTU is below 1280: no IPv6 there; the parser refuses an MTU the
 * ip= gives, this is for the device's own): named, as the address and
 * route are (ipv6_mtu_check()). */
static int dns_linklocal_check(Applier *a, const IpcfgPlan *named) {
        char s[INET6_ADDRSTRLEN];

        for (size_t i = 0; i < MIN(named->n_ifaces, (size_t)IPCFG_MAX_IFACES); i++)
                for (size_t j = 0; j < MIN(named->ifaces[i].n_dns, (size_t)IPCFG_MAX_DNS); j++) {
                        const IpcfgAddr *x = &named->ifaces[i].dns[j];

                        if (x->family != AF_INET6 || !IN6_IS_ADDR_LINKLOCAL(&x->in6) ||
                            ipcfg_plan_dns_scope(named, x))
                                continue;
                        return fail(a, -EINVAL, "Nameserver %s is link-local, but %s: MTU %u is below 1280, "
                                    "too small for IPv6 (give one in ip=)", addr_str(x, s),
                                    named->ifaces[i].device, (unsigned)named->ifaces[i].mtu);
                }
        return 0;
}

/* resolv.conf as ipcfg_resolv_conf_text() composes it, from the plan
 * with the devices the links resolved to (a link-local server's scope
 * names its device, also one the ip= left to the kernel's rule) and the
 * MTUs they have; left untouched when the plan names no server.  A
 * link-local server no link can reach is an error, and the file is
 * written all the same (its other servers work). */
static int resolv_conf_write(Applier *a, const IpcfgPlan *plan) {
        _cleanup_(freep) char *text = NULL;
        IpcfgPlan named = *plan;
        int r, unreachable;

        if (isempty(a->opts->resolv_conf))
                return 0;
        for (size_t i = 0; i < MIN(named.n_ifaces, (size_t)IPCFG_MAX_IFACES); i++) {
                if (isempty(named.ifaces[i].device))
                        memcpy(named.ifaces[i].device, a->links[i].name, IFNAMSIZ);
                if (a->mtus[i] > 0)
                        named.ifaces[i].mtu = a->mtus[i];
        }
        unreachable = dns_linklocal_check(a, &named);
        r = ipcfg_resolv_conf_text(&named, &text);
        if (r < 0)
                return fail(a, r, "Failed to compose %s", a->opts->resolv_conf);
        if (r == 0)
                return unreachable;
        r = file_update(a->opts->resolv_conf, text);
        if (r < 0)
                return fail(a, r, "Failed to write %s", a->opts->resolv_conf);
        return unreachable;
}

/* The old hosts file with our line replaced, moved or dropped
 * (ipcfg_hosts_text()).  One too big to read is an error only when there
 * is a hostname to add: without one, it is left as it is. */
static int hosts_write(Applier *a, const IpcfgPlan *plan) {
        _cleanup_(freep) char *old = NULL, *content = NULL;
        int r;

        if (isempty(a->opts->hosts))
                return 0;
        r = read_full_file(a->opts->hosts, FILE_MAX, &old, NULL);
        if (r == -EFBIG && !ipcfg_plan_hostname_iface(plan))
                return 0;
        if (r < 0 && r != -ENOENT)
                return fail(a, r, "Failed to read %s", a->opts->hosts);
        r = ipcfg_hosts_text(old, plan, &content);
        if (r > 0)
                r = file_update(a->opts->hosts, content);
        if (r < 0)
                return fail(a, r, "Failed to update %s", a->opts->hosts);
        return 0;
}

/* The kernel's domain name when none was set (UTS_DOMAINNAME). */
#define DOMAINNAME_UNSET "(none)"

/* The hostname names the whole name: without a domain, one set before (a
 * restored template's) is cleared back to the kernel's "(none)", or the
 * clone would keep the template's domain beside its own hostname. */
static int hostname_set(Applier *a, const IpcfgIface *ifc) {
        const char *domain;
        struct utsname u;

        if (!ifc || !a->opts->set_hostname)
                return 0;
        if (sethostname(ifc->hostname, strlen(ifc->hostname)) < 0)
                return fail(a, negative_errno(), "Failed to set the hostname to %s", ifc->hostname);
        domain = ifc->domain;
        if (isempty(domain)) {
                if (uname(&u) < 0 || isempty(u.domainname) || streq(u.domainname, DOMAINNAME_UNSET))
                        return 0;
                domain = DOMAINNAME_UNSET;
        }
        if (setdomainname(domain, strlen(domain)) < 0)
                return fail(a, negative_errno(), "Failed to set the domain name to %s", domain);
        return 0;
}

static int hostname_file_write(Applier *a, const IpcfgIface *ifc) {
        char line[IPCFG_HOSTNAME_MAX + 2];
        int r;

        if (!ifc || isempty(a->opts->hostname_file))
                return 0;
        snprintf(line, sizeof line, "%s\n", ifc->hostname);
        r = file_update(a->opts->hostname_file, line);
        if (r < 0)
                return fail(a, r, "Failed to write %s", a->opts->hostname_file);
        return 0;
}

void ipcfg_apply_options_default(IpcfgApplyOptions *o) {
        *o = (IpcfgApplyOptions) {
                .resolv_conf = "/etc/resolv.conf",
                .hosts = "/etc/hosts",
                .hostname_file = "/etc/hostname",
                .set_hostname = true,
                .device_timeout_usec = 10 * USEC_PER_SEC,
        };
}

/* The loopback, every interface's link, then every interface's address
 * and route.  Links first: an ip= naming no device and one naming it may
 * be the same link, and a MAC change takes a link down, which drops the
 * routes through it (and its IPv6 addresses) that an earlier interface
 * had added.  An interface's steps depend on each other (no address on a
 * link that is missing or down, no route without the address), so its
 * first failure ends it; the loopback and the other interfaces do not
 * depend on it and are still applied. */
static void links_apply(Applier *a, const IpcfgPlan *plan) {
        bool up[IPCFG_MAX_IFACES] = {};
        size_t n = MIN(plan->n_ifaces, (size_t)IPCFG_MAX_IFACES);

        applier_record(a, loopback_up(a));
        for (size_t i = 0; i < n; i++) {
                int r = iface_link(a, &plan->ifaces[i]);

                up[i] = r >= 0;
                applier_record(a, r);
        }
        for (size_t i = 0; i < n; i++)
                if (up[i])
                        applier_record(a, iface_address(a, &plan->ifaces[i]));
}

/* The hostname and the files depend on no device, nor on each other:
 * each is applied whatever failed before it. */
static void files_apply(Applier *a, const IpcfgPlan *plan) {
        const IpcfgIface *named = ipcfg_plan_hostname_iface(plan);

        applier_record(a, hostname_set(a, named));
        applier_record(a, hostname_file_write(a, named));
        applier_record(a, resolv_conf_write(a, plan));
        applier_record(a, hosts_write(a, plan));
}

int ipcfg_apply(const IpcfgPlan *plan, const IpcfgApplyOptions *opts,
                IpcfgApplyResult *ret_result, char *errbuf, size_t errbuf_size) {
        IpcfgApplyOptions o;
        char step[768] = "";
        Applier a = { .opts = &o, .plan = plan, .errbuf = step, .errbuf_size = sizeof step,
                      .report = errbuf, .report_size = errbuf_size };
        int r;

        ipcfg_apply_options_default(&o);
        if (opts) {
                o.resolv_conf = opts->resolv_conf ?: o.resolv_conf;
                o.hosts = opts->hosts ?: o.hosts;
                o.hostname_file = opts->hostname_file; /* NULL/"" = don't write */
                o.set_hostname = opts->set_hostname;
                o.device_timeout_usec = opts->device_timeout_usec;
                o.previous = opts->previous;
        }
        if (errbuf && errbuf_size > 0)
                errbuf[0] = '\0';
        r = applier_open(&a);
        if (r < 0)
                applier_record(&a, fail(&a, r, "Failed to open a netlink socket"));
        else {
                links_apply(&a, plan);
                nl_socket_free(a.sk);
        }
        files_apply(&a, plan);
        for (size_t i = 0; i < MIN(plan->n_ifaces, (size_t)IPCFG_MAX_IFACES); i++)
                memcpy(a.result.devices[i], a.links[i].name, IFNAMSIZ);
        if (ret_result)
                *ret_result = a.result;
        return a.error;
}

int ipcfg_guard_root_only(const IpcfgAddr *dst, char *errbuf, size_t errbuf_size) {
        Applier a = { .errbuf = errbuf, .errbuf_size = errbuf_size };
        struct fib_rule_hdr h = { .family = (uint8_t)dst->family, .dst_len = (uint8_t)(addr_len(dst->family) * 8),
                                  .action = FR_ACT_PROHIBIT };
        struct fib_rule_uid_range uids = { .start = 1, .end = UINT32_MAX - 1 };
        char buf[INET6_ADDRSTRLEN];
        struct nl_msg *msg;
        int r;

        if (errbuf && errbuf_size > 0)
                errbuf[0] = '\0';
        if (dst->family != AF_INET && dst->family != AF_INET6)
                return fail(&a, -EAFNOSUPPORT, "Not an IP address");
        r = applier_open(&a);
        if (r < 0)
                return fail(&a, r, "Failed to open a netlink socket");
        msg = nlmsg_alloc_simple(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL);
        if (!msg || nlmsg_append(msg, &h, sizeof h, NLMSG_ALIGNTO) < 0 ||
            nla_put(msg, FRA_DST, (int)addr_len(dst->family), &dst->in) < 0 ||
            nla_put_u32(msg, FRA_PRIORITY, IPCFG_GUARD_PRIORITY) < 0 ||
            nla_put(msg, FRA_UID_RANGE, sizeof uids, &uids) < 0) {
                nlmsg_free(msg);
                nl_socket_free(a.sk);
                return fail(&a, -ENOMEM, "Out of memory");
        }
        /* Sends, waits for the kernel's answer and frees msg. */
        r = nl_errno(&a, nl_send_sync(a.sk, msg));
        nl_socket_free(a.sk);
        if (r == -EEXIST)
                return 0;
        if (r < 0)
                return fail(&a, r, "Cannot add the rule that keeps non-root users from %s: %s",
                            addr_str(dst, buf), strerror(-r));
        return 0;
}
