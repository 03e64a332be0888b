/* Table-driven tests for the ip= parser and the plan's JSON: a kernel
 * command line in, the exact JSON (or the exact error line) out.  Where the
 * kernel (net/ipv4/ipconfig.c), systemd (network-generator.c) and dracut
 * (net-lib.sh) disagree, the comment on the case says whose behaviour it
 * follows and why (DESIGN.md "The kernel command line"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <net/if.h>

#include "cmdline-util.h"
#include "netinit/ipcfg.h"
#include "macro.h"

typedef struct Case {
        const char *cmdline;
        const char *json;  /* expected plan, or NULL when an error is expected */
        const char *error; /* expected error line */
} Case;

/* Builds the exact expected JSON; keys in DESIGN.md's order. */
#define S(x) "\"" x "\""
#define N "null"
#define IFACE(dev, meth, addr, pfx, srv, gw, host, dom, dns, ntp, mtu, mac)                  \
        "{\"device\":" dev ",\"method\":" S(meth) ",\"address\":" addr ",\"prefix\":" pfx      \
        ",\"server\":" srv ",\"gateway\":" gw ",\"hostname\":" host ",\"domain\":" dom         \
        ",\"dns\":[" dns "],\"ntp\":[" ntp "],\"mtu\":" mtu ",\"mac\":" mac "}"
#define PLAN(...) "{\"interfaces\":[" __VA_ARGS__ "]}"
#define EMPTY PLAN("")
#define AUTO(dev, meth) IFACE(dev, meth, N, N, N, N, N, N, "", "", N, N)
#define STATIC(dev, addr, pfx, gw) IFACE(dev, "static", S(addr), pfx, N, gw, N, N, "", "", N, N)
#define OK(cmdline, json) { cmdline, json, NULL }
#define ERR(cmdline, error) { cmdline, NULL, error }

#define FC "172.16.0.2::172.16.0.1:255.255.255.0"
#define MAC S("52:54:00:aa:bb:cc")

