"""The HTTP server under test alone in a Lan(), for the netns tier's HTTP
tests (test_http.py, test_http_connections.py): the agent with no services
(or tests/netns/http-driver, whose test routes answer what the agent's
cannot be made to), listening on :8080 in the guest namespace, and
requests to it from either side.

Layout: Lan(): guest namespace (the server, eth0 = 10.77.0.2/24, probes
from 127.0.0.1) and host namespace (the attacker, 10.77.0.1).
"""
import contextlib
import http.client
import json
import os
import shutil
import subprocess
import tempfile

from netns import Lan, wait_until

PORT = 8080
GUEST = "10.77.0.2"
TOKEN = "tok-http-test-0123456789"


class Server:
    """The agent (or the driver) running in lan.guest, listening on :8080."""

    def __init__(self, lan, argv):
        self.lan = lan
        self.proc = lan.guest.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(self.listening, 10, "the HTTP server to listen")

    def listening(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited {self.proc.returncode}: {self.proc.stderr.read()!r}")
        return self.lan.guest.accepts(PORT)

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
    """A Lan() whose guest has GUEST on eth0, up."""
    with Lan() as lan:
        lan.guest.run("ip", "addr", "add", f"{GUEST}/24", "dev", "eth0")
        lan.guest.run("ip", "link", "set", "eth0", "up")
        yield lan


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
    """The agent with TOKEN as its control token, serving; its processes
    killed afterwards."""
    s = Server(lan, agent_argv(agent_bin, workdir, f"token={TOKEN}"))
    try:
        yield s
    finally:
        s.lan.guest.kill_procs()


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
