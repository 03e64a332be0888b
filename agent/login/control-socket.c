/* The control socket and the `open-url` verb.  Provider CLIs open their
 * authorize URL with $BROWSER or an opener on PATH, links to the agent
 * binary that run `open-url`; that process connects to the running
 * agent's unix socket, sends the URL as one line and prints the agent's
 * one-line answer.  The socket is 0660, root's with the CLI users' group,
 * and the peer's uid (SO_PEERCRED) must be ours or one of the CLI users'
 * even if someone loosened that mode: a URL sent here can become a waiting
 * session's authorize URL, so another user (the browser's) must not be
 * able to send one.  The handler is told that uid: which login a CLI
 * user may speak for is its business.  Each uid served has connections of
 * its own (CLIENTS_PER_UID), so no CLI user can crowd another's out.
 * Protocol: "URL[ LOGIN]\n" → "OK <method>\n" | "ERR <why>\n" (a URL has
 * no blank; LOGIN is the opener's $VMBA_LOGIN_SESSION, the login its CLI
 * runs for).  What a URL means is the handler's business (the login
 * manager's). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control-socket.h"
#include "fileio.h"
#include "id-util.h"
#include "log.h"
#include "macro.h"
#include "socket-util.h"
#include "time-util.h"
#include "url-util.h"

/* "URL LOGIN\r\n" */
#define LINE_MAX_ (URL_MAX + 1 + SESSION_ID_MAX + 2)

/* How provider CLIs open a URL, all of which must reach the agent: the
 * program $BROWSER names (Claude Code runs the value as one program path,
 * without splitting it: it must be a path with no arguments; Codex splits
 * it on blanks), xdg-open looked up on PATH (Gemini CLI, which ignores
 * $BROWSER; Claude Code without $BROWSER), x-www-browser (Codex without
 * $BROWSER). */
static const char *const link_names[] = { OPEN_URL_BROWSER_LINK, "xdg-open", "x-www-browser" };
/* Connections one uid may have open at once (an opener makes one per
 * URL).  Every uid served has that many of its own (the table holds them
 * all): a login's CLI user that opens connections and sends nothing, each
 * held until its timeout, must not keep another login's opener out (for
 * Claude Code the only way its URL comes). */
#define CLIENTS_PER_UID 2
#define CLIENT_TIMEOUT_USEC (5 * USEC_PER_SEC)

typedef struct Client Client;

struct ControlSocket {
        sd_event *event;
        ControlSocketHandler handler;
        void *userdata;
        char *path;
        int fd;
        const uid_t *peers; /* served besides our own uid: the CLIs' users (borrowed) */
        size_t n_peers;
        sd_event_source *io;
        Client **clients;   /* n_clients slots, NULL when free */
        size_t n_clients;   /* CLIENTS_PER_UID for each uid served */
};

struct Client {
        ControlSocket *cs;
        int fd;
        sd_event_source *io, *timer;
        uid_t uid;          /* the peer's (SO_PEERCRED) */
        char buf[LINE_MAX_ + 1];
        size_t n;
};

static void client_free(Client *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->cs->n_clients; i++)
                if (c->cs->clients[i] == c)
                        c->cs->clients[i] = NULL;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        safe_close(c->fd);
        free(c);
}

static void client_answer(Client *c, const char *status, const char *arg) {
        char line[256];

        snprintf(line, sizeof line, "%s %s\n", status, arg);
        (void)send(c->fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
        client_free(c);
}

static void client_line(Client *c) {
        const char *method = NULL, *login_id = NULL;
        char *blank;
        int r;

        c->buf[strcspn(c->buf, "\r\n")] = '\0';
        blank = strchr(c->buf, ' ');
        if (blank) {
                *blank = '\0';
                login_id = blank + 1;
        }
        if (!http_url_is_valid(c->buf)) {
                client_answer(c, "ERR", "not an absolute http(s) URL");
                return;
        }
        if (login_id && !session_id_is_valid(login_id)) {
                client_answer(c, "ERR", "bad login id");
                return;
        }
        r = c->cs->handler(c->buf, login_id, c->uid, &method, c->cs->userdata);
        if (r < 0) {
                /* The handler said why, once. */
                log_debug_errno(r, "open-url request failed: %m");
                client_answer(c, "ERR", strerror(-r));
                return;
        }
        log_info("open-url request from a CLI (%s): %s.", login_id ? "its login named" : "no login named", method);
        client_answer(c, "OK", method);
}

static int on_client(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Client *c = userdata;
        ssize_t n = recv(fd, c->buf + c->n, LINE_MAX_ - c->n, MSG_DONTWAIT);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                client_free(c);
                return 0;
        }
        c->n += (size_t)n;
        c->buf[c->n] = '\0';
        if (memchr(c->buf, '\n', c->n))
                client_line(c);
        else if (c->n >= LINE_MAX_)
                client_answer(c, "ERR", "line too long");
        return 0;
}

