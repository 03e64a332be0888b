/* The per-link kernel settings a VM's network implies, written under
 * /proc/sys/net: what the kernel would otherwise take from any machine on
 * the segment.  Each returns 0 or -errno; on failure *failed names the
 * setting that could not be written (e.g. "net/ipv4/conf/all/accept_redirects"). */
#pragma once

#include <stddef.h>

/* IPv6 Router Advertisements on ifname.  Nothing to do (0) when the
 * kernel has no IPv6 (ipv6.disable=1). */
int ipcfg_sysctl_refuse_ra(const char *ifname, char *failed, size_t failed_size);

/* ICMP redirects on ifname: IPv4 (also "all", which a host ORs with the
 * link's) and IPv6 when the kernel has it. */
int ipcfg_sysctl_refuse_redirects(const char *ifname, char *failed, size_t failed_size);
