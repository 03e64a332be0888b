"""Connections to the real agent's HTTP server, held, counted and timed
out: 2,000 idle connections from the host side (the attacker keeps at most
its per-IP 64, and they are dropped once idle), the host's reserve when
the bridge fills http_max_connections, an IPv6 /64 counted as one client,
loopback counted as one client per
local user and all local users together bounded, pages' requests closing their connection, and requests dripped
a byte at a time (on a new connection or a kept-alive one) or stopped after
the request line, cut off at http_timeout_s — and /health keeps answering
throughout, probed from loopback inside the guest.  No assertion here is
about time.  What the requests themselves may be is test_http.py's.

Layout: Lan(): guest namespace (agent, eth0 = 10.77.0.2/24, probes from
127.0.0.1) and host namespace (attacker, 10.77.0.1, and more addresses on
veth0 where a test adds them), made by tests/lib/httpserver.py.
"""
import contextlib
import os
import socket
import time

import pytest

from httpserver import GUEST, PORT, TOKEN, Server, agent_argv, agent_server, guest_lan, read_answer, scratch_dir
from netns import wait_until

NOBODY = 65534  # the user a local process opens loopback connections as


@pytest.fixture
def workdir():
    with scratch_dir() as d:
        yield d


@pytest.fixture
def lan():
    with guest_lan() as lan:
        yield lan


@pytest.fixture
def agent(agent_bin, lan, workdir):
    with agent_server(agent_bin, lan, workdir) as s:
        yield s


def test_idle_connections(agent):
    socks = []
    try:
        with agent.lan.host.entered():
            for i in range(2000):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    s.connect((GUEST, PORT))
                socks.append(s)
                if i % 250 == 0:
                    agent.assert_serving(1)
        agent.assert_serving(20)
        # The attacker got at most http_max_per_ip (64) of them; the rest
        # were closed by the agent at once.
        def open_count():
            alive = 0
            for s in socks:
                try:
                    alive += s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
                except BlockingIOError:
                    alive += 1
                except OSError:
                    pass
            return alive
        assert open_count() <= 64
        # And the idle ones time out (http_timeout_s=2).
        wait_until(lambda: open_count() == 0, 10, "idle connections to be dropped")
    finally:
        for s in socks:
            s.close()
    agent.assert_serving()


HOST_IP = "ip=10.77.0.2::10.77.0.1:24::eth0:off"


def open_from(ns, sources, n, port=PORT, host=GUEST, uid=0):
    """n connections from each source address, their sockets uid's,
    non-blocking once open."""
    socks = []
    with ns.entered():
        for a in sources:
            for _ in range(n):
                os.seteuid(uid)
                try:
                    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                finally:
                    os.seteuid(0)
                c.bind((a, 0))
                c.settimeout(5)
                c.connect((host, port))
                c.setblocking(False)
                socks.append(c)
    return socks


def open_ipv6_from(ns, sources, n, host):
    """n IPv6 connections from each source address to host, non-blocking
    once open."""
    socks = []
    with ns.entered():
        for a in sources:
            for _ in range(n):
                c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                socks.append(c)
                c.bind((a, 0))
                c.settimeout(5)
                c.connect((host, PORT))
                c.setblocking(False)
    return socks


def held(socks):
    """How many of socks the server has not closed."""
    n = 0
    for c in socks:
        try:
            n += c.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def test_connection_limit_keeps_a_reserve(agent_bin, lan, workdir):
    # Three attacker addresses on the bridge fill http_max_connections
    # (100) within their per-IP limit (64 each); the host (the ip=
    # gateway, 10.77.0.1) keeps a reserve of its own, so its /health
    # probes are answered, and loopback (where the VM's browser brings the
    # OAuth redirects) is outside the pool: served too.
    # Idle connections are not closed while the test counts them (this
    # file's http_timeout_s=2 could pass between the connects and a count).
    s = Server(lan, agent_argv(agent_bin, workdir, "http_max_connections=100", "http_timeout_s=120",
                               kernel_cmdline=HOST_IP))
    sources = ["10.77.0.11", "10.77.0.12", "10.77.0.13"]
    for a in sources:
        lan.host.run("ip", "addr", "add", f"{a}/24", "dev", "veth0")
    socks = open_from(lan.host, sources, 64)
    try:
        for _ in range(20):
            assert s.request("GET", "/health", src="host", timeout=30)[0] == 200
        wait_until(lambda: held(socks) <= 100, 5, "connections over the limit to be closed")
        assert held(socks) >= 90   # the limit is a limit, not a refusal of everyone
        for _ in range(5):
            assert s.request("GET", "/health", src="guest", timeout=30)[0] == 200
        assert held(socks) >= 90
    finally:
        for c in socks:
            c.close()
    # The gauge counts the host's own /metrics request.
    wait_until(lambda: s.metric("vmba_http_connections", src="host") == 1, 10,
               "the closed connections to be released")
    s.assert_serving()


