/* The network plan parsed from the kernel command line (`ip=`,
 * `nfsaddrs=`, `nameserver=`): a pure model, no system calls.  The grammar
 * is in DESIGN.md and at the top of ipcfg-parse.c; ipcfg-nl.c applies a
 * plan over netlink; ipcfg-json.c prints it for `netinit --dry-run`. */
#pragma once

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPCFG_MAX_IFACES 8
#define IPCFG_MAX_DNS 8
#define IPCFG_MAX_NTP 4
#define IPCFG_HOSTNAME_MAX 64
#define IPCFG_DHCP_CLIENT_ID_MAX 251 /* what the kernel copies of it */
/* IPv6 needs a link MTU of at least this (RFC 8200): below it the kernel
 * drops the link's IPv6 state (linux/ipv6.h's IPV6_MIN_MTU, which clashes
 * with netinet/in.h). */
#define IPCFG_IPV6_MIN_MTU 1280
#define IPCFG_CMDLINE_MAX 4096 /* COMMAND_LINE_SIZE on x86 is 2048; be generous */

typedef enum IpcfgMethod {
        IPCFG_METHOD_NONE,
        IPCFG_METHOD_STATIC,
        IPCFG_METHOD_DHCP,
        IPCFG_METHOD_DHCP6,
        IPCFG_METHOD_AUTO6,
        _IPCFG_METHOD_MAX,
        _IPCFG_METHOD_INVALID = -EINVAL,
} IpcfgMethod;

/* family == AF_UNSPEC: not given (an empty field or 0.0.0.0). */
typedef struct IpcfgAddr {
        int family;
        union {
                struct in_addr in;
                struct in6_addr in6;
        };
} IpcfgAddr;

typedef struct IpcfgIface {
        char device[IFNAMSIZ]; /* "": first non-loopback broadcast device */
        IpcfgMethod method;
        IpcfgAddr address;
        int prefix; /* -1 only without an address: the parser settles it (classful, /128 for IPv6) */
        IpcfgAddr server;
        IpcfgAddr gateway;
        char hostname[IPCFG_HOSTNAME_MAX + 1]; /* first label; "" = not given */
        char domain[IPCFG_HOSTNAME_MAX + 1]; /* after the first dot; "" = none */
        IpcfgAddr dns[IPCFG_MAX_DNS];
        size_t n_dns;
        IpcfgAddr ntp[IPCFG_MAX_NTP];
        size_t n_ntp;
        uint32_t mtu; /* 0: not given */
        bool has_mac;
        uint8_t mac[6];
        /* The kernel's DHCP client identifier (`dhcp,<type>,<id>`): the
         * type byte and the id as text, "" = not given.  Kept for a DHCP
         * client; the JSON does not report it. */
        uint8_t dhcp_client_id_type;
        char dhcp_client_id[IPCFG_DHCP_CLIENT_ID_MAX + 1];
} IpcfgIface;

typedef struct IpcfgPlan {
        IpcfgIface ifaces[IPCFG_MAX_IFACES];
        size_t n_ifaces; /* 0: no ip=, or ip=off/none */
} IpcfgPlan;

/* Which part of the command line an error is about.  `field` is the
 * 1-based position in `ip=` (0 when the error is not about an ip= field,
 * e.g. a `nameserver=` value or too many interfaces). */
typedef struct IpcfgError {
        const char *key;        /* static string: "ip", "nfsaddrs", "nameserver" */
        int field;
        const char *field_name; /* static string: "netmask", "nameserver", ... */
        char value[128];        /* the offending value, truncated */
        const char *reason;     /* static string: "not a dotted quad", ... */
} IpcfgError;

const char *ipcfg_method_to_string(IpcfgMethod m);
IpcfgMethod ipcfg_method_from_string(const char *s);

/* Parses a whole kernel command line.  On success fills *ret and returns 0;
 * on invalid input returns -EINVAL and fills *ret_error (if non-NULL);
 * -E2BIG when the line exceeds IPCFG_CMDLINE_MAX. Pure: no syscalls. */
