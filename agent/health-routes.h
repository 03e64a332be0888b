/* The public status routes: GET /health, GET /health/ready, GET /metrics.
 * They need no token, accept any address and carry no secret.  This is
 * the adapter that snapshots the Manager (supervisor status, netinit
 * result, boot milestones, logins, HTTP counters) for the pure shaping in
 * agent/http/health-json.c and the pure decision in health-status.c. */
#pragma once

typedef struct Manager Manager;

/* Registers the three routes on m->http (which must exist); they read the
 * Manager at request time, so this may run right after the server starts,
 * before netinit or the supervisor are up. */
int health_routes_register(Manager *m);
/* The display chain (or the agent's state) changed: answer the
 * GET /health/ready?wait= requests that can be answered now. */
void health_routes_changed(Manager *m);
