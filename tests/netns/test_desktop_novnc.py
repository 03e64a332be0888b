"""noVNC's side of the desktop as shipped (the real Xvfb, x11vnc,
websockify and dbus-daemon, the agent in a fresh network namespace):
websockify's web server and the port it serves.

- websockify's static server redirects nowhere, lists nothing, closes a
  half-sent request, and a request cannot forge a line of the log;
- a flood of connections from local users is held to the share of all
  sources but the host's and root's, one source to 24 connections (a
  local user is one source, whatever loopback address it takes), and root
  is served meanwhile;
- the port stays the agent's while websockify restarts and over its
  previous run's TIME_WAITs; passed by socket activation (as the shipped
  unit makes it: [::] taking IPv4 too) it stays taken across the agent's
  runs, IPv6 included, and one passed for another port or address, or
  with a services_file, is ignored.
The files, users, X server and secrets of the desktop are in
test_desktop.py."""
import errno
import os
import re
import signal
import socket

import pytest

from desktop import (HeldRequests, children, closed, connect_local, http_answer, http_raw, http_status,
                     wait_no_connections, ws_answer, ws_request, ws_upgrade)
from netns import Netns, bind_errno, need, wait_until
from svagent import DESKTOP_SECRET, Agent, aliased, desktop_agent, free_display, run_uid

NOVNC_UNIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packaging", "systemd",
                          "vm-browser-agent-novnc.socket")


@pytest.fixture
def agent(agent_bin):
    with desktop_agent(agent_bin) as a:
        yield a


# Local users whose sockets connect to websockify (no processes of theirs).
FLOOD_UID = 3_000_000


def test_novnc_web_server_is_no_open_redirect_and_lists_nothing(agent):
    """websockify's static server (the noVNC pages) is open to the network:
    http.server answered "/\\host/%2e%2e" (a directory) with a redirect
    to "/\\host/../", which browsers follow to //host/, and listed
    directories.  Both are 404; the pages are still served."""
    with agent.ns.entered():
        for path, status in ((b"/\\evil.example/%2e%2e/app", b"404"), (b"/app/", b"404"),
                             (b"/vnc.html", b"200")):
            answer = http_raw(agent.novnc_port, b"GET " + path + b" HTTP/1.0\r\n\r\n")
            assert answer.split(b" ", 2)[1] == status, (path, answer[:300])
            assert b"evil.example" not in answer.partition(b"\r\n\r\n")[0], answer[:300]


def test_novnc_half_sent_request_is_closed(agent):
    """websockify forks a process per connection (about 2.5 MB): one that
    never finishes its request is closed (after 10 s) instead of holding
    its process forever.  The socket's own timeout (60 s) only bounds a
    failing test."""
    with agent.ns.entered(), socket.create_connection(("127.0.0.1", agent.novnc_port), timeout=60) as s:
        s.sendall(b"GET / HTTP/1.1\r\n")
        assert s.recv(1) == b""
    wait_until(lambda: agent.log_lines("Request timed out"), 10, "websockify's word for it")