static const Case cases[] = {
        /* No ip= at all, and every way of saying "off" (kernel: empty, off
         * and none disable autoconfig; DESIGN adds static to that set). */
        OK("", EMPTY),
        OK("console=ttyS0 quiet", EMPTY),
        OK("ip=off", EMPTY),
        OK("ip=none", EMPTY),
        OK("ip=", EMPTY),
        OK("ip=static", EMPTY),

        /* The Firecracker forms (DESIGN examples). */
        OK("ip=" FC "::eth0:off", PLAN(STATIC(S("eth0"), "172.16.0.2", "24", S("172.16.0.1")))),
        OK("console=ttyS0 reboot=k panic=1 pci=off ip=" FC ":vm1.example.com:eth0:off:1.1.1.1:8.8.8.8",
           PLAN(IFACE(S("eth0"), "static", S("172.16.0.2"), "24", N, S("172.16.0.1"), S("vm1"),
                      S("example.com"), S("1.1.1.1") "," S("8.8.8.8"), "", N, N))),
        /* The same, spelled out once without the macros. */
        OK("ip=" FC "::eth0:off",
           "{\"interfaces\":[{\"device\":\"eth0\",\"method\":\"static\",\"address\":\"172.16.0.2\","
           "\"prefix\":24,\"server\":null,\"gateway\":\"172.16.0.1\",\"hostname\":null,"
           "\"domain\":null,\"dns\":[],\"ntp\":[],\"mtu\":null,\"mac\":null}]}"),

        /* A lone keyword: one interface on the first broadcast device.  The
         * kernel's whole keyword set (ic_proto_name) is DHCP to us. */
        OK("ip=dhcp", PLAN(AUTO(N, "dhcp"))),
        OK("ip=on", PLAN(AUTO(N, "dhcp"))),
        OK("ip=any", PLAN(AUTO(N, "dhcp"))),
        OK("ip=bootp", PLAN(AUTO(N, "dhcp"))),
        OK("ip=rarp", PLAN(AUTO(N, "dhcp"))),
        OK("ip=both", PLAN(AUTO(N, "dhcp"))),
        OK("ip=dhcp6", PLAN(AUTO(N, "dhcp6"))),
        OK("ip=auto6", PLAN(AUTO(N, "auto6"))),

        /* Kernel: dhcp with a DHCP client identifier, "dhcp,<type>,<id>"
         * (ic_proto_name()).  The id is kept in the model, not in the JSON;
         * test_dhcp_client_id checks what is kept.  The whole value is
         * read before it is split at ':', so the id may hold colons... */
        OK("ip=dhcp,1,01:02:03:04:05:06", PLAN(AUTO(N, "dhcp"))),
        /* ...as field 7 it is one field: it ends at the next ':'. */
        OK("ip=::::::dhcp,0,vm-1", PLAN(AUTO(N, "dhcp"))),
        OK("ip=::::::dhcp,0,vm-1:1.1.1.1", PLAN(IFACE(N, "dhcp", N, N, N, N, N, N, S("1.1.1.1"), "", N, N))),
        /* Kernel: the id is everything after the second comma, commas too. */
        OK("ip=:::::eth0:dhcp,255,host.example,a,b", PLAN(AUTO(S("eth0"), "dhcp"))),
        /* Kernel: an address still makes it static; the id stays unused. */
        OK("ip=10.0.0.2:::24::eth0:dhcp,1,abc", PLAN(STATIC(S("eth0"), "10.0.0.2", "24", N))),

        /* Empty netmask: the kernel's classful guess (systemd would use /32).
         * Kernel: fields may be left off (systemd insists on field 7). */
        OK("ip=10.0.0.2", PLAN(STATIC(N, "10.0.0.2", "8", N))),
        OK("ip=172.16.5.4", PLAN(STATIC(N, "172.16.5.4", "16", N))),
        OK("ip=192.168.1.10", PLAN(STATIC(N, "192.168.1.10", "24", N))),
        OK("ip=100.64.0.2", PLAN(STATIC(N, "100.64.0.2", "8", N))),
        /* Kernel: a 0.0.0.0 netmask is "not given", so it is guessed too. */
        OK("ip=10.0.0.2:::0.0.0.0", PLAN(STATIC(N, "10.0.0.2", "8", N))),
        /* Netmask as dotted quad or as prefix length (systemd, dracut). */
        OK("ip=10.0.0.2:::24", PLAN(STATIC(N, "10.0.0.2", "24", N))),
        OK("ip=10.0.0.2:::255.255.255.255", PLAN(STATIC(N, "10.0.0.2", "32", N))),
        OK("ip=10.0.0.2:::255.255.252.0", PLAN(STATIC(N, "10.0.0.2", "22", N))),
        OK("ip=10.0.0.2:::128.0.0.0", PLAN(STATIC(N, "10.0.0.2", "1", N))),
        OK("ip=10.0.0.2:::0", PLAN(STATIC(N, "10.0.0.2", "0", N))),
        OK("ip=10.0.0.2:::32", PLAN(STATIC(N, "10.0.0.2", "32", N))),
        /* Class E has no classful mask, but an explicit one is fine. */
        OK("ip=240.0.0.1:::24", PLAN(STATIC(N, "240.0.0.1", "24", N))),

        /* Every field of the kernel form, in order. */
        OK("ip=10.0.0.2:10.0.0.9:10.0.0.254:255.255.0.0:a-b.c-d.example:enp0s3:static:9.9.9.9:"
           "149.112.112.112:10.0.0.123",
           PLAN(IFACE(S("enp0s3"), "static", S("10.0.0.2"), "16", S("10.0.0.9"), S("10.0.0.254"),
                      S("a-b"), S("c-d.example"), S("9.9.9.9") "," S("149.112.112.112"),
                      S("10.0.0.123"), N, N))),
        OK("ip=10.0.0.2:10.0.0.9::24", PLAN(IFACE(N, "static", S("10.0.0.2"), "24", S("10.0.0.9"), N,
                                                 N, N, "", "", N, N))),
        OK("ip=10.0.0.2:::24::::::10.0.0.123",
           PLAN(IFACE(N, "static", S("10.0.0.2"), "24", N, N, N, N, "", S("10.0.0.123"), N, N))),
        /* dns1 equal to dns0 is dropped (DESIGN: duplicates dropped). */
        OK("ip=10.0.0.2:::24::::1.1.1.1:1.1.1.1",
           PLAN(IFACE(N, "static", S("10.0.0.2"), "24", N, N, N, N, S("1.1.1.1"), "", N, N))),
        /* Kernel: a trailing colon is an empty field (systemd refuses it). */
        OK("ip=10.0.0.2:::24::eth0:off:", PLAN(STATIC(S("eth0"), "10.0.0.2", "24", N))),
        OK("ip=eth0:dhcp:", PLAN(AUTO(S("eth0"), "dhcp"))),
        /* No device: the applier picks the first broadcast device. */
        OK("ip=" FC ":::off", PLAN(STATIC(N, "172.16.0.2", "24", S("172.16.0.1")))),
        /* A gateway outside the subnet is the applier's on-link case, not an error. */
        OK("ip=10.0.0.2::192.168.0.1:24::eth0", PLAN(STATIC(S("eth0"), "10.0.0.2", "24", S("192.168.0.1")))),
        /* Kernel: a 0.0.0.0 gateway is "not given", not an error. */
        OK("ip=10.0.0.2::0.0.0.0:24::eth0:off", PLAN(STATIC(S("eth0"), "10.0.0.2", "24", N))),
        /* ...which the broadcast check follows: /31 and /32 have none
         * (RFC 3021), so the other address of a /31 is a gateway. */
        OK("ip=10.0.0.2::10.0.0.3:31::eth0:off", PLAN(STATIC(S("eth0"), "10.0.0.2", "31", S("10.0.0.3")))),
        OK("ip=10.0.0.2::10.0.0.255:32::eth0:off", PLAN(STATIC(S("eth0"), "10.0.0.2", "32", S("10.0.0.255")))),
        /* Another subnet's broadcast address is an on-link gateway to us. */
        OK("ip=10.0.0.2::10.0.1.255:24::eth0:off", PLAN(STATIC(S("eth0"), "10.0.0.2", "24", S("10.0.1.255")))),
        /* IPv6 link-local gateways are the usual kind. */
        OK("ip=[fd00::2]::[fe80::1]:64::eth0:off", PLAN(STATIC(S("eth0"), "fd00::2", "64", S("fe80::1")))),

        /* Method.  Kernel: a client address means no autoconfig, whatever
         * field 7 says (systemd would run DHCP beside the static address). */
        OK("ip=10.0.0.2:::24::eth0:dhcp", PLAN(STATIC(S("eth0"), "10.0.0.2", "24", N))),
        OK("ip=10.0.0.2:::24::eth0:dhcp6", PLAN(STATIC(S("eth0"), "10.0.0.2", "24", N))),
        /* Kernel: an empty autoconf field means "on". */
        OK("ip=:::::eth0", PLAN(AUTO(S("eth0"), "dhcp"))),
        OK("ip=:::::eth0:dhcp", PLAN(AUTO(S("eth0"), "dhcp"))),
        OK("ip=:::::eth0:bootp", PLAN(AUTO(S("eth0"), "dhcp"))),
        OK("ip=:::::eth0:auto6", PLAN(AUTO(S("eth0"), "auto6"))),
        /* off without an address: the link is brought up, nothing else. */
        OK("ip=:::::eth0:off", PLAN(AUTO(S("eth0"), "none"))),
        OK("ip=:::::eth0:none", PLAN(AUTO(S("eth0"), "none"))),
        /* Kernel: 0.0.0.0 is "not given", so this is plain DHCP. */
        OK("ip=0.0.0.0", PLAN(AUTO(N, "dhcp"))),
        OK("ip=0.0.0.0::10.0.0.1::::dhcp", PLAN(IFACE(N, "dhcp", N, N, N, S("10.0.0.1"), N, N, "", "", N, N))),

        /* dracut/systemd: <device>:<autoconf>[:[<mtu>][:<mac>]].  dracut
         * takes only DHCP keywords there; DESIGN: any autoconf keyword. */
        OK("ip=eth0:dhcp", PLAN(AUTO(S("eth0"), "dhcp"))),
        OK("ip=eth0:dhcp6", PLAN(AUTO(S("eth0"), "dhcp6"))),
        OK("ip=eth0:on", PLAN(AUTO(S("eth0"), "dhcp"))),
        OK("ip=eth0:off:9000", PLAN(IFACE(S("eth0"), "none", N, N, N, N, N, N, "", "", "9000", N))),
        OK("ip=eth0:dhcp:1500:52:54:00:AA:BB:CC",
           PLAN(IFACE(S("eth0"), "dhcp", N, N, N, N, N, N, "", "", "1500", MAC))),
        OK("ip=eth0:dhcp::52:54:00:aa:bb:cc", PLAN(IFACE(S("eth0"), "dhcp", N, N, N, N, N, N, "", "", N, MAC))),
        OK("ip=eth0:dhcp:68", PLAN(IFACE(S("eth0"), "dhcp", N, N, N, N, N, N, "", "", "68", N))),
        OK("ip=eth0:dhcp:65535", PLAN(IFACE(S("eth0"), "dhcp", N, N, N, N, N, N, "", "", "65535", N))),
        OK("ip=:dhcp", PLAN(AUTO(N, "dhcp"))),
        OK("ip=abcdefghijklmno:dhcp", PLAN(AUTO(S("abcdefghijklmno"), "dhcp"))),

        /* dracut/systemd: an all-digit field 8 is an MTU, then the MAC. */
        OK("ip=" FC "::eth0:off:9000",
           PLAN(IFACE(S("eth0"), "static", S("172.16.0.2"), "24", N, S("172.16.0.1"), N, N, "", "", "9000", N))),
        OK("ip=" FC "::eth0:off:9000:52:54:00:aa:bb:cc",
           PLAN(IFACE(S("eth0"), "static", S("172.16.0.2"), "24", N, S("172.16.0.1"), N, N, "", "", "9000", MAC))),
        /* dracut: an empty MTU before a MAC (11+ fields cannot be dns/ntp).
         * dracut also takes a lone field 9 as a MAC; we read it as dns1. */
        OK("ip=" FC "::eth0:off::52:54:00:aa:bb:cc",
           PLAN(IFACE(S("eth0"), "static", S("172.16.0.2"), "24", N, S("172.16.0.1"), N, N, "", "", N, MAC))),
        /* systemd: MACs with dashes too (ether_addr_from_string()), in
         * every place a MAC goes.  A dashed field 9 after an empty field 8
         * is a MAC, never dns1: no address has a dash. */
        OK("ip=eth0:dhcp:1500:52-54-00-AA-BB-CC",
           PLAN(IFACE(S("eth0"), "dhcp", N, N, N, N, N, N, "", "", "1500", MAC))),
        OK("ip=eth0:dhcp::52-54-00-aa-bb-cc", PLAN(IFACE(S("eth0"), "dhcp", N, N, N, N, N, N, "", "", N, MAC))),
        OK("ip=" FC "::eth0:off:9000:52-54-00-aa-bb-cc",
           PLAN(IFACE(S("eth0"), "static", S("172.16.0.2"), "24", N, S("172.16.0.1"), N, N, "", "", "9000", MAC))),
        OK("ip=" FC "::eth0:off::52-54-00-aa-bb-cc",
           PLAN(IFACE(S("eth0"), "static", S("172.16.0.2"), "24", N, S("172.16.0.1"), N, N, "", "", N, MAC))),

        /* IPv6 in brackets (systemd, dracut); the kernel has no IPv6 here. */
        OK("ip=[fd00::2]::[fd00::1]:64::eth0:none",
           PLAN(STATIC(S("eth0"), "fd00::2", "64", S("fd00::1")))),
        /* Empty IPv6 prefix: a host address (systemd and dracut: /128). */
        OK("ip=[fd00::2]:::::eth0", PLAN(STATIC(S("eth0"), "fd00::2", "128", N))),
        OK("ip=[FD00:0::2]::[fd00::1]:128", PLAN(STATIC(N, "fd00::2", "128", S("fd00::1")))),
        OK("ip=[fd00::2]::[fd00::1]:64::eth0:none:[fd00::53]:[2001:4860:4860::8888]",
           PLAN(IFACE(S("eth0"), "static", S("fd00::2"), "64", N, S("fd00::1"), N, N,
                      S("fd00::53") "," S("2001:4860:4860::8888"), "", N, N))),
        /* [::] is "not given", like 0.0.0.0. */
        OK("ip=[::]:::::eth0:dhcp6", PLAN(AUTO(S("eth0"), "dhcp6"))),
        /* IPv4 DNS for an IPv6 client is fine: resolv.conf takes both. */
        OK("ip=[fd00::2]:::64::eth0::1.1.1.1",
           PLAN(IFACE(S("eth0"), "static", S("fd00::2"), "64", N, N, N, N, S("1.1.1.1"), "", N, N))),

        /* Hostname: first label, the rest is the domain. */
        OK("ip=10.0.0.2:::24:vm1", PLAN(IFACE(N, "static", S("10.0.0.2"), "24", N, N, S("vm1"), N, "", "", N, N))),
        OK("ip=10.0.0.2:::24:My-Host.Example.COM",
           PLAN(IFACE(N, "static", S("10.0.0.2"), "24", N, N, S("My-Host"), S("Example.COM"), "", "", N, N))),
        OK("ip=10.0.0.2:::24:1vm.2", PLAN(IFACE(N, "static", S("10.0.0.2"), "24", N, N, S("1vm"), S("2"), "", "", N, N))),
        /* Exactly 64 characters is allowed. */
        OK("ip=10.0.0.2:::24:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
           PLAN(IFACE(N, "static", S("10.0.0.2"), "24", N, N, S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                      S("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"), "", "", N, N))),

        /* nameserver= (dracut, systemd): after each interface's own dns. */
        OK("ip=dhcp nameserver=1.1.1.1 nameserver=8.8.8.8",
           PLAN(IFACE(N, "dhcp", N, N, N, N, N, N, S("1.1.1.1") "," S("8.8.8.8"), "", N, N))),
        OK("nameserver=9.9.9.9 ip=10.0.0.2:::24::::1.1.1.1 nameserver=1.1.1.1",
           PLAN(IFACE(N, "static", S("10.0.0.2"), "24", N, N, N, N, S("1.1.1.1") "," S("9.9.9.9"), "", N, N))),
        OK("nameserver=fd00::53 nameserver=[fd00::54] nameserver=fd00::53 ip=dhcp",
           PLAN(IFACE(N, "dhcp", N, N, N, N, N, N, S("fd00::53") "," S("fd00::54"), "", N, N))),
        /* Exactly IPCFG_MAX_DNS (8): two of its own and six nameserver=. */
        OK("ip=10.0.0.2:::24::::9.9.9.9:9.9.9.8 nameserver=1.0.0.1 nameserver=1.0.0.2 nameserver=1.0.0.3 "
           "nameserver=1.0.0.4 nameserver=1.0.0.5 nameserver=1.0.0.6",
           PLAN(IFACE(N, "static", S("10.0.0.2"), "24", N, N, N, N,
                      S("9.9.9.9") "," S("9.9.9.8") "," S("1.0.0.1") "," S("1.0.0.2") "," S("1.0.0.3") ","
                      S("1.0.0.4") "," S("1.0.0.5") "," S("1.0.0.6"), "", N, N))),
        OK("nameserver=1.1.1.1", EMPTY),
        OK("ip=dhcp nameserver=0.0.0.0", PLAN(AUTO(N, "dhcp"))),
        OK("ip=eth0:dhcp ip=eth1:dhcp nameserver=1.1.1.1",
           PLAN(IFACE(S("eth0"), "dhcp", N, N, N, N, N, N, S("1.1.1.1"), "", N, N) ","
                IFACE(S("eth1"), "dhcp", N, N, N, N, N, N, S("1.1.1.1"), "", N, N))),

        /* nfsaddrs= is the kernel's alias. */
        OK("nfsaddrs=10.0.0.2::10.0.0.1:24::eth0", PLAN(STATIC(S("eth0"), "10.0.0.2", "24", S("10.0.0.1")))),

        /* Several ip=: one entry per device, in order of appearance. */
        OK("ip=10.0.0.2:::24::eth0:off ip=10.1.0.2:::16::eth1:off",
           PLAN(STATIC(S("eth0"), "10.0.0.2", "24", N) "," STATIC(S("eth1"), "10.1.0.2", "16", N))),
        /* Another interface's subnet (not its address) may hold the gateway. */
        OK("ip=10.0.0.2:::24::eth0:off ip=10.1.0.2::10.0.0.1:24::eth1:off",
           PLAN(STATIC(S("eth0"), "10.0.0.2", "24", N) "," STATIC(S("eth1"), "10.1.0.2", "24", S("10.0.0.1")))),
        OK("ip=eth1:dhcp ip=" FC "::eth0:off",
           PLAN(AUTO(S("eth1"), "dhcp") "," STATIC(S("eth0"), "172.16.0.2", "24", S("172.16.0.1")))),
        /* The same device merges field by field; the later non-empty wins. */
        OK("ip=10.0.0.2:::24::eth0:off ip=::10.0.0.1:::eth0",
           PLAN(STATIC(S("eth0"), "10.0.0.2", "24", S("10.0.0.1")))),
        /* ... but not into the other family: one family's address and
         * route would be gone without a word (no dual stack). */
        ERR("ip=10.0.0.2::10.0.0.1:24::eth0:off ip=[fd00::2]::[fd00::1]:64::eth0:off",
            "ip=: field 1 (client): invalid value \"fd00::2\": its device has one of the other family from an "
            "earlier ip= (one address family per device)"),
        ERR("ip=10.0.0.2::10.0.0.1:24::eth0:off ip=::[fe80::1]:::eth0:off",
            "ip=: field 3 (gateway): invalid value \"fe80::1\": its device has one of the other family from an "
            "earlier ip= (one address family per device)"),
        ERR("ip=[fd00::2]:::64::eth0:off ip=10.0.0.2:::24::eth0:off",
            "ip=: field 1 (client): invalid value \"10.0.0.2\": its device has one of the other family from an "
            "earlier ip= (one address family per device)"),
        /* Other devices may each have their own family. */
        OK("ip=10.0.0.2:::24::eth0:off ip=[fd00::2]:::64::eth1:off",
           PLAN(STATIC(S("eth0"), "10.0.0.2", "24", N) "," STATIC(S("eth1"), "fd00::2", "64", N))),
        /* The classful guess comes after merging: the /24 given earlier stays. */
        OK("ip=10.0.0.2:::24::eth0 ip=10.0.0.3:::::eth0", PLAN(STATIC(S("eth0"), "10.0.0.3", "24", N))),
        OK("ip=10.0.0.2:::24::eth0:off ip=eth0:off:9000",
           PLAN(IFACE(S("eth0"), "static", S("10.0.0.2"), "24", N, N, N, N, "", "", "9000", N))),
        OK("ip=eth0:dhcp nfsaddrs=10.0.0.2:::::eth0", PLAN(STATIC(S("eth0"), "10.0.0.2", "8", N))),
        /* Kernel: the keyword alone has device "" and merges with "". */
        OK("ip=dhcp ip=10.0.0.2", PLAN(STATIC(N, "10.0.0.2", "8", N))),
        /* A later off clears everything before it, not what follows. */
        OK("ip=10.0.0.2:::24::eth0:off ip=off", EMPTY),
        OK("ip=eth1:dhcp ip=none ip=eth0:dhcp", PLAN(AUTO(S("eth0"), "dhcp"))),
        OK("ip=e0:dhcp ip=e1:dhcp ip=e2:dhcp ip=e3:dhcp ip=e4:dhcp ip=e5:dhcp ip=e6:dhcp ip=e7:dhcp",
           PLAN(AUTO(S("e0"), "dhcp") "," AUTO(S("e1"), "dhcp") "," AUTO(S("e2"), "dhcp") ","
                AUTO(S("e3"), "dhcp") "," AUTO(S("e4"), "dhcp") "," AUTO(S("e5"), "dhcp") ","
                AUTO(S("e6"), "dhcp") "," AUTO(S("e7"), "dhcp"))),

        /* Tokenising as the kernel's next_arg(). */
        OK("ip=dhcp -- ip=off", PLAN(AUTO(N, "dhcp"))),
        OK("foo=-- ip=dhcp", PLAN(AUTO(N, "dhcp"))),
        OK("\"ip=10.0.0.2:::24\"", PLAN(STATIC(N, "10.0.0.2", "24", N))),
        OK("ip=\"10.0.0.2:::24\"", PLAN(STATIC(N, "10.0.0.2", "24", N))),
        OK("foo=\"a ip=off b\" ip=dhcp", PLAN(AUTO(N, "dhcp"))),
        OK("\tip=dhcp\n", PLAN(AUTO(N, "dhcp"))),
        OK("ip=dhcp    console=ttyS0\r\n", PLAN(AUTO(N, "dhcp"))),
        /* Kernel isspace() (lib/ctype.c) counts 0xA0, the Latin-1 no-break
         * space, so it ends a word too (a UTF-8 U+00A0 is C2 A0: C2 stays). */
        OK("ip=10.0.0.2:::24\xa0ip=off", EMPTY),
        OK("ip=eth0:dhcp\xa0\xa0nameserver=1.1.1.1\xa0",
           PLAN(IFACE(S("eth0"), "dhcp", N, N, N, N, N, N, S("1.1.1.1"), "", N, N))),
        OK("IP=dhcp ip nfsaddrs xip=dhcp", EMPTY),
        /* Kernel: an unterminated opening quote groups to the end of the line. */
        OK("ip=\"dhcp", PLAN(AUTO(N, "dhcp"))),
        OK("ip=dhcp foo=\"x ip=off", PLAN(AUTO(N, "dhcp"))),
        /* ...but a stray closing quote stays in the value. */
        ERR("ip=dhcp\"", "ip=: field 1 (client): invalid value \"dhcp\\\"\": not a dotted quad"),

        /* Rejections: garbage is never guessed into an address. */
        ERR("ip=10.0.0.x", "ip=: field 1 (client): invalid value \"10.0.0.x\": not a dotted quad"),
        ERR("ip=10.0.0.256", "ip=: field 1 (client): invalid value \"10.0.0.256\": octet out of range"),
        ERR("ip=10.1", "ip=: field 1 (client): invalid value \"10.1\": not a dotted quad"),
        ERR("ip=1.2.3.4.5", "ip=: field 1 (client): invalid value \"1.2.3.4.5\": not a dotted quad"),
        ERR("ip=10.0.0.", "ip=: field 1 (client): invalid value \"10.0.0.\": not a dotted quad"),
        ERR("ip=1.2.3.1234", "ip=: field 1 (client): invalid value \"1.2.3.1234\": octet out of range"),
        ERR("ip=+1.2.3.4", "ip=: field 1 (client): invalid value \"+1.2.3.4\": not a dotted quad"),
        /* Kernel in_aton() reads 010 as 10, inet_aton() as 8: refuse both. */
        ERR("ip=010.0.0.1", "ip=: field 1 (client): invalid value \"010.0.0.1\": leading zero"),
        ERR("ip=224.0.0.1", "ip=: field 1 (client): invalid value \"224.0.0.1\": not a unicast address"),
        ERR("ip=255.255.255.255", "ip=: field 1 (client): invalid value \"255.255.255.255\": not a unicast address"),
        ERR("ip=127.0.0.2", "ip=: field 1 (client): invalid value \"127.0.0.2\": a loopback address"),
        ERR("ip=[ff02::1]:::64::eth0:off", "ip=: field 1 (client): invalid value \"[ff02::1]\": not a unicast address"),
        ERR("ip=[::1]:::64::eth0:off", "ip=: field 1 (client): invalid value \"[::1]\": a loopback address"),
        /* RFC 1122: 0.x.x.x is "this network", a source only while a host
         * learns its address, never one it keeps (0.0.0.0 itself is "not
         * given").  Kernel: taken as the address, answering to nothing;
         * DESIGN: refused, as for the gateway. */
        ERR("ip=0.0.0.1", "ip=: field 1 (client): invalid value \"0.0.0.1\": in 0.0.0.0/8, never a destination"),
        ERR("ip=0.255.255.255::10.0.0.1:8::eth0:off",
            "ip=: field 1 (client): invalid value \"0.255.255.255\": in 0.0.0.0/8, never a destination"),
        /* ...also merged into an entry that had a good one. */
        ERR("ip=10.0.0.2:::24::eth0:off ip=0.1.2.3:::::eth0",
            "ip=: field 1 (client): invalid value \"0.1.2.3\": in 0.0.0.0/8, never a destination"),
        /* Kernel ic_defaults(): no guess for class E, so no address. */
        ERR("ip=240.0.0.1", "ip=: field 1 (client): invalid value \"240.0.0.1\": no classful netmask for a class E address"),
        /* Not a keyword in field 2, so the kernel form: "dhcp" is a server. */
        ERR("ip=10.0.0.2:dhcp", "ip=: field 2 (server): invalid value \"dhcp\": not a dotted quad"),
        ERR("ip=eth0", "ip=: field 1 (client): invalid value \"eth0\": not a dotted quad"),
        ERR("ip=dhcpfoo", "ip=: field 1 (client): invalid value \"dhcpfoo\": not a dotted quad"),
        ERR("ip=10.0.0.2::10.0.0.x", "ip=: field 3 (gateway): invalid value \"10.0.0.x\": not a dotted quad"),
        /* A gateway must be a next hop the kernel can use.  Kernel: a
         * broadcast, multicast or (once lo is up) loopback gateway is
         * refused when the route is added ("Nexthop has invalid gateway"),
         * after the address is already in place; DESIGN: refuse it here,
         * where --dry-run sees it.  The value is quoted as written. */
        ERR("ip=10.0.0.2::255.255.255.255:24::eth0:off",
            "ip=: field 3 (gateway): invalid value \"255.255.255.255\": not a unicast address"),
        ERR("ip=10.0.0.2::224.0.0.1:24::eth0:off", "ip=: field 3 (gateway): invalid value \"224.0.0.1\": not a unicast address"),
        ERR("ip=10.0.0.2::239.255.255.250:24", "ip=: field 3 (gateway): invalid value \"239.255.255.250\": not a unicast address"),
        ERR("ip=10.0.0.2::127.0.0.1:24::eth0:off", "ip=: field 3 (gateway): invalid value \"127.0.0.1\": a loopback address"),
        ERR("ip=10.0.0.2::127.255.0.9:24", "ip=: field 3 (gateway): invalid value \"127.255.0.9\": a loopback address"),
        /* Kernel: 0.x.x.x (not 0.0.0.0, which is "not given") is taken as an
         * on-link gateway no packet can reach (RFC 1122: "this network",
         * a source only). */
        ERR("ip=10.0.0.2::0.0.0.1:24", "ip=: field 3 (gateway): invalid value \"0.0.0.1\": in 0.0.0.0/8, never a destination"),
        /* Without a client too: the checks are the gateway's own. */
        ERR("ip=::224.0.0.1:::eth0:off", "ip=: field 3 (gateway): invalid value \"224.0.0.1\": not a unicast address"),
        ERR("ip=[fd00::2]::[ff02::1]:64::eth0:off", "ip=: field 3 (gateway): invalid value \"[ff02::1]\": not a unicast address"),
        ERR("ip=[fd00::2]::[::1]:64::eth0:off", "ip=: field 3 (gateway): invalid value \"[::1]\": a loopback address"),
        /* Kernel: IPv4 accepts the client's own address as a gateway (a
         * default route that reaches nothing), IPv6 refuses it ("Gateway
         * can not be a local address") after the address is added: both
         * are refused here, the value printed as an address. */
        ERR("ip=10.0.0.2::10.0.0.2:24::eth0:off", "ip=: field 3 (gateway): invalid value \"10.0.0.2\": the client's own address"),
        ERR("ip=[fd00::2]::[FD00::2]:64::eth0:off", "ip=: field 3 (gateway): invalid value \"fd00::2\": the client's own address"),
        /* ...also when merging makes them equal. */
        ERR("ip=10.0.0.2:::24::eth0:off ip=::10.0.0.2:::eth0",
            "ip=: field 3 (gateway): invalid value \"10.0.0.2\": the client's own address"),
        /* Kernel: the broadcast address of the client's subnet is refused
         * like 255.255.255.255 (it is RTN_BROADCAST once the address is
         * in), also for the classful guess... */
        ERR("ip=10.0.0.2::10.0.0.255:24::eth0:off",
            "ip=: field 3 (gateway): invalid value \"10.0.0.255\": the broadcast address of the client's subnet"),
        ERR("ip=10.0.0.2::10.255.255.255", "ip=: field 3 (gateway): invalid value \"10.255.255.255\": the broadcast address of the client's subnet"),
        /* Another interface's address or subnet broadcast address is no
         * next hop either.  Kernel: on-link (outside this interface's
         * subnet) it refuses the route ("Nexthop has invalid gateway")
         * once the other address is in, in the same subnet it adds a
         * default route to itself; whichever interface comes first. */
        ERR("ip=10.0.0.2:::24::eth0:off ip=10.1.0.2::10.0.0.2:24::eth1:off",
            "ip=: field 3 (gateway): invalid value \"10.0.0.2\": another interface's client address"),
        ERR("nfsaddrs=10.1.0.2::10.0.0.2:24::eth1:off ip=10.0.0.2:::24::eth0:off",
            "nfsaddrs=: field 3 (gateway): invalid value \"10.0.0.2\": another interface's client address"),
        ERR("ip=10.0.0.2:::24::eth0:off ip=10.0.0.3::10.0.0.2:24::eth1:off",
            "ip=: field 3 (gateway): invalid value \"10.0.0.2\": another interface's client address"),
        ERR("ip=[fd00::2]:::64::eth0:off ip=[fd01::2]::[fd00::2]:64::eth1:off",
            "ip=: field 3 (gateway): invalid value \"fd00::2\": another interface's client address"),
        ERR("ip=10.0.0.2:::24::eth0:off ip=10.1.0.2::10.0.0.255:24::eth1:off",
            "ip=: field 3 (gateway): invalid value \"10.0.0.255\": the broadcast address of another interface's subnet"),
        ERR("ip=10.1.0.2::10.255.255.255:24::eth1:off ip=10.0.0.2::::eth0:off",
            "ip=: field 3 (gateway): invalid value \"10.255.255.255\": the broadcast address of another interface's subnet"),
        ERR("ip=10.0.0.2:::24::::1.1.1", "ip=: field 8 (dns0): invalid value \"1.1.1\": not a dotted quad"),
        ERR("ip=10.0.0.2:::24::::1.1.1.1:x", "ip=: field 9 (dns1): invalid value \"x\": not a dotted quad"),
        ERR("ip=10.0.0.2:::24::::::ntp", "ip=: field 10 (ntp0): invalid value \"ntp\": not a dotted quad"),

        ERR("ip=10.0.0.2::10.0.0.1:255.0.255.0", "ip=: field 4 (netmask): invalid value \"255.0.255.0\": not contiguous"),
        ERR("ip=10.0.0.2:::0.255.255.255", "ip=: field 4 (netmask): invalid value \"0.255.255.255\": not contiguous"),
        ERR("ip=10.0.0.2:::33", "ip=: field 4 (netmask): invalid value \"33\": prefix length out of range"),
        ERR("ip=10.0.0.2:::1024", "ip=: field 4 (netmask): invalid value \"1024\": prefix length out of range"),
        ERR("ip=10.0.0.2:::024", "ip=: field 4 (netmask): invalid value \"024\": leading zero"),
        ERR("ip=10.0.0.2:::24x", "ip=: field 4 (netmask): invalid value \"24x\": not a number"),
        ERR("ip=10.0.0.2:::255.255.255.0.0", "ip=: field 4 (netmask): invalid value \"255.255.255.0.0\": not a dotted quad"),

        ERR("ip=10.0.0.2:::24:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            "ip=: field 5 (hostname): invalid value \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\": "
            "longer than 64 characters"),
        ERR("ip=10.0.0.2:::24:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "ip=: field 5 (hostname): invalid value \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": "
            "label longer than 63 characters"),
        ERR("ip=10.0.0.2:::24:vm_1", "ip=: field 5 (hostname): invalid value \"vm_1\": invalid character"),
        ERR("ip=10.0.0.2:::24:-vm", "ip=: field 5 (hostname): invalid value \"-vm\": label starts or ends with a hyphen"),
        ERR("ip=10.0.0.2:::24:vm.example-", "ip=: field 5 (hostname): invalid value \"vm.example-\": label starts or ends with a hyphen"),
        ERR("ip=10.0.0.2:::24:vm..example", "ip=: field 5 (hostname): invalid value \"vm..example\": empty label"),
        ERR("ip=10.0.0.2:::24:vm.", "ip=: field 5 (hostname): invalid value \"vm.\": empty label"),
        /* Kernel next_arg() keeps quotes inside a value; they are not hostname characters. */
        ERR("ip=10.0.0.2:::24:\"vm\"", "ip=: field 5 (hostname): invalid value \"\\\"vm\\\"\": invalid character"),
        /* Non-printable bytes are escaped so the error stays one line. */
        ERR("ip=10.0.0.2:::24:vm\x01\x7f", "ip=: field 5 (hostname): invalid value \"vm\\x01\\x7f\": invalid character"),

        ERR("ip=10.0.0.2:::24::abcdefghijklmnop", "ip=: field 6 (device): invalid value \"abcdefghijklmnop\": longer than 15 bytes"),
        ERR("ip=abcdefghijklmnop:dhcp", "ip=: field 1 (device): invalid value \"abcdefghijklmnop\": longer than 15 bytes"),
        ERR("ip=10.0.0.2:::24::eth/0", "ip=: field 6 (device): invalid value \"eth/0\": invalid character"),
        ERR("ip=..:dhcp", "ip=: field 1 (device): invalid value \"..\": not an interface name"),
        /* Kernel: an unknown keyword silently means off; DESIGN: an error. */
        ERR("ip=10.0.0.2:::24::eth0:dhcp4", "ip=: field 7 (autoconf): invalid value \"dhcp4\": unknown autoconf keyword"),
        ERR("ip=:::::eth0:DHCP", "ip=: field 7 (autoconf): invalid value \"DHCP\": unknown autoconf keyword"),
        /* Kernel: anything starting with "dhcp" is DHCP (strncmp), dhcp6
         * with a client id too, minus the id; DESIGN: exact keywords. */
        ERR("ip=:::::eth0:dhcp6,1,abc", "ip=: field 7 (autoconf): invalid value \"dhcp6,1,abc\": unknown autoconf keyword"),

        /* DHCP client identifiers.  Kernel: a malformed one is dropped and
         * DHCP runs without it; DESIGN: an error naming the field. */
        ERR("ip=dhcp,1", "ip=: field 1 (autoconf): invalid value \"dhcp,1\": expected dhcp,<type>,<client-id>"),
        ERR("ip=dhcp,", "ip=: field 1 (autoconf): invalid value \"dhcp,\": expected dhcp,<type>,<client-id>"),
        ERR("ip=dhcp,1,", "ip=: field 1 (autoconf): invalid value \"dhcp,1,\": empty client identifier"),
        ERR("ip=dhcp,,abc", "ip=: field 1 (autoconf): invalid value \"dhcp,,abc\": client identifier type not a decimal 0..255"),
        ERR("ip=dhcp,256,abc", "ip=: field 1 (autoconf): invalid value \"dhcp,256,abc\": client identifier type not a decimal 0..255"),
        /* Kernel kstrtou8(, 0): hex and octal too ("010" is 8); decimal only here. */
        ERR("ip=dhcp,0x1,abc", "ip=: field 1 (autoconf): invalid value \"dhcp,0x1,abc\": client identifier type not a decimal 0..255"),
        ERR("ip=dhcp,010,abc", "ip=: field 1 (autoconf): invalid value \"dhcp,010,abc\": client identifier type not a decimal 0..255"),
        ERR("ip=\"dhcp,1,a b\"", "ip=: field 1 (autoconf): invalid value \"dhcp,1,a b\": invalid character in client identifier"),
        ERR("ip=:::::eth0:dhcp,1,a\x7f", "ip=: field 7 (autoconf): invalid value \"dhcp,1,a\\x7f\": invalid character in client identifier"),
        ERR("ip=:::::eth0:dhcp,x,abc:1.1.1.1", "ip=: field 7 (autoconf): invalid value \"dhcp,x,abc\": client identifier type not a decimal 0..255"),
        /* As field 7 the id ends at ':' (kernel alike), so a MAC-like id
         * leaves fields 8-12 behind, here an MTU "02": use ip=dhcp,1,<id>. */
        ERR("ip=::::::dhcp,1,01:02:03:04:05:06", "ip=: field 8 (mtu): invalid value \"02\": leading zero"),
        /* dracut/systemd's <device>:<autoconf> form has no client id, and
         * the kernel has no device form: this is the kernel form. */
        ERR("ip=eth0:dhcp,1,abc", "ip=: field 1 (client): invalid value \"eth0\": not a dotted quad"),

        ERR("ip=" FC "::eth0:off:67", "ip=: field 8 (mtu): invalid value \"67\": out of range 68..65535"),
        ERR("ip=" FC "::eth0:off:65536", "ip=: field 8 (mtu): invalid value \"65536\": out of range 68..65535"),
        ERR("ip=" FC "::eth0:off:0", "ip=: field 8 (mtu): invalid value \"0\": out of range 68..65535"),
        ERR("ip=" FC "::eth0:off:01500", "ip=: field 8 (mtu): invalid value \"01500\": leading zero"),
        ERR("ip=eth0:dhcp:1", "ip=: field 3 (mtu): invalid value \"1\": out of range 68..65535"),
        /* The kernel takes an MTU below IPv6's 1280 and then drops the
         * device's IPv6 state: the address or route fails, not naming it. */
        ERR("ip=[fd00::2]::[fd00::1]:64::eth0:off:1200",
            "ip=: field 8 (mtu): invalid value \"1200\": below 1280, too small for IPv6"),
        ERR("ip=::[fe80::1]:::eth0:off:1279", "ip=: field 8 (mtu): invalid value \"1279\": below 1280, too small for IPv6"),
        /* IPv4 alone may go below it, and IPv6 may have it exactly. */
        OK("ip=" FC "::eth0:off:576", PLAN(IFACE(S("eth0"), "static", S("172.16.0.2"), "24", N, S("172.16.0.1"), N, N,
                                             "", "", "576", N))),
        OK("ip=[fd00::2]:::64::eth0:off:1280", PLAN(IFACE(S("eth0"), "static", S("fd00::2"), "64", N, N, N, N,
                                                          "", "", "1280", N))),
        /* A link-local DNS server is reached only through a link that
         * lists it; below 1280 the link has no IPv6, and resolv.conf
         * would name a server nothing reaches.  Named where it was given. */
        ERR("ip=" FC "::eth0:off:1000 nameserver=fe80::1",
            "nameserver=: invalid value \"fe80::1\": link-local, and its link's MTU is below 1280, too small for IPv6"),
        ERR("ip=" FC "::eth0:off:[fe80::53] ip=eth0:off:1000",
            "ip=: field 8 (dns0): invalid value \"fe80::53\": link-local, and its link's MTU is below 1280, too "
            "small for IPv6"),
        /* Another link that lists it can have IPv6; a global server may be routed elsewhere. */
        OK("ip=" FC "::eth0:off:1000 ip=10.9.0.2:::24::eth1:off nameserver=fe80::1",
           PLAN(IFACE(S("eth0"), "static", S("172.16.0.2"), "24", N, S("172.16.0.1"), N, N, "\"fe80::1\"", "",
                      "1000", N) ","
                IFACE(S("eth1"), "static", S("10.9.0.2"), "24", N, N, N, N, "\"fe80::1\"", "", N, N))),
        OK("ip=" FC "::eth0:off:1000 nameserver=fd00::53",
           PLAN(IFACE(S("eth0"), "static", S("172.16.0.2"), "24", N, S("172.16.0.1"), N, N, "\"fd00::53\"", "",
                      "1000", N))),
        /* Merged: the MTU from the device form is its field 3. */
        ERR("ip=eth0:off:576 ip=[fd00::2]:::64::eth0:off",
            "ip=: field 3 (mtu): invalid value \"576\": below 1280, too small for IPv6"),
        ERR("ip=eth0:dhcp:9999999", "ip=: field 3 (mtu): invalid value \"9999999\": out of range 68..65535"),
        ERR("ip=eth0:dhcp:jumbo", "ip=: field 3 (mtu): invalid value \"jumbo\": not a number"),
        ERR("ip=" FC "::eth0:off:1500:52:54:00:aa:bb",
            "ip=: field 9 (mac): invalid value \"52:54:00:aa:bb\": not a MAC address"),
        ERR("ip=eth0:dhcp:1500:52:54:00:aa:bb:zz", "ip=: field 4 (mac): invalid value \"52:54:00:aa:bb:zz\": not a MAC address"),
        /* systemd refuses a mixture too. */
        ERR("ip=eth0:dhcp:1500:52-54-00:aa:bb:cc", "ip=: field 4 (mac): invalid value \"52-54-00:aa:bb:cc\": mixed separators"),
        ERR("ip=eth0:dhcp:1500:52:54:00:aa:bb-cc", "ip=: field 4 (mac): invalid value \"52:54:00:aa:bb-cc\": mixed separators"),
        ERR("ip=eth0:dhcp:1500:52-54-00-aa-bb", "ip=: field 4 (mac): invalid value \"52-54-00-aa-bb\": not a MAC address"),
        ERR("ip=eth0:dhcp:1500:52.54.00.aa.bb.cc", "ip=: field 4 (mac): invalid value \"52.54.00.aa.bb.cc\": not a MAC address"),
        ERR("ip=eth0:dhcp:1500:52-54-00-aa-bb-cc:dd",
            "ip=: field 4 (mac): invalid value \"52-54-00-aa-bb-cc:dd\": not a MAC address"),
        ERR("ip=eth0:dhcp::01-00-5e-00-00-01", "ip=: field 4 (mac): invalid value \"01-00-5e-00-00-01\": multicast MAC address"),
        /* A dash makes field 9 a MAC, so a malformed one says "mac", not "dns1". */
        ERR("ip=" FC "::eth0:off::52-54-00-aa-bb", "ip=: field 9 (mac): invalid value \"52-54-00-aa-bb\": not a MAC address"),
        ERR("ip=eth0:dhcp:1500:52:54:00:aa:bb:cc:dd",
            "ip=: field 4 (mac): invalid value \"52:54:00:aa:bb:cc:dd\": not a MAC address"),
        ERR("ip=eth0:dhcp::01:00:5e:00:00:01", "ip=: field 4 (mac): invalid value \"01:00:5e:00:00:01\": multicast MAC address"),
        ERR("ip=eth0:dhcp::00:00:00:00:00:00", "ip=: field 4 (mac): invalid value \"00:00:00:00:00:00\": all-zero MAC address"),

        ERR("ip=[fd00::2", "ip=: field 1 (client): invalid value \"[fd00::2\": unterminated ["),
        ERR("ip=[fd00::2]::[fd00::1:64", "ip=: field 3 (gateway): invalid value \"[fd00::1:64\": unterminated ["),
        ERR("ip=[fd00::2]x::", "ip=: field 1 (client): invalid value \"[fd00::2]x::\": text after ]"),
        ERR("ip=[fd00::g]", "ip=: field 1 (client): invalid value \"[fd00::g]\": not an IPv6 address"),
        ERR("ip=[10.0.0.2]", "ip=: field 1 (client): invalid value \"[10.0.0.2]\": not an IPv6 address"),
        ERR("ip=[fe80::1%eth0]", "ip=: field 1 (client): invalid value \"[fe80::1%eth0]\": not an IPv6 address"),
        ERR("ip=[fd00::2]:::129", "ip=: field 4 (netmask): invalid value \"129\": prefix length out of range"),
        ERR("ip=[fd00::2]:::255.255.255.0",
            "ip=: field 4 (netmask): invalid value \"255.255.255.0\": dotted netmask with an IPv6 address"),
        ERR("ip=[fd00::2]::10.0.0.1", "ip=: field 3 (gateway): invalid value \"10.0.0.1\": address family differs from the client's"),
        /* A device's later entry of the other family is refused before its
         * netmask could be (a /64 cannot stay on an IPv4 address either). */
        ERR("ip=[fd00::2]:::64::eth0 ip=10.0.0.2:::::eth0",
            "ip=: field 1 (client): invalid value \"10.0.0.2\": its device has one of the other family from an earlier ip= (one address family per device)"),
        ERR("ip=10.0.0.2:::24::eth0 ip=[fd00::2]:::::eth0",
            "ip=: field 1 (client): invalid value \"fd00::2\": its device has one of the other family from an earlier ip= (one address family per device)"),
        ERR("ip=10.0.0.2:::24::eth0 ip=[fd00::2]:::::eth0 ip=10.0.0.3:::::eth0 ip=[ff02::1]:::::eth0",
            "ip=: field 1 (client): invalid value \"fd00::2\": its device has one of the other family from an earlier ip= (one address family per device)"),
        /* The same family again: the netmask carries over. */
        ERR("ip=10.0.0.2:::24::eth0 ip=10.0.0.3:::::eth0 ip=[ff02::1]:::::eth0",
            "ip=: field 1 (client): invalid value \"[ff02::1]\": not a unicast address"),
        OK("ip=10.0.0.2:::24::eth0 ip=10.0.0.3:::::eth0", PLAN(STATIC(S("eth0"), "10.0.0.3", "24", N))),

        /* Kernel: fields after the tenth are ignored; DESIGN: garbage is an error. */
        ERR("ip=10.0.0.2:::24::eth0:off:1.1.1.1:1.0.0.1:10.0.0.1:x",
            "ip=: field 11 (extra): invalid value \"x\": more than 10 fields"),
        ERR("ip=e0:dhcp ip=e1:dhcp ip=e2:dhcp ip=e3:dhcp ip=e4:dhcp ip=e5:dhcp ip=e6:dhcp ip=e7:dhcp ip=e8:dhcp",
            "ip=: invalid value \"e8:dhcp\": more than 8 interfaces"),
        ERR("nfsaddrs=10.0.0.2:::255.0.0.255", "nfsaddrs=: field 4 (netmask): invalid value \"255.0.0.255\": not contiguous"),
        /* Errors found once every entry is in name the key that gave it. */
        ERR("nfsaddrs=240.0.0.1", "nfsaddrs=: field 1 (client): invalid value \"240.0.0.1\": no classful netmask for a class E address"),

        ERR("ip=dhcp nameserver=1.2.3", "nameserver=: invalid value \"1.2.3\": not a dotted quad"),
        ERR("nameserver=", "nameserver=: invalid value \"\": not an address"),
        ERR("nameserver=dns.google", "nameserver=: invalid value \"dns.google\": not a dotted quad"),
        ERR("nameserver=fd00::53::1", "nameserver=: invalid value \"fd00::53::1\": not an IPv6 address"),
        ERR("nameserver=1.0.0.1 nameserver=1.0.0.2 nameserver=1.0.0.3 nameserver=1.0.0.4 nameserver=1.0.0.5 "
            "nameserver=1.0.0.6 nameserver=1.0.0.7 nameserver=1.0.0.8 nameserver=1.0.0.9",
            "nameserver=: invalid value \"1.0.0.9\": more than 8 DNS servers"),
        /* Two of the interface's own plus seven more is one too many. */
        ERR("ip=10.0.0.2:::24::::9.9.9.9:9.9.9.8 nameserver=1.0.0.1 nameserver=1.0.0.2 nameserver=1.0.0.3 "
            "nameserver=1.0.0.4 nameserver=1.0.0.5 nameserver=1.0.0.6 nameserver=1.0.0.7",
            "nameserver=: invalid value \"1.0.0.7\": more than 8 DNS servers"),
        /* The first error wins; nothing after it is looked at. */
        ERR("ip=10.0.0.x ip=10.0.0.y", "ip=: field 1 (client): invalid value \"10.0.0.x\": not a dotted quad"),
};

