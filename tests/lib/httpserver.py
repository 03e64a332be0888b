"""The HTTP server under test alone in a Lan(), for the netns tier's HTTP
tests (test_http.py, test_http_connections.py): the agent with no services
(or tests/netns/http-driver, whose test routes answer what the agent's
cannot be made to), listening on :8080 in the guest namespace, and
requests to it from either side.

Layout: Lan(): guest namespace (the server, eth0 = 10.77.0.2/24, probes
from 127.0.0.1) and host namespace (the attacker, 10.77.0.1).

Every server ends with SIGTERM, as a test's own end or guest_lan()'s, and
must then exit 0 with no sanitizer report in its stderr: under an
ASan+UBSan build (tests/run's asan tier) a memory error a request caused,
or one only the exit shows (a leak), fails the test that made it.
"""
import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile

from netns import DEADLINE_SCALE, Lan, wait_until

PORT = 8080
GUEST = "10.77.0.2"
TOKEN = "tok-http-test-0123456789"

# What ASan (LeakSanitizer's summary too) and UBSan print in a report.
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")

# The servers not closed yet: guest_lan() closes those of its Lan.
_servers = []


class Server:
    """The agent (or the driver) running in lan.guest, listening on :8080."""

    def __init__(self, lan, argv):
        self.lan = lan
        # A file, not a pipe: nothing reads it while the server runs, and a
        # full pipe would stall the server's logging.
        self.stderr = tempfile.TemporaryFile(prefix="vmba-http-stderr-")
        self.proc = lan.guest.popen(argv, stdout=subprocess.DEVNULL, stderr=self.stderr)
        _servers.append(self)
        wait_until(self.listening, 10, "the HTTP server to listen")

    def listening(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited {self.proc.returncode}: {self.log_text()!r}")
        return self.lan.guest.accepts(PORT)

    def log_text(self):
        """Everything the server wrote to stderr so far."""
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def close(self):
        """SIGTERM, unless it is gone already; then fails unless it exited 0
        within its stop deadline (a hung one, SIGKILLed here, would never
        reach its leak check) and its stderr holds no sanitizer report.
        Whatever is left of it is killed all the same."""
        if self not in _servers:
            return
        _servers.remove(self)
        try:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=15 * DEADLINE_SCALE)
            status = self.proc.poll()
        finally:
            self.lan.guest.kill_procs()
            log = self.log_text()
            self.stderr.close()
        assert not [m for m in SANITIZER_MARKS if m in log], log[-6000:]
        assert status is not None, f"server did not exit within {15 * DEADLINE_SCALE:g} s of SIGTERM: {log[-4000:]}"
        assert status == 0, f"server exited {status}: {log[-4000:]}"

    def request(self, method, path, headers=None, body=None, src="guest", timeout=5):
        """One request on a fresh connection; returns (status, headers, body)."""
        ns, host = (self.lan.guest, "127.0.0.1") if src == "guest" else (self.lan.host, GUEST)
        with ns.entered():
            c = http.client.HTTPConnection(host, PORT, timeout=timeout)
            try:
                c.request(method, path, body=body, headers=headers or {})
                r = c.getresponse()
                return r.status, dict(r.getheaders()), r.read()
            finally:
                c.close()

    def json(self, method, path, **kw):
        status, headers, body = self.request(method, path, **kw)
        return status, headers, json.loads(body)

    def probe(self):
        """GET /health from guest loopback answers 200 with a version."""
        status, _, body = self.request("GET", "/health", timeout=30)
        assert status == 200, body
        assert json.loads(body)["version"]

    def metric(self, name, src="guest"):
        """The value of an unlabelled metric from /metrics."""
        status, _, body = self.request("GET", "/metrics", src=src, timeout=30)
        assert status == 200, body
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        raise AssertionError(f"no {name} in /metrics")

    def assert_serving(self, n=5):
        for _ in range(n):
            self.probe()
        assert self.proc.poll() is None


@contextlib.contextmanager
def scratch_dir():
    """A directory for the agent's files, removed afterwards."""
    d = tempfile.mkdtemp(prefix="vmba-http-", dir="/var/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def guest_lan():
    """A Lan() whose guest has GUEST on eth0, up; the servers started in
    it that are still there at its end are closed (Server.close())."""
    with Lan() as lan:
        lan.guest.run("ip", "addr", "add", f"{GUEST}/24", "dev", "eth0")
        lan.guest.run("ip", "link", "set", "eth0", "up")
        try:
            yield lan
        finally:
            for s in [s for s in _servers if s.lan is lan]:
                s.close()


def agent_argv(agent_bin, workdir, *sets, kernel_cmdline="console=ttyS0"):
    """`vm-browser-agent run` with no services, netinit or token file, on
    PORT with http_timeout_s=2, kernel_cmdline as its kernel command line,
    and `--set` for each of sets; its files in workdir."""
    services = os.path.join(workdir, "services.json")
    with open(services, "w") as f:
        json.dump({"services": []}, f)
    cmdline = os.path.join(workdir, "cmdline")
    with open(cmdline, "w") as f:
        f.write(kernel_cmdline + "\n")
    config = os.path.join(workdir, "agent.json")
    with open(config, "w") as f:
        json.dump({"build_id_path": os.path.join(workdir, "build-id")}, f)
    argv = [agent_bin, "run", "--config", config, "--services-file", services,
            "--set", f"cmdline_path={cmdline}", "--set", "token_file=", "--no-netinit",
            "--no-reboot", "--http-port", str(PORT), "--set", "http_timeout_s=2"]
    for s in sets:
        argv += ["--set", s]
    return argv


@contextlib.contextmanager
def agent_server(agent_bin, lan, workdir):
    """The agent with TOKEN as its control token, serving; closed
    afterwards (Server.close())."""
    s = Server(lan, agent_argv(agent_bin, workdir, f"token={TOKEN}"))
    try:
        yield s
    finally:
        s.close()


def read_answer(c):
    """The head of one answer on c, its body read by Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        assert chunk, f"closed before an answer: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")))
    while len(body) < length:
        chunk = c.recv(65536)
        assert chunk, "closed mid-answer"
        body += chunk
    assert len(body) == length, "more than one answer"
    return head