int ipcfg_parse_cmdline(const char *cmdline, IpcfgPlan *ret, IpcfgError *ret_error);

/* Writes the address as text ("10.0.0.2", "fd00::2"; "" when not given)
 * into buf (at least INET6_ADDRSTRLEN bytes) and returns buf. */
const char *ipcfg_addr_to_string(const IpcfgAddr *a, char *buf, size_t size);

/* Same family and address; two "not given" addresses are equal. */
bool ipcfg_addr_equal(const IpcfgAddr *a, const IpcfgAddr *b);

/* Adds to into each interface of more whose address into has on none of
 * its interfaces (one without an address adds nothing): what a later
 * apply removes as "previous" when it keeps them nowhere.  Returns how
 * many did not fit in IPCFG_MAX_IFACES. */
size_t ipcfg_plan_merge(IpcfgPlan *into, const IpcfgPlan *more);

/* A handover's plan (over) laid over the one applied before (base):
 * over's interfaces replace base's for the devices they name, and base's
 * for other devices are kept, unless over gives one's address to another
 * device (it moved there).  When over names none of base's devices, or
 * has an interface that names no device, it is the whole network (moved
 * to another device, or the kernel's rule for it): *ret is over.  base's
 * devices compare as written: the caller fills in the names its entries
 * without one resolved to.  -E2BIG when the result would have more than
 * IPCFG_MAX_IFACES interfaces (*ret untouched).  ret may be over. */
int ipcfg_plan_overlay(const IpcfgPlan *base, const IpcfgPlan *over, IpcfgPlan *ret);

/* Whether an entry that names no device may mean this one (name, IFF_*
 * flags): the kernel's rule for ip= (ic_is_init_dev() in
 * net/ipv4/ipconfig.c): not loopback, broadcast or point-to-point, and
 * not a dummy* device.  Among several, the lowest ifindex is taken. */
bool ipcfg_link_is_candidate(const char *name, unsigned flags);

/* Formats an error as one line without a trailing newline:
 *   ip=: field 4 (netmask): invalid value "255.0.255.0": not contiguous */
void ipcfg_error_format(const IpcfgError *e, char *buf, size_t size);

/* The plan as JSON in DESIGN.md's schema, NUL-terminated, owned by the
 * caller (free()).  Keys always present, null for anything not given. */
int ipcfg_plan_to_json(const IpcfgPlan *plan, char **ret);

/* The files a plan implies, as text (ipcfg-files.c, pure; ipcfg-nl.c
 * reads and writes the files).  Both return 1 and an owned,
 * NUL-terminated *ret when there is something to write, 0 and *ret = NULL
 * when the file is to be left as it is, -ENOMEM. */

/* The interface whose hostname the plan sets: the first one naming a
 * hostname (borrowed from plan), or NULL. */
const IpcfgIface *ipcfg_plan_hostname_iface(const IpcfgPlan *plan);

/* The interface a link-local IPv6 DNS server is reached through: the
 * first one listing it whose link can have IPv6 (its mtu not given, or
 * 1280 or more; below, the link has no IPv6 state); NULL when none can
 * (or plan lists it nowhere).  Borrowed from plan. */
const IpcfgIface *ipcfg_plan_dns_scope(const IpcfgPlan *plan, const IpcfgAddr *dns);

/* resolv.conf: a comment line, every interface's DNS servers in order,
 * each once, and the first domain given as `search`.  A link-local IPv6
 * server gets the device of an interface listing it as its scope
 * (`fe80::1%eth0`), when that names one.  Nothing to write when the plan
 * names no server (a domain alone keeps the file).  The interface is
 * ipcfg_plan_dns_scope()'s, else the first listing it (an MTU the caller
 * knows is below 1280 is the caller's error to report). */
int ipcfg_resolv_conf_text(const IpcfgPlan *plan, char **ret);