static void test_case(void **state) {
        const Case *c = *state;
        IpcfgPlan plan;
        IpcfgError e = {};
        char line[1024];
        int r;

        r = ipcfg_parse_cmdline(c->cmdline, &plan, &e);
        if (c->json) {
                _cleanup_(freep) char *json = NULL;

                if (r < 0) {
                        ipcfg_error_format(&e, line, sizeof line);
                        fail_msg("unexpected error for '%s': %s", c->cmdline, line);
                }
                assert_int_equal(ipcfg_plan_to_json(&plan, &json), 0);
                assert_string_equal(json, c->json);
        } else {
                assert_int_equal(r, -EINVAL);
                ipcfg_error_format(&e, line, sizeof line);
                assert_string_equal(line, c->error);
        }
}

/* Beyond the table: limits and the small API around the parser. */
static void test_too_long(void **state) {
        _cleanup_(freep) char *s = malloc(IPCFG_CMDLINE_MAX + 2);
        IpcfgPlan plan = { .n_ifaces = 7 };

        assert_non_null(s);
        memset(s, ' ', IPCFG_CMDLINE_MAX + 1);
        s[IPCFG_CMDLINE_MAX + 1] = 0;
        memcpy(s, "ip=dhcp", 7);
        assert_int_equal(ipcfg_parse_cmdline(s, &plan, NULL), -E2BIG);
        assert_int_equal(plan.n_ifaces, 7); /* ret untouched on failure */
        s[IPCFG_CMDLINE_MAX] = 0;             /* exactly the limit: fine */
        assert_int_equal(ipcfg_parse_cmdline(s, &plan, NULL), 0);
        assert_int_equal(plan.n_ifaces, 1);
}

