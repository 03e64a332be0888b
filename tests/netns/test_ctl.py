"""The host's side (`vm-browser-agent ctl`) against the real agent in a test
network namespace, and the long polls it waits with: /health/ready?wait=
and /credentials/status?wait= answer the moment the state changes, which
the tests prove by holding the change back until the agent reports the
request as waiting (vmba_http_waiting_requests in /metrics).  The push
handoff's host end is `ctl receive` on a unix socket standing in for
Firecracker's <uds_path>_<port>."""
import errno
import fcntl
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading

import pytest

from loginenv import IDLE, home_gone, open_gate, sid
from netns import DEADLINE_SCALE, Netns, need, read_line, wait_until
from svagent import DESKTOP_SECRET, TOKEN, Agent, auth, free_display


def ctl_argv(agent_bin, env_or_agent, *args, token=True):
    a = getattr(env_or_agent, "agent", env_or_agent)
    argv = [agent_bin, "ctl", "--agent", f"http://127.0.0.1:{a.http_port}"]
    if token:
        argv += ["--token-file", os.path.join(a.dir, "token")]
    return argv + list(args)


def run_ctl(agent_bin, env_or_agent, *args, token=True, timeout=60):
    a = getattr(env_or_agent, "agent", env_or_agent)
    return a.ns.run(*ctl_argv(agent_bin, a, *args, token=token), check=False, timeout=timeout)


def gauge(agent, name):
    """The value of /metrics' gauge name (no labels)."""
    status, body = agent.get("/metrics")
    assert status == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def waiting(agent):
    return gauge(agent, "vmba_http_waiting_requests")


class Background:
    """One request made from inside the namespace on its own thread."""

    def __init__(self, ns, port, path, headers=None):
        self.result = None
        self.error = None

        def run():
            try:
                with ns.entered():
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    c.request("GET", path, headers=headers or {})
                    r = c.getresponse()
                    self.result = (r.status, json.loads(r.read()))
                    c.close()
            except Exception as e:  # reported by join()
                self.error = e
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self):
        self.thread.join(130)
        assert not self.thread.is_alive(), "no answer"
        if self.error:
            raise self.error
        return self.result


# -- long polls ---------------------------------------------------------------

def released_service(tmp, port):
    """A service that listens (and greets like a VNC server) only once the
    test writes to its FIFO, so the test decides when it becomes ready."""
    fifo = os.path.join(tmp, "release")
    os.mkfifo(fifo)
    script = ("import socket,sys\n"
              f"open({fifo!r}).read()\n"
              "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
              f"s.bind(('127.0.0.1', {port})); s.listen(4)\n"
              "while True:\n"
              "    c, _ = s.accept(); c.sendall(b'RFB 003.008\\n'); c.close()\n")
    svc = {"name": "gate", "argv": [sys.executable, "-c", script], "ready_timeout_ms": 120000,
           "probe": {"type": "tcp-banner", "port": port, "expect": "RFB "}}
    return fifo, svc


def test_ready_long_poll(agent_bin, tmp_path):
    port = 17500 + os.getpid() % 400
    fifo, svc = released_service(str(tmp_path), port)
    with Agent(agent_bin, services=[svc]) as a:
        wait_until(lambda: a.try_services().get("gate", {}).get("state") == "starting", 20, "gate starting")
        # A short wait runs out: the same answer as without one.
        status, body = a.get("/health/ready?wait=1")
        assert status == 503 and json.loads(body) == {"ready": False, "reason": "gate: starting"}
        w = Background(a.ns, a.http_port, "/health/ready?wait=120")
        wait_until(lambda: waiting(a) == 1, 20, "the ready request waiting")
        with open(fifo, "w") as f:
            f.write("go")
        assert w.join() == (200, {"ready": True})
        assert waiting(a) == 0
        # Ready already: answered at once, whatever the wait.
        assert a.get("/health/ready?wait=300")[0] == 200


def connections(agent):
    """Connections counted (this request's own included)."""
    return gauge(agent, "vmba_http_connections")


def test_a_long_poll_whose_client_left_frees_its_slot(agent_bin, tmp_path):
    """Clients that close their end while their long poll waits: the wait
    ends at once, and their slots (loopback's share, 8 here) are free for
    others, not held until the wait runs out two minutes later.  (The
    /metrics requests that watch take a slot or two of their own.)"""
    port = 17500 + os.getpid() % 400
    _, svc = released_service(str(tmp_path), port)
    request = b"GET /health/ready?wait=120 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with Agent(agent_bin, "http_max_per_ip=8", services=[svc]) as a:
        wait_until(lambda: a.try_services().get("gate", {}).get("state") == "starting", 20, "gate starting")
        for _ in range(2):  # the second time only fits in slots freed
            with a.ns.entered():
                polls = [socket.create_connection(("127.0.0.1", a.http_port), timeout=60) for _ in range(6)]
            for p in polls:
                p.sendall(request)
            wait_until(lambda: waiting(a) == 6, 20, "six long polls waiting")
            for p in polls:
                p.close()
            wait_until(lambda: waiting(a) == 0, 20, "the waits ended with their clients")
            wait_until(lambda: connections(a) == 1, 20, "their slots freed")
        assert a.alive()


