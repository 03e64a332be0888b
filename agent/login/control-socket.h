/* The control socket and the `open-url` verb.  Provider CLIs open their
 * authorize URL with $BROWSER or an opener they find on PATH (xdg-open,
 * x-www-browser); each of those is a link to the agent binary, which runs
 * as `open-url` under those names.  That process connects to the running
 * agent's unix socket, sends the URL (and the login its CLI runs for,
 * from $VMBA_LOGIN_SESSION) as one line and prints the agent's one-line
 * answer.  The socket is root's, 0660, with the CLI users' group, and
 * only peers with the agent's own uid or one of the CLI users' are served
 * (SO_PEERCRED); the handler hears which. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "macro.h"

typedef struct ControlSocket ControlSocket;

/* A URL (checked with http_url_is_valid() already) arrived from a peer
 * of uid peer_uid, with the login the sender says it opens it for (NULL:
 * none said): 0 and what was
 * done with it (static string, sent back as "OK <method>"), or -errno,
 * logged by the handler (sent back as "ERR <strerror>"; the opener exits
 * 1). */
typedef int (*ControlSocketHandler)(const char *url, const char *login_id, uid_t peer_uid,
                                    const char **ret_method, void *userdata);

/* Listens on path for our uid and the n_peers uids in peers (none 0, at
 * least one: -EINVAL otherwise); the socket root's with group peer_gid,
 * 0660; its parent directory, when missing, made root's, 0710, with group
 * peer_gid; a stale socket replaced.  e and peers must outlive the
 * socket. */
int control_socket_new(sd_event *e, const char *path, const uid_t *peers, size_t n_peers, gid_t peer_gid,
                       ControlSocketHandler handler, void *userdata, ControlSocket **ret);
ControlSocket *control_socket_free(ControlSocket *c);
/* Closes, unanswered, every connection whose peer is uid.  SO_PEERCRED
 * is the connecting process's uid at connect(); the connection may be
 * held by another process since (passed over a unix socket) and outlive
 * it: once uid is given to another login, what that connection sends
 * must not speak for it. */
void control_socket_drop_peer(ControlSocket *cs, uid_t uid);
DEFINE_TRIVIAL_CLEANUP_FUNC(ControlSocket *, control_socket_free);

/* The verb: argv "open-url URL" (the socket from $VMBA_CONTROL_SOCKET, else
 * the default), or "<link name> URL" when run through one of the links.
 * Exit 0 when the agent took the URL. */
int open_url_main(int argc, char **argv);

/* The login a CLI runs for, in its environment: the opener sends it
 * along, so the URL goes to that login and no other. */
#define OPEN_URL_SESSION_ENV "VMBA_LOGIN_SESSION"

/* The name of the link given to CLIs as $BROWSER. */
#define OPEN_URL_BROWSER_LINK "vmba-open-url"

/* true when argv0's last component is one of the link names: the binary
 * then runs as open-url. */
bool open_url_is_link_name(const char *argv0);

/* Makes dir (0755, parents too) hold one symlink to target per link name,
 * replacing whatever had those names.  0 or -errno. */
int open_url_links_create(const char *dir, const char *target);