static void test_error_value_truncated(void **state) {
        char cmdline[300] = "ip=", line[1024], expect[300];
        IpcfgPlan plan;
        IpcfgError e;

        memset(cmdline + 3, 'x', 200);
        cmdline[203] = 0;
        assert_int_equal(ipcfg_parse_cmdline(cmdline, &plan, &e), -EINVAL);
        assert_int_equal(strlen(e.value), sizeof e.value - 1);
        ipcfg_error_format(&e, line, sizeof line);
        snprintf(expect, sizeof expect, "ip=: field 1 (client): invalid value \"%.124s...\": not a dotted quad",
                 cmdline + 3);
        assert_string_equal(line, expect);
        /* A short buffer truncates, still NUL-terminated. */
        ipcfg_error_format(&e, line, 10);
        assert_string_equal(line, "ip=: fiel");
}

static void test_method_strings(void **state) {
        for (IpcfgMethod m = 0; m < _IPCFG_METHOD_MAX; m++)
                assert_int_equal(ipcfg_method_from_string(ipcfg_method_to_string(m)), m);
        assert_string_equal(ipcfg_method_to_string(IPCFG_METHOD_NONE), "none");
        assert_null(ipcfg_method_to_string(_IPCFG_METHOD_MAX));
        assert_null(ipcfg_method_to_string(_IPCFG_METHOD_INVALID));
        assert_int_equal(ipcfg_method_from_string("off"), _IPCFG_METHOD_INVALID);
        assert_int_equal(ipcfg_method_from_string(NULL), _IPCFG_METHOD_INVALID);
}