/* /etc/hosts: old (NULL: no file) without the line an earlier run added,
 * then `<address>\t[<fqdn> ]<hostname> # vm-browser-agent netinit` for
 * the plan's hostname interface (ipcfg_plan_hostname_iface()) when it has
 * an address.  A plan without a hostname keeps the names of our earlier
 * line at its first address (a restored clone keeps its hostname, at its
 * new address), or drops the line when it has no address; so does a plan
 * whose hostname's interface has none (the old line names another
 * hostname).  Nothing to write when there is neither a line to add nor
 * one of ours. */
int ipcfg_hosts_text(const char *old, const IpcfgPlan *plan, char **ret);

/* Applier (ipcfg-nl.c).  Paths may be redirected for tests and image
 * builds; NULL members mean the defaults in ipcfg_apply_options_default(). */
typedef struct IpcfgApplyOptions {
        const char *resolv_conf; /* "/etc/resolv.conf" */
        const char *hosts;       /* "/etc/hosts" */
        const char *hostname_file; /* "/etc/hostname"; NULL/"" = don't write */
        bool set_hostname;       /* sethostname()/setdomainname() */
        uint64_t device_timeout_usec; /* wait for a device to appear */
        /* The plan applied before (a restored snapshot's): its static
         * addresses that the new plan does not have are removed from every
         * device, and one it gives another device from where it was.
         * NULL: none. */
        const IpcfgPlan *previous;
} IpcfgApplyOptions;

void ipcfg_apply_options_default(IpcfgApplyOptions *o);

/* What was done, for /health and logs. */
typedef struct IpcfgApplyResult {
        char device[IFNAMSIZ]; /* resolved device name of the first iface */
        /* Each interface's device as resolved ("" for one not found), in
         * the plan's order: an ip= naming none has one from then on. */
        char devices[IPCFG_MAX_IFACES][IFNAMSIZ];
        int ifindex;
        bool onlink_gateway;     /* gateway was outside the subnet */
        bool address_existed;    /* already configured (CONFIG_IP_PNP) */
        /* "" or what the caller logs as a warning, one sentence after
         * another: each gateway added on-link, with its own interface's
         * device; a previous default route that could not be removed. */
        char warning[512];
} IpcfgApplyResult;

/* The policy rule's priority (before "main" at 32766). */
#define IPCFG_GUARD_PRIORITY 1000

/* Adds a policy rule that prohibits routing to dst (that one address) for
 * every socket a non-root uid opened: connect() fails with EACCES.  For
 * the host's metadata service, which hands out the agent's secrets to
 * anyone who asks.  Addresses the local table answers (the VM's own,
 * loopback) come before any rule and stay reachable.  Idempotent (the
 * same rule again is 0).  -errno with the reason in errbuf. */
int ipcfg_guard_root_only(const IpcfgAddr *dst, char *errbuf, size_t errbuf_size);

/* Applies the plan: loopback up, wait for devices, MTU, MAC, link up
 * (every interface's), then each one's address and default route, then
 * hostname, resolv.conf, hosts.  Idempotent.  A
 * refused MTU or MAC leaves the link up or down as it was, with its MAC
 * (an MTU accepted before a refused MAC stays).
 * A failed step ends only the rest of its own interface (a missing or
 * refused link gets no address, a refused address no route); the other
 * interfaces, the hostname and the files are still applied.  When any
 * step failed, returns the first failure's -errno and writes every
 * failure into errbuf, in order, as one line:
 *   <reason>: <strerror>[; <reason>: <strerror>]...
 * (device names, addresses; never secrets), cut to "..." when it does
 * not fit.  *ret_result says what was done either way: a warning about a
 * step that worked is not lost to a failure elsewhere. */
int ipcfg_apply(const IpcfgPlan *plan, const IpcfgApplyOptions *opts,
                IpcfgApplyResult *ret_result, char *errbuf, size_t errbuf_size);
