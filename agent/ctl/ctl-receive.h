/* `vm-browser-agent ctl receive`: the host end of the push handoff.
 * Firecracker forwards the guest's vsock connection to CID 2 to the
 * host's <uds_path>_<port> unix socket; this listens there, writes each
 * delivery's credentials to <dir>/<sessionId>.json (0600) and answers
 * ACK, or NAK with the cause. */
#pragma once

/* How long a pushing connection may go without a delivery taken (from
 * its start, then from its last one) by default: the agent writes its
 * line at once. */
#define RECEIVE_IDLE_S_DEFAULT 10
#define RECEIVE_IDLE_S_MAX 86400

/* Until want deliveries were taken (0: forever); token is the VM's
 * control token, which every line must carry; a connection is closed
 * after idle_s (1…RECEIVE_IDLE_S_MAX) without a delivery.  The process
 * exit code. */
int ctl_receive(const char *uds, const char *dir, unsigned want, const char *token, unsigned idle_s);