static void test_null_args(void **state) {
        IpcfgPlan plan;
        char *json = NULL;

        assert_int_equal(ipcfg_parse_cmdline(NULL, &plan, NULL), -EINVAL);
        assert_int_equal(ipcfg_parse_cmdline("ip=dhcp", NULL, NULL), -EINVAL);
        assert_int_equal(ipcfg_plan_to_json(NULL, &json), -EINVAL);
        assert_null(json);
        /* A plan the parser never makes: refused, nothing returned. */
        plan = (IpcfgPlan){ .n_ifaces = 1, .ifaces[0].method = _IPCFG_METHOD_MAX };
        assert_int_equal(ipcfg_plan_to_json(&plan, &json), -EINVAL);
        assert_null(json);
}

/* Invalid input does not touch *ret (ret_ parameters: only on success). */
static void test_ret_untouched_on_error(void **state) {
        IpcfgPlan plan = { .n_ifaces = 5 };

        assert_int_equal(ipcfg_parse_cmdline("ip=dhcp ip=1.2.3", &plan, NULL), -EINVAL);
        assert_int_equal(plan.n_ifaces, 5);
}

static void test_addr_to_string(void **state) {
        IpcfgPlan plan;
        char buf[INET6_ADDRSTRLEN];

        assert_int_equal(ipcfg_parse_cmdline("ip=[2001:db8::1]::[2001:db8::ffff]:64", &plan, NULL), 0);
        assert_string_equal(ipcfg_addr_to_string(&plan.ifaces[0].address, buf, sizeof buf), "2001:db8::1");
        assert_string_equal(ipcfg_addr_to_string(&plan.ifaces[0].server, buf, sizeof buf), "");
        assert_int_equal(plan.ifaces[0].gateway.family, AF_INET6);
        assert_true(ipcfg_addr_equal(&plan.ifaces[0].address, &plan.ifaces[0].address));
        assert_false(ipcfg_addr_equal(&plan.ifaces[0].address, &plan.ifaces[0].gateway));
        assert_false(ipcfg_addr_equal(&plan.ifaces[0].address, &plan.ifaces[0].server));
        assert_true(ipcfg_addr_equal(&plan.ifaces[0].server, &(IpcfgAddr){ .family = AF_UNSPEC }));
}

