/* Snapshot restore, the adapter: the triggers (POST /restore-check from
 * the host, a wall-clock step seen by common/clock-watch.h), the MMDS
 * handover, agent/host/restore-plan.h's decision, and the steps redone in
 * order while control routes answer 503 {"error":"Restoring"} and the
 * push handoff is held (handoff_hold()):
 *   machine id (the handover's, as PID 1: pid1_machine_id_install()) →
 *   network (netinit again, from the handover's ip=, removing the old
 *   address) → clock (clock_settime from the host's time) → secrets (new
 *   token and desktop secret, their files) → logins (failed, "restored")
 *   → desktop (x11vnc restarted; websockify follows as its dependent).
 * One log line per step.  Xvfb and the browser are left alone. */
#pragma once

#include <stdbool.h>

#include "agent/http/health-json.h"
#include "manager.h"

/* When config restore says so: the clock watch, the route, and the
 * generation the VM booted with: from the secrets' MMDS answer when they
 * are being asked for (restore_mmds_object()), else by a first MMDS
 * question of its own.  Needs the HTTP server and the secrets. */
int restore_setup(Manager *m);
/* HostSecretsHooks.on_mmds_object: the boot's MMDS object (NULL: MMDS was
 * given up on for the secrets, then the restore asks itself).  Used only
 * while the boot's generation is not known; nothing before restore_setup(). */
void restore_mmds_object(Manager *m, const char *json);
void restore_free(Manager *m);
/* For the HTTP gate and the push handoff's hold. */
bool restore_in_progress(Manager *m);
/* For /health and /metrics (strings borrowed until the next event). */
void restore_report(Manager *m, HealthRestore *ret);