def test_novnc_connection_flood_is_bounded(agent_bin):
    """websockify forks a process per connection, before any token: 105
    connections from seven local users (15 each, under the limit per
    source) that never end their request are held to the share of all
    sources but the host's and root's (OTHERS_MAX, 36, in
    vnc/websockify-main.py), the rest closed unanswered and that said once
    in the log, while root (the agent's readiness probe; here a viewer as
    root) is still served the desktop; once they go, the others are served
    again.  Below the share, websockify runs with RLIMIT_NPROC 64
    (VNC_USER_TASKS_MAX), which holds whatever the share lets through to
    the VNC user's tasks.  vnc_user is a uid of this test's own: the limit
    counts a uid's tasks machine-wide, and another run's agents share
    "daemon"."""
    uid = run_uid()
    with aliased(agent_bin, "vnc_user", uid) as a:
        a.wait_ready()
        ws = a.services()["websockify"]["pid"]
        with open(f"/proc/{ws}/limits") as f:
            assert re.search(r"^Max processes +64 +64 ", f.read(), re.M)
        wait_no_connections(ws)
        with HeldRequests(closed_ok=True) as flood:
            with a.ns.entered():
                for n in range(105):
                    flood.add(connect_local(f"127.0.1.{n % 7 + 1}", a.novnc_port, uid=FLOOD_UID + n % 7))
            wait_until(lambda: sum(map(closed, flood.socks)) == 105 - 36, 30, "all but 36 of the flood closed")
            assert len(children(ws)) == 36
            with a.ns.entered():
                status, frame = ws_upgrade("127.0.0.1", a.novnc_port, f"/websockify?token={DESKTOP_SECRET}")
            assert " 101 " in status and frame.startswith(b"RFB 003."), (status, frame)
            assert sum(map(closed, flood.socks)) == 105 - 36
        lines = wait_until(lambda: a.log_lines("connections held already by sources other than the host and root"),
                           10, "the share logged")
        assert len(lines) == 1 and ": 36 connections held already" in lines[0], lines

        def served():
            with connect_local("127.0.1.1", a.novnc_port, uid=FLOOD_UID) as c:
                return status_of(c) == b"200"
        with a.ns.entered():
            wait_until(served, 30, "a local user served again")


def status_of(c, request=b"GET /vnc.html HTTP/1.0\r\n\r\n"):
    """The status websockify answers request on connection c with; None
    when it closes (or resets) the connection unanswered."""
    return http_status(http_answer(c, request))


def test_novnc_connections_are_limited_per_address(agent_bin):
    """One source holds at most 24 websockify processes at once: the next
    connection from it is closed unanswered (said once in the log), while
    another source is served, the desktop included; once they end, the
    source is served again.  A peer on this machine is its local user,
    whatever loopback address it takes (a provider CLI could take
    127.0.0.2, 127.0.0.3, ...: here the held ones come from 127.0.0.2 as
    one user, the refused ones from 127.0.0.2 and 127.0.0.3 as that user,
    the served ones from 127.0.0.1 as root).  The held connections keep
    their requests going (HeldRequests): websockify's request timeout
    does not end them.  vnc_user is a uid of this test's own, as in the
    flood test (the 64 tasks are a uid's)."""
    uid = run_uid() + 1_000_000
    local = FLOOD_UID + 100
    with aliased(agent_bin, "vnc_user", uid) as agent:
        agent.wait_ready()
        with agent.ns.entered(), HeldRequests() as keeper:
            held = [keeper.add(connect_local("127.0.0.2", agent.novnc_port, uid=local)) for _ in range(24)]
            with connect_local("127.0.0.1", agent.novnc_port) as c:
                assert status_of(c) == b"200"
            status, frame = ws_upgrade("127.0.0.1", agent.novnc_port, f"/websockify?token={DESKTOP_SECRET}")
            assert " 101 " in status and frame.startswith(b"RFB 003."), (status, frame)
            for source in ("127.0.0.2", "127.0.0.3"):
                with connect_local(source, agent.novnc_port, uid=local) as c:
                    assert status_of(c) is None
            assert not any(map(closed, held)), "a held connection was closed"
            keeper.stop()
            # The held ones were being served all along.  Each request is
            # ended before any answer is read: read one by one, the last
            # would wait 23 answers and could reach its 10 s timeout.
            for c in held:
                c.sendall(b"\r\n")
            assert [status_of(c, b"") for c in held] == [b"200"] * 24
        lines = wait_until(lambda: agent.log_lines(f"local user {local}: 24 connections held already"), 10,
                           "the limit logged")
        assert len(lines) == 1, lines
        with agent.ns.entered():
            def served():
                with connect_local("127.0.0.3", agent.novnc_port, uid=local) as c:
                    return status_of(c) == b"200"
            wait_until(served, 30, "127.0.0.2 served again once its connections ended")


def assert_port_untakeable(port):
    """No other local user (FLOOD_UID) can bind port to listen there, in
    the network namespace entered: on any address, IPv6-only on [::] and
    ::1 too (a viewer of localhost or over IPv6 would bring its token to
    whoever listened there), with SO_REUSEADDR or without."""
    for address, v6only in (("0.0.0.0", False), ("127.0.0.1", False), ("::", False), ("::", True),
                            ("::1", True)):
        for reuse in (False, True):
            got = bind_errno(address, port, v6only, reuse, uid=FLOOD_UID)
            assert got == errno.EADDRINUSE, (address, v6only, reuse, got)


