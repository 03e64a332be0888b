/* Ids the agent and its host tool both check, by one rule each. */
#pragma once

#include <stdbool.h>

/* A provider id (providers.json's "id" and "aliases"): 1 to 64 of
 * a-z 0-9 _ -.  It names a route (/auth/<id>), and ctl receive prints it
 * on a line a host's script reads.  NULL: false. */
bool provider_id_is_valid(const char *s);
