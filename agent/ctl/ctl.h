/* `vm-browser-agent ctl`: the host's side, in the same binary.  It talks to
 * an agent over its HTTP API (health, waiting for readiness, a login round
 * trip that ends with the credentials in a 0600 file) and is the host end
 * of the push handoff (Firecracker forwards the guest's vsock connection
 * to CID 2 to the host's <uds_path>_<port> unix socket).  No state of the
 * agent's is used: only what goes over the wire, as any host would. */
#pragma once

int ctl_main(int argc, char **argv);