def test_novnc_port_stays_the_agents_while_websockify_restarts(agent_bin):
    """The agent listens on the noVNC port itself and hands websockify the
    socket: while websockify is down (a crash here; a new desktop secret
    or a restore restarts it too) no other local user can take the port
    and be sent the next viewer's token, the desktop secret; any address
    of the port, IPv6 included, with SO_REUSEADDR or without.  A viewer that connects
    meanwhile waits and is served.  The backoff holds websockify down
    for 10 s."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    with Agent(agent_bin, "window_manager=", "backoff_initial_ms=10000") as a:
        a.wait_ready()
        os.kill(a.services()["websockify"]["pid"], signal.SIGKILL)
        a.wait_state("websockify", "backoff")
        with a.ns.entered():
            assert_port_untakeable(a.novnc_port)
            assert a.services()["websockify"]["state"] == "backoff"
            status, frame = ws_upgrade("127.0.0.1", a.novnc_port, f"/websockify?token={DESKTOP_SECRET}")
        assert " 101 " in status and frame.startswith(b"RFB 003."), (status, frame)
        assert a.log_lines("Listen for inetd connections")  # the socket handed over
        # A short queue: what a connect-and-close loop leaves in it drains
        # in moments once the loop stops (SOMAXCONN's took minutes).
        queue = a.ns.run("ss", "-ltnH", f"( sport = :{a.novnc_port} )").stdout.split()
        assert queue[0] == "LISTEN" and queue[2] == "64", queue
        # Its connections have TCP keepalive (websockify sets it only on a
        # socket of its own): a viewer that vanished does not hold its
        # process for good.
        with a.ns.entered(), connect_local("127.0.0.1", a.novnc_port):
            served = a.ns.run("ss", "-tnoH", "state", "established", f"( sport = :{a.novnc_port} )").stdout
        assert "keepalive" in served, served


def test_novnc_port_taken_over_a_time_wait(agent_bin):
    """An agent restarted (under systemd) finds the noVNC connections of
    its previous run in TIME_WAIT on the port (websockify closes first):
    a socket without SO_REUSEADDR cannot bind it then.  The agent listens
    at once, with it, and still hands websockify its socket rather than
    leaving the port to it (whose own bind would have failed as well, had
    the accepted connections not SO_REUSEADDR)."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    ns = Netns("vmbatw")
    try:
        display = free_display()
        for run in (1, 2):
            with Agent(agent_bin, "window_manager=", ns=ns, display=display) as a:
                a.wait_ready()
                assert not a.log_lines("Cannot bind"), (run, a.log_text()[-2000:])
                # websockify's own line: its output is read at idle
                # priority, and may trail the probe that made it ready.
                wait_until(lambda: a.log_lines("Listen for inetd connections"), 10, "websockify's inetd line")
                with ns.entered():
                    with connect_local("127.0.0.1", a.novnc_port) as c:
                        assert status_of(c) == b"200"   # HTTP/1.0: websockify closes
                    status, frame = ws_upgrade("127.0.0.1", a.novnc_port, f"/websockify?token={DESKTOP_SECRET}")
                assert " 101 " in status and frame.startswith(b"RFB 003."), (status, frame)
            if run == 1:
                assert f":{a.novnc_port} " in ns.run("ss", "-tanH", "state", "time-wait").stdout
    finally:
        ns.close()


def passed(*socks):
    """Agent() arguments that pass socks as socket activation does: fds 3,
    4, ... in their order, LISTEN_PID the agent's own pid (sh's $$, which
    exec keeps)."""
    def dup():
        for i, sock in enumerate(socks):
            os.dup2(sock.fileno(), 3 + i)
    return dict(wrap=("sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"),
                popen_kw=dict(pass_fds=tuple(range(3, 3 + len(socks))), preexec_fn=dup))