static int on_client_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        client_free(userdata);
        return 0;
}

static bool peer_allowed(const ControlSocket *cs, int fd, uid_t *ret_uid) {
        struct ucred cred;
        socklen_t l = sizeof cred;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0)
                return false;
        *ret_uid = cred.uid;
        if (cred.uid == geteuid())
                return true;
        for (size_t i = 0; i < cs->n_peers; i++)
                if (cred.uid == cs->peers[i])
                        return true;
        return false;
}

/* A free slot for a connection of uid: -EUSERS when uid has its
 * CLIENTS_PER_UID already. */
static int client_slot(const ControlSocket *cs, uid_t uid) {
        size_t n = 0, slot = cs->n_clients;

        for (size_t i = 0; i < cs->n_clients; i++)
                if (!cs->clients[i])
                        slot = MIN(slot, i);
                else
                        n += cs->clients[i]->uid == uid;
        /* Every uid's share fits in the table: under its share, a uid
         * finds a free slot. */
        return n >= CLIENTS_PER_UID || slot == cs->n_clients ? -EUSERS : (int)slot;
}

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        ControlSocket *cs = userdata;
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        int slot;
        uid_t uid;
        Client *c;

        if (cfd < 0)
                return 0;
        if (!peer_allowed(cs, cfd, &uid)) {
                log_warning("open-url request from another user refused.");
                (void)send(cfd, "ERR permission denied\n", 22, MSG_NOSIGNAL | MSG_DONTWAIT);
                safe_close(cfd);
                return 0;
        }
        slot = client_slot(cs, uid);
        if (slot < 0) {
                static const char busy[] = "ERR too many connections of this user\n";

                /* Not logged: a user opening connections without end
                 * would fill the log.  Its own stay open. */
                (void)send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                safe_close(cfd);
                return 0;
        }
        c = calloc(1, sizeof *c);
        if (!c) {
                safe_close(cfd);
                return 0;
        }
        c->cs = cs;
        c->fd = cfd;
        c->uid = uid;
        cs->clients[slot] = c;
        if (sd_event_add_io(cs->event, &c->io, cfd, EPOLLIN, on_client, c) < 0 ||
            sd_event_add_time_relative(cs->event, &c->timer, CLOCK_MONOTONIC, CLIENT_TIMEOUT_USEC, 0,
                                       on_client_timeout, c) < 0)
                client_free(c);
        return 0;
}

/* A missing directory is made root's, 0710, with the peers' group; an
 * existing one is the operator's and left as it is. */
static int make_parent_dir(const char *path, gid_t gid) {
        _cleanup_(freep) char *d = strdup(path);
        char *slash;
        struct stat st;

        if (!d)
                return -ENOMEM;
        slash = strrchr(d, '/');
        if (!slash || slash == d)
                return 0;
        *slash = '\0';
        if (stat(d, &st) >= 0)
                return 0;
        return mkdir_owned(d, 0710, 0, gid);
}

/* The socket file is made by bind() itself with the peers' group and 0660
 * (the effective gid and umask of the call): no chown or chmod by path
 * afterwards, which an entry swapped in meanwhile could redirect. */
static int bind_as_group(int fd, const struct sockaddr_un *sa, int len, gid_t gid) {
        gid_t egid = getegid();
        mode_t old = umask(0117);
        int r;

        r = RET_NERRNO(setegid(gid));
        if (r >= 0) {
                r = RET_NERRNO(bind(fd, (const struct sockaddr *)sa, (socklen_t)len));
                /* Root can always go back; if it could not, every file the
                 * agent makes from now on would be that group's. */
                if (setegid(egid) < 0)
                        abort();
        }
        umask(old);
        return r;
}

int control_socket_new(sd_event *e, const char *path, const uid_t *peers, size_t n_peers, gid_t peer_gid,
                       ControlSocketHandler handler, void *userdata, ControlSocket **ret) {
        _cleanup_(control_socket_freep) ControlSocket *cs = NULL;
        struct sockaddr_un sa;
        int len, r;

        if (n_peers == 0)
                return -EINVAL;
        for (size_t i = 0; i < n_peers; i++)
                if (peers[i] == 0)
                        return -EINVAL;
        len = sockaddr_un_set(&sa, path);
        if (len < 0)
                return len;
        cs = calloc(1, sizeof *cs);
        if (!cs)
                return -ENOMEM;
        *cs = (ControlSocket){ .event = e, .handler = handler, .userdata = userdata, .fd = -EBADF,
                               .peers = peers, .n_peers = n_peers };
        cs->path = strdup(path);
        /* Ours and each peer's share. */
        cs->n_clients = CLIENTS_PER_UID * (n_peers + 1);
        cs->clients = calloc(cs->n_clients, sizeof *cs->clients);
        if (!cs->path || !cs->clients)
                return -ENOMEM;
        cs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (cs->fd < 0)
                return -errno;
        r = make_parent_dir(path, peer_gid);
        if (r < 0)
                return r;
        (void)unlink(path); /* a stale socket from a previous run */
        r = bind_as_group(cs->fd, &sa, len, peer_gid);
        if (r < 0)
                return r;
        r = RET_NERRNO(listen(cs->fd, (int)cs->n_clients));
        if (r < 0)
                return r;
        r = sd_event_add_io(e, &cs->io, cs->fd, EPOLLIN, on_accept, cs);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(cs);
        return 0;
}

