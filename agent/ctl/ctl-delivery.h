/* One line of the push handoff as the host's receiver reads it: a JSON
 * object with the VM's control token, a deliveryId, a sessionId, the
 * provider and the credentials.  Pure (jansson only): the line comes from a guest, where
 * any user can reach the vsock port, and is fuzzed
 * (tests/fuzz/fuzz-ctl-delivery.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#define CTL_DELIVERY_ID_MAX 64

/* What a line holds, pointing into its JSON: what is echoed and written. */
typedef struct CtlDelivery {
        const char *id;  /* fit to echo, or NULL */
        const char *sid; /* a safe file name when the line is taken */
        const char *provider; /* [a-z0-9_-], at most 64, when the line is taken: it is printed */
        json_t *credentials;
} CtlDelivery;

/* The agent's delivery ids are 32 hex digits: what is echoed back (and
 * kept, one a line) is held to 1…CTL_DELIVERY_ID_MAX of [A-Za-z0-9_-]. */
bool ctl_delivery_id_is_safe(const char *s);

/* Why a line is refused (the NAK's cause, a word the agent logs:
 * "malformed", "token-missing", "token-wrong"), NULL when it is taken; d
 * gets what the line holds (its id also when refused, if fit to echo).
 * j may be NULL (a line that is no JSON).  The token is checked, in
 * constant time, before anything else of the line is believed. */
const char *ctl_delivery_parse(json_t *j, const char *token, CtlDelivery *d);
