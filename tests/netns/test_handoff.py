"""The delivery of a login's credentials to the host, in a test network
namespace with fake provider CLIs (tests/lib/loginenv.py).  Pulled (GET
/credentials/get): an answer cut off keeps them for the retry, a second
GET while one is on its way gets 409, and the agent stopping while one
is on its way ends it cleanly.  Pushed over vsock (a unix socket stands
in for Firecracker's <uds_path>_<port>, never AF_VSOCK): the line with
the agent's token, sent again until acknowledged, refusals logged, large
lines written as the host reads, dropped when the session expires, and
sent to no receiver that is not root's.  The tests end by searching
everything the run wrote for the secrets."""
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

from loginenv import as_cli_user, assert_nothing_left_to_push, home_gone, login_of, read_line, sid
from netns import DEADLINE_SCALE, wait_until
from svagent import CLI_GID, CLI_UID, TOKEN


def big_login(make_env):
    """An env whose gemini login is authenticated with 600 KB credentials,
    and small socket buffers in its namespace only, so they cannot all sit
    in the kernel: (env, session id)."""
    e = make_env(provider_env={"FAKE_CLI_BIG": "1"})
    s = sid()
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
    assert status == 200
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    e.ns.run("sysctl", "-q", "-w", "net.ipv4.tcp_wmem=4096 16384 65536",
             "net.ipv4.tcp_rmem=4096 16384 65536")
    return e, s


def slow_get(e, s):
    """A GET /credentials/get whose client has read the status line only:
    the rest of the answer is still on its way."""
    with e.ns.entered():
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        c.settimeout(10)
        c.connect(("127.0.0.1", e.agent.http_port))
        c.sendall(f"GET /credentials/get?sessionId={s} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: Bearer {TOKEN}\r\n\r\n".encode())
        assert c.recv(100).startswith(b"HTTP/1.1 200")
    return c


def reset(e, c):
    """Resets c, and waits until the agent saw the answer cut off (until
    then the credentials are still on their way: 409)."""
    n = len(e.agent.log_lines("credentials response cut off"))
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    wait_until(lambda: len(e.agent.log_lines("credentials response cut off")) > n, 10, "the answer seen cut off")


def test_response_cut_off_keeps_credentials(make_env):
    e, s = big_login(make_env)
    # Clients that read a few bytes of the 600 KB answer and reset the
    # connection: the response was not completely sent, nothing is wiped.
    for _ in range(3):
        reset(e, slow_get(e, s))
    # Not delivered: the credential file is still there for the retry.
    path = os.path.join(e.home_of(s), ".gemini/oauth_creds.json")
    assert os.path.exists(path)
    got = e.json("GET", f"/credentials/get?sessionId={s}")
    assert got[0] == 200 and got[1]["credentials"]["access_token"] == "SECRET-ACCESS-gemini"
    assert len(got[1]["credentials"]["padding"]) == 600000
    assert e.view(got[1]["credPath"]) == path
    assert e.json("GET", f"/credentials/get?sessionId={s}")[0] == 404
    wait_until(lambda: home_gone(os.path.dirname(os.path.dirname(path))), 10,
               "the HOME removed once the response was sent completely")
    e.assert_no_secrets()


def test_credentials_once_while_a_response_is_on_its_way(make_env):
    """A second GET /credentials/get while the first one's 600 KB answer is
    still being sent gets 409, not the credentials too; the first cut off,
    they are there for the retry, once."""
    e, s = big_login(make_env)
    c = slow_get(e, s)
    try:
        assert e.json("GET", f"/credentials/get?sessionId={s}") == \
            (409, {"error": "Credentials are being delivered"})
    finally:
        reset(e, c)
    got = e.json("GET", f"/credentials/get?sessionId={s}")
    assert got[0] == 200
    assert got[1]["credentials"]["access_token"] == "SECRET-ACCESS-gemini"
    assert e.json("GET", f"/credentials/get?sessionId={s}")[0] == 404
    e.assert_no_secrets()


def test_shutdown_while_a_response_is_on_its_way(make_env):
    """The agent stops (SIGTERM) while a 600 KB credentials answer is still
    being sent: its end comes after the logins are gone (the HTTP server
    stops last), and must not be taken to their freed session."""
    e, s = big_login(make_env)
    c = slow_get(e, s)
    try:
        assert e.agent.stop() == 0
    finally:
        c.close()
    assert e.agent.log_lines(f"Login {s}: credentials response ended at shutdown.")
    assert not e.agent.log_lines("kept for a retry")


def push_one(e, tag):
    """A host OAuth login completed by its redirect: its credentials
    (code SECRET-CODE-<tag>) are what the agent pushes; returns its id."""
    s = sid()
    assert e.json("POST", "/auth/oauth", {"sessionId": s, "state": f"host-state-{tag}",
                                          "authorizeUrl": f"{e.provider_url}/h/authorize"})[0] == 200
    assert e.request("GET", f"/oauth/callback?code=SECRET-CODE-{tag}&state=host-state-{tag}")[0] == 200
    return s


