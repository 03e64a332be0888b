/* A service's stdout/stderr, read from a pipe on the event loop and logged
 * line by line as "<service>: <line>" at info, known secrets replaced by
 * "[REDACTED]" (websockify prints the noVNC token), rate limited per service so
 * a child stuck in an error loop cannot flood the console or the journal:
 * at most SV_OUTPUT_BURST lines and SV_OUTPUT_BYTES bytes of them per
 * SV_OUTPUT_INTERVAL, then one line saying how many were suppressed.  The
 * byte budget is for what a client makes a server print: websockify logs
 * each request it refuses, with its path, for anyone on the bridge.  PID 1
 * writes its log to the serial console, which a 115200-baud line drains at
 * about 11 KiB/s, and a write blocks the agent's event loop while the
 * console's buffer is full; the budget keeps one service well below
 * that. */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

#define SV_OUTPUT_BURST 200
#define SV_OUTPUT_INTERVAL (10 * USEC_PER_SEC)
#define SV_OUTPUT_BYTES (16 * 1024)
#define SV_OUTPUT_LINE_MAX 1024 /* longer lines are split, never inside a secret */
#define SV_OUTPUT_DRAIN_MAX (64 * 1024) /* read at sv_output_free(): a pipe's default capacity */

typedef struct SvOutput SvOutput;

/* Takes over fd (the pipe's read end; one reader per spawn, so the rate
 * limit restarts with each spawn, which the start budget bounds).  name is
 * borrowed and must outlive the reader.  After EOF the reader closes the
 * fd and sits idle until the owner calls sv_output_free(). */
typedef void (*SvOutputLineFn)(void *userdata);
/* The strings to replace by "[REDACTED]" in each line (NULL-terminated,
 * borrowed for the call; NULL: none). */
typedef const char *const *(*SvOutputSecretsFn)(void *userdata);

/* on_line (may be NULL) is called after each batch of complete lines: the
 * supervisor uses it as a hint to probe readiness at once, since servers
 * tend to say "listening" just when they are.  secrets (may be NULL) is
 * asked before each line is logged.  A line that starts with one of quiet
 * (NULL-terminated, borrowed like name; may be NULL) is logged at debug. */
int sv_output_new(sd_event *e, int fd, const char *name, SvOutputLineFn on_line, SvOutputSecretsFn secrets,
                  void *userdata, const char *const *quiet, SvOutput **ret);
/* Logs what is still in the pipe (at most SV_OUTPUT_DRAIN_MAX bytes,
 * without waiting for more), then frees.  NULL-safe. */
SvOutput *sv_output_free(SvOutput *o);
DEFINE_TRIVIAL_CLEANUP_FUNC(SvOutput *, sv_output_free);