ControlSocket *control_socket_free(ControlSocket *cs) {
        if (!cs)
                return NULL;
        for (size_t i = 0; cs->clients && i < cs->n_clients; i++)
                client_free(cs->clients[i]);
        sd_event_source_disable_unref(cs->io);
        if (cs->fd >= 0 && cs->path)
                (void)unlink(cs->path);
        safe_close(cs->fd);
        free(cs->clients);
        free(cs->path);
        free(cs);
        return NULL;
}

void control_socket_drop_peer(ControlSocket *cs, uid_t uid) {
        if (!cs)
                return;
        for (size_t i = 0; i < cs->n_clients; i++)
                if (cs->clients[i] && cs->clients[i]->uid == uid) {
                        log_warning("open-url connection of uid %u dropped: it was made before that uid's "
                                    "current login had it.", (unsigned)uid);
                        client_free(cs->clients[i]);
                }
}

bool open_url_is_link_name(const char *argv0) {
        const char *base;

        if (!argv0)
                return false;
        base = strrchr(argv0, '/');
        base = base ? base + 1 : argv0;
        for (size_t i = 0; i < ELEMENTSOF(link_names); i++)
                if (streq(base, link_names[i]))
                        return true;
        return false;
}

/* Symlinks, not copies or hard links: the directory may be on another
 * file system (a tmpfs /run), mounted noexec (what counts is the mount of
 * the target), and a link follows the binary when it is replaced. */
int open_url_links_create(const char *dir, const char *target) {
        _cleanup_(closep) int fd = -EBADF;
        int r;

        if (isempty(target) || target[0] != '/')
                return -EINVAL;
        r = mkdir_all(dir, 0755, 0755);
        if (r < 0)
                return r;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(link_names); i++) {
                if (unlinkat(fd, link_names[i], 0) < 0 && errno != ENOENT)
                        return -errno;
                if (symlinkat(target, fd, link_names[i]) < 0)
                        return -errno;
        }
        return 0;
}

/* The verb: argv "open-url URL".  The socket path comes from
 * $VMBA_CONTROL_SOCKET (the agent sets it for the CLIs it runs), else the
 * default.  Exit 0 when the agent took the URL. */
int open_url_main(int argc, char **argv) {
        const char *path = getenv("VMBA_CONTROL_SOCKET"), *login_id = getenv(OPEN_URL_SESSION_ENV);
        struct sockaddr_un sa;
        _cleanup_(closep) int fd = -EBADF;
        int len;
        _cleanup_(freep) char *line = NULL;
        char answer[256];
        ssize_t n;

        if (argc != 2 || streq(argv[1], "--help")) {
                fprintf(argc == 2 ? stdout : stderr, "Usage: vm-browser-agent open-url URL\n");
                return argc == 2 ? 0 : 2;
        }
        if (!http_url_is_valid(argv[1])) {
                log_error("open-url: not an absolute http(s) URL.");
                return 2;
        }
        if (isempty(path))
                path = "/run/vm-browser-agent-cli/control.sock";
        len = sockaddr_un_set(&sa, path);
        if (len < 0)
                return log_error_errno(len, "open-url: socket path too long."), 1;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, (socklen_t)len) < 0) {
                log_error_errno(errno, "open-url: cannot reach the agent at %s: %m", path);
                return 1;
        }
        /* The agent sets a session id there; anything else in the variable
         * is not one, and is left out. */
        if (login_id && !session_id_is_valid(login_id))
                login_id = NULL;
        if (asprintf(&line, "%s%s%s\n", argv[1], login_id ? " " : "", login_id ?: "") < 0)
                return log_error("open-url: out of memory."), 1;
        /* A refused peer is answered and closed at once: the write may
         * fail (EPIPE, not SIGPIPE) while the answer is there to read. */
        (void)signal(SIGPIPE, SIG_IGN);
        if (loop_write(fd, line, strlen(line)) < 0)
                log_debug("open-url: the agent closed the connection early.");
        n = read(fd, answer, sizeof answer - 1);
        if (n <= 0) {
                log_error("open-url: no answer from the agent.");
                return 1;
        }
        answer[n] = '\0';
        answer[strcspn(answer, "\n")] = '\0';
        if (!startswith(answer, "OK")) {
                log_error("open-url: %s", answer);
                return 1;
        }
        return 0;
}