def push_env(make_env, path, *sets, **kw):
    """An agent that pushes credentials to the unix socket at path, the
    stand-in for the host's end of vsock port 1234."""
    return make_env(sets=("vsock_port=1234", f"vsock_unix_path={path}", *sets), **kw)


def cli_login_done(e):
    """A Gemini CLI login started and its URL browsed to the end: its id
    and the start's answer."""
    s = sid()
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
    assert status == 200 and "oauthUrl" in started, started
    assert e.browse(started["oauthUrl"])[0] == 200
    return s, started


def ack(conn, e, s, line):
    """The host acknowledges line on conn: the agent then forgets s."""
    conn.sendall(f"ACK {line['deliveryId']}\n".encode())
    wait_until(lambda: e.json("GET", f"/credentials/status?sessionId={s}")[0] == 404, 10, "session delivered")


def test_push_handoff(make_env, host_socket):
    path, srv = host_socket
    e = push_env(make_env, path)
    s = push_one(e, "p")
    conn, _ = srv.accept()
    first = read_line(conn)
    assert set(first) == {"token", "deliveryId", "sessionId", "provider", "credentials", "credPath"}
    assert first["sessionId"] == s and first["credentials"]["code"] == "SECRET-CODE-p"
    # The proof that the line is the agent's: any guest user can connect
    # to the host's vsock port, only the agent has the control token.
    assert first["token"] == TOKEN
    # Pushed, so never pulled as well: the host would get it twice.
    assert e.json("GET", f"/credentials/get?sessionId={s}") == \
        (409, {"error": "Credentials are pushed to the host over vsock"})
    # No ACK: the agent reconnects and sends the same delivery again.
    conn.close()
    conn, _ = srv.accept()
    again = read_line(conn)
    assert again == first
    ack(conn, e, s, first)
    conn.close()
    assert_nothing_left_to_push(e, srv)
    e.assert_no_secrets()
    assert TOKEN not in e.agent.log_text()


def test_push_refused_by_the_host_is_logged_and_resent(make_env, host_socket):
    """A host that refuses a line (NAK: it was given another token than
    this VM) is told about in the log, once, with its cause and without
    the token; the delivery stays queued and goes again on a new
    connection."""
    path, srv = host_socket
    e = push_env(make_env, path)
    s = push_one(e, "n")
    refused = f"Push handoff: the host refused the credentials of {s} (token-wrong); resending."
    for _ in range(2):
        conn, _ = srv.accept()
        with conn:
            line = read_line(conn)
            conn.sendall(f"NAK {line['deliveryId']} token-wrong\n".encode())
            wait_until(lambda: e.agent.log_lines(refused), 10, "the refusal logged")
    conn, _ = srv.accept()
    with conn:
        again = read_line(conn)
        assert again == line and again["token"] == TOKEN
        # Both NAKs were read before the agent came back.
        assert len(e.agent.log_lines(refused)) == 1
        ack(conn, e, s, again)
    e.assert_no_secrets()
    assert TOKEN not in e.agent.log_text()


def test_push_forgotten_when_session_expires(make_env, host_socket):
    """A push the host never acknowledges holds a copy of the secret: when
    the session expires it is dropped, never sent again."""
    path, srv = host_socket
    # The start, the callback and the first push fit in it on a loaded machine.
    ttl = int(3 * DEADLINE_SCALE)
    e = push_env(make_env, path, f"session_ttl_s={ttl}")
    kept = []
    try:
        s = push_one(e, "q")
        conn, _ = srv.accept()  # the first push; never acknowledged
        kept.append(conn)
        e.wait_status(s, lambda code, b: b.get("failed"), timeout=ttl + 20)
        # Dropped from the queue with the session: nothing is left to send
        # later.  Connections made before the expiry may still sit in the
        # backlog: they are closed with the others.
        assert_nothing_left_to_push(e)
        srv.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                kept.append(srv.accept()[0])
        e.assert_no_secrets()
    finally:
        for c in kept:
            c.close()


def test_push_handoff_cli_removes_home_on_ack(make_env, host_socket):
    """A CLI login pushed to the host: credPath is the file in the login's
    own HOME, which stays until the host acknowledges, and goes then."""
    path, srv = host_socket
    e = push_env(make_env, path)
    s, started = cli_login_done(e)
    conn, _ = srv.accept()
    with conn:
        line = read_line(conn)
        home = e.home_of(s)
        assert e.view(line["credPath"]) == os.path.join(home, ".gemini/oauth_creds.json")
        assert line["credentials"]["login"] == login_of(started["oauthUrl"])
        assert os.path.isfile(e.view(line["credPath"]))
        ack(conn, e, s, line)
        wait_until(lambda: home_gone(home), 10, "the HOME removed after the ACK")
    e.assert_no_secrets()


