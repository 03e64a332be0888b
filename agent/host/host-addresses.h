/* The host's addresses: the sources the agent takes for the host, besides
 * loopback (which every local process shares).  allow_from's CIDRs when it
 * is set, else each ip= gateway: the HTTP server's control routes and its
 * host reserve, and noVNC's (websockify's) share of the VNC user's tasks
 * kept for the host, follow the same rule.  Pure: no system calls. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#include "netinit/ipcfg.h"

/* Whether sa (AF_INET or AF_INET6, v4-mapped counting as IPv4) is one of
 * plan's gateways. */
bool host_is_gateway(const IpcfgPlan *plan, const struct sockaddr *sa);

/* The host's addresses as text, CIDRs separated by one blank
 * ("10.0.0.1/32 fe80::1/128"; "" for none), in *ret (owned): allow_from's
 * entries when it is not NULL, else plan's gateways (may be NULL: none).
 * An allow_from that does not parse trusts nobody, as the HTTP server
 * then does: "".  -ENOMEM. */
int host_addresses_text(char *const *allow_from, const IpcfgPlan *plan, char **ret);