def fd_inodes(pid):
    """The inodes pid holds open; an fd closed between the listing and its
    stat (the agent opens and closes others meanwhile) holds nothing."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            inodes.add(os.stat(f"/proc/{pid}/fd/{fd}").st_ino)
        except FileNotFoundError:
            pass
    return inodes


def unit_socket(port):
    """The listener packaging's vm-browser-agent-novnc.socket has systemd
    make, on port instead of its own (systemd.socket(5)): its
    ListenStream= an address and a port, or a port alone, which systemd
    binds on [::] when the kernel has IPv6 (socket_address_parse()), taking
    IPv4 too unless BindIPv6Only= (or, left at "default", the
    bindv6only sysctl) says IPv6-only; SO_REUSEADDR, as systemd sets it."""
    keys = {}
    with open(NOVNC_UNIT) as f:
        for line in f:
            key, eq, value = line.strip().partition("=")
            if eq and not key.startswith("#"):
                keys[key] = value
    listen = keys["ListenStream"]
    if listen.isdigit():
        address, v6only = "::", keys.get("BindIPv6Only", "default")
        if v6only == "default":
            with open("/proc/sys/net/ipv6/bindv6only") as f:
                v6only = "ipv6-only" if f.read().strip() == "1" else "both"
    else:
        address, v6only = listen.rpartition(":")[0].strip("[]"), "ipv6-only"
    s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    if ":" in address:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only == "ipv6-only"))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, port))
    s.listen()
    return s


def test_novnc_port_held_by_socket_activation_across_runs(agent_bin):
    """Under systemd the agent restarts (Restart=always): between two runs
    its own socket is closed, and a local user could take the noVNC port
    and be sent the next viewer's token.  With the port passed by socket
    activation (the listener packaging's vm-browser-agent-novnc.socket
    makes, FileDescriptorName=novnc) beside HTTP's, each run hands
    websockify that socket rather than binding its own, and leaves it
    listening when it exits: a viewer that connects between two runs
    waits and is served by the next.  The unit's [::] taking IPv4 as well
    is taken for novnc_listen 0.0.0.0 and serves both; during the runs
    and between them no other local user can take the port, IPv6 included
    (the unit listened on 0.0.0.0 alone: [::1] was free between two
    runs, and a viewer of localhost trying ::1 first would bring its
    token there)."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    display = free_display()
    with Netns("vmbasa") as ns:
        with ns.entered():
            http = socket.create_server(("127.0.0.1", 18300 + display))
            novnc = unit_socket(16900 + display)
        env = dict(os.environ, LISTEN_FDS="2", LISTEN_FDNAMES="vm-browser-agent.socket:novnc")
        waiting = None
        with http, novnc:
            for run in (1, 2):
                with Agent(agent_bin, "window_manager=", ns=ns, display=display, env=env,
                           **passed(http, novnc)) as a:
                    # Taken or not, said before the services start (one
                    # not taken leaves websockify without the port).
                    held = f"noVNC's port {a.novnc_port} is held by socket activation: it stays taken while " \
                           "the agent restarts."
                    wait_until(lambda: a.log_lines(held) or a.log_lines("Ignoring"), 30, "the novnc socket taken")
                    assert not a.log_lines("Ignoring"), a.log_lines("Ignoring")
                    a.wait_ready()
                    # websockify serves the passed socket itself.
                    s = a.services()
                    assert os.stat(f"/proc/{s['websockify']['pid']}/fd/0").st_ino == os.fstat(novnc.fileno()).st_ino
                    if waiting:
                        status, frame = ws_answer(waiting)
                        waiting.close()
                        assert " 101 " in status and frame.startswith(b"RFB 003."), (status, frame)
                    for address in ("127.0.0.1", "::1"):
                        with ns.entered():
                            status, frame = ws_upgrade(address, a.novnc_port, f"/websockify?token={DESKTOP_SECRET}")
                        assert " 101 " in status and frame.startswith(b"RFB 003."), (address, status, frame)
                    with ns.entered():
                        assert_port_untakeable(a.novnc_port)
                    # No other service has either socket, nor LISTEN_*.
                    for name in ("Xvfb", "x11vnc", "websockify", "browser-bus"):
                        inodes = fd_inodes(s[name]["pid"])
                        assert os.fstat(http.fileno()).st_ino not in inodes, name
                        assert name == "websockify" or os.fstat(novnc.fileno()).st_ino not in inodes, name
                        with open(f"/proc/{s[name]['pid']}/environ", "rb") as f:
                            assert b"LISTEN_" not in f.read(), name
                if run == 1:
                    # Between the runs: still listening (the agent left it
                    # so), the viewer's request queued for the next run.
                    with ns.entered():
                        assert_port_untakeable(16900 + display)
                        waiting = socket.create_connection(("127.0.0.1", 16900 + display), timeout=30)
                    waiting.sendall(ws_request(f"/websockify?token={DESKTOP_SECRET}"))