def test_push_handoff_large_line(make_env, host_socket):
    """A 1 MiB credential file makes a line larger than the socket buffer:
    the agent writes it in pieces as the host reads (slowly, 4 KiB at a
    time) on the one connection, and the host gets it once and whole."""
    path, srv = host_socket
    size = 1024 * 1024
    e = push_env(make_env, path, provider_env={"FAKE_CLI_SIZE": str(size)})
    s, started = cli_login_done(e)
    conn, _ = srv.accept()
    with conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        line = read_line(conn, pause=0.001)
        assert line["sessionId"] == s
        assert line["credentials"]["login"] == login_of(started["oauthUrl"])
        assert os.path.getsize(e.view(line["credPath"])) == size
        ack(conn, e, s, line)
    # One connection did it: nothing came back to send it again.
    assert_nothing_left_to_push(e, srv)
    e.assert_no_secrets()


def test_push_handoff_large_line_after_reset(make_env, host_socket):
    """The host drops the connection in the middle of a large line: the
    agent connects again and sends the line whole, from its first byte."""
    path, srv = host_socket
    size = 1024 * 1024
    e = push_env(make_env, path, provider_env={"FAKE_CLI_SIZE": str(size)})
    s, started = cli_login_done(e)
    conn, _ = srv.accept()
    with conn:
        conn.settimeout(30)
        got = 0
        while got < 64 * 1024:
            chunk = conn.recv(4096)
            assert chunk
            got += len(chunk)
    conn, _ = srv.accept()
    with conn:
        line = read_line(conn)
        assert line["sessionId"] == s and len(line["credentials"]["padding"]) > size - 200
        ack(conn, e, s, line)
    assert_nothing_left_to_push(e, srv)
    e.assert_no_secrets()


# A receiver on a unix socket: prints "listening", then for each
# connection how many bytes came before the agent closed it.
RECEIVER = r"""
import socket, sys
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(16)
print("listening", flush=True)
while True:
    conn, _ = srv.accept()
    conn.settimeout(60)
    n = 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        n += len(chunk)
    conn.close()
    print(f"received {n} bytes", flush=True)
"""


def test_push_handoff_only_to_a_receiver_of_roots(make_env):
    """The unix socket standing in for the host's end is bound by a user
    other than root (it got to the path first): the agent sends it
    nothing, whatever it would answer, and the login stays authenticated.
    Once root's receiver is there, it gets the credentials."""
    d = tempfile.mkdtemp(prefix="vmba-handoff-", dir="/var/tmp")
    os.chown(d, CLI_UID, CLI_GID)
    path = os.path.join(d, "h.sock")
    rx = subprocess.Popen([sys.executable, "-c", RECEIVER, path], preexec_fn=as_cli_user,
                          stdout=subprocess.PIPE, text=True)
    try:
        assert rx.stdout.readline() == "listening\n"
        e = push_env(make_env, path)
        s = push_one(e, "u")
        # The agent connects, sees whose socket it is, and closes: twice,
        # so the second attempt (after a backoff) is refused as well.
        assert rx.stdout.readline() == "received 0 bytes\n"
        assert rx.stdout.readline() == "received 0 bytes\n"
        assert e.agent.log_lines(f"the receiver at {path} is not root's (uid {CLI_UID})")
        st = e.json("GET", f"/credentials/status?sessionId={s}")[1]
        assert st.get("authenticated") is True, st
        rx.kill()
        rx.wait()
        os.unlink(path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
            srv.bind(path)
            srv.listen(16)
            srv.settimeout(60)
            conn, _ = srv.accept()
            with conn:
                line = read_line(conn)
                assert line["sessionId"] == s and line["credentials"]["code"] == "SECRET-CODE-u"
                ack(conn, e, s, line)
        e.assert_no_secrets()
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait()
        shutil.rmtree(d, ignore_errors=True)


def test_push_handoff_to_a_receiver_whose_queue_is_full(make_env):
    """Root's receiver accepts nothing for a while and its queue of
    connections fills: a unix socket's connect() then fails at once
    (EAGAIN), it is not under way.  The log says so, not that the
    receiver is another user's (a socket that never connected has no
    peer), and the delivery goes once the receiver accepts again."""
    d = tempfile.mkdtemp(prefix="vmba-handoff-", dir="/var/tmp")
    path = os.path.join(d, "h.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fill = []
    try:
        srv.bind(path)
        srv.listen(0)
        while True:  # the queue filled by connections never accepted
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            fill.append(c)
            try:
                c.connect(path)
            except BlockingIOError:
                break
        e = push_env(make_env, path)
        s = push_one(e, "f")
        wait_until(lambda: e.agent.log_lines(f"the receiver at {path} takes no connection now (its queue of "
                                             "connections is full): nothing sent; retrying."), 10, "the cause said")
        assert not e.agent.log_lines("is not root's")
        for c in fill:  # the fillers leave: accepted, they read as closed
            c.close()
        fill.clear()
        srv.settimeout(60)
        while True:
            conn, _ = srv.accept()
            with conn:
                try:
                    line = read_line(conn)
                except AssertionError:  # a filler: closed before a line
                    continue
                assert line["sessionId"] == s and line["credentials"]["code"] == "SECRET-CODE-f"
                ack(conn, e, s, line)
                break
        assert len(e.agent.log_lines("takes no connection now")) == 1
        assert not e.agent.log_lines("is not root's")
        e.assert_no_secrets()
    finally:
        for c in fill:
            c.close()
        srv.close()
        shutil.rmtree(d, ignore_errors=True)