def test_one_ipv6_64_is_one_client(agent_bin, lan, workdir):
    # A neighbour on the bridge holding several IPv6 addresses of one /64
    # (SLAAC privacy addresses, or any it adds) gets http_max_per_ip (64)
    # connections in all: it had 64 per address and filled
    # http_max_connections (100) alone, so a neighbour in another /64 (and
    # one on IPv4) was refused.  The host (the ip= gateway, 10.77.0.1)
    # stays answered.  Addresses without DAD: usable at once.
    s = Server(lan, agent_argv(agent_bin, workdir, "http_max_connections=100", "http_timeout_s=120",
                               "http_listen=::", kernel_cmdline=HOST_IP))
    for prefix in ("fd77:0:0:1", "fd77:0:0:2"):
        lan.guest.run("ip", "addr", "add", f"{prefix}::2/64", "dev", "eth0", "nodad")
    neighbour = [f"fd77:0:0:1::{i:x}" for i in range(0x11, 0x14)]
    for a in neighbour + ["fd77:0:0:2::11"]:
        lan.host.run("ip", "addr", "add", f"{a}/64", "dev", "veth0", "nodad")
    lan.host.run("ip", "addr", "add", "10.77.0.11/24", "dev", "veth0")
    socks = open_ipv6_from(lan.host, neighbour, 64, "fd77:0:0:1::2")
    others = []
    try:
        wait_until(lambda: held(socks) <= 64, 5, "the /64's connections over 64 to be closed")
        assert held(socks) == 64
        others = open_ipv6_from(lan.host, ["fd77:0:0:2::11"], 20, "fd77:0:0:2::2")
        others += open_from(lan.host, ["10.77.0.11"], 10)
        for _ in range(5):
            assert s.request("GET", "/health", src="host", timeout=30)[0] == 200
        assert held(others) == 30 and held(socks) == 64
    finally:
        for c in socks + others:
            c.close()
    s.assert_serving()


def test_loopback_is_one_client_per_user(agent_bin, lan, workdir):
    # A local process of an unprivileged user (a provider CLI, say)
    # opening connections from many 127.0.0.x addresses: its user counts
    # as one client (64), not one per address; it cannot take the host's
    # reserve, nor the room of another local user on loopback (the
    # browser's, bringing an OAuth redirect: root's here).
    s = Server(lan, agent_argv(agent_bin, workdir, "http_max_connections=100", "http_timeout_s=120",
                               kernel_cmdline=HOST_IP))
    sources = [f"127.0.0.{i}" for i in range(2, 8)]
    socks = open_from(lan.guest, sources, 40, host="127.0.0.1", uid=NOBODY)
    try:
        wait_until(lambda: held(socks) <= 64, 5, "loopback connections over 64 to be closed")
        assert held(socks) == 64
        for _ in range(5):
            assert s.request("GET", "/health", src="host", timeout=30)[0] == 200
            assert s.request("GET", "/health", src="guest", timeout=30)[0] == 200
        assert held(socks) == 64
        # Every loopback connection's user was told (none shared the
        # unknown user's limit).
        assert s.metric("vmba_http_loopback_unowned_total") == 0
    finally:
        for c in socks:
            c.close()