/* The addresses a failed restore try may have left, added to the plan
 * the next removes: each once, none for an interface without one, and
 * what does not fit counted. */
static void test_plan_merge(void **state) {
        IpcfgPlan into, more, none;
        char buf[INET6_ADDRSTRLEN];

        assert_int_equal(ipcfg_parse_cmdline("ip=10.0.0.5:::24::eth0:off", &into, NULL), 0);
        assert_int_equal(ipcfg_parse_cmdline("ip=10.0.0.7:::24::eth0:off ip=10.0.0.5:::24::eth1:off", &more, NULL), 0);
        assert_int_equal(ipcfg_parse_cmdline("ip=::::::off", &none, NULL), 0);
        assert_int_equal(ipcfg_plan_merge(&into, &more), 0);
        assert_int_equal(into.n_ifaces, 2);
        assert_string_equal(ipcfg_addr_to_string(&into.ifaces[1].address, buf, sizeof buf), "10.0.0.7");
        assert_int_equal(ipcfg_plan_merge(&into, &more), 0); /* nothing new */
        assert_int_equal(into.n_ifaces, 2);
        assert_int_equal(ipcfg_plan_merge(&into, &none), 0); /* no address: nothing */
        assert_int_equal(into.n_ifaces, 2);
        for (unsigned i = 0; i < IPCFG_MAX_IFACES; i++) {
                char ip[64];
                snprintf(ip, sizeof ip, "ip=10.0.1.%u:::24::eth0:off", i);
                assert_int_equal(ipcfg_parse_cmdline(ip, &more, NULL), 0);
                assert_int_equal(ipcfg_plan_merge(&into, &more), i + 2 >= IPCFG_MAX_IFACES ? 1 : 0);
        }
        assert_int_equal(into.n_ifaces, IPCFG_MAX_IFACES);
}

