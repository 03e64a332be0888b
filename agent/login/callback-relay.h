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
 * non-ASCII bytes), or that names state or code twice, is refused before
 * anything is sent. */
bool callback_relay_query_ok(const char *query);

/* The loopback port an authorize URL's redirect_uri (decoded) sends the
 * provider's redirect to: it must be http://localhost:PORT<path> or
 * http://127.0.0.1:PORT<path>, path exactly the provider's callback path,
 * PORT 1..65535 in plain digits.  A CLI whose usual port was taken listens
 * on another one and names it there (Codex: 1457 when 1455 is held).
 * -EINVAL for anything else; the caller keeps the provider's own port. */
int callback_relay_redirect_port(const char *redirect_uri, const char *path, uint16_t *ret);

/* Whether the relay's connection to 127.0.0.1:port would reach a
 * listener of uid's: the one the kernel's own lookup finds (common/
 * sock-diag.h; wildcard, dual-stack and v4-mapped listeners included).
 * 0 when it is uid's; -EPERM when another uid's (*ret_other gets it);
 * -ENOENT when none listens (a port nobody holds may be taken between
 * this check and a connect: not connected to), or without the kernel's
 * socket diagnostics; other -errno.  Only a first answer: the connection
 * made must be checked too (below). */
int callback_relay_listener_check(uint16_t port, uid_t uid, uid_t *ret_other);

/* Whether the connection fd the relay made reaches a process of uid's:
 * the one holding its other end, or while none accepted it yet, the
 * listener it waits on (common/sock-diag.h).  The check before the
 * connect cannot tell: the listener it saw may have closed since, and
 * another user's taken the port.  0 when it is uid's; -EPERM when another
 * uid's (*ret_other gets it); -ENOTCONN when the other end closed or
 * reset it; other -errno. */
int callback_relay_connection_check(int fd, uid_t uid, uid_t *ret_other);

/* connected (not NULL) is called with the connection made, before the
 * request (the code) is sent: it makes sure the connection reached the
 * CLI (callback_relay_connection_check()), and anything but 0 ends the
 * relay with that error, nothing sent.  done gets the listener's answer
 * (see HttpOnceDone).  ret (may be NULL) is only for cancelling with
 * http_once_free(). */
int callback_relay_start(sd_event *e, uint16_t port, const char *path, const char *query, usec_t timeout,
                         HttpOnceConnected connected, HttpOnceDone done, void *userdata, HttpOnce **ret);
