/* The public status routes: GET /health, GET /health/ready, GET /metrics.
 * They need no token, accept any address and carry no secret. */
#pragma once

typedef struct Manager Manager;

/* Registers the three routes on m->http (which must exist); they read the
 * Manager at request time, so it may be called right after
 * http_server_new(), before netinit or the supervisor are up. */
int health_setup(Manager *m);