/* A handover laid over the plan applied before: "device=address" of
 * each interface of the result, in order. */
static void test_plan_overlay(void **state) {
        static const struct {
                const char *base, *over, *want;
        } t[] = {
                /* The one NIC re-addressed. */
                { "ip=10.0.0.2:::24::eth0:off", "ip=10.0.0.9:::24::eth0:off", "eth0=10.0.0.9" },
                /* Two NICs, one handed over: the other keeps its boot's. */
                { "ip=10.0.0.2:::24::eth0:off ip=192.168.5.2:::24::eth1:off", "ip=10.0.0.9:::24::eth0:off",
                  "eth0=10.0.0.9 eth1=192.168.5.2" },
                { "ip=10.0.0.2:::24::eth0:off ip=192.168.5.2:::24::eth1:off", "ip=192.168.5.9:::24::eth1:off",
                  "eth0=10.0.0.2 eth1=192.168.5.9" },
                /* A new device beside a named one: added after. */
                { "ip=10.0.0.2:::24::eth0:off ip=192.168.5.2:::24::eth1:off",
                  "ip=10.0.0.9:::24::eth0:off ip=172.16.0.2:::24::eth2:off",
                  "eth0=10.0.0.9 eth1=192.168.5.2 eth2=172.16.0.2" },
                /* eth1's address handed to eth0: it moved, eth1 keeps nothing of the boot's. */
                { "ip=10.0.0.2:::24::eth0:off ip=192.168.5.2:::24::eth1:off", "ip=192.168.5.2:::24::eth0:off",
                  "eth0=192.168.5.2" },
                /* None of the boot's devices named: the network moved, the whole of it. */
                { "ip=10.0.0.2:::24::eth0:off", "ip=10.0.0.9:::24::eth1:off", "eth1=10.0.0.9" },
                /* An entry without a device (the kernel's rule): the whole network. */
                { "ip=10.0.0.2:::24::eth0:off ip=192.168.5.2:::24::eth1:off", "ip=10.0.0.9:::24",
                  "=10.0.0.9" },
                { "ip=10.0.0.2:::24::eth0:off ip=192.168.5.2:::24::eth1:off",
                  "ip=10.0.0.9:::24::eth0:off ip=10.0.1.9:::24", "eth0=10.0.0.9 =10.0.1.9" },
                /* A base entry without a device matches no name (the caller names it first). */
                { "ip=10.0.0.2:::24", "ip=10.0.0.9:::24::eth0:off", "eth0=10.0.0.9" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                IpcfgPlan base, over, got;
                char text[256] = "", buf[INET6_ADDRSTRLEN];
                size_t len = 0;

                print_message("%s | %s\n", t[i].base, t[i].over);
                assert_int_equal(ipcfg_parse_cmdline(t[i].base, &base, NULL), 0);
                assert_int_equal(ipcfg_parse_cmdline(t[i].over, &over, NULL), 0);
                assert_int_equal(ipcfg_plan_overlay(&base, &over, &got), 0);
                for (size_t k = 0; k < got.n_ifaces; k++)
                        len += (size_t)snprintf(text + len, sizeof text - len, "%s%s=%s", k ? " " : "",
                                                got.ifaces[k].device,
                                                ipcfg_addr_to_string(&got.ifaces[k].address, buf, sizeof buf));
                assert_string_equal(text, t[i].want);
        }
}

/* More interfaces than a plan holds: refused, the result untouched. */
static void test_plan_overlay_too_many(void **state) {
        IpcfgPlan base = {}, over, got = { .n_ifaces = 99 };

        for (unsigned i = 0; i < IPCFG_MAX_IFACES; i++) {
                snprintf(base.ifaces[i].device, IFNAMSIZ, "eth%u", i);
                base.ifaces[i].method = IPCFG_METHOD_STATIC;
        }
        base.n_ifaces = IPCFG_MAX_IFACES;
        assert_int_equal(ipcfg_parse_cmdline("ip=10.0.0.9:::24::eth0:off ip=10.0.1.9:::24::eth9:off", &over, NULL),
                         0);
        assert_int_equal(ipcfg_plan_overlay(&base, &over, &got), -E2BIG);
        assert_int_equal(got.n_ifaces, 99);
}

/* What the model keeps of a DHCP client identifier (the JSON does not
 * show it): the type byte and the id's text; merged like other fields. */
static void test_dhcp_client_id(void **state) {
        static const struct {
                const char *cmdline;
                size_t iface;
                uint8_t type;
                const char *id;
        } ids[] = {
                { "ip=dhcp", 0, 0, "" },
                { "ip=dhcp,1,01:02:03:04:05:06", 0, 1, "01:02:03:04:05:06" },
                { "ip=::::::dhcp,0,vm-1:1.1.1.1", 0, 0, "vm-1" },
                { "ip=:::::eth0:dhcp,255,host.example,a,b", 0, 255, "host.example,a,b" },
                /* The same device: a later id wins, a later entry without one keeps it. */
                { "ip=:::::eth0:dhcp,1,first ip=:::::eth0:dhcp,2,second", 0, 2, "second" },
                { "ip=:::::eth0:dhcp,1,first ip=eth0:dhcp:1500", 0, 1, "first" },
                { "ip=eth1:dhcp ip=:::::eth0:dhcp,7,\"q\"", 1, 7, "\"q\"" },
        };
        char id[IPCFG_DHCP_CLIENT_ID_MAX + 16] = "ip=dhcp,1,";
        IpcfgPlan plan;
        IpcfgError e;
        char line[1024];

        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                assert_int_equal(ipcfg_parse_cmdline(ids[i].cmdline, &plan, NULL), 0);
                assert_true(ids[i].iface < plan.n_ifaces);
                assert_int_equal(plan.ifaces[ids[i].iface].dhcp_client_id_type, ids[i].type);
                assert_string_equal(plan.ifaces[ids[i].iface].dhcp_client_id, ids[i].id);
        }
        /* At most 251 bytes, what the kernel copies. */
        memset(id + 10, 'x', IPCFG_DHCP_CLIENT_ID_MAX);
        assert_int_equal(ipcfg_parse_cmdline(id, &plan, NULL), 0);
        assert_int_equal(strlen(plan.ifaces[0].dhcp_client_id), IPCFG_DHCP_CLIENT_ID_MAX);
        id[10 + IPCFG_DHCP_CLIENT_ID_MAX] = 'x';
        assert_int_equal(ipcfg_parse_cmdline(id, &plan, &e), -EINVAL);
        ipcfg_error_format(&e, line, sizeof line);
        assert_non_null(strstr(line, "field 1 (autoconf)"));
        assert_non_null(strstr(line, "client identifier longer than 251 bytes"));
}