def test_local_users_leave_the_host_room(agent_bin, lan, workdir):
    # The bridge fills http_max_connections (100) from two addresses, and
    # three local users (a provider CLI's, say: no passwd entry needed)
    # hold 64 loopback connections each.  Each local user had 64 of its
    # own and nothing bounded them together, while libmicrohttpd's limit
    # was 100 + 64 + 64: two users' 128 reached it, libmicrohttpd stopped
    # accepting, and the host's probes waited in the listen queue.  Now
    # the local users but root and the browser's (nobody here) hold two
    # users' shares together, within that limit: the host, root and the
    # browser's user are answered while the attackers hold theirs.
    s = Server(lan, agent_argv(agent_bin, workdir, "http_max_connections=100", "http_timeout_s=120",
                               "browser_user=nobody", kernel_cmdline=HOST_IP))
    sources = ["10.77.0.11", "10.77.0.12"]
    for a in sources:
        lan.host.run("ip", "addr", "add", f"{a}/24", "dev", "veth0")
    bridge = open_from(lan.host, sources, 64)
    local = []
    try:
        for uid in (2001, 2002, 2003):
            local += open_from(lan.guest, [f"127.0.0.{uid - 1990}"], 64, host="127.0.0.1", uid=uid)
        for _ in range(5):
            assert s.request("GET", "/health", src="host", timeout=30)[0] == 200
            assert s.request("GET", "/health", src="guest", timeout=30)[0] == 200
        with contextlib.closing(open_from(lan.guest, ["127.0.0.1"], 1, host="127.0.0.1", uid=NOBODY)[0]) as c:
            c.setblocking(True)
            c.settimeout(30)
            c.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert read_answer(c).startswith(b"HTTP/1.1 200 ")
        wait_until(lambda: held(bridge) <= 100 and held(local) <= 128, 10, "connections over the limits to be closed")
        assert held(bridge) >= 90 and held(local) == 128
    finally:
        for c in bridge + local:
            c.close()
    s.assert_serving()


def test_page_requests_close_their_connection(agent_bin, lan, workdir):
    # A request a web page made (Origin, Sec-Fetch-Site other than none)
    # gets "Connection: close" and its connection ends with the answer: a
    # page in the VM's browser cannot keep connections open, idle, and
    # fill its user's loopback share.  Other clients keep theirs alive: a
    # second request on the connection is answered (idle connections live
    # 120 s here, so nothing else closes them).
    s = Server(lan, agent_argv(agent_bin, workdir, f"token={TOKEN}", "http_timeout_s=120"))
    cases = [(b"", False), (b"Sec-Fetch-Site: none\r\n", False),
             (b"Sec-Fetch-Site: cross-site\r\n", True), (b"Origin: http://page.example\r\n", True),
             (b"Sec-Fetch-Site: same-origin\r\n", True)]
    for path in ("/health", "/health/ready"):
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        for extra, closes in cases:
            with lan.guest.entered():
                c = socket.create_connection(("127.0.0.1", PORT), timeout=30)
            with c:
                c.sendall(request + extra + b"\r\n")
                head = read_answer(c)
                assert (b"\r\nconnection: close" in head.lower()) == closes, (path, extra, head)
                if closes:
                    assert c.recv(1) == b"", (path, extra)
                else:
                    c.sendall(request + b"\r\n")
                    assert read_answer(c).startswith(b"HTTP/1.1 200 "), (path, extra)
    s.assert_serving()


