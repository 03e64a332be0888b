/* Relays an OAuth redirect to a provider CLI's own loopback listener
 * (Codex: 127.0.0.1:1455/auth/callback): one HTTP/1.0 GET of path?query to
 * 127.0.0.1:port, non-blocking on the event loop, bounded in size and time;
 * the listener's status, content type and body come back through a
 * callback.  The query carries the OAuth code: it is never logged, and
 * every buffer holding it is wiped.  Knows nothing of the agent's own HTTP
 * server. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct CallbackRelay CallbackRelay;

/* r: 0 with the listener's answer, -ECONNREFUSED (or another connect or
 * send error) when it is not reachable, -EBADMSG when its answer is not
 * HTTP, -ETIMEDOUT when it did not answer in time.  The strings are valid
 * during the call only.  The relay frees itself after the call. */
typedef void (*CallbackRelayDone)(int r, unsigned status, const char *content_type,
                                  const char *body, size_t size, void *userdata);

/* A query that would not be a valid request line (spaces, control or
 * non-ASCII bytes) is refused before anything is sent. */
bool callback_relay_query_ok(const char *query);

/* ret (may be NULL) is only for cancelling with callback_relay_free(),
 * after which done is never called. */
int callback_relay_start(sd_event *e, uint16_t port, const char *path, const char *query,
                         CallbackRelayDone done, void *userdata, CallbackRelay **ret);
CallbackRelay *callback_relay_free(CallbackRelay *r);
