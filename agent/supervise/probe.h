/* Readiness probes for supervised services, as non-blocking sd-event
 * sources: read the display number Xvfb writes to its -displayfd pipe (or
 * any line a child writes to fd 3, as dbus-daemon --print-address=3 does),
 * connect over TCP or to a unix socket and read a banner ("RFB "), or send
 * an HTTP GET and read the status line.  A refused or closed connection is
 * attempted again at once on probe_kick() (the child printed a line: the
 * built-in services print one once they listen; a unix socket's creation
 * kicks too), else on a sparse fallback timer (4 ms growing to 1 s; why
 * one is needed at all: probe.c).  The supervisor frees the probe
 * when the service leaves STARTING, so probing never outlives the start. */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"
#include "service-def.h"
#include "time-util.h"

typedef struct Probe Probe;

/* Called once, when the probe passes.  The probe has closed its sockets;
 * the callee may free it. */
typedef void (*ProbeReadyFn)(Probe *p, void *userdata);

/* Whether the probe reads the child's fd 3 (PROBE_DISPLAYFD, PROBE_FD_LINE):
 * the spawner then hands the child a pipe as fd 3. */
bool probe_is_fd(ProbeType t);

/* Starts probing.  fd: for PROBE_DISPLAYFD and PROBE_FD_LINE the read end of the pipe whose
 * write end is the child's fd 3 (taken over, closed by probe_free), else
 * -1.  For PROBE_NONE the callback runs from a deferred event source.
 * The spec is copied. */
int probe_start(sd_event *e, const ProbeSpec *spec, int fd, ProbeReadyFn cb, void *userdata,
                Probe **ret);
Probe *probe_free(Probe *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Probe *, probe_free);

/* A hint that the service may be ready now (it printed something): when
 * waiting for the retry timer, attempt at once.  No-op otherwise. */
void probe_kick(Probe *p);

/* Why the last attempt did not pass ("connection refused", "banner
 * 'SSH-2.0' does not start with 'RFB '"); "" when none failed yet. */
const char *probe_last_error(Probe *p);
/* How many connection attempts were made (for debug logs and benchmarks). */
unsigned probe_attempts(Probe *p);
/* The fallback delay armed after the last refused attempt (4 ms, growing
 * fourfold to 1 s); 0 when no retry is scheduled. */
usec_t probe_retry_armed(Probe *p);
