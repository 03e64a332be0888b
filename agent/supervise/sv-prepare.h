/* What a service needs just before it is spawned, apart from the spawn
 * itself: its user looked up, a stale X lock removed, its directories
 * made (owned by its user), and its environment.  Used by supervisor.c
 * at each start; errors are returned with a one-line reason for
 * /health's last_error, and logged by the caller. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "service-def.h"

#define SV_PASSWD_PATH "/etc/passwd"
#define SV_GROUP_PATH "/etc/group"
#define SV_PASSWD_MAX (4 * 1024 * 1024)
/* The backlog of a service's stdin socket (websockify's): a server that
 * accepts one connection at a time drains a full queue of SOMAXCONN
 * (4096) that a loop of connect-and-close left in minutes, during which
 * every viewer times out; this many it drains in moments, and a page
 * load (six connections at a time) still fits. */
#define SV_STDIN_BACKLOG 64

/* The service's user in passwd_path (NULL: SV_PASSWD_PATH).  0 and
 * uid/gid; -ESRCH no such user, -EPERM it is root (a service given a user
 * must never run as root), other -errno when the file cannot be read; the
 * reason in err. */
int sv_user_lookup(const char *passwd_path, const char *user, uid_t *ret_uid, gid_t *ret_gid, char *err,
                   size_t size);

/* Each of def's owned_files is a regular file (not through a symlink)
 * that uid owns: 0, or -errno with the reason in err ("… : refused"). */
int sv_check_owned_files(const ServiceDef *def, uid_t uid, char *err, size_t size);

/* The stale lock, the stdin socket listening and the create_dirs (owned
 * by uid:gid when uid != 0, see mkdir_owned()).  Failures are logged as
 * warnings (the start goes on: the service says what it misses). */
void sv_prepare(const ServiceDef *def, uid_t uid, gid_t gid);

/* The fd its stdin is spawned with: its stdin socket, else -1 (/dev/null). */
static inline int sv_stdin_fd(const ServiceDef *def) {
        return def->stdin_socket > 0 ? def->stdin_socket : -1;
}
