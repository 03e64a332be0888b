"""websockify's entry point for the agent's display stack.

The agent runs this text with `python3 -c` (the build embeds it in the
binary: vnc/display.c's WEBSOCKIFY_MAIN), so that nothing in the image has
to match the agent.  It is websockify's own entry point without its two
slow imports: Debian's /usr/bin/websockify finds it through
importlib.metadata, and websockify imports numpy only to unmask client
frames faster (ours are keystrokes and pointer events) and warns when it is
missing.  Together they are half of its start-up (about 95 of 190 ms on the
host, seconds under emulation), which a restore and a crashed Xvfb pay
again.  Without the module it says so, as a missing program would be named.

Then what its request handler does by default, closed (each reproduced
from the network, without the token):
 - a request that stalls for 10 s is dropped: websockify forks a process
   per connection (~2.5 MB), and a half-sent request held it forever; the
   timeout is per read (a peer dripping its header fields holds its
   process, within its source's share and HEADERS_MAX) and is lifted once
   the WebSocket is up (an idle desktop is fine);
 - a request's header fields take at most HEADERS_MAX bytes, else 431:
   http.server reads 100 lines of 64 KiB each, and a peer that sent 99 and
   kept the last one going held its process at about 8.7 MB instead;
 - a path with a backslash is 404: http.server answers "/\\host/%2e%2e" (a
   directory) with "Location: /\\host/../", which browsers follow to
   //host/, an open redirect;
 - no directory listings;
 - one log record, one line: "?token=x%0A..." no longer starts a line of
   the agent's log;
 - one source holds at most PER_SOURCE connections at once (the processes
   forked for it, each named with its source, are counted before the next
   fork; past that the connection is closed unanswered, logged once until
   the source holds none): a neighbour with one address no longer fills
   the VNC user's tasks (VNC_USER_TASKS_MAX in vnc/display.c) and locks
   the person out.  A source is the peer's address (an IPv6 one but the
   host's and loopback: its /64, link-local all one), or, for a peer on this
   machine (an address it can bind; its socket found in /proc/net/tcp*,
   held by a process), "local user UID", whatever address it took: a local
   process (a provider CLI) could otherwise connect from 127.0.0.2,
   127.0.0.3, ... and the VM's own addresses.  /proc is read for such
   peers only: a flood from the network, each connection a line more
   there, costs no scan;
 - all sources but the host's and root's hold at most OTHERS_MAX
   connections together (logged once until they hold none): a neighbour
   that takes several addresses on the bridge no longer fills the VNC
   user's tasks either, nor does one together with a local user (a
   provider CLI runs code from the npm registry), and the rest is kept
   for the host (the operator's proxy, which brings every viewer from its
   own address: PER_SOURCE for each of its addresses, and what OTHERS_MAX
   leaves for all of them and root together: the agent's readiness probe,
   which runs while websockify starts).  The host's addresses are the ones the agent trusts on its
   control routes (allow_from, else the ip= gateways); the agent passes
   them as CIDRs in VMBA_HOST_CIDRS.  An address is compared without its
   zone (a VM has one network device), a v4-mapped one as IPv4;
 - the listening socket the agent hands it (--inetd, on stdin) is taken for
   what it is: websockify took every inherited socket for IPv4, and an
   IPv6 peer's address did not fit.

Imported as a module (the unit test) it only defines; run as the main
program it patches websockify and starts it.
"""
import errno
import http.client
import ipaddress
import logging
import multiprocessing
import os
import socket
import sys
import warnings

