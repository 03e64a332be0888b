"""Hostile HTTP against the real agent (and, for the cases that need test
routes, against tests/netns/http-driver): over-long URL, huge header block,
a 10 MB body refused from its Content-Length before any of it is read,
framing a proxy would read otherwise, unknown routes, wrong methods, token
401 and allow_from 403 on a control route — and /health keeps answering
throughout, probed from loopback inside the guest while the attacker comes
from the host side of the veth, so the per-IP limit bounds the attacker and
not the probe.  How fast it answers meanwhile is bench/health's business:
no assertion here is about time.  Connections held, counted and timed out
(idle, slow-drip) are test_http_connections.py's.

Layout: Lan(): guest namespace (agent, eth0 = 10.77.0.2/24, probes from
127.0.0.1) and host namespace (attacker, 10.77.0.1), made by
tests/lib/httpserver.py.
"""
import contextlib
import errno
import http.client
import json
import os
import pathlib
import re
import socket
import subprocess

import pytest

from elf import is_static
from httpserver import GUEST, PORT, TOKEN, Server, agent_argv, agent_server, guest_lan, scratch_dir
from netns import DEADLINE_SCALE, bind_errno, wait_until


def driver_bin(agent_bin):
    # build/agent/vm-browser-agent -> build/tests/netns/http-driver
    p = pathlib.Path(agent_bin).resolve().parents[1] / "tests" / "netns" / "http-driver"
    if not os.access(p, os.X_OK):
        pytest.fail(f"{p} not built")
    return str(p)


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


@pytest.fixture
def driver(agent_bin, lan):
    s = Server(lan, [driver_bin(agent_bin), "--listen", "0.0.0.0", "--port", str(PORT),
                     "--timeout", "2", "--token", TOKEN])
    yield s
    s.close()


def raw(ns, host, data, timeout=5):
    """Sends data on a fresh connection, returns everything read until the
    server closes it (b"" when it reset it before any reply).  A server
    that neither answers nor closes within the timeout fails the test:
    silence is no refusal."""
    timeout *= DEADLINE_SCALE
    with ns.entered():
        s = socket.create_connection((host, PORT), timeout=timeout)
    try:
        # The server may answer and close before reading everything: then
        # the send fails and the reply may or may not survive the reset.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(data)
        out = b""
        try:
            with contextlib.suppress(ConnectionResetError):
                while chunk := s.recv(65536):
                    out += chunk
        except socket.timeout:
            raise AssertionError(f"no close within {timeout:.0f} s; read so far: {out[:200]!r}") from None
        return out
    finally:
        s.close()


def status_of(response):
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.") else None


def body_of(response):
    return response.split(b"\r\n\r\n", 1)[1]


# --- routes ------------------------------------------------------------------

def test_health_shape(agent):
    status, headers, h = agent.json("GET", "/health")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert list(h) == ["status", "version", "build_id", "uptime_s", "timestamp", "activeSessions",
                       "auth", "desktop", "network", "boot", "services", "clis"]
    assert (h["auth"], h["desktop"]) == ("token", "no-secret")
    assert h["build_id"] is None and h["activeSessions"] == 0 and h["services"] == {}
    assert isinstance(h["clis"], dict)  # test_cli_pins.py has its contents
    assert h["network"]["status"] == "not_configured"
    assert h["boot"]["exec_ms"] > 0 and h["boot"]["http_ms"] >= h["boot"]["exec_ms"]
    # No secret anywhere in it.
    assert TOKEN not in json.dumps(h)


def test_public_routes_refuse_a_rebound_name(agent):
    """A page that rebinds its own name to the agent's address would read
    /health and /metrics as its origin's: a Host that is no IP literal,
    localhost or configured name gets 403 on every route, and so does an
    IPv4 address written as IPv6 (Firefox sends no Sec-Fetch-* to it).
    The connection is closed after it, though the client asked for none."""
    for path in ("/health", "/metrics", "/health/ready"):
        for bad in (f"rebound.example:{PORT}", f"[::ffff:127.0.0.2]:{PORT}", "[::ffff:7f00:1]"):
            out = raw(agent.lan.host, GUEST, f"GET {path} HTTP/1.1\r\nHost: {bad}\r\n\r\n".encode())
            assert status_of(out) == 403 and body_of(out) == b'{"error":"host not allowed"}', (path, out)
            assert b"\r\nConnection: close\r\n" in out, (path, out)
        for host in (f"{GUEST}:{PORT}", "localhost", f"[::1]:{PORT}"):
            out = raw(agent.lan.host, GUEST, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                                             "Connection: close\r\n\r\n".encode())
            assert status_of(out) in (200, 503), (path, host, out)