@pytest.mark.parametrize("where", ["port", "address"])
def test_novnc_socket_passed_elsewhere_is_ignored(agent_bin, where):
    """A 'novnc' socket on another port than novnc_port (a unit left at
    6080 with novnc_port changed), or on another address than novnc_listen
    ([::] for 0.0.0.0): closed with a warning, and the agent binds
    novnc_listen:novnc_port itself."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    with Netns("vmbasb") as ns:
        display = free_display()
        with ns.entered():
            # The other address: [::] for IPv6 only, beside which the
            # agent can still bind 0.0.0.0 on the same port.
            other = (socket.create_server(("0.0.0.0", 0)) if where == "port" else
                     socket.create_server(("::", 16900 + display), family=socket.AF_INET6))
        env = dict(os.environ, LISTEN_FDS="1", LISTEN_FDNAMES="novnc")
        with other, Agent(agent_bin, "window_manager=", ns=ns, display=display, env=env, **passed(other)) as a:
            a.wait_ready()
            assert a.log_lines(f"Ignoring the 'novnc' socket passed: it is not bound to novnc_listen 0.0.0.0, "
                               f"novnc_port {a.novnc_port} (or to [::] with IPv4 too: "
                               f"ListenStream={a.novnc_port}, BindIPv6Only=both).")
            websockify = a.services()["websockify"]["pid"]
            assert os.fstat(other.fileno()).st_ino not in fd_inodes(websockify)
            assert os.fstat(other.fileno()).st_ino not in fd_inodes(a.pid)
            with ns.entered():
                status, frame = ws_upgrade("127.0.0.1", a.novnc_port, f"/websockify?token={DESKTOP_SECRET}")
            assert " 101 " in status and frame.startswith(b"RFB 003."), (status, frame)


def test_novnc_socket_passed_with_a_services_file_is_ignored(agent_bin):
    """A services_file brings its own services: a 'novnc' socket passed is
    closed with a warning naming the unit to disable."""
    with Netns("vmbasc") as ns:
        display = free_display()
        with ns.entered():
            novnc = socket.create_server(("0.0.0.0", 16900 + display))
        env = dict(os.environ, LISTEN_FDS="1", LISTEN_FDNAMES="novnc")
        services = [{"name": "idle", "argv": ["sleep", "1007"]}]
        with novnc, Agent(agent_bin, ns=ns, display=display, env=env, services=services, **passed(novnc)) as a:
            a.wait_ready()
            assert a.log_lines("Ignoring the 'novnc' socket passed: a services_file brings its own services, and "
                               "nothing answers there (disable vm-browser-agent-novnc.socket).")
            assert os.fstat(novnc.fileno()).st_ino not in fd_inodes(a.pid)


def test_novnc_request_cannot_forge_log_lines(agent):
    """A token with a newline was logged as two lines, the second one the
    client's ("websockify: ..." in the agent's log): one record is one
    line."""
    with agent.ns.entered():
        assert ws_upgrade("127.0.0.1", agent.novnc_port, "/websockify?token=x%0Awebsockify%3A%20FORGED") == \
            (None, b"")
    lines = wait_until(lambda: [l for l in agent.log_text().splitlines() if "FORGED" in l], 10,
                       "websockify's line about the token")
    assert len(lines) == 1 and "Token 'x\\nwebsockify: FORGED' not found" in lines[0], lines
