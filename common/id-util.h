/* Ids the agent and its host tool both check, by one rule each. */
#pragma once

#include <stdbool.h>

/* A provider id (providers.json's "id" and "aliases"): 1 to 64 of
 * a-z 0-9 _ -.  It names a route (/auth/<id>), and ctl receive prints it
 * on a line a host's script reads.  NULL: false. */
bool provider_id_is_valid(const char *s);

#define SESSION_ID_MAX 128
#define SESSION_ID_ERROR "sessionId must be 1-128 characters of A-Z a-z 0-9 . _ : -"

/* A login's session id: 1..SESSION_ID_MAX of [A-Za-z0-9._:-] (a UUID, or
 * the host's own names like "network-fix-test-1"); no '/', no spaces,
 * nothing a shell reads, nothing to escape in a URL or JSON.  NULL:
 * false. */
bool session_id_is_valid(const char *s);
