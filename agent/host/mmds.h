/* Firecracker's microVM metadata service, version 2: a session token by
 * PUT /latest/api/token (X-metadata-token-ttl-seconds), then GET of an
 * object with that token (X-metadata-token) as JSON.  The host puts
 * {"token": ..., "desktop_secret": ...} at mmds_path before the VM boots
 * (or before it is asked).  Non-blocking on the event loop. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

typedef struct MmdsRequest MmdsRequest;

/* r: 0 with the object's JSON text (borrowed, wiped after the call: it
 * holds secrets), or -errno (connect, timeout, -EBADMSG for an answer
 * that is not HTTP or another status, -EACCES for a 401/403, -ENOENT for
 * a 404, -EPIPE for one cut off before its Content-Length).  error: NULL when r says it all, else what MMDS answered, for
 * the log ("MMDS answered HTTP status 500 to GET /vm-browser-agent";
 * borrowed, for the call only). */
typedef void (*MmdsDone)(int r, const char *json, const char *error, void *userdata);

int mmds_get(sd_event *e, const char *address, uint16_t port, const char *path, usec_t timeout,
             MmdsDone done, void *userdata, MmdsRequest **ret);
MmdsRequest *mmds_request_free(MmdsRequest *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(MmdsRequest *, mmds_request_free);