def test_a_half_closed_long_poll_ends(agent_bin, tmp_path):
    """A client that only shuts down its sending side (nc -N) cannot be
    told from one that left: its wait ends and its connection is closed.
    It reads the 400 that says why, or nothing: libmicrohttpd, resumed to
    send that answer, may read the end of the stream first and close
    without it (both seen, about one run in four without)."""
    port = 17500 + os.getpid() % 400
    _, svc = released_service(str(tmp_path), port)
    with Agent(agent_bin, services=[svc]) as a:
        wait_until(lambda: a.try_services().get("gate", {}).get("state") == "starting", 20, "gate starting")
        with a.ns.entered():
            p = socket.create_connection(("127.0.0.1", a.http_port), timeout=60)
        with p:
            p.sendall(b"GET /health/ready?wait=120 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            wait_until(lambda: waiting(a) == 1, 20, "the long poll waiting")
            p.shutdown(socket.SHUT_WR)
            out = b""
            while chunk := p.recv(65536):
                out += chunk
        if out:
            head, body = out.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 400 ") and \
                json.loads(body) == {"error": "the client closed its end of the connection"}, out
        assert waiting(a) == 0 and a.alive()


@pytest.mark.parametrize("wait", ["301", "-1", "x", "", "1.5", "99999999999999999999"])
def test_ready_bad_wait(agent_bin, wait):
    with Agent(agent_bin, services=IDLE) as a:
        a.wait_ready()
        status, body = a.get(f"/health/ready?wait={wait}")
        assert (status, json.loads(body)) == (400, {"error": "wait must be a number of seconds up to 300"})
        status, body = a.get(f"/health/ready?wait=1&wait={wait}")
        assert (status, json.loads(body)) == (400, {"error": "wait given more than once"})
        assert a.alive()


def test_ready_waiters_answered_at_shutdown(agent_bin, tmp_path):
    port = 17500 + os.getpid() % 400
    _, svc = released_service(str(tmp_path), port)
    with Agent(agent_bin, services=[svc]) as a:
        wait_until(lambda: a.try_services().get("gate", {}).get("state") == "starting", 20, "gate starting")
        w = Background(a.ns, a.http_port, "/health/ready?wait=120")
        wait_until(lambda: waiting(a) == 1, 20, "the ready request waiting")
        a.stop()
        assert w.join() == (503, {"ready": False, "reason": "shutting down"})
        assert a.proc.returncode == 0


def test_status_long_poll(env):
    s = sid()
    assert env.json("POST", "/auth/oauth", {"sessionId": s, "state": "host-state-w",
                                            "authorizeUrl": f"{env.provider_url}/h/authorize"})[0] == 200
    status, st = env.json("GET", f"/credentials/status?sessionId={s}&wait=1")
    assert status == 200 and st["waiting"] is True and st["authenticated"] is False
    w = Background(env.ns, env.agent.http_port, f"/credentials/status?sessionId={s}&wait=120", auth())
    wait_until(lambda: waiting(env.agent) == 1, 20, "the status request waiting")
    assert env.request("GET", "/oauth/callback?code=SECRET-CODE-w&state=host-state-w")[0] == 200
    status, st = w.join()
    assert status == 200 and st["authenticated"] is True and st["provider"] == "oauth"
    # Over already: at once.
    assert env.json("GET", f"/credentials/status?sessionId={s}&wait=300")[1]["authenticated"] is True
    assert env.json("GET", f"/credentials/status?sessionId={s}&wait=301") == \
        (400, {"error": "wait must be a number of seconds up to 300"})
    assert env.json("GET", f"/credentials/status?sessionId={sid()}&wait=5")[0] == 404
    # Given twice, in any case: which one would count is not guessed.
    assert env.json("GET", f"/credentials/status?sessionId={s}&wait=1&WAIT=abc") == \
        (400, {"error": "wait given more than once"})
    assert env.json("GET", f"/credentials/status?sessionId={s}&sessionid={sid()}") == \
        (400, {"error": "sessionId given more than once"})
    env.assert_no_secrets()


def test_status_long_poll_ends_with_the_session(env):
    """A waiting status request learns of a failed login, and of a session
    that is gone, without waiting out its time."""
    s = sid()
    assert env.json("POST", "/auth/oauth", {"sessionId": s, "state": "host-state-f",
                                            "authorizeUrl": f"{env.provider_url}/h/authorize"})[0] == 200
    w = Background(env.ns, env.agent.http_port, f"/credentials/status?sessionId={s}&wait=120", auth())
    wait_until(lambda: waiting(env.agent) == 1, 20, "the status request waiting")
    assert env.request("GET", "/oauth/callback?error=access_denied&state=host-state-f")[0] == 400
    assert w.join() == (200, {"authenticated": False, "failed": True, "error": "access_denied"})


def test_status_long_poll_needs_the_token(env):
    s = sid()
    assert env.json("POST", "/auth/oauth", {"sessionId": s, "state": "host-state-t",
                                            "authorizeUrl": f"{env.provider_url}/h/authorize"})[0] == 200
    with env.ns.entered():
        c = http.client.HTTPConnection("127.0.0.1", env.agent.http_port, timeout=10)
        c.request("GET", f"/credentials/status?sessionId={s}&wait=120")
        assert c.getresponse().status == 401
        c.close()
    assert waiting(env.agent) == 0


# -- ctl ---------------------------------------------------------------------

def test_ctl_health(agent_bin):
    with Agent(agent_bin, services=IDLE) as a:
        a.wait_ready()
        r = run_ctl(agent_bin, a, "health", token=False)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["status"] == "ok"
        r = a.ns.run(agent_bin, "ctl", "--agent", "http://127.0.0.1:1", "health", check=False)
        assert r.returncode == 1 and "Cannot reach the agent at 127.0.0.1:1" in r.stderr
        # Its reader gone (`| head -c0`): an error said, not SIGPIPE.
        rd, wr = os.pipe()
        os.close(rd)
        try:
            r = a.ns.run(*ctl_argv(agent_bin, a, "health", token=False), check=False, stdout=wr,
                         capture_output=False, stderr=subprocess.PIPE)
        finally:
            os.close(wr)
        assert (r.returncode, r.stderr.strip().splitlines()[-1:]) == (
            1, ["vm-browser-agent ctl: Cannot write to standard output: Broken pipe"]), r.stderr


def test_ctl_wait_ready_before_the_agent_listens(agent_bin):
    """What a host does right after booting the VM: wait-ready while
    nothing listens yet; it returns once the chain is ready."""
    ns = Netns("vmbactl")
    try:
        display = free_display()
        port = 18300 + display  # the port Agent(display=) listens on
        waiter = ns.popen([agent_bin, "ctl", "--agent", f"http://127.0.0.1:{port}", "--timeout", "120",
                           "wait-ready"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with Agent(agent_bin, services=IDLE, ns=ns, display=display) as a:
            assert a.http_port == port
            out, err = waiter.communicate(timeout=130 * DEADLINE_SCALE)
            assert waiter.returncode == 0, err
            assert out == "ready\n"
            assert a.get("/health/ready")[0] == 200
    finally:
        ns.close()


# Answers every request 503 at once, as a guest could; counts them in
# argv[2] (one byte each).
INSTANT_503 = """import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(sys.argv[2], "ab") as f:
            f.write(b".")
        self.send_response(503)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def test_ctl_wait_ready_paces_an_answer_at_once(agent_bin, tmp_path):
    """The agent holds /health/ready?wait=N; a guest that answers 503 at
    once does not make ctl spin: it asks again after a delay growing to
    2 s.  Over 3 s that is a handful of questions, not thousands."""
    ns = Netns("vmbactl")
    count = tmp_path / "count"
    count.write_bytes(b"")
    try:
        ns.popen([sys.executable, "-c", INSTANT_503, "18999", str(count)])
        wait_until(lambda: ns.accepts(18999), 20, "the server")
        r = ns.run(agent_bin, "ctl", "--agent", "http://127.0.0.1:18999", "--timeout", "3", "wait-ready",
                   check=False, timeout=60)
        assert r.returncode == 1 and "Not ready after 3 s" in r.stderr, r.stderr
        assert 1 <= len(count.read_bytes()) <= 20, len(count.read_bytes())
    finally:
        ns.close()


# A hostile guest: its answers carry escape sequences, raw in /health's
# body (with a C1 CSI byte outside UTF-8), as JSON escapes in the authorize URL and the error.
ESCAPES = r"""import http.server
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/health":
            self.answer(200, b'{"status":"ok\x1b[2J\x9b31m"}')
        else:
            self.answer(404, b'{"error":"\u001b[31mRED"}')
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        self.rfile.read(n)
        if self.path == "/auth/codex":
            self.answer(200, b'{"success":true,"oauthUrl":"https://a/\u001b]0;x\u0007"}')
        else:
            self.answer(500, b'{"error":"\u001b[31mRED"}')
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", 18998), H).serve_forever()
"""


def test_ctl_shows_no_control_bytes_of_the_guests(agent_bin):
    """What the guest answers reaches the operator's terminal without its
    control bytes (each one a '?'): a guest cannot redraw it."""
    ns = Netns("vmbactl")
    try:
        ns.popen([sys.executable, "-c", ESCAPES])
        wait_until(lambda: ns.accepts(18998), 20, "the server")
        ctl = (agent_bin, "ctl", "--agent", "http://127.0.0.1:18998", "--timeout", "5")
        r = ns.run(*ctl, "health", check=False, timeout=60)
        assert r.stdout == '{"status":"ok?[2J?31m"}\n', r.stdout  # a raw 0x9b is CSI outside UTF-8
        r = ns.run(*ctl, "--session", "s1", "login", "codex", check=False, timeout=60)
        assert "authorize: https://a/?]0;x?\n" in r.stdout, r.stdout
        assert r.returncode == 1 and "Login failed: ?[31mRED" in r.stderr, r.stderr
        r = ns.run(*ctl, "--session", "s1", "login", "gemini_cli", check=False, timeout=60)
        assert r.returncode == 1 and "Login did not start (HTTP 500): {\"error\":\"\\u001b[31mRED\"}" in r.stderr
        for out in (r.stdout, r.stderr):
            assert "\x1b" not in out and "\x07" not in out
    finally:
        ns.close()


def test_ctl_wait_ready_gives_up(agent_bin, tmp_path):
    port = 17500 + os.getpid() % 400
    _, svc = released_service(str(tmp_path), port)
    with Agent(agent_bin, services=[svc]) as a:
        # Listening (else the answer is "connection refused"), and not ready.
        wait_until(lambda: a.try_services().get("gate", {}).get("state") == "starting", 20, "gate starting")
        r = run_ctl(agent_bin, a, "--timeout", "2", "wait-ready", token=False)
        assert r.returncode == 1 and "Not ready after 2 s" in r.stderr and "gate: " in r.stderr


@pytest.mark.parametrize("args,message", [
    (["--timeout", "0", "health"], "--timeout wants 1…86400 seconds, not '0'."),
    (["--timeout", "5x", "health"], "--timeout wants 1…86400 seconds, not '5x'."),
    (["--agent", "https://127.0.0.1", "health"], "--agent wants http://ADDRESS[:PORT]"),
    (["--agent", "http://example.org", "health"], "--agent wants http://ADDRESS[:PORT]"),
    (["--agent", "http://127.0.0.1:99999", "health"], "--agent wants http://ADDRESS[:PORT]"),
    (["receive"], "receive needs --uds PATH_PORT."),
    (["frobnicate"], "Unknown command 'frobnicate'"),
    (["--count", "-1", "receive"], "--count wants a number"),
    (["--idle-timeout", "0", "receive"], "--idle-timeout wants 1…86400 seconds, not '0'."),
    (["--idle-timeout", "86401", "receive"], "--idle-timeout wants 1…86400 seconds, not '86401'."),
    (["--idle-timeout", "ten", "receive"], "--idle-timeout wants 1…86400 seconds, not 'ten'."),
    # Without the token every guest user's line would be taken.
    (["receive", "--uds", "/nonexistent/v.sock_1234"], "receive needs --token-file FILE, the VM's control token."),
    # Ids go into the request as they are: one that could add a JSON key
    # or a header is refused before anything is sent.
    (["--session", 'abc","proxy":{"httpsProxy":"http://x"},"x":"', "login", "codex"],
     "--session: sessionId must be 1-128 characters of A-Z a-z 0-9 . _ : -."),
    (["--session", "a\r\nX-Evil: 1", "login", "codex"], "--session: sessionId must be"),
    (["--session", "x" * 129, "login", "codex"], "--session: sessionId must be"),
    (["login", "codex?x=1"], "'codex?x=1' is no provider id (1-64 of a-z 0-9 _ -)."),
    (["login"], "login needs PROVIDER (claude_code, codex, gemini_cli, ...)."),
    (["login", "codex", "gemini_cli"], "login takes one PROVIDER, not 'gemini_cli' too."),
    (["health", "extra"], "health takes no argument, not 'extra'."),
])
def test_ctl_usage_errors(agent_bin, args, message):
    r = subprocess.run([agent_bin, "ctl", *args], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and message in r.stderr, r.stderr


@pytest.mark.parametrize("args, message", [
    # getopt_long() takes a prefix for the whole option: this was
    # --token-file, and the token was named in "Cannot read ...".
    (["--token=S3CRET-1", "health"], "Give --token-file FILE in full"),
    (["--token", "S3CRET-1", "health"], "Give --token-file FILE in full"),
    (["--desktop-secret=S3CRET-1", "login", "codex"], "Give --desktop-secret-file FILE in full"),
    # glibc's own message showed the option whole, value and all.
    (["--password=S3CRET-1", "health"], "Unknown option '--password', or its argument missing"),
])
def test_ctl_never_echoes_a_secret_given_as_an_option(agent_bin, args, message):
    r = subprocess.run([agent_bin, "ctl", *args], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and message in r.stderr and "S3CRET" not in r.stdout + r.stderr, r.stderr


@pytest.mark.parametrize("option, command", [
    ("--token-file", ["health"]),
    ("--desktop-secret-file", ["login", "codex"]),
    ("--token-file", ["receive", "--uds", "/nonexistent/v.sock_1234"]),
])
def test_ctl_never_echoes_a_secret_given_as_a_file(agent_bin, option, command):
    """The secret given where its file goes (--token-file "$TOKEN"): the
    message names the option, not the path, which is the secret."""
    r = subprocess.run([agent_bin, "ctl", option, "S3CRET-1", *command], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and f"Cannot read the file of {option}: No such file or directory" in r.stderr, r.stderr
    assert "S3CRET" not in r.stdout + r.stderr, r.stderr


def test_ctl_login_round_trip(env, agent_bin, tmp_path):
    """ctl login: starts the login, prints the authorize and noVNC URLs,
    waits (long poll) for the sign-in, writes the credentials 0600."""
    s, out = sid(), str(tmp_path / "creds.json")
    desktop_file = os.path.join(env.agent.dir, "desktop-secret")
    p = env.ns.popen(ctl_argv(agent_bin, env, "--desktop-secret-file", desktop_file, "--session", s,
                              "--out", out, "login", "gemini_cli"),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = {}
    while "desktop" not in lines:
        try:
            line = read_line(p.stdout, timeout=30)
        except AssertionError as e:
            raise AssertionError(f"{e}: {p.stderr.read() if p.poll() is not None else 'ctl still running'}")
        key, _, value = line.rstrip("\n").partition(": ")
        lines[key] = value
    assert lines["session"] == s
    assert lines["authorize"].startswith(f"{env.provider_url}/gemini/authorize?")
    assert lines["desktop"] == (f"http://127.0.0.1:6080/vnc.html#autoconnect=1&resize=scale&path=websockify"
                                f"%3Ftoken%3D{DESKTOP_SECRET}&password={DESKTOP_SECRET[:8]}")
    assert env.browse(lines["authorize"])[0] == 200
    rest, err = p.communicate(timeout=60 * DEADLINE_SCALE)
    assert p.returncode == 0, err
    assert rest == f"credentials: {out}\n"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    with open(out) as f:
        creds = json.load(f)
    assert creds["access_token"] == "SECRET-ACCESS-gemini" and creds["refresh_token"] == "SECRET-REFRESH-gemini"
    # Delivered once: the session is gone, and with it the login's HOME.
    assert env.json("GET", f"/credentials/status?sessionId={s}")[0] == 404
    wait_until(lambda: home_gone(env.home_of(s)), 10, "the login's HOME removed")
    env.assert_no_secrets(err)


@pytest.mark.parametrize("where", ["missing-dir", "a-directory", "trailing-slash"])
def test_ctl_login_checks_its_out_file_before_the_login(env, agent_bin, tmp_path, where):
    """A pull delivers once: the agent wipes the credentials as its answer
    goes out.  An --out ctl cannot write is said before any login starts,
    not after the person signed in and the credentials came (lost then)."""
    (tmp_path / "dir").mkdir()
    out = {"missing-dir": tmp_path / "no" / "creds.json", "a-directory": tmp_path / "dir",
           "trailing-slash": f"{tmp_path}/"}[where]
    s = sid()
    r = run_ctl(agent_bin, env, "--timeout", "5", "--session", s, "--out", str(out), "login", "gemini_cli")
    assert r.returncode == 1 and f"Cannot write the credentials to {out}:" in r.stderr, r.stderr
    assert "authorize:" not in r.stdout
    assert env.json("GET", f"/credentials/status?sessionId={s}")[0] == 404


# Runs argv[2:] with a tmpfs of 8 MiB of its own (a private mount
# namespace) at argv[1].
OWN_TMPFS = ("import os, subprocess, sys\n"
             "subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'vmba-out', sys.argv[1]], check=True)\n"
             "os.execv(sys.argv[2], sys.argv[2:])\n")


def fill(path):
    """Writes into path until its file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
    finally:
        os.close(fd)


def test_ctl_login_makes_room_before_the_pull(env, agent_bin, tmp_path):
    """The disk --out is on fills up while the person signs in: ctl finds
    out before it pulls the credentials (the agent wipes them once sent),
    says so, and the agent keeps them for the same command with
    --session; nothing of them is written or said."""
    need("unshare", "mount")
    (tmp_path / "small").mkdir()
    s, out = sid(), str(tmp_path / "small" / "creds.json")
    p = env.ns.popen(["unshare", "-m", "--propagation", "private", sys.executable, "-c", OWN_TMPFS,
                      str(tmp_path / "small"), *ctl_argv(agent_bin, env, "--session", s, "--out", out, "login",
                                                         "gemini_cli")],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = ""
    while not line.startswith("authorize: "):
        line = read_line(p.stdout, timeout=30)
    # ctl's tmpfs, seen through its root (it was checked when ctl began).
    fill(f"/proc/{p.pid}/root{tmp_path}/small/fill")
    assert env.browse(line.rstrip("\n").partition(": ")[2])[0] == 200
    _, err = p.communicate(timeout=60 * DEADLINE_SCALE)
    assert p.returncode == 1, err
    status, body = env.json("GET", f"/credentials/status?sessionId={s}")
    assert status == 200 and body.get("authenticated"), (status, body, err)
    assert f"Cannot make room for the credentials (4 MiB) beside {out}: No space left on device" in err, err
    assert f"The agent keeps them: make room, and the same command with --session {s} gets them." in err, err
    out = str(tmp_path / "creds.json")
    r = run_ctl(agent_bin, env, "--session", s, "--out", out, "login", "gemini_cli")
    assert r.returncode == 0, r.stderr
    with open(out) as f:
        assert json.load(f)["access_token"] == "SECRET-ACCESS-gemini"
    assert sorted(os.listdir(tmp_path)) == ["creds.json", "small"]
    env.assert_no_secrets(err + r.stderr)


def test_ctl_login_prints_an_authorize_url_that_comes_late(make_env, agent_bin, tmp_path):
    """A CLI slower to print its URL than the start waits (url_wait_s):
    ctl prints the URL once the agent has it, as the person needs it."""
    e = make_env(url_wait_s=1, provider_env={"FAKE_CLI_URL_GATE": "1"})
    s = sid()
    p = e.ns.popen(ctl_argv(agent_bin, e, "--session", s, "--out", str(tmp_path / "creds.json"), "login", "codex"),
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert read_line(p.stdout, timeout=30) == f"session: {s}\n"
        assert read_line(p.stdout, timeout=30) == "authorize: (none printed yet)\n"
        open_gate(e, s, ".url-gate")
        line = read_line(p.stdout, timeout=30)
        while line.startswith("desktop: "):
            line = read_line(p.stdout, timeout=30)
        assert line.startswith(f"authorize: {e.provider_url}/codex/authorize?"), line
    finally:
        p.kill()
        p.communicate()


def test_ctl_login_says_why_it_got_no_credentials(make_env, host_socket, agent_bin, tmp_path):
    """An agent that pushes its credentials (vsock) refuses the pull: ctl
    says so with the agent's reason, not with a bare status."""
    e = make_env(sets=("vsock_port=1234", f"vsock_unix_path={host_socket[0]}"))
    s, out = sid(), str(tmp_path / "creds.json")
    p = e.ns.popen(ctl_argv(agent_bin, e, "--session", s, "--out", out, "login", "gemini_cli"),
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = ""
    while not line.startswith("authorize: "):
        line = read_line(p.stdout, timeout=30)
    assert e.browse(line.rstrip("\n").partition(": ")[2])[0] == 200
    _, err = p.communicate(timeout=60 * DEADLINE_SCALE)
    assert p.returncode == 1
    assert "No credentials (HTTP 409): Credentials are pushed to the host over vsock" in err, err
    assert not os.path.exists(out)
    e.assert_no_secrets(err)


class NsServer:
    """A TCP server on 127.0.0.1 in the namespace ns: each connection
    kept (closed by close()) and handled by handle() in a thread of its
    own."""

    def __init__(self, ns):
        self.ns, self.conns = ns, []
        with ns.entered():
            self.srv = socket.socket()
            self.srv.bind(("127.0.0.1", 0))
            self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self.handle_until_closed, args=(c,), daemon=True).start()

    def handle_until_closed(self, c):
        """handle(c), which close() may cut short: its socket closed under
        it is the end of that connection, not an error of the test."""
        try:
            self.handle(c)
        except OSError:
            if self.srv.fileno() != -1:
                raise

    def close(self):
        self.srv.close()
        for c in self.conns:
            c.close()

    @staticmethod
    def read_head(c):
        """What c sent up to the end of a request's head (and any bytes
        after it), or None when it closed before."""
        req = b""
        while b"\r\n\r\n" not in req:
            chunk = c.recv(65536)
            if not chunk:
                return None
            req += chunk
        return req


class CuttingProxy(NsServer):
    """A TCP proxy in the namespace between ctl and the agent that passes
    every exchange on, but ends the credentials' answer (GET
    /credentials/get) after its first 4 KiB: the agent's side reset, as
    a connection that broke, ctl's closed."""

    def __init__(self, ns, agent_port):
        self.agent_port, self.cut = agent_port, 0
        super().__init__(ns)

    def handle(self, client):
        self.relay(client)

    def relay(self, client):
        with self.ns.entered():
            up = socket.create_connection(("127.0.0.1", self.agent_port))
        with client, up:
            client.settimeout(120)
            up.settimeout(120)
            req = self.read_head(client)
            if req is None:
                return
            head = req.split(b"\r\n\r\n", 1)[0].decode()
            m = re.search(r"^Content-Length: (\d+)", head, re.M | re.I)
            while len(req) - len(head) - 4 < (int(m.group(1)) if m else 0):
                req += client.recv(65536)
            up.sendall(req)
            cut = head.startswith("GET /credentials/get")
            passed = 0
            while True:
                chunk = up.recv(4096)
                if not chunk:
                    return
                client.sendall(chunk)
                passed += len(chunk)
                if cut and passed >= 4096:
                    up.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.cut += 1
                    return


def signed_in_through(e, agent_bin, proxy, session, out):
    """ctl login of gemini_cli through proxy, its authorize URL signed in
    in the browser: the running ctl, pulling the credentials next."""
    argv = [agent_bin, "ctl", "--agent", f"http://127.0.0.1:{proxy.port}", "--token-file",
            os.path.join(e.agent.dir, "token"), "--session", session, "--out", out, "login", "gemini_cli"]
    p = e.ns.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while not line.startswith("authorize: "):
            line = read_line(p.stdout, timeout=30)
        assert e.browse(line.rstrip("\n").partition(": ")[2])[0] == 200
    except BaseException:
        p.kill()
        p.communicate()
        raise
    return p


def login_again(e, agent_bin, session, out):
    """The same command with --session, straight to the agent: it gets the
    credentials the agent kept, written to out.  ctl's stderr."""
    r = e.ns.run(*ctl_argv(agent_bin, e, "--session", session, "--out", out, "login", "gemini_cli"), check=False,
                 timeout=120)
    assert r.returncode == 0, r.stderr
    with open(out) as f:
        assert json.load(f)["access_token"] == "SECRET-ACCESS-gemini"
    return r.stderr


def test_ctl_login_says_a_cut_off_pull_is_kept(make_env, agent_bin, tmp_path):
    """The credentials' answer (600 KB, more than the namespace's socket
    buffers hold) is cut off on its way: the agent keeps them (it wipes
    them only once its answer left it whole), and ctl says so, and that
    the same command with --session gets them; it does."""
    e = make_env(provider_env={"FAKE_CLI_BIG": "1"})
    e.ns.run("sysctl", "-q", "-w", "net.ipv4.tcp_wmem=4096 16384 65536", "net.ipv4.tcp_rmem=4096 16384 65536")
    proxy = CuttingProxy(e.ns, e.agent.http_port)
    s, out = sid(), str(tmp_path / "creds.json")
    try:
        p = signed_in_through(e, agent_bin, proxy, s, out)
        _, err = p.communicate(timeout=120 * DEADLINE_SCALE)
        assert (p.returncode, proxy.cut) == (1, 1), err
        assert "Lost the agent at 127.0.0.1:%d while it sent the credentials: its answer was cut off." \
            % proxy.port in err, err
        assert f"The agent keeps credentials it did not send whole: the same command with --session {s} gets " \
            "them (if it had sent them whole, that starts a new login)." in err, err
        assert not os.path.exists(out)
        wait_until(lambda: e.agent.log_lines(f"Login {s}: credentials response cut off; kept for a retry."), 10,
                   "the agent saw it cut off")
    finally:
        proxy.close()
    again = login_again(e, agent_bin, s, out)
    assert e.json("GET", f"/credentials/status?sessionId={s}")[0] == 404
    e.assert_no_secrets(err + again)


class HoldingProxy(CuttingProxy):
    """CuttingProxy's relay, but the credentials' request is not passed
    on: held (the agent keeps them), its connection open, `held` set."""

    def __init__(self, ns, agent_port):
        self.held = threading.Event()
        super().__init__(ns, agent_port)

    def relay(self, client):
        client.settimeout(120)
        head = client.recv(65536, socket.MSG_PEEK)
        if not head.startswith(b"GET /credentials/get"):
            return super().relay(client)
        with client:
            self.held.set()
            while client.recv(65536):  # the request, then EOF when ctl goes
                pass


def unnamed_room(pid, d):
    """Whether pid holds an unnamed file (O_TMPFILE) in directory d with
    the room for the credentials made (4 MiB); nothing is in d then."""
    names = os.listdir(d)
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            size = os.stat(f"/proc/{pid}/fd/{fd}").st_blocks * 512
        except FileNotFoundError:
            continue
        if target.startswith(f"{d}/#") and target.endswith(" (deleted)") and size >= 4 << 20:
            return names == []
    return False


class StallingAgent(NsServer):
    """A stand-in for the agent in the namespace: a login starts, is
    signed in at once, and the credentials' answer stalls after its
    first bytes (`stalled` set), its connection held open."""

    def __init__(self, ns):
        self.stalled = threading.Event()
        super().__init__(ns)

    def handle(self, c):
        req = self.read_head(c)
        if req is None:
            return
        line = req.split(b"\r\n", 1)[0].decode()
        if line.startswith("GET /credentials/get"):
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{"credentials":{"code":"PART')
            self.stalled.set()
            return  # held open until close()
        body = b'{"authenticated":true}' if line.startswith("GET /credentials/status") else \
            b'{"success":true,"oauthUrl":"https://a/"}'
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        c.close()


class SilentAgent(NsServer):
    """A stand-in for the agent that takes each request (a GET: nothing
    after its head) and closes the connection without a byte of answer,
    as an agent stopping, or another program on its port, does."""

    def handle(self, c):
        self.read_head(c)
        c.close()


def test_ctl_says_the_agent_answered_nothing(agent_bin):
    """No answer at all is said as such: it read "Bad message", which
    says an answer came that is no HTTP."""
    ns = Netns("vmbactl")
    agent = SilentAgent(ns)
    try:
        r = ns.run(agent_bin, "ctl", "--agent", f"http://127.0.0.1:{agent.port}", "health", check=False)
        assert r.returncode == 1, r.stderr
        assert f"Cannot reach the agent at 127.0.0.1:{agent.port}: it closed the connection without an answer." \
            in r.stderr, r.stderr
        assert "Bad message" not in r.stderr, r.stderr
    finally:
        agent.close()
        ns.close()


def test_ctl_login_killed_during_the_pull_leaves_no_file(agent_bin, tmp_path):
    """ctl killed (SIGKILL, which it cannot catch) while the credentials'
    answer comes: the file it made room in beside --out has no name until
    the credentials in it are whole and synced, so nothing is left; a
    named temporary file was, 4 MiB, with part of them in it."""
    ns = Netns("vmbactl")
    agent = StallingAgent(ns)
    out = str(tmp_path / "creds.json")
    try:
        p = ns.popen([agent_bin, "ctl", "--agent", f"http://127.0.0.1:{agent.port}", "--session", "s1", "--out", out,
                      "login", "codex"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert agent.stalled.wait(60), "no pull came"
        assert unnamed_room(p.pid, tmp_path), (os.listdir(tmp_path), "no unnamed room made before the pull")
        p.kill()
        _, err = p.communicate(timeout=30 * DEADLINE_SCALE)
        assert p.returncode == -signal.SIGKILL, err
        assert os.listdir(tmp_path) == []
        assert "Cannot make an unnamed file" not in err, err
    finally:
        agent.close()
        ns.close()


def test_ctl_login_stopped_during_the_pull_leaves_no_file(make_env, agent_bin, tmp_path):
    """ctl stopped (SIGTERM) while it pulls: the temporary file it made
    beside --out for the credentials (4 MiB of room) is removed before it
    goes, and it ends as the signal says; the agent keeps the credentials
    (the pull never reached it) for the same command with --session."""
    e = make_env()
    proxy = HoldingProxy(e.ns, e.agent.http_port)
    s, out = sid(), str(tmp_path / "creds.json")
    try:
        p = signed_in_through(e, agent_bin, proxy, s, out)
        assert proxy.held.wait(60), "no pull came"
        assert unnamed_room(p.pid, tmp_path), "no room made before the pull"
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30 * DEADLINE_SCALE)
    finally:
        proxy.close()
    assert p.returncode == -signal.SIGTERM, err
    assert os.listdir(tmp_path) == [], err
    assert f"Stopped by Terminated while the agent at 127.0.0.1:{proxy.port} sent the credentials." in err, err
    again = login_again(e, agent_bin, s, out)
    e.assert_no_secrets(err + again)


def test_ctl_login_refused(env, agent_bin, tmp_path):
    bad = tmp_path / "token"
    bad.write_text("not-the-token\n")
    r = env.ns.run(agent_bin, "ctl", "--agent", f"http://127.0.0.1:{env.agent.http_port}",
                   "--token-file", str(bad), "login", "gemini_cli", check=False, timeout=60)
    assert r.returncode == 1 and "Login did not start (HTTP 401)" in r.stderr
    assert TOKEN not in r.stderr + r.stdout
    r = run_ctl(agent_bin, env, "login", "no_such_cli")
    assert r.returncode == 1 and "Login did not start (HTTP 400): {\"error\":\"Unknown provider\"}" in r.stderr
    assert not os.path.exists("credentials.json")


# Connections ctl receive serves at once (RECEIVE_CONNS_MAX).
SLOTS = 64


class Receiver:
    """`ctl receive --count N` on a unix socket standing in for
    Firecracker's <uds_path>_<port>, with the VM's token in a file."""

    def __init__(self, agent_bin, count=1, wrap=(), args=(), owner=None, after=None):
        """wrap: a command the receiver runs under (strace ...); the whole
        process group goes at close().  args: more options of ctl receive.
        owner: the uid its directory and token file are given to.  after:
        a receiver that has exited, whose socket path this one takes (its
        --out-dir another)."""
        self.dir = after.dir if after else tempfile.mkdtemp(prefix="vmba-receive-", dir="/var/tmp")
        self.sock = os.path.join(self.dir, "v.sock_1234")
        self.out = tempfile.mkdtemp(prefix="out-", dir=self.dir) if after else os.path.join(self.dir, "out")
        if not after:
            os.mkdir(self.out, 0o700)
        token_file = os.path.join(self.dir, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        for p in (self.dir, self.out, token_file) if owner is not None else ():
            os.chown(p, owner, owner)
        self.proc = subprocess.Popen([*wrap, agent_bin, "ctl", "receive", "--uds", self.sock, "--out-dir", self.out,
                                      "--token-file", token_file, "--count", str(count), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        assert read_line(self.proc.stdout) == f"listening: {self.sock}\n"

    def path(self, s):
        return os.path.join(self.out, f"{s}.json")

    def connect(self):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Blocking while it connects: a unix socket with a timeout gets
        # EAGAIN, not a wait, when the backlog is full.
        c.connect(self.sock)
        c.settimeout(60)
        return c

    def connect_with(self, line):
        """A connection whose line is in before the receiver accepts it:
        the receiver is stopped meanwhile, so a deadline shorter than a
        loaded machine can stall this test (--idle-timeout 1) starts with
        the line already there."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        try:
            # kill() returns before the stop takes: waits for it.
            os.waitid(os.P_PID, self.proc.pid, os.WSTOPPED | os.WNOWAIT)
            c = self.connect()
            c.sendall(line)
        finally:
            os.kill(self.proc.pid, signal.SIGCONT)
        return c

    def push(self, make_env, s):
        """A real login pushed by the agent; the receiver's stdout, stderr."""
        e = make_env(sets=("vsock_port=1234", f"vsock_unix_path={self.sock}"))
        assert e.json("POST", "/auth/oauth", {"sessionId": s, "state": "host-state-r",
                                              "authorizeUrl": f"{e.provider_url}/h/authorize"})[0] == 200
        assert e.request("GET", "/oauth/callback?code=SECRET-CODE-r&state=host-state-r")[0] == 200
        rest, err = self.proc.communicate(timeout=60 * DEADLINE_SCALE)
        assert self.proc.returncode == 0, err
        assert rest == f"received: {self.path(s)} (oauth)\n"
        with open(self.path(s)) as f:
            assert json.load(f) == {"code": "SECRET-CODE-r", "state": "host-state-r"}
        wait_until(lambda: e.json("GET", f"/credentials/status?sessionId={s}")[0] == 404, 10,
                   "acknowledged, wiped")
        e.assert_no_secrets(err)
        assert TOKEN not in rest + err and TOKEN not in e.agent.log_text()
        return e, err

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def receiver(agent_bin):
    rx = Receiver(agent_bin)
    yield rx
    rx.close()


def test_ctl_receive_keeps_its_memory_to_itself(agent_bin):
    """ctl holds the VM's token and the credentials it receives: not
    dumpable (another process of its uid cannot read its environ or
    memory, as it can a dumpable one's) and no core dump."""
    drop = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    sleeper = subprocess.Popen([*drop, "sleep", "300"])
    rx = Receiver(agent_bin, wrap=drop, owner=65534)
    try:
        def readable(pid):
            return subprocess.run([*drop, "cat", f"/proc/{pid}/environ"], capture_output=True).returncode == 0
        wait_until(lambda: os.readlink(f"/proc/{sleeper.pid}/exe").endswith("/sleep"), 20, "the sleeper exec'd")
        assert readable(sleeper.pid)  # the control: same uid, dumpable
        assert not readable(rx.proc.pid)
        assert re.search(r"^Max core file size +0 +0 ", open(f"/proc/{rx.proc.pid}/limits").read(), re.M)
    finally:
        sleeper.kill()
        sleeper.wait()
        rx.close()


def test_ctl_receive(make_env, receiver):
    """ctl receive is the host end of the push handoff: each delivery is
    written to <out-dir>/<sessionId>.json (0600) and acknowledged, after
    which the agent forgets the session."""
    assert stat.S_IMODE(os.stat(receiver.sock).st_mode) & 0o077 == 0
    s = sid()
    receiver.push(make_env, s)
    assert stat.S_IMODE(os.stat(receiver.path(s)).st_mode) == 0o600
    assert not os.path.exists(receiver.sock)


@pytest.mark.parametrize("s", [".hidden", ".."])
def test_ctl_receive_takes_every_session_id_the_agent_takes(make_env, receiver, s):
    """A session id the agent took for a login is one the receiver takes:
    a line it refused would be resent, refused again, and never arrive
    (the pull is closed to a pushed login).  It names <id>.json."""
    receiver.push(make_env, s)
    assert stat.S_IMODE(os.stat(receiver.path(s)).st_mode) == 0o600


@pytest.mark.parametrize("where", ["missing", "a-file"])
def test_ctl_receive_checks_its_out_dir_before_it_listens(tmp_path, agent_bin, where):
    """An --out-dir that cannot take a file is said at once: listening,
    each delivery would be refused (NAK), resent and refused again, and
    the credentials would never arrive."""
    token, out = tmp_path / "token", tmp_path / where
    token.write_text("a-token\n")
    if where == "a-file":
        out.write_text("")
    sock = str(tmp_path / "v.sock_1234")
    r = subprocess.run([agent_bin, "ctl", "receive", "--uds", sock, "--out-dir", str(out), "--token-file",
                        str(token)], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout) == (1, ""), r
    assert f"Cannot write the deliveries to {out}: " in r.stderr, r.stderr
    assert not os.path.exists(sock)


def test_ctl_receive_names_the_lock_it_cannot_open(agent_bin):
    """<uds>.delivered.lock that the receiver's user cannot open (root's,
    left by a receiver run as root): the error names that file, not the
    ledger, which is not there and would have been made."""
    drop = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    d = tempfile.mkdtemp(prefix="vmba-receive-", dir="/var/tmp")
    try:
        sock, token, out = (os.path.join(d, name) for name in ("v.sock_1234", "token", "out"))
        with open(token, "w") as f:
            f.write("a-token\n")
        os.mkdir(out, 0o700)
        for p in (d, token, out):
            os.chown(p, 65534, 65534)
        lock = sock + ".delivered.lock"
        os.close(os.open(lock, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        r = subprocess.run([*drop, agent_bin, "ctl", "receive", "--uds", sock, "--out-dir", out, "--token-file",
                            token], capture_output=True, text=True, timeout=30)
        assert (r.returncode, r.stdout) == (1, ""), r
        assert f"Cannot open {lock}, the lock of the record of the deliveries counted: Permission denied" \
            in r.stderr, r.stderr
        assert not os.path.exists(sock) and not os.path.exists(sock + ".delivered")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_ctl_receive_removes_no_file_but_a_socket(tmp_path, agent_bin):
    """The socket a receiver left is replaced; anything else at --uds (a
    mistyped path: the token file, the credentials) is left alone, and
    the receiver says why it cannot listen there."""
    token, out = tmp_path / "token", tmp_path / "out"
    token.write_text("a-token\n")
    out.mkdir()
    argv = [agent_bin, "ctl", "receive", "--out-dir", str(out), "--token-file", str(token), "--uds"]
    r = subprocess.run([*argv, str(token)], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout) == (1, ""), r
    assert f"Cannot listen on {token}: " in r.stderr, r.stderr
    assert token.read_text() == "a-token\n"
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(tmp_path / "v.sock_1234"))
    left.close()
    p = subprocess.Popen([*argv, str(tmp_path / "v.sock_1234")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert read_line(p.stdout) == f"listening: {tmp_path / 'v.sock_1234'}\n"
    finally:
        p.kill()
        p.wait()


def test_ctl_receive_refuses_lines_without_the_token(make_env, receiver):
    """Any user in the guest can connect to the vsock port: a line without
    the VM's control token, or with another, is answered NAK with the
    cause, not written and not counted (--count 1 still waits), and the
    agent's real delivery for the same session is taken after it."""
    s = sid()
    forged = {"deliveryId": "f1", "sessionId": s, "provider": "oauth", "credentials": {"code": "FORGED"},
              "credPath": ""}
    with receiver.connect() as c, c.makefile("r") as answers:
        c.sendall((json.dumps(forged) + "\n").encode())
        assert answers.readline() == "NAK f1 token-missing\n"
        c.sendall((json.dumps({"token": TOKEN + "x", **forged, "deliveryId": "f2"}) + "\n").encode())
        assert answers.readline() == "NAK f2 token-wrong\n"
        c.sendall(b"{\"token\":\"" + TOKEN[:-1].encode() + b"\"}\nnot json\n")
        assert answers.readline() == "NAK - token-wrong\n"
        assert answers.readline() == "NAK - malformed\n"
        # Whole lines with a wrong token, refused whether their warning
        # is said or not (the 5th to the 8th refusal).
        for n in range(3, 7):
            c.sendall((json.dumps({**forged, "token": TOKEN[::-1], "deliveryId": f"f{n}"}) + "\n").encode())
            assert answers.readline() == f"NAK f{n} token-wrong\n"
        assert not os.path.exists(receiver.path(s))
    # One that leaves before its answer: the receiver is not killed by it
    # (SIGPIPE) and goes on.
    with receiver.connect() as c:
        c.sendall((json.dumps({"token": "guess", **forged}) + "\n").encode())
    _, err = receiver.push(make_env, s)
    # Said at the 1st, 2nd, 4th and 8th refusal (of 9): a guest user can
    # send as many as it likes.
    for n, cause in ((1, "token-missing"), (2, "token-wrong"), (4, "malformed"), (8, "token-wrong")):
        assert f"Refused a delivery ({cause}): not written, not counted ({n} refused so far)." in err
    assert "(3 refused so far)" not in err and "(9 refused so far)" not in err
    assert "FORGED" not in err and "f1" not in err


def test_ctl_receive_takes_a_delivery_sent_again_once(agent_bin):
    """The agent resends a delivery until it reads its ACK, and an ACK can
    be lost with its connection: the same deliveryId again is acknowledged
    again, but not written or counted twice (--count 2 still waits for a
    second delivery)."""
    rx = Receiver(agent_bin, count=2)
    try:
        line = {"token": TOKEN, "deliveryId": "d1", "sessionId": "s1", "provider": "oauth",
                "credentials": {"code": "FIRST"}, "credPath": ""}
        for code in ("FIRST", "CHANGED"):
            with rx.connect() as c, c.makefile("r") as answers:
                c.sendall((json.dumps({**line, "credentials": {"code": code}}) + "\n").encode())
                assert answers.readline() == "ACK d1\n"
        with open(rx.path("s1")) as f:
            assert json.load(f) == {"code": "FIRST"}
        with rx.connect() as c, c.makefile("r") as answers:
            c.sendall((json.dumps({**line, "deliveryId": "d2", "sessionId": "s2"}) + "\n").encode())
            assert answers.readline() == "ACK d2\n"
        out, err = rx.proc.communicate(timeout=60 * DEADLINE_SCALE)
        assert (rx.proc.returncode, out) == (0, f"received: {rx.path('s1')} (oauth)\n"
                                                f"received: {rx.path('s2')} (oauth)\n"), err
        assert "Delivery d1 came again (its ACK was lost): acknowledged again, not written or counted twice." in err
        assert TOKEN not in out + err and "FIRST" not in err
    finally:
        rx.close()


def test_ctl_receive_counts_a_delivery_whose_ack_was_lost(agent_bin):
    """The agent's connection ends before its ACK could be sent (the agent
    gave up waiting for it, a restore held the push): the delivery was
    written, and the same deliveryId comes again on a new connection.  It
    is one delivery taken: --count 1 is done, not waiting for another."""
    rx = Receiver(agent_bin)
    try:
        line = {"token": TOKEN, "deliveryId": "d1", "sessionId": "s1", "provider": "oauth",
                "credentials": {"code": "FIRST"}, "credPath": ""}
        with rx.connect() as c:
            c.shutdown(socket.SHUT_RD)  # the receiver's ACK fails (EPIPE)
            c.sendall((json.dumps(line) + "\n").encode())
            wait_until(lambda: os.path.exists(rx.path("s1")), 10, "the delivery written")
        with rx.connect() as c, c.makefile("r") as answers:
            c.sendall((json.dumps(line) + "\n").encode())
            assert answers.readline() == "ACK d1\n"
        out, err = rx.proc.communicate(timeout=30 * DEADLINE_SCALE)
        assert (rx.proc.returncode, out) == (0, f"received: {rx.path('s1')} (oauth)\n"), err
        assert TOKEN not in out + err and "FIRST" not in err
    finally:
        rx.close()


def test_ctl_receive_whose_stdout_reader_left(agent_bin):
    """The reader of the receiver's stdout goes away (`| head -1` after the
    listening line): the delivery that comes is still written and
    acknowledged, and the receiver ends with an error that says where it
    is, not killed by SIGPIPE; it stops then (--count 2 waits no more)."""
    rx = Receiver(agent_bin, count=2)
    try:
        rx.proc.stdout.close()
        with rx.connect() as c, c.makefile("r") as answers:
            c.sendall(agent_line("d1", "s1", "KEPT"))
            assert answers.readline() == "ACK d1\n"
        rx.proc.wait(timeout=60 * DEADLINE_SCALE)
        err = rx.proc.stderr.read()
        assert rx.proc.returncode == 1, (rx.proc.returncode, err)
        assert f"Received {rx.path('s1')}, but cannot say so on standard output: Broken pipe.  Stopping; what " \
            f"was received is in {rx.out}." in err, err
        with open(rx.path("s1")) as f:
            assert json.load(f) == {"code": "KEPT"}
        assert not os.path.exists(rx.sock)
    finally:
        rx.close()


def test_ctl_receive_a_delivery_whose_ack_was_lost_after_the_receiver_exited(agent_bin):
    """--count 1: the receiver counts a delivery once its ACK went out, and
    exits; the agent did not read that ACK (it had given up on the
    connection) and resends the delivery to the next receiver on the
    path.  That one acknowledges it, as the agent needs, but neither
    writes nor counts it: it was delivered, it waits for its own.  The
    ids counted are kept beside the socket, <uds>.delivered, 0600."""
    first = Receiver(agent_bin)
    try:
        with first.connect() as c, c.makefile("r") as answers:
            c.sendall(agent_line("d1", "s1", "FIRST"))
            assert answers.readline() == "ACK d1\n"  # never read by the agent
        out, err = first.proc.communicate(timeout=60 * DEADLINE_SCALE)
        assert (first.proc.returncode, out) == (0, f"received: {first.path('s1')} (oauth)\n"), err
        ledger = first.sock + ".delivered"
        assert stat.S_IMODE(os.stat(ledger).st_mode) == 0o600
        with open(ledger) as f:
            assert f.read() == "d1\n"
        second = Receiver(agent_bin, after=first)
        try:
            with second.connect() as c, c.makefile("r") as answers:
                c.sendall(agent_line("d1", "s1", "FIRST"))
                assert answers.readline() == "ACK d1\n"
                assert second.proc.poll() is None
                c.sendall(agent_line("d2", "s2", "SECOND"))
                assert answers.readline() == "ACK d2\n"
            out, err = second.proc.communicate(timeout=60 * DEADLINE_SCALE)
            assert (second.proc.returncode, out) == (0, f"received: {second.path('s2')} (oauth)\n"), err
            assert "Delivery d1 came again (its ACK was lost): acknowledged again, not written or counted " \
                "twice." in err
            assert not os.path.exists(second.path("s1"))
            with open(ledger) as f:
                assert f.read() == "d1\nd2\n"
        finally:
            second.close()
    finally:
        first.close()


def test_ctl_receive_leaves_the_socket_of_the_receiver_after_it(agent_bin):
    """A receiver started on the path while the one before is still there
    (the next login's, once the first printed its line) takes the path;
    the first, ending after, removes no socket but its own: the second
    still listens there."""
    first = Receiver(agent_bin)
    try:
        with first.connect() as c, c.makefile("r") as answers:
            second = Receiver(agent_bin, after=first)
            try:
                c.sendall(agent_line("d1", "s1", "FIRST"))
                assert answers.readline() == "ACK d1\n"
                out, err = first.proc.communicate(timeout=60 * DEADLINE_SCALE)
                assert (first.proc.returncode, out) == (0, f"received: {first.path('s1')} (oauth)\n"), err
                assert stat.S_ISSOCK(os.lstat(second.sock).st_mode), "the second receiver's socket was removed"
                with second.connect() as c2, c2.makefile("r") as answers2:
                    c2.sendall(agent_line("d2", "s2", "SECOND"))
                    assert answers2.readline() == "ACK d2\n"
                out, err = second.proc.communicate(timeout=60 * DEADLINE_SCALE)
                assert (second.proc.returncode, out) == (0, f"received: {second.path('s2')} (oauth)\n"), err
                assert not os.path.exists(second.sock)
            finally:
                second.close()
    finally:
        first.close()


def test_ctl_receive_two_at_once_keep_each_others_deliveries(agent_bin):
    """Two receivers on the same path at once (the next login's started
    while the first still serves the agent's connection): each adds its
    ids to the ledger, neither drops the other's (each wrote its own
    memory of them over the file); and a delivery the second counted,
    resent on the first's connection, is acknowledged there, not written
    or counted again."""
    first = Receiver(agent_bin)
    try:
        with first.connect() as c, c.makefile("r") as answers:
            second = Receiver(agent_bin, after=first)
            try:
                with second.connect() as c2, c2.makefile("r") as answers2:
                    c2.sendall(agent_line("d2", "s2", "SECOND"))
                    assert answers2.readline() == "ACK d2\n"
                out, err = second.proc.communicate(timeout=60 * DEADLINE_SCALE)
                assert (second.proc.returncode, out) == (0, f"received: {second.path('s2')} (oauth)\n"), err
                c.sendall(agent_line("d2", "s2", "SECOND"))
                assert answers.readline() == "ACK d2\n"
                c.sendall(agent_line("d1", "s1", "FIRST"))
                assert answers.readline() == "ACK d1\n"
                out, err = first.proc.communicate(timeout=60 * DEADLINE_SCALE)
                assert (first.proc.returncode, out) == (0, f"received: {first.path('s1')} (oauth)\n"), err
                assert "Delivery d2 came again (its ACK was lost): acknowledged again, not written or counted " \
                    "twice." in err, err
                assert not os.path.exists(first.path("s2"))
                with open(first.sock + ".delivered") as f:
                    assert f.read() == "d2\nd1\n"
            finally:
                second.close()
    finally:
        first.close()


def waits_for_flock(pid, ino):
    """Whether pid waits for a flock() on the file with inode ino."""
    # A waiter's line: "1: -> FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> 0 EOF".
    with open("/proc/locks") as f:
        for fields in (line.split() for line in f):
            if fields[1:3] == ["->", "FLOCK"] and fields[5] == str(pid) and fields[6].endswith(f":{ino}"):
                return True
    return False


def test_ctl_receive_waits_for_the_ledger_lock(agent_bin):
    """Another receiver on the path holds the ledger's lock (this test,
    here) and adds an id meanwhile: the receiver waits for the lock (seen
    in /proc/locks) before it reads the ledger, so the id added is kept
    beside its own.  The lock file is <uds>.delivered.lock, 0600, left in
    place.  (The wait's bound, --idle-timeout, is far off.)"""
    rx = Receiver(agent_bin, args=("--idle-timeout", "3600"))
    try:
        ledger = rx.sock + ".delivered"
        lock = os.open(ledger + ".lock", os.O_RDWR | os.O_CLOEXEC)
        try:
            assert stat.S_IMODE(os.fstat(lock).st_mode) == 0o600
            fcntl.flock(lock, fcntl.LOCK_EX)
            with rx.connect() as c, c.makefile("r") as answers:
                c.sendall(agent_line("d1", "s1", "FIRST"))
                wait_until(lambda: waits_for_flock(rx.proc.pid, os.fstat(lock).st_ino), 30,
                           "the receiver waiting for the lock")
                with open(ledger + ".new", "w") as f:
                    f.write("d0\n")
                os.rename(ledger + ".new", ledger)
                fcntl.flock(lock, fcntl.LOCK_UN)
                assert answers.readline() == "ACK d1\n"
        finally:
            os.close(lock)
        out, err = rx.proc.communicate(timeout=60 * DEADLINE_SCALE)
        assert (rx.proc.returncode, out) == (0, f"received: {rx.path('s1')} (oauth)\n"), err
        with open(ledger) as f:
            assert f.read() == "d0\nd1\n"
        assert os.path.exists(ledger + ".lock")
    finally:
        rx.close()


# Runs ctl with SIGALRM blocked, as whoever starts it may leave it (the
# signal mask is inherited across exec).
SIGALRM_BLOCKED = ("/usr/bin/python3", "-c", "import os, signal, sys; "
                   "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM]); os.execv(sys.argv[1], sys.argv[1:])")


@pytest.mark.parametrize("wrap", [(), SIGALRM_BLOCKED], ids=["plain", "sigalrm-blocked"])
def test_ctl_receive_waits_for_a_stuck_receivers_lock_only_so_long(agent_bin, wrap):
    """Another receiver on the path holds the ledger's lock and never lets
    go (stopped, or its --out-dir on a disk that hangs; this test, here):
    the receiver waits for it no longer than a connection may stay silent
    (--idle-timeout), then goes on without it, said, rather than stall
    every connection it serves for as long as the other is stuck; also
    when it was started with SIGALRM blocked."""
    rx = Receiver(agent_bin, wrap=wrap, args=("--idle-timeout", "1"))
    try:
        ledger = rx.sock + ".delivered"
        lock = os.open(ledger + ".lock", os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with rx.connect_with(agent_line("d1", "s1", "FIRST")) as c, c.makefile("r") as answers:
                assert answers.readline() == "ACK d1\n"
            out, err = rx.proc.communicate(timeout=60 * DEADLINE_SCALE)
        finally:
            os.close(lock)
        assert (rx.proc.returncode, out) == (0, f"received: {rx.path('s1')} (oauth)\n"), err
        assert f"Waited 1 s for {ledger}.lock, which another receiver on the path holds; going on without " \
            "it." in err, err
        with open(ledger) as f:
            assert f.read() == "d1\n"
    finally:
        rx.close()


def test_ctl_receive_silent_connection_does_not_block(make_env, agent_bin):
    """Connections that send nothing (any guest user can make them, more
    than the receiver serves at once) delay no delivery: with a deadline of
    an hour, the agent's is taken while they are all still open."""
    receiver = Receiver(agent_bin, args=("--idle-timeout", "3600"))
    s = sid()
    silent = []
    try:
        e = make_env(sets=("vsock_port=1234", f"vsock_unix_path={receiver.sock}"))
        assert e.json("POST", "/auth/oauth", {"sessionId": s, "state": "host-state-r",
                                              "authorizeUrl": f"{e.provider_url}/h/authorize"})[0] == 200
        silent = [receiver.connect() for _ in range(SLOTS + 2)]  # more than its slots
        assert e.request("GET", "/oauth/callback?code=SECRET-CODE-r&state=host-state-r")[0] == 200
        # A receiver held up by a silent connection would take the
        # delivery only at that one's deadline, an hour away.
        out, err = receiver.proc.communicate(timeout=60 * DEADLINE_SCALE)
        assert (receiver.proc.returncode, out) == (0, f"received: {receiver.path(s)} (oauth)\n"), err
        assert "Closed the oldest connection that had not sent the VM's token, to take a new one " \
            f"({SLOTS} at once; 1 closed so far)." in err
        assert TOKEN not in out + err
    finally:
        for c in silent:
            c.close()
        receiver.close()


def agent_line(delivery_id, session_id, code):
    """A delivery line as the agent writes it: compact, the token first."""
    return (json.dumps({"token": TOKEN, "deliveryId": delivery_id, "sessionId": session_id, "provider": "oauth",
                        "credentials": {"code": code}, "credPath": ""}, separators=(",", ":")) + "\n").encode()


def closed_said(rx, n):
    """Waits for the receiver's nth word of a connection closed for a new
    one (said at the 1st, 2nd, 4th...): said at the new one's accept."""
    assert select.select([rx.proc.stderr], [], [], 60)[0], "no word of a connection closed"
    line = rx.proc.stderr.readline()
    assert line.endswith(f"Closed the oldest connection that had not sent the VM's token, to take a new one "
                         f"({SLOTS} at once; {n} closed so far).\n"), line


def test_ctl_receive_keeps_a_delivery_under_way(agent_bin):
    """Silent connections, one more than the free slots, after a
    delivery's first part: the last takes the slot of a silent one (it
    never sent the token), not the delivery's, which then ends and is
    taken."""
    rx = Receiver(agent_bin)
    try:
        line = agent_line("d1", "s1", "HALVES")
        half = len(line) // 2
        with rx.connect() as c, c.makefile("r") as answers:
            c.sendall(line[:half])
            silent = [rx.connect() for _ in range(SLOTS)]  # the free slots, then one closed
            try:
                closed_said(rx, 1)  # the last taken before the line ends
                c.sendall(line[half:])
                assert answers.readline() == "ACK d1\n"
            finally:
                for s in silent:
                    s.close()
        out, err = rx.proc.communicate(timeout=60 * DEADLINE_SCALE)
        assert (rx.proc.returncode, out) == (0, f"received: {rx.path('s1')} (oauth)\n"), err
    finally:
        rx.close()


def test_ctl_receive_keeps_the_agents_connection_against_longer_lines(agent_bin):
    """A guest user's connections each hold more of a line than the
    agent's: the agent's, once its line began with the token, and while
    it is the newest before that, is never the one closed for a new one.
    (Closing the one that had sent the least closed the agent's.)"""
    rx = Receiver(agent_bin)
    hostile = []
    try:
        line = agent_line("d1", "s1", "KEPT")
        start = line.index(b'","deliveryId"') + 2  # the token's prefix and a little more
        hostile = [rx.connect() for _ in range(SLOTS)]
        for h in hostile:
            h.sendall(b"x" * 4096)  # no newline: a long partial line each
        with rx.connect() as c, c.makefile("r") as answers:
            closed_said(rx, 1)  # the agent's connection took the oldest one's slot
            # Another before the agent's wrote anything: the agent's is the
            # newest that has not shown the token, not the one closed.
            hostile.append(rx.connect())
            hostile[-1].sendall(b"x" * 4096)
            closed_said(rx, 2)
            c.sendall(line[:start])
            # Read before the next one is taken (written before its connect).
            for _ in range(2):  # the 3rd closing is not said, the 4th is
                hostile.append(rx.connect())
                hostile[-1].sendall(b"x" * 4096)
            closed_said(rx, 4)
            c.sendall(line[start:])
            assert answers.readline() == "ACK d1\n"
        out, err = rx.proc.communicate(timeout=60 * DEADLINE_SCALE)
        assert (rx.proc.returncode, out) == (0, f"received: {rx.path('s1')} (oauth)\n"), err
        # The first four guests' connections were the ones closed.
        for h in hostile[:4]:
            h.settimeout(60)
            assert h.recv(1) == b""
    finally:
        for h in hostile:
            h.close()
        rx.close()


def test_ctl_receive_keeps_little_of_a_line_without_the_token(agent_bin):
    """A connection whose line does not start with the token (not the
    agent's) is closed once it holds 64 KiB of it: the many slots cost the
    host little memory.  A line of the agent's is taken whatever its
    length (its credentials, here 200 KB)."""
    rx = Receiver(agent_bin)
    try:
        with rx.connect() as junk:
            junk.sendall(b"y" * (64 * 1024 + 1))
            assert junk.recv(1) == b""
        line = agent_line("d1", "s1", "C" * 200_000)
        with rx.connect() as c, c.makefile("r") as answers:
            c.sendall(line)
            assert answers.readline() == "ACK d1\n"
        out, err = rx.proc.communicate(timeout=60 * DEADLINE_SCALE)
        assert (rx.proc.returncode, out) == (0, f"received: {rx.path('s1')} (oauth)\n"), err
    finally:
        rx.close()


def test_ctl_receive_writes_what_it_was_sent_compactly(agent_bin):
    """Credentials nested 400 deep: written compact, no larger than they
    came (indented, each element on a line of its own indented by its
    depth, these 20 KB made 8 MB); and a provider that is not an id (it is
    printed on a line of stdout) is refused."""
    rx = Receiver(agent_bin)
    try:
        deep = {"a": json.loads("[" * 400 + ",".join(["0"] * 10000) + "]" * 400)}
        base = {"token": TOKEN, "sessionId": "s1", "credPath": ""}
        with rx.connect() as c, c.makefile("r") as answers:
            c.sendall((json.dumps({**base, "deliveryId": "p1", "provider": "x)\nreceived: /etc/shadow (y",
                                   "credentials": {"code": "C"}}) + "\n").encode())
            assert answers.readline() == "NAK p1 malformed\n"
            sent = json.dumps({**base, "deliveryId": "d1", "provider": "oauth", "credentials": deep})
            c.sendall((sent + "\n").encode())
            assert answers.readline() == "ACK d1\n"
        out, err = rx.proc.communicate(timeout=60 * DEADLINE_SCALE)
        assert (rx.proc.returncode, out) == (0, f"received: {rx.path('s1')} (oauth)\n"), err
        assert os.path.getsize(rx.path("s1")) <= len(json.dumps(deep))
        with open(rx.path("s1")) as f:
            assert json.load(f) == deep
    finally:
        rx.close()


def test_ctl_receive_acknowledges_a_durable_file(agent_bin, tmp_path):
    """The ACK lets the agent forget the credentials: before it, the file is
    synced, named (linked: it had no name), and the directory synced too
    (a name not yet on disk is lost with power, after the ACK).  Seen in
    the system calls, in order."""
    need("strace")
    trace = tmp_path / "trace"
    rx = Receiver(agent_bin, wrap=("strace", "-q", "-o", str(trace), "-e",
                                   "trace=fsync,linkat,rename,renameat,renameat2,sendto"))
    try:
        with rx.connect() as c, c.makefile("r") as answers:
            c.sendall((json.dumps({"token": TOKEN, "deliveryId": "d1", "sessionId": "s1", "provider": "oauth",
                                   "credentials": {"code": "C"}, "credPath": ""}) + "\n").encode())
            assert answers.readline() == "ACK d1\n"
        rx.proc.communicate(timeout=60 * DEADLINE_SCALE)
        calls = [l for l in trace.read_text().splitlines() if l.split("(")[0] in ("fsync", "linkat", "renameat",
                                                                               "renameat2", "rename", "sendto")]
        rename = next(i for i, l in enumerate(calls) if '"s1.json"' in l)
        assert calls[rename].startswith("linkat("), calls
        dirfd = calls[rename].split("(")[1].split(",")[2].strip()
        ack = next(i for i, l in enumerate(calls) if "ACK d1" in l)
        assert calls[rename - 1].startswith("fsync("), calls  # the file
        assert rename < ack and f"fsync({dirfd})" in [l.split("=")[0].strip() for l in calls[rename + 1:ack]], calls
    finally:
        rx.close()


def test_ctl_receive_killed_while_it_writes_leaves_nothing(agent_bin):
    """The receiver killed (SIGKILL, here by strace at the delivery file's
    fsync) while it writes a delivery: the file has no name until it is
    synced, so nothing of the credentials is left in --out-dir (a named
    temporary file was, <sessionId>.json.XXXXXX); the agent, without its
    ACK, sends the delivery again to the next receiver."""
    need("strace")
    rx = Receiver(agent_bin, wrap=("strace", "-q", "-o", "/dev/null", "-e", "trace=fsync",
                                   "-e", "inject=fsync:signal=SIGKILL:when=1"))
    try:
        with rx.connect() as c, c.makefile("r") as answers:
            c.sendall(agent_line("d1", "s1", "KILLED"))
            assert answers.readline() == ""  # no ACK: killed
        rx.proc.communicate(timeout=60 * DEADLINE_SCALE)
        assert rx.proc.returncode == -signal.SIGKILL  # strace ends as its tracee did
        assert os.listdir(rx.out) == []
    finally:
        rx.close()


def test_ctl_receive_closes_a_silent_connection_at_its_deadline(receiver):
    """A connection that sends nothing is closed after 10 s (the default),
    and said so."""
    with receiver.connect() as silent:
        assert silent.recv(1) == b""
    receiver.proc.kill()
    _, err = receiver.proc.communicate(timeout=60 * DEADLINE_SCALE)
    assert "Closed a connection that delivered nothing for 10 s (1 so far)." in err


def test_ctl_receive_says_the_silent_connections_it_closes_at_a_rate(agent_bin):
    """Any guest user can open connections that send nothing, as many as it
    likes: their closing at the deadline is said at the 1st, 2nd, 4th,
    8th..., as the receiver's other words of a guest's doing, not once for
    each."""
    rx = Receiver(agent_bin, args=("--idle-timeout", "1"))
    try:
        silent = [rx.connect() for _ in range(8)]
        for c in silent:
            assert c.recv(1) == b""
            c.close()
        rx.proc.kill()
        _, err = rx.proc.communicate(timeout=60 * DEADLINE_SCALE)
        said = [l for l in err.splitlines() if "Closed a connection that delivered nothing" in l]
        assert [l.split(": ", 1)[1] for l in said] == [
            f"Closed a connection that delivered nothing for 1 s ({n} so far)." for n in (1, 2, 4, 8)], err
    finally:
        rx.close()


def test_ctl_receive_idle_timeout(agent_bin):
    """--idle-timeout sets that deadline (the silent connection is closed,
    by the receiver, and the log names the value given)."""
    rx = Receiver(agent_bin, args=("--idle-timeout", "1"))
    try:
        with rx.connect() as silent:
            assert silent.recv(1) == b""
        rx.proc.kill()
        _, err = rx.proc.communicate(timeout=60 * DEADLINE_SCALE)
        assert "Closed a connection that delivered nothing for 1 s (1 so far)." in err
    finally:
        rx.close()
