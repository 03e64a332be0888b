/* Wiping secrets held in jansson values: shared by the HTTP server
 * (HTTP_REPLY_SECRET bodies) and the login code (credentials, OAuth codes). */
#pragma once

#include <jansson.h>

/* Overwrites every string value in j with zeros, recursively (keys are
 * left).  j stays valid; the caller still owns it. */
void json_wipe(json_t *j);
/* From now on, every block jansson frees is zeroed first (process-wide;
 * safe at any time: the blocks come from the same malloc). */
void json_wipe_on_free(void);