def test_page_long_polls_are_answered_at_once(agent_bin, lan, workdir):
    # A page's fetches of /health/ready?wait= while the chain is not ready
    # (a service that never is, here) were held for the whole wait: 64 of
    # them, six per loopback address, filled the browser user's loopback
    # share, and the OAuth redirect that came next was closed unanswered.
    # A page's long poll is answered at once (503 and a close); the host's
    # (no Origin, no Sec-Fetch-*) still waits.
    argv = agent_argv(agent_bin, workdir, "http_timeout_s=120")
    with open(os.path.join(workdir, "services.json"), "w") as f:
        f.write('{"services": [{"name": "never", "argv": ["/bin/sleep", "1000"], "probe": {"type": "fd-line"},'
                ' "restart": "never", "ready_timeout_ms": 600000}]}')
    s = Server(lan, argv)
    page = b"Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: empty\r\n"
    socks = []
    try:
        for i in range(64):
            addr = f"127.0.0.{1 + i // 6}"
            with lan.guest.entered():
                c = socket.create_connection((addr, PORT), timeout=30)
            socks.append(c)
            c.sendall(f"GET /health/ready?wait=300 HTTP/1.1\r\nHost: {addr}:{PORT}\r\n".encode() + page + b"\r\n")
        for c in socks:
            assert read_answer(c).startswith(b"HTTP/1.1 503 ")
            assert c.recv(1) == b""
        # The redirect still finds room (a wrong state: 400, not a close).
        with lan.guest.entered():
            c = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        with c:
            c.sendall(b"GET /oauth/callback?code=c&state=s-0123456789 HTTP/1.1\r\nHost: localhost\r\n"
                      b"Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Dest: document\r\n\r\n")
            assert read_answer(c).startswith(b"HTTP/1.1 400 ")
        # Not a page: held until the wait ends.
        with lan.guest.entered():
            c = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        with c:
            c.sendall(b"GET /health/ready?wait=300 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            wait_until(lambda: s.metric("vmba_http_waiting_requests") == 1, 10, "the host's wait to be held")
        s.assert_serving()
    finally:
        for c in socks:
            c.close()


def test_slow_drip(agent):
    # 64 connections (the per-IP limit) each dripping a request one byte
    # every 0.2 s: every byte comes well within the 2 s idle timeout, but a
    # request must also arrive whole within http_timeout_s (2 s), so the
    # agent closes them long before the ~50 s the drip would take.
    req = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
    with agent.lan.host.entered():
        socks = [socket.create_connection((GUEST, PORT), timeout=5) for _ in range(64)]
    for s in socks:
        s.setblocking(False)   # a blocking recv would stall the drip into an idle timeout
    closed = set()
    try:
        for i in range(len(req) - 1):
            for k, s in enumerate(socks):
                if k in closed:
                    continue
                try:
                    s.send(req[i:i + 1])
                    data = s.recv(100, socket.MSG_DONTWAIT)
                    assert data == b"", f"a dripped request was answered: {data!r}"
                    closed.add(k)
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    closed.add(k)
            if len(closed) == len(socks):
                break
            if i % 5 == 0:
                agent.assert_serving(1)
            time.sleep(0.2)
        assert len(closed) == len(socks), f"only {len(closed)} of {len(socks)} dropped"
    finally:
        for s in socks:
            s.close()
    agent.assert_serving()


def test_slow_drip_on_a_kept_alive_connection(agent):
    # The deadline starts again with each request of a kept-alive
    # connection: two answered requests (the connection stays open), then
    # a third dripped one byte every 0.2 s is closed at http_timeout_s
    # (2 s) after the second answer, long before the ~40 s the drip would
    # take, and not before its first bytes were taken.
    req = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
    with agent.lan.host.entered():
        c = socket.create_connection((GUEST, PORT), timeout=5)
    try:
        for _ in range(2):
            # The third request's deadline counts from the second's answer:
            # from after this.
            sent = time.monotonic()
            c.sendall(req)
            head = read_answer(c)
            assert head.startswith(b"HTTP/1.1 200 ") and b"connection: close" not in head.lower(), head
        c.setblocking(False)
        for i in range(len(req) - 1):
            if i == 0:
                late = time.monotonic() - sent >= 2  # http_timeout_s (httpserver.agent_argv)
            try:
                c.send(req[i:i + 1])
                assert c.recv(100, socket.MSG_DONTWAIT) == b"", "a dripped request was answered"
                break
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the dripped third request was never cut off")
        # Closed at the first byte is a refusal at once, unless this test
        # was held past the deadline before it sent that byte (a loaded
        # machine): then the deadline's close is what it finds first.
        assert i > 0 or late, "closed at once, not by the deadline"
    finally:
        c.close()
    agent.assert_serving()


def test_slow_idle_after_request_line(agent):
    # A request line, then nothing: the idle timeout drops it too.
    with agent.lan.host.entered():
        s = socket.create_connection((GUEST, PORT), timeout=10)
    try:
        s.sendall(b"GET /health HTTP/1.1\r\n")
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(100) == b""
    finally:
        s.close()
    agent.assert_serving()