def test_unknown_route_404_and_wrong_method_405(agent):
    status, headers, body = agent.json("GET", "/nope")
    assert (status, body) == (404, {"error": "Not Found"})
    assert headers["Content-Type"] == "application/json"
    status, headers, body = agent.json("DELETE", "/health")
    assert (status, body) == (405, {"error": "method not allowed"})
    assert headers["Allow"] == "GET, HEAD"
    status, headers, body = agent.json("GET", "/shutdown")
    assert (status, body) == (405, {"error": "method not allowed"})
    assert headers["Allow"] == "POST"
    # HEAD is served by the GET route, without a body.
    status, headers, body = agent.request("HEAD", "/health")
    assert status == 200 and body == b""
    agent.assert_serving()


def test_metrics_counts_requests(agent):
    for _ in range(3):
        agent.request("GET", "/nope")
    agent.request("DELETE", "/health")
    status, headers, body = agent.request("GET", "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    lines = body.decode().splitlines()
    assert 'vmba_http_requests_total{route="other",status="404"} 3' in lines
    assert 'vmba_http_requests_total{route="/health",status="405"} 1' in lines
    assert "# TYPE vmba_uptime_seconds gauge" in lines
    assert any(line.startswith('vmba_boot_phase_milliseconds{phase="http"} ') for line in lines)


# --- access control ------------------------------------------------------------

def test_control_route_token_401_and_allow_from_403(agent):
    # From the host bridge: outside allow_from (loopback + ip= gateway; no
    # ip= here), refused even with the right token, before the handler runs.
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, _, body = agent.json("POST", "/shutdown", headers=auth, src="host")
    assert (status, body) == (403, {"error": "forbidden"})
    # From loopback: the token decides.
    status, headers, body = agent.json("POST", "/shutdown")
    assert (status, body) == (401, {"error": "unauthorized"})
    assert headers["WWW-Authenticate"] == "Bearer"
    for bad in ("Bearer wrong", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer"):
        status, _, body = agent.json("POST", "/shutdown", headers={"Authorization": bad})
        assert (status, body) == (401, {"error": "unauthorized"}), bad
    # /health needs neither.
    assert agent.request("GET", "/health", src="host")[0] == 200
    agent.assert_serving()
    # The right token from loopback reaches the handler.
    status, _, body = agent.json("POST", "/shutdown", headers=auth)
    assert (status, body) == (202, {"status": "stopping"})
    agent.proc.wait(timeout=15 * DEADLINE_SCALE)


def test_allow_from_configured(agent_bin, lan, workdir):
    s = Server(lan, agent_argv(agent_bin, workdir, f"token={TOKEN}", "allow_from=10.77.0.0/30"))
    # Inside allow_from: now the token decides.
    status, _, body = s.json("POST", "/shutdown", src="host")
    assert (status, body) == (401, {"error": "unauthorized"})
    # Loopback is no longer implied once allow_from is set.
    status, _, body = s.json("POST", "/shutdown", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (status, body) == (403, {"error": "forbidden"})
    s.assert_serving()


def test_allow_from_default_admits_gateway_with_netinit_off(agent_bin, lan, workdir):
    # Under systemd netinit is off (something else configured eth0 from the
    # same ip=), yet the default allow_from must still admit the host, the
    # ip= gateway.  Regression: the plan was parsed only when applied.
    ip = f"ip={GUEST}::10.77.0.1:255.255.255.0::eth0:off"
    s = Server(lan, agent_argv(agent_bin, workdir, f"token={TOKEN}", kernel_cmdline=ip))
    status, _, body = s.json("GET", "/health", src="host")
    assert status == 200 and body["network"]["status"] == "not_configured", body
    status, _, body = s.json("POST", "/shutdown", headers={"Authorization": f"Bearer {TOKEN}"}, src="host")
    assert (status, body) == (202, {"status": "stopping"})
    s.proc.wait(timeout=15 * DEADLINE_SCALE)


def test_allow_from_invalid_is_a_config_error(agent_bin, lan, workdir):
    # Caught when the config loads (not PID 1: exit 2 naming the key), not
    # left for the HTTP server to discover.
    p = lan.guest.popen(agent_argv(agent_bin, workdir, f"token={TOKEN}", "allow_from=10.77.0.0/33"),
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = p.communicate(timeout=10 * DEADLINE_SCALE)
    assert p.returncode == 2
    assert b'key "allow_from": expected a list of addresses or CIDRs\n' in err, err


def test_allow_from_invalid_fails_closed(agent_bin, lan):
    # The HTTP server's own check (a Config not made by config.c): a bad
    # entry must neither stop /health nor open the control routes.
    s = Server(lan, [driver_bin(agent_bin), "--listen", "0.0.0.0", "--port", str(PORT),
                     "--timeout", "2", "--token", TOKEN, "--allow", "10.77.0.0/33"])
    try:
        status, _, body = s.json("POST", "/test/control", headers={"Authorization": f"Bearer {TOKEN}"})
        assert (status, body) == (403, {"error": "forbidden"})
        s.assert_serving()
    finally:
        s.close()


def test_loopback_route_403_from_outside(driver):
    status, _, body = driver.json("GET", "/test/loopback", src="host")
    assert (status, body) == (403, {"error": "forbidden"})
    status, _, body = driver.json("GET", "/test/loopback")
    assert (status, body) == (200, {"ok": True})


# A uid no account and no other run has: any local user of the VM.
LOCAL_UID = 3_100_000


@pytest.mark.parametrize("listen", ["0.0.0.0", "127.0.0.1"])
def test_no_local_user_takes_the_port_on_ipv6(agent_bin, lan, workdir, listen):
    """On 0.0.0.0 (or 127.0.0.1) the agent listens on IPv4 alone: without
    more, any local user could listen on [::1]:8080 (or [::]:8080
    IPv6-only), and a client of localhost:8080 that tries ::1 first
    (glibc's order: curl, Python; Firefox 153 takes 127.0.0.1) would hand
    it its request: a Bearer token, an OAuth code and state.  The agent
    holds the port's IPv6 side too, unlistened: the client is refused
    there and comes to 127.0.0.1."""
    ns = lan.guest
    if ns.run("cat", "/proc/sys/net/ipv6/conf/lo/disable_ipv6", check=False).stdout.strip() != "0":
        pytest.skip("no IPv6 in the test namespace")
    Server(lan, agent_argv(agent_bin, workdir, f"token={TOKEN}", f"http_listen={listen}"))
    # Served once its setup is done, the hold (taken right after the IPv4
    # socket listens) included: Server() waits only for the listen, and a
    # bind between the two found the IPv6 side free.
    with ns.entered():
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10 * DEADLINE_SCALE)
        c.connect()
    with contextlib.closing(c):
        c.request("GET", "/health")
        assert c.getresponse().status == 200
    for address, v6only in (("::1", False), ("::1", True), ("::", True), ("::", False), ("127.0.0.1", False)):
        for reuse in (False, True):
            with ns.entered():
                got = bind_errno(address, PORT, v6only, reuse, uid=LOCAL_UID)
            assert got == errno.EADDRINUSE, (address, v6only, reuse, got)
    # A client of localhost (::1 first, then 127.0.0.1) is served.
    with ns.entered():
        c = http.client.HTTPConnection("localhost", PORT, timeout=10 * DEADLINE_SCALE)
        c.connect()
    with contextlib.closing(c):
        c.request("GET", "/health")
        assert c.getresponse().status == 200
        assert c.sock.getpeername()[0] == "127.0.0.1"


@pytest.mark.parametrize("listen, taken", [("0.0.0.0", "::"), ("127.0.0.1", "::1")])
def test_the_ipv6_side_taken_before_start_is_named(agent_bin, lan, workdir, listen, taken):
    """A local process that listens on the port's IPv6 side before the
    agent starts keeps it: the agent serves on IPv4 and says where the
    hold failed, address and port, so an operator can find the squatter."""
    ns = lan.guest
    if ns.run("cat", "/proc/sys/net/ipv6/conf/lo/disable_ipv6", check=False).stdout.strip() != "0":
        pytest.skip("no IPv6 in the test namespace")
    with ns.entered():
        os.seteuid(LOCAL_UID)
        try:
            sq = socket.socket(socket.AF_INET6)
        finally:
            os.seteuid(0)
    with sq:
        sq.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sq.bind((taken, PORT))
        sq.listen()
        server = Server(lan, agent_argv(agent_bin, workdir, f"token={TOKEN}", f"http_listen={listen}"))
        want = (f"Another local process holds the HTTP port on IPv6 ([{taken}]:{PORT}): clients of localhost that "
                "try IPv6 first reach it, not the agent.")
        wait_until(lambda: want in server.log_text(), 10, "the squatted IPv6 side named")
        assert server.request("GET", "/health")[0] == 200


# --- limits --------------------------------------------------------------------

def test_long_url_414(agent):
    status, _, body = agent.json("GET", "/health?x=" + "a" * 10_000, src="host")
    assert (status, body) == (414, {"error": "URI too long"})
    # Far beyond the connection memory: MHD answers 414 itself (HTML body).
    out = raw(agent.lan.host, GUEST, b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert status_of(out) == 414
    agent.assert_serving()


def test_huge_header_431(agent):
    req = (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n")
    # libmicrohttpd answers a header block over its connection memory with
    # 431 (its own body) and closes; the unread rest of what the client
    # sent makes the close a reset, which can overtake the reply: then the
    # client sees the connection dropped.  Either way, never a 200.
    out = raw(agent.lan.host, GUEST, req)
    assert status_of(out) == 431 or out == b""
    # Many headers, each small, add up the same way.
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(1000))
    out = raw(agent.lan.host, GUEST, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many + b"\r\n")
    assert status_of(out) == 431 or out == b""
    # Over http_max_header (16 KiB) but within MHD's memory: the agent's
    # own 431, with a JSON body.
    status, _, body = agent.json("GET", "/health", headers={"X-Big": "b" * 17_000}, src="host")
    assert (status, body) == (431, {"error": "request header fields too large"})
    status, _, body = agent.json("GET", "/health", headers={"X-Big": "b" * 15_000}, src="host")
    assert status == 200
    # Just over MHD's memory (36 KiB, pool_size() in agent/http/http.c)
    # and sent whole before the reply: its 431.
    out = raw(agent.lan.host, GUEST, b"GET /health HTTP/1.1\r\nX-Big: " + b"b" * 38_000 + b"\r\n\r\n")
    assert status_of(out) == 431
    agent.assert_serving()


def loopback_raw(agent, data):
    """raw() from the agent's own loopback, where the token admits."""
    return raw(agent.lan.guest, "127.0.0.1", data)


AUTH = f"Authorization: Bearer {TOKEN}\r\n".encode()
JSON = b"Content-Type: application/json\r\n"


def test_ambiguous_framing_is_refused_and_closed(agent):
    """What libmicrohttpd reads its own way, a proxy in front another (or
    that cut a path or value short), gets a 400 (an unknown transfer
    coding a 501) at once, before the route runs, and the connection is
    closed: nothing behind it is read as a request of its own."""
    smuggled = b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    cases = [
        # "/shutdown%00.html" reached the routes as "/shutdown".
        (b"POST /shutdown%00.html HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + b"\r\n", 400,
         "escaped NUL in the path"),
        (b"GET /health%00x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "escaped NUL in the path"),
        # A blank before the colon: a field named "Host ", and no Host.
        (b"GET /health HTTP/1.1\r\nHost : evil.example\r\n\r\n", 400, "malformed header field"),
        (b"GET /health HTTP/1.1\r\nHost\t: evil.example\r\n\r\n", 400, "malformed header field"),
        (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\rb\r\n\r\n", 400, "malformed header field"),
        (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n", 400, "more than one Host"),
        (b"GET /health HTTP/1.1\r\n\r\n", 400, "Host missing"),
        (b"POST /open-url HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + JSON +
         b"Content-Length: 2\r\nContent-Length: 60\r\n\r\n{}" + smuggled, 400, "more than one Content-Length"),
        (b"POST /open-url HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + JSON +
         b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", 400, "more than one Content-Length"),
        (b"POST /open-url HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + JSON +
         b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 400,
         "both Content-Length and Transfer-Encoding"),
        (b"POST /open-url HTTP/1.0\r\nHost: 127.0.0.1\r\n" + AUTH + JSON +
         b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400,
         "Transfer-Encoding in an HTTP/1.0 request"),
        # Read until the connection ends, before: no answer at all.
        (b"POST /open-url HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + JSON +
         b"Transfer-Encoding: gzip\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 501,
         "only the chunked Transfer-Encoding is supported"),
        (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501,
         "only the chunked Transfer-Encoding is supported"),
        # libmicrohttpd would not de-chunk it either: read until the end.
        (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked \r\n\r\n0\r\n\r\n", 501,
         "only the chunked Transfer-Encoding is supported"),
    ]
    for req, status, error in cases:
        # Before, some of these were never answered: the request deadline
        # closed them silently (raw() then reads no status).
        out = loopback_raw(agent, req)
        assert status_of(out) == status and json.loads(body_of(out)) == {"error": error}, (req, out)
        assert out.count(b"HTTP/1.1 ") == 1, (req, out)  # nothing behind it answered
        assert b"\r\nConnection: close\r\n" in out, (req, out)
    # Still well-formed: HTTP/1.0 without Host, a chunked JSON body.
    assert status_of(loopback_raw(agent, b"GET /health HTTP/1.0\r\n\r\n")) == 200
    out = loopback_raw(agent, b"POST /open-url HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + JSON +
                       b"Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert status_of(out) == 400 and b"url" in body_of(out), out  # the handler read the body
    agent.assert_serving()


def assert_refused_alone(out, req):
    """A 400 with Connection: close, and nothing behind it answered."""
    assert status_of(out) == 400, (req, out)
    assert out.count(b"HTTP/1.1 ") == 1, (req, out)
    assert b"\r\nConnection: close\r\n" in out, (req, out)


# libmicrohttpd's own answer to a request it cannot parse (not a route's).
MHD_MALFORMED = b"<title>Request malformed</title>"


def test_header_lines_a_proxy_reads_otherwise(agent, agent_bin):
    """An empty field name as the first field, and an obs-fold Host
    (RFC 9112 §5.2), are refused with a 400 and a close.  Debian's shared
    libmicrohttpd 0.9.75 takes them in (a field named "", a Host lost to
    the fold) and the gate refuses what it is left with; the static
    build's libmicrohttpd, patched (packaging/static/patches/microhttpd),
    refuses them itself."""
    static = is_static(agent_bin)
    cases = [
        (b"GET /health HTTP/1.1\r\n: v\r\nHost: 127.0.0.1\r\n\r\n", "malformed header field"),
        (b"GET /health HTTP/1.1\r\nHost: evil.example\r\n 127.0.0.1\r\n\r\n", "Host missing"),
    ]
    for req, error in cases:
        out = loopback_raw(agent, req)
        assert_refused_alone(out, req)
        if not static:
            assert json.loads(body_of(out)) == {"error": error}, (req, out)
    agent.assert_serving()


def test_header_lines_the_gate_cannot_see(agent, agent_bin):
    """What Debian's libmicrohttpd 0.9.75 hides from the gate, the static
    build's patched one refuses with a 400 and a close: an empty field
    name after the first field (cut at its colon into an empty line, it
    ended the header block, and the fields behind it were read as a
    request of their own), an obs-fold (joined to the field name), a NUL
    inside a line (it cut the line short)."""
    if not is_static(agent_bin):
        pytest.skip("needs the static binary: its libmicrohttpd is patched, Debian's is not")
    smuggled = b"POST /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + b"Content-Length: 0\r\n\r\n"
    cases = [
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n: v\r\n" + smuggled,
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n\tb\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x00b\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\x00.evil.example\r\n\r\n",
        b"GET /health\x00/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        # In a chunked body's trailer, too.
        b"POST /open-url HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + JSON +
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: a\r\n b\r\n\r\n",
    ]
    for req in cases:
        out = loopback_raw(agent, req)
        assert_refused_alone(out, req)
        assert MHD_MALFORMED in body_of(out), (req, out)  # refused before any route
    agent.assert_serving()
    # Still well-formed: a value with inner blanks; a trailer field (the
    # handler reads the body).
    out = loopback_raw(agent, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a \t b\r\n"
                       b"Connection: close\r\n\r\n")
    assert status_of(out) == 200, out
    out = loopback_raw(agent, b"POST /open-url HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + JSON +
                       b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                       b"2\r\n{}\r\n0\r\nX-T: a\r\n\r\n")
    assert status_of(out) == 400 and b"url" in body_of(out), out


def test_libmicrohttpds_own_answers_are_sent_once(agent, agent_bin):
    """What libmicrohttpd answers itself, before the gate: a Content-Length
    that is not digits (400) or past 64 bits (413), and a query of more
    tiny arguments than its memory holds (414).  Debian's 0.9.75 sends the
    first two's header block twice, the second inside the counted body, and
    loses the third (the connection closes at its deadline); the static
    build's, patched, sends each once, with a close."""
    static = is_static(agent_bin)
    post = b"POST /open-url HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + JSON
    cases = [(post + b"Content-Length: abc\r\n\r\n{}", 400), (post + b"Content-Length: 1x\r\n\r\n{}", 400),
             (post + b"Content-Length: 99999999999999999999999\r\n\r\n{}", 413)]
    if static:
        # 64 bytes of its memory (36 KiB) each, within http_max_url.
        cases.append((b"GET /health?" + b"&".join([b"a"] * 1500) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414))
    for req, status in cases:
        out = loopback_raw(agent, req)
        assert status_of(out) == status, (req[:80], out)
        assert b"\r\nConnection: close\r\n" in out, (req[:80], out)
        if static:
            assert out.count(b"HTTP/1.1 ") == 1, (req[:80], out)
            length = int(re.search(rb"\r\nContent-Length: (\d+)\r\n", out).group(1))
            assert len(body_of(out)) == length, (req[:80], out)
    agent.assert_serving()


def test_request_target_forms(agent):
    """RFC 9112 §3.2: the absolute-form a server must accept is routed by
    its path, and its authority is the Host checked (the Host field is
    ignored, though still required); authority-form (CONNECT), "*"
    (OPTIONS), other schemes and a target with a blank or a control byte
    are a 400 that names the target."""
    host = b"Host: 127.0.0.1\r\nConnection: close\r\n"
    out = loopback_raw(agent, b"GET http://127.0.0.1:8080/health HTTP/1.1\r\n" + host + b"\r\n")
    assert status_of(out) == 200 and json.loads(body_of(out))["version"], out
    out = loopback_raw(agent, b"GET HTTP://localhost/health HTTP/1.1\r\nHost: rebind.example\r\n"
                       b"Connection: close\r\n\r\n")
    assert status_of(out) == 200, out
    out = loopback_raw(agent, b"GET http://rebind.example:8080/health HTTP/1.1\r\n" + host + b"\r\n")
    assert status_of(out) == 403 and json.loads(body_of(out)) == {"error": "host not allowed"}, out
    # A control route: the handler reads the body.
    out = loopback_raw(agent, b"POST http://127.0.0.1:8080/open-url HTTP/1.1\r\n" + host + AUTH + JSON +
                       b"Content-Length: 2\r\n\r\n{}")
    assert status_of(out) == 400 and b"url" in body_of(out), out
    # The form is the raw target's: unescaped, the last four would read as
    # /health, or as /health for 127.0.0.1 (whatever Host says).
    for line in [b"OPTIONS * HTTP/1.1", b"CONNECT 127.0.0.1:8080 HTTP/1.1",
                 b"GET https://127.0.0.1:8080/health HTTP/1.1", b"GET http://user@127.0.0.1/health HTTP/1.1",
                 b"GET http:///health HTTP/1.1", b"GET health HTTP/1.1", b"GET %2Fhealth HTTP/1.1",
                 b"GET http%3A%2F%2F127.0.0.1/health HTTP/1.1", b"GET http://127.0.0.1%2Fhealth HTTP/1.1",
                 b"GET http://localhost%2F@evil.example/health HTTP/1.1",
                 # libmicrohttpd ends the target at the last space: these
                 # were answered for "/health?a b" (200) and "/nope
                 # /health", where a proxy reads "/health?a" and "/nope".
                 b"GET /health?a b HTTP/1.1", b"GET /nope /health HTTP/1.1",
                 b"GET /health?a\x01b HTTP/1.1", b"GET /health?a\x7fb HTTP/1.1"]:
        out = loopback_raw(agent, line + b"\r\n" + host + b"\r\n")
        assert status_of(out) == 400 and json.loads(body_of(out)) == {"error": "invalid request target"}, \
            (line, out)
    agent.assert_serving()


def test_a_path_with_routes_of_its_own_is_not_a_prefix_routes(agent):
    """POST /auth/callback is a 405 (GET only, and no HEAD: it would spend
    the code), not a login of provider "callback" under POST /auth/."""
    out = loopback_raw(agent, b"POST /auth/callback HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + JSON +
                       b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    assert status_of(out) == 405 and b"\r\nAllow: GET\r\n" in out, out
    out = loopback_raw(agent, b"POST /auth/acme HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + JSON +
                       b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    # The prefix route still takes the others: its handler reads the body.
    assert status_of(out) == 400 and json.loads(body_of(out)) == {"error": "sessionId is required"}, out


def test_big_body_413_before_reading(agent):
    # Headers only, announcing 10 MB: the answer must come without a single
    # body byte sent, so the agent decided from Content-Length.
    head = (b"POST /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode() +
            b"\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n")
    with agent.lan.guest.entered():
        s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    try:
        s.sendall(head)
        out = b""
        while b"\r\n\r\n" not in out or len(body_of(out)) < len(b'{"error":"request body too large"}'):
            chunk = s.recv(65536)
            assert chunk, f"closed early: {out!r}"
            out += chunk
        assert status_of(out) == 413
        assert json.loads(body_of(out)) == {"error": "request body too large"}
        # The server does not read the rest: it closes the connection (a
        # server waiting for the body would keep it open: the read times
        # out and the test fails).
        s.settimeout(30)
        try:
            rest = s.recv(65536)
        except ConnectionResetError:
            rest = b""
        assert rest == b"", rest
    finally:
        s.close()
    # The handler never ran: POST /shutdown did not stop the agent.
    agent.assert_serving()


def echo_counters(driver):
    """The answers the driver counted for /test/echo, by status."""
    status, _, c = driver.json("GET", "/test/counters")
    assert status == 200, c
    return {k.split()[1]: v for k, v in c.items() if k.split()[0] == "/test/echo"}


def test_query_argument_with_an_escaped_nul(driver):
    """An escaped NUL is not read as the end of an argument (the handler
    is told, and answers 400); an escaped '%' followed by "00" is text."""
    assert driver.json("POST", "/test/echo?q=1%00x", body=b"")[::2] == (400, {"error": "q holds an escaped NUL"})
    assert driver.json("POST", "/test/echo?q=1%2500", body=b"")[::2] == \
        (200, {"size": 0, "query": "q=1%2500", "q": "1%00"})


def test_body_within_limit_and_chunked_overflow(driver):
    status, _, body = driver.json("POST", "/test/echo?q=1", body=b"x" * 1000)
    assert (status, body) == (200, {"size": 1000, "query": "q=1", "q": "1"})
    # Chunked, no Content-Length, growing past http_max_body (64 KiB): the
    # same 413 as from a Content-Length, once the body has ended (the rest
    # is read and dropped, never buffered), and the connection closed.
    chunk = b"%x\r\n%s\r\n" % (16384, b"y" * 16384)
    out = raw(driver.lan.host, GUEST,
              b"POST /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 8 +
              b"0\r\n\r\n")
    assert status_of(out) == 413, out[:200]
    assert json.loads(body_of(out)) == {"error": "request body too large"}
    assert echo_counters(driver) == {"200": 1, "413": 1}
    # Just within the limit, chunked: the handler gets all of it.
    out = raw(driver.lan.host, GUEST,
              b"POST /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
              chunk * 4 + b"0\r\n\r\n")
    assert status_of(out) == 200, out[:200]
    assert json.loads(body_of(out))["size"] == 65536
    driver.assert_serving()


def test_chunked_overflow_without_our_answer_is_not_counted(driver):
    # Past the limit, then a malformed chunk: libmicrohttpd answers that
    # itself (400) and closes.  No 413 was sent, so none is counted.
    chunk = b"%x\r\n%s\r\n" % (16384, b"y" * 16384)
    out = raw(driver.lan.host, GUEST,
              b"POST /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 5 +
              b"zz\r\n")
    assert status_of(out) == 400, out[:200]
    assert echo_counters(driver) == {}
    driver.assert_serving()


def test_deferred_reply(driver):
    # A handler that suspends and replies from a timer 50 ms later; /health
    # is served meanwhile.
    with driver.lan.guest.entered():
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
        c.request("GET", "/test/suspend")
        driver.assert_serving(2)
        r = c.getresponse()
        assert (r.status, json.loads(r.read())) == (200, {"deferred": "yes"})
        c.close()
    status, _, body = driver.json("GET", "/test/fail")
    assert (status, body) == (409, {"error": "request failed"})
    status, _, body = driver.json("GET", "/test/prefix/abc?x=1")
    assert (status, body) == (200, {"size": 0, "query": "x=1", "q": None})


def test_deferred_reply_to_a_client_gone(driver):
    # A client that sends /test/suspend and closes at once: its request is
    # answered (400) and freed when the server sees it gone, well before
    # the driver's 50 ms timer, which replied to the freed request (a
    # use-after-free that an ASan build of the driver reports and dies
    # of); its abort callback now cancels the timer.  A second deferred
    # request, suspended after the first was freed, ends after that timer
    # was due; the driver then still serves and exits 0.
    with driver.lan.guest.entered():
        c = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    c.sendall(b"GET /test/suspend HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    c.close()
    # Suspended, and its connection gone (the one left is the asking one):
    # its timer is due before the next one's.
    wait_until(lambda: driver.json("GET", "/test/state")[2] == {"suspends": 1, "connections": 1}, 10,
               "the closed client's request to be answered and freed")
    with driver.lan.guest.entered():
        h = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
        h.request("GET", "/test/suspend")
        r = h.getresponse()
        assert (r.status, json.loads(r.read())) == (200, {"deferred": "yes"})
        h.close()
    driver.assert_serving()
    driver.proc.terminate()
    assert driver.proc.wait(timeout=15 * DEADLINE_SCALE) == 0, driver.log_text()


def test_suspended_reply_that_cannot_be_built(driver):
    # A suspended request whose reply fails to build (json_pack() returned
    # NULL, as when out of memory): it is answered all the same, and its
    # abort callback does not run after its owner let go (the driver exits
    # 3 on SIGTERM if it does).
    status, _, body = driver.json("GET", "/test/suspend-nomem")
    assert (status, body) == (500, {"error": "internal error"})
    status, _, c = driver.json("GET", "/test/counters")
    assert c["/test/suspend-nomem 500"] == 1
    driver.assert_serving()
    driver.proc.terminate()
    assert driver.proc.wait(timeout=15 * DEADLINE_SCALE) == 0, driver.log_text()


def test_error_bodies_have_one_builder(driver):
    # The gate's answers and the handlers' come from the same JSON builder:
    # the same headers, and any message escaped and whole, however long.
    expected = "a \"quoted\" \\ " + "m" * 187
    for path, status, body in (("/nope", 404, {"error": "Not Found"}),
                               ("/test/fail", 409, {"error": "request failed"}),
                               ("/test/long-error", 400, {"error": expected})):
        got, headers, raw_body = driver.request("GET", path)
        assert (got, json.loads(raw_body)) == (status, body), path
        assert headers["Content-Type"] == "application/json", path
        assert headers["Cache-Control"] == "no-store", path
        assert headers["Content-Length"] == str(len(raw_body)), path
