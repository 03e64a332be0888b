/* The network namespace's port floor (net.ipv4.ip_unprivileged_port_start):
 * ports below it only root may bind, and a process with
 * CAP_NET_BIND_SERVICE.  A provider CLI listens on a fixed loopback port
 * for its OAuth redirect (Codex: 127.0.0.1:1455, then 1457); any other
 * local user (the browser's, the VNC user's) that took both first would
 * fail every such login.  With the floor above them, only the CLIs (given
 * that one capability) and root can. */
#pragma once

#include "manager.h"

/* After netinit: when it configured this namespace's network, sets the
 * floor to unprivileged_port_start (not 0), as long as the CLIs can be
 * given the capability (else says that the ports stay open to all).  Then,
 * whoever set it, reads the floor: above the kernel's 1024, every CLI
 * keeps CAP_NET_BIND_SERVICE (m->cli_caps).  Logged here, never fatal. */
void port_floor_setup(Manager *m);