# Connections one source may hold.  A page load is six connections at a
# time, each one its own process (HTTP/1.0), and those of answered requests
# still exiting: under emulation a real page load reached past 6 and stayed
# under 9.  24 leaves a host that proxies every viewer from its own address
# room for that and several desktops, which OTHERS_MAX keeps free of the
# neighbours, however many addresses they take.
PER_SOURCE = 24
# Connections all sources but the host's and root's may hold together:
# page loads and desktops for viewers that come without the host's proxy,
# and local users.  Of the VNC user's tasks (VNC_USER_TASKS_MAX, 64)
# x11vnc and websockify take two, the host PER_SOURCE for one address,
# and two are left (the host's other addresses and root share what the
# others leave: the agent's readiness probe runs only while websockify
# starts, holding nothing else).
OTHERS_MAX = 36
# The environment entry with the host's addresses (vnc/display.h,
# DISPLAY_HOST_ADDRESSES_ENV): CIDRs separated by blanks.
HOSTS_ENV = 'VMBA_HOST_CIDRS'
# The source root's connections count as (source_of()).
ROOT = 'local user 0'
# The others' share in SourceLimit.full: no source is a tuple.
OTHERS = ('others',)
# Seconds a request may stall (per read), until the WebSocket is up.
REQUEST_TIMEOUT_S = 10
# Bytes a request's header fields may take (the request line has its own
# limit, http.server's 64 KiB).  noVNC's requests and its WebSocket's take
# under 1 KiB; a host's proxy may add its own site's cookies, which nginx
# (4 x 8 KiB by default) and Node.js (16 KiB) would have refused above this.
HEADERS_MAX = 32768


def plain(a):
    """An address tuple as (host, port): no zone, no v4-mapped prefix."""
    return a[0].split('%')[0].removeprefix('::ffff:'), a[1]


def proc_addr(h):
    """An address of /proc/net/tcp* ("0100007F:1F90": hex, each 32-bit
    word in host order, little-endian here) as (host, port)."""
    a, p = h.split(':')
    b = bytes.fromhex(a)
    b = b''.join(b[i:i + 4][::-1] for i in range(0, len(b), 4))
    f = socket.AF_INET if len(b) == 4 else socket.AF_INET6
    return socket.inet_ntop(f, b).removeprefix('::ffff:'), int(p, 16)