/* The tokeniser alone, with the kernel's quirks: a quote opening the token
 * or the value is removed with the last character; inner quotes stay. */
static void test_cmdline_next_arg(void **state) {
        char line[] = "  a=1 \"b=x y\" c=\"p q\" d=u\"v w\" e -- f=\"\n";
        const char *expect[][2] = {
                { "a", "1" }, { "b", "x y" }, { "c", "p q" }, { "d", "u\"v w\"" },
                /* An unterminated quote takes the rest, newline included. */
                { "e", NULL }, { "--", NULL }, { "f", "\n" },
        };
        char *args = line, *param, *val;
        size_t n = 0;

        while (*args) {
                args = cmdline_next_arg(args, &param, &val);
                assert_true(n < ELEMENTSOF(expect));
                assert_string_equal(param, expect[n][0]);
                if (expect[n][1])
                        assert_string_equal(val, expect[n][1]);
                else
                        assert_null(val);
                n++;
        }
        assert_int_equal(n, ELEMENTSOF(expect));
}

/* The kernel's rule for a device ip= does not name. */
static void test_link_candidates(void **state) {
        assert_true(ipcfg_link_is_candidate("eth0", IFF_BROADCAST | IFF_MULTICAST | IFF_UP));
        assert_true(ipcfg_link_is_candidate("eth0", IFF_BROADCAST)); /* down: netinit brings it up */
        assert_true(ipcfg_link_is_candidate("tun0", IFF_POINTOPOINT | IFF_NOARP | IFF_MULTICAST));
        assert_true(ipcfg_link_is_candidate("dumm", IFF_BROADCAST));
        assert_false(ipcfg_link_is_candidate("lo", IFF_LOOPBACK | IFF_UP));
        assert_false(ipcfg_link_is_candidate("lo1", IFF_LOOPBACK | IFF_BROADCAST));
        assert_false(ipcfg_link_is_candidate("dummy0", IFF_BROADCAST | IFF_NOARP));
        assert_false(ipcfg_link_is_candidate("dummy", IFF_BROADCAST));
        assert_false(ipcfg_link_is_candidate("ipip0", IFF_NOARP)); /* neither broadcast nor point-to-point */
        assert_false(ipcfg_link_is_candidate(NULL, IFF_BROADCAST));
}

int main(void) {
        const struct CMUnitTest extra[] = {
                cmocka_unit_test(test_too_long),
                cmocka_unit_test(test_error_value_truncated),
                cmocka_unit_test(test_method_strings),
                cmocka_unit_test(test_null_args),
                cmocka_unit_test(test_ret_untouched_on_error),
                cmocka_unit_test(test_addr_to_string),
                cmocka_unit_test(test_dhcp_client_id),
                cmocka_unit_test(test_plan_merge),
                cmocka_unit_test(test_plan_overlay),
                cmocka_unit_test(test_plan_overlay_too_many),
                cmocka_unit_test(test_cmdline_next_arg),
                cmocka_unit_test(test_link_candidates),
        };
        size_t n = ELEMENTSOF(cases);
        _cleanup_(freep) struct CMUnitTest *t = calloc(n, sizeof *t);
        int r;

        assert_true(n >= 80);
        if (!t)
                return EXIT_FAILURE;
        for (size_t i = 0; i < n; i++)
                t[i] = (struct CMUnitTest){ .name = cases[i].cmdline, .test_func = test_case,
                                            .initial_state = (void *)&cases[i] };
        r = _cmocka_run_group_tests("ipcfg-table", t, n, NULL, NULL);
        return r + cmocka_run_group_tests_name("ipcfg-api", extra, NULL, NULL);
}
