/* A process that holds secrets (the agent: the control token, OAuth
 * states, credentials; `ctl`: the token and the credentials it receives)
 * keeps its memory to itself. */
#pragma once

/* Not dumpable (no other process of its uid may read /proc/PID/mem or
 * environ, or attach to it; execve() gives children their own flag back)
 * and no core dump (a limit children inherit).  Both are tried: 0, or the
 * first -errno. */
int process_harden(void);