def source_of(c, a, tables=('/proc/net/tcp', '/proc/net/tcp6')):
    """Who a connection c from a counts as: "local user UID" for a peer on
    this machine whose socket a process holds, else the peer's address."""
    try:
        with socket.socket(socket.AF_INET6 if ':' in a[0] else socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((a[0], 0))
    except OSError:
        return a[0]
    try:
        ends = plain(a), plain(c.getsockname())
        for name in tables:
            with open(name) as f:
                for x in map(str.split, list(f)[1:]):
                    if x[9] != '0' and (proc_addr(x[1]), proc_addr(x[2])) == ends:
                        return 'local user ' + x[7]
    except (OSError, ValueError, IndexError):
        pass
    return a[0]


def host_networks(text):
    """The host's addresses as the agent passes them (HOSTS_ENV): a list of
    networks.  ValueError for an entry that is not an address or CIDR."""
    return [ipaddress.ip_network(w, strict=False) for w in text.split()]


class SourceLimit:
    """PER_SOURCE connections per source, and OTHERS_MAX for the sources
    that are neither the host's nor root's together.  The first
    refusal of a source is logged, the next ones not until it has held
    none; the others' likewise, until they have held none."""

    def __init__(self, limit=PER_SOURCE, others=OTHERS_MAX, hosts=(), log=None):
        self.limit = limit
        self.others = others
        self.hosts = hosts
        self.full = set()
        self.log = log or logging.getLogger('websocket')

    def other(self, s):
        """Whether source s counts in the others' share: neither root (the
        agent) nor one of the host's addresses.  Loopback that no process
        was found holding is one of the others: root's probe is found."""
        if s is None or s == ROOT:
            return False
        if s.startswith('local user '):
            return True
        try:
            a = ipaddress.ip_address(s.split('%')[0])
        except ValueError:
            return True
        a = getattr(a, 'ipv4_mapped', None) or a
        return not any(a in n for n in self.hosts)

    def counted_as(self, s):
        """The source s counts as for its own limit: an IPv6 address but
        loopback, a v4-mapped one (IPv4) and the host's is its /64, as one
        machine holds a whole /64 (SLAAC privacy addresses, or any address
        it adds): counted per address, a neighbour with two of them filled
        the others' share alone.  Link-local is fe80::/64 for every
        neighbour (the zone is not compared): per address, any of them
        could take link-local addresses without end.  Any other source is
        itself (the host's addresses are one source each)."""
        try:
            a = ipaddress.ip_address(s.split('%')[0])
        except (ValueError, AttributeError):
            return s
        if a.version != 6 or a.ipv4_mapped or a.is_loopback or not self.other(s):
            return s
        return str(ipaddress.ip_network(f'{a}/64', strict=False))

    def room(self, key, n, limit, s, refused):
        """Whether key's n connections leave room under limit.  Its first
        refusal is logged (naming s, with refused), the next ones not
        until key has held none."""
        if n < limit:
            if not n:
                self.full.discard(key)
            return True
        if key not in self.full:
            self.full.add(key)
            self.log.warning('%s: %d connections held already%s', s, n, refused)
        return False

    def admit(self, s, held):
        """Whether a connection from s may have a process, given the
        sources of the connections held now (one entry each)."""
        key = self.counted_as(s)
        n = sum(self.counted_as(h) == key for h in held)
        if not self.room(key, n, self.limit, key, '; closing the next ones until one ends'):
            return False
        return not self.other(s) or self.room(OTHERS, sum(map(self.other, held)), self.others, s,
                                              ' by sources other than the host and root; '
                                              'closing their next ones until one ends')


class HeaderReader:
    """The request's reader while its header fields are read: past `left`
    bytes, http.client's LineTooLong (which http.server answers with 431),
    and nothing more is read."""

    def __init__(self, f, left):
        self.f, self.left = f, left

    def readline(self, limit=-1):
        n = self.left + 1 if limit is None or limit < 0 else min(limit, self.left + 1)
        line = self.f.readline(n)
        self.left -= len(line)
        if self.left < 0:
            raise http.client.LineTooLong(f'header fields over {HEADERS_MAX} bytes')
        return line


def one_line_records():
    """Every log record's message on one line (CR and LF escaped)."""
    record = logging.getLogRecordFactory()

    def one_line(*a, **k):
        r = record(*a, **k)
        try:
            r.msg, r.args = r.getMessage().replace('\r', '\\r').replace('\n', '\\n'), None
        except Exception:
            pass
        return r
    logging.setLogRecordFactory(one_line)


def close_handler(H):
    """The request handler's defaults, closed (see the module's text)."""
    H.timeout = REQUEST_TIMEOUT_S

    def handle_upgrade(self, up=H.handle_upgrade):
        self.request.settimeout(None)
        return up(self)
    H.handle_upgrade = handle_upgrade

    def send_head(self, head=H.send_head):
        if '\\' in self.path:
            return self.send_error(404)
        return head(self)
    H.send_head = send_head
    H.list_directory = lambda self, path: self.send_error(404)

    def parse_request(self, parse=H.parse_request):
        f, self.rfile = self.rfile, HeaderReader(self.rfile, HEADERS_MAX)
        try:
            return parse(self)
        finally:
            self.rfile = f
    H.parse_request = parse_request


def limit_sources(limit):
    """Counts each source's connections before websockify forks for the
    next: each forked process carries the source its connection came from."""
    sources = {}

    class Handler(multiprocessing.Process):
        def __init__(self, *a, args=(), **k):
            super().__init__(*a, args=args, **k)
            self.source = sources.pop(args[1], None) if len(args) == 2 else None
    multiprocessing.Process = Handler

    def accept(self, accept=socket.socket.accept):
        c, a = accept(self)
        try:
            s = source_of(c, a)
            held = [getattr(p, 'source', None) for p in multiprocessing.active_children()]
        except BaseException:
            c.close()
            raise
        if limit.admit(s, held):
            sources[a] = s
            return c, a
        c.close()
        raise InterruptedError(errno.EINTR, 'per-source limit')
    socket.socket.accept = accept


def main():
    sys.modules['numpy'] = None
    warnings.filterwarnings('ignore', "no 'numpy' module")
    sys.argv[0] = 'websockify'
    try:
        from websockify.websocketproxy import websockify_init, ProxyRequestHandler
    except ImportError as e:
        sys.exit(f'cannot import websockify: {e}')
    close_handler(ProxyRequestHandler)
    one_line_records()
    # The inherited socket (--inetd) keeps its own family.
    socket.fromfd = lambda fd, *a: socket.socket(fileno=os.dup(fd))
    try:
        hosts = host_networks(os.environ.get(HOSTS_ENV, ''))
    except ValueError as e:
        hosts = []
        print(f'{HOSTS_ENV}: {e}; no source is taken for the host', file=sys.stderr)
    limit_sources(SourceLimit(hosts=hosts))
    websockify_init()


if __name__ == '__main__':
    main()
