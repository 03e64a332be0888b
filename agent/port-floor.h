/* The network namespace's port floor (net.ipv4.ip_unprivileged_port_start):
 * ports below it only root may bind, and a process with
 * CAP_NET_BIND_SERVICE.  A provider CLI may listen on a fixed loopback
 * port for its OAuth redirect (Codex: 127.0.0.1:1455, then 1457); any
 * other local user (the browser's, the VNC user's) that took both first
 * would fail every such login.  With the floor above them, only root and
 * those CLIs (given that one capability) can. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The kernel's own floor: the privileged ports of every Unix. */
#define PORT_FLOOR_KERNEL 1024

/* own_network: this process brought the namespace's network up (netinit
 * applied, or failed while applying).  Then the floor is raised to want
 * (never lowered; 0: left as it is), as long as the CLIs can be given
 * the capability (else the log says that the ports stay open).  Whoever
 * set it, the floor is read: above PORT_FLOOR_KERNEL, the capabilities a
 * CLI with a fixed callback port keeps (1 << CAP_NET_BIND_SERVICE) are
 * returned, else 0.  *ret_floor: the floor (-1 when unknown).  Logged
 * here, never fatal. */
uint64_t port_floor_setup(bool own_network, unsigned want, int *ret_floor);
