/* Relays an OAuth redirect to a provider CLI's own loopback listener
 * (Codex: 127.0.0.1:1455/auth/callback): one HTTP/1.0 GET of path?query to
 * 127.0.0.1:port on the event loop (common/http-once.h), bounded in size
 * and time; the listener's answer comes back through a callback.  The
 * query carries the OAuth code: it is never logged, and every buffer
 * holding it is wiped.  Knows nothing of the agent's own HTTP server. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "http-once.h"
#include "time-util.h"

/* A query that would not be a valid request line (spaces, control or
 * non-ASCII bytes) is refused before anything is sent. */
bool callback_relay_query_ok(const char *query);

/* The loopback port an authorize URL's redirect_uri (decoded) sends the
 * provider's redirect to: it must be http://localhost:PORT<path> or
 * http://127.0.0.1:PORT<path>, path exactly the provider's callback path,
 * PORT 1..65535 in plain digits.  A CLI whose usual port was taken listens
 * on another one and names it there (Codex: 1457 when 1455 is held).
 * -EINVAL for anything else; the caller keeps the provider's own port. */
int callback_relay_redirect_port(const char *redirect_uri, const char *path, uint16_t *ret);

/* Who would take the relay's connection to 127.0.0.1:port, from the text
 * of /proc/net/tcp (v6 false) or /proc/net/tcp6 (v6 true): the LISTEN
 * sockets bound to that port on 127.0.0.1 or the wildcard (in tcp6: ::,
 * or ::ffff:127.0.0.1).  1 when there is one and each is uid's, 0 when one
 * is another uid's (*ret_other gets it), -ENOENT when there is none.  A
 * port the CLI gave up, or never had, may be held by any local user. */
int callback_relay_listener_owner(const char *proc_net_tcp, bool v6, uint16_t port, uid_t uid, uid_t *ret_other);

/* The same over this machine's /proc/net/tcp and tcp6 (a kernel without
 * IPv6 has no tcp6): 0 when uid listens there and no other uid does,
 * -EPERM when another does (*ret_other gets it), -ENOENT when none
 * listens (a port nobody holds may be taken between this check and a
 * connect: not connected to), or the read's -errno (*ret_path names the
 * file it could not read). */
int callback_relay_listener_check(uint16_t port, uid_t uid, uid_t *ret_other, const char **ret_path);

/* done gets the listener's answer (see HttpOnceDone).  ret (may be NULL)
 * is only for cancelling with http_once_free(). */
int callback_relay_start(sd_event *e, uint16_t port, const char *path, const char *query, usec_t timeout,
                         HttpOnceDone done, void *userdata, HttpOnce **ret);
