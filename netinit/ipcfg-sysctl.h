/* The per-link kernel settings a VM's network implies, written under
 * /proc/sys/net: what the kernel would otherwise take from any machine on
 * the segment.  Each returns 0 or -errno; on failure *failed names the
 * setting that could not be written (e.g. "net/ipv4/conf/all/accept_redirects"). */
#pragma once

#include <stddef.h>

/* IPv6 Router Advertisements on ifname.  Nothing to do (0) when the
 * kernel has no IPv6 (ipv6.disable=1); 1 when ifname has no IPv6 state
 * now (an MTU below 1280 drops it, its settings with it): then "default"
 * is refused, which the state a later MTU of 1280 or more brings back
 * copies, and the caller refuses on the link again once it is back. */
int ipcfg_sysctl_refuse_ra(const char *ifname, char *failed, size_t failed_size);

/* ICMP redirects on ifname: IPv4 (also "all", which a host ORs with the
 * link's) and IPv6 when the kernel has it; 1 as above when the link has
 * no IPv6 state now (IPv4's refused). */
int ipcfg_sysctl_refuse_redirects(const char *ifname, char *failed, size_t failed_size);
