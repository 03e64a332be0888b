"""systemd integration, checked against a notify socket made by the test:
READY=1 only once HTTP listens, STATUS= lines, WATCHDOG=1 when
WATCHDOG_USEC is set, STOPPING=1 on SIGTERM; and socket activation through
systemd-socket-activate (LISTEN_FDS).  The agent runs in its own network
namespace with a one-service services file (no display stack), netinit off.
"""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading

import pytest

from netns import DEADLINE_SCALE, Netns, wait_until
from svagent import TOKEN, write_secret_files


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="vmba-notify-", dir="/var/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def agent_argv(agent_bin, workdir, port):
    services = os.path.join(workdir, "services.json")
    with open(services, "w") as f:
        # One trivial service, so the supervisor reports the chain ready.
        json.dump({"services": [{"name": "idle", "argv": ["/bin/sleep", "1000"]}]}, f)
    cmdline = os.path.join(workdir, "cmdline")
    with open(cmdline, "w") as f:
        f.write("console=ttyS0 quiet\n")
    token_file, desktop_file = write_secret_files(workdir)
    return [agent_bin, "run", "--config", config_file(workdir),
            "--services-file", services, "--set", f"cmdline_path={cmdline}",
            "--set", f"token_file={token_file}", "--set", f"desktop_secret_file={desktop_file}",
            "--set", f"runtime_dir={workdir}/run", "--set", f"login_home={workdir}/logins",
            "--set", f"firefox_profile={workdir}/browser/profile",
            "--no-netinit", "--http-port", str(port)]


def config_file(workdir):
    path = os.path.join(workdir, "agent.json")
    with open(path, "w") as f:
        json.dump({"build_id_path": os.path.join(workdir, "build-id")}, f)
    return path


class NotifySocket:
    """The test's stand-in for systemd's notify socket: a datagram socket;
    messages are recorded in arrival order.  Read all the time from a
    thread of its own, as systemd reads it: the agent's sd_notify() blocks
    once 10 datagrams are queued (net.unix.max_dgram_qlen), one second of
    WATCHDOG=1 at WATCHDOG_USEC=200000, and its loop with it (an HTTP
    request then goes unanswered), so a test that read only between its
    steps failed whenever a step (a curl on a loaded machine) took that
    long."""

    def __init__(self, workdir):
        self.path = os.path.join(workdir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(self.path)
        self.messages = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC)
        self._thread = threading.Thread(target=self._read_on, daemon=True)
        self._thread.start()

    def _read_queued(self):
        with self._lock:
            while True:
                try:
                    self.messages.append(self.sock.recv(4096, socket.MSG_DONTWAIT).decode())
                except BlockingIOError:
                    return list(self.messages)

    def _read_on(self):
        while self._wake_r not in select.select([self.sock, self._wake_r], [], [])[0]:
            self._read_queued()

    def drain(self):
        """Every message so far, those still queued included."""
        return self._read_queued()

    def lines(self):
        return [line for m in self.drain() for line in m.split("\n") if line]

    def wait_for(self, line, timeout=10.0):
        return wait_until(lambda: line in self.lines(), timeout, f"{line!r} on the notify socket")

    def wait_exit(self, proc, timeout=15.0):
        """proc's exit status."""
        wait_until(lambda: proc.poll() is not None, timeout, "the agent's exit")
        return proc.returncode

    def close(self):
        os.write(self._wake_w, b"x")
        self._thread.join()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self.sock.close()


def http_get(ns, port, path="/health"):
    r = ns.run("curl", "-sS", "-m", "5", f"http://127.0.0.1:{port}{path}")
    return json.loads(r.stdout)


def test_ready_status_watchdog_stopping(agent_bin, workdir):
    port = 18090
    with Netns() as ns:
        ns_sock = NotifySocket(workdir)
        env = dict(os.environ, NOTIFY_SOCKET=ns_sock.path, WATCHDOG_USEC="200000")
        env.pop("WATCHDOG_PID", None)
        agent = ns.popen(agent_argv(agent_bin, workdir, port), env=env)
        try:
            # The first message is READY=1: no STATUS or WATCHDOG before it.
            msg = wait_until(lambda: ns_sock.drain(), 10, "the first notify message")[0]
            assert msg.split("\n")[0] == "READY=1", msg
            assert msg.split("\n")[1] == f"STATUS=HTTP on :{port}, starting services"
            # READY=1 promised a listening socket: it must accept now, without retrying.
            assert ns.accepts(port)
            assert http_get(ns, port)["status"] in ("ok", "starting")
            ns_sock.wait_for("STATUS=Display chain ready")
            # sd-event pets the watchdog at half of WATCHDOG_USEC: several within a second.
            wait_until(lambda: ns_sock.lines().count("WATCHDOG=1") >= 3, 10, "three WATCHDOG=1")
            assert ns_sock.lines().count("READY=1") == 1

            agent.send_signal(signal.SIGTERM)
            assert ns_sock.wait_exit(agent) == 0
            lines = ns_sock.lines()
            assert "STOPPING=1" in lines
            assert "STATUS=Stopping: SIGTERM" in lines
            assert lines.index("STOPPING=1") > lines.index("READY=1")
        finally:
            ns_sock.close()


def test_no_watchdog_without_watchdog_usec(agent_bin, workdir):
    port = 18091
    with Netns() as ns:
        ns_sock = NotifySocket(workdir)
        env = dict(os.environ, NOTIFY_SOCKET=ns_sock.path)
        env.pop("WATCHDOG_USEC", None)
        agent = ns.popen(agent_argv(agent_bin, workdir, port), env=env)
        try:
            ns_sock.wait_for("READY=1")
            ns_sock.wait_for("STATUS=Display chain ready")
            # Let a watchdog period's worth of loop iterations pass: POST a
            # shutdown and look at everything sent until the exit.
            r = ns.run("curl", "-sS", "-m", "5", "-X", "POST", "-H", f"Authorization: Bearer {TOKEN}",
                       f"http://127.0.0.1:{port}/shutdown")
            assert json.loads(r.stdout) == {"status": "stopping"}
            assert ns_sock.wait_exit(agent) == 0
            lines = ns_sock.lines()
            assert "WATCHDOG=1" not in lines
            assert "STATUS=Stopping: POST /shutdown" in lines
        finally:
            ns_sock.close()


@pytest.mark.skipif(not shutil.which("systemd-socket-activate"), reason="systemd-socket-activate not installed")
def test_socket_activation(agent_bin, workdir):
    """systemd-socket-activate listens on 127.0.0.1:18093, starts the agent on
    the first connection and passes the socket as fd 3 (LISTEN_FDS=1).  The
    agent's own http_port (18094) stays closed: it served the passed fd."""
    with Netns() as ns:
        ns_sock = NotifySocket(workdir)
        argv = ["systemd-socket-activate", "-l", "127.0.0.1:18093",
                "-E", f"NOTIFY_SOCKET={ns_sock.path}",
                *agent_argv(agent_bin, workdir, 18094)]
        ns.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: ns.accepts(18093), 10, "systemd-socket-activate listening")
            health = http_get(ns, 18093)
            assert health["status"] in ("ok", "starting")
            ns_sock.wait_for("READY=1")
            assert not ns.accepts(18094)
        finally:
            ns.kill_procs()
            ns_sock.close()


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def fake_system_bus(workdir):
    """A private dbus-daemon standing in for the system bus (no systemd on
    it), and dbus-monitor recording every call made on it."""
    if not (shutil.which("dbus-daemon") and shutil.which("dbus-monitor")):
        pytest.skip("dbus-daemon / dbus-monitor not installed")
    path = os.path.join(workdir, "system_bus_socket")
    conf = os.path.join(workdir, "bus.conf")
    with open(conf, "w") as f:
        f.write(BUS_CONFIG.format(path=path))
    # It prints its address once it listens (its socket's file exists from
    # bind(), before listen(): a client then may be refused).
    rfd, wfd = os.pipe()
    daemon = subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork", "--nopidfile",
                               f"--print-address={wfd}"], pass_fds=(wfd,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(wfd)
    address = f"unix:path={path}"
    with os.fdopen(rfd) as printed:
        if not printed.readline().startswith(address):
            daemon.kill()
            daemon.wait()
            pytest.fail("dbus-daemon did not say it listens")
    monitor, log = None, open(os.path.join(workdir, "monitor.log"), "w+")
    try:
        monitor = subprocess.Popen(["dbus-monitor", "--address", address], stdout=log,
                                   stderr=subprocess.DEVNULL)
        wait_until(lambda: "BecomeMonitor" in open(log.name).read() or "NameAcquired" in open(log.name).read(),
                   10, "dbus-monitor attached")
        yield address, log.name
    finally:
        for p in (monitor, daemon):
            if p:
                p.kill()
                p.wait()
        log.close()


def start_unit_calls(monitor_log):
    text = open(monitor_log).read()
    return [block for block in text.split("\n\n") if "member=StartUnit" in block]


def test_post_shutdown_asks_systemd(agent_bin, workdir, fake_system_bus):
    """system_shutdown=true (what `auto` means for a systemd system service):
    POST /shutdown asks systemd for reboot.target instead of exiting.  The
    fake bus has no systemd, so the call fails and the agent stops alone."""
    address, monitor_log = fake_system_bus
    port = 18095
    with Netns() as ns:
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
        agent = ns.popen(agent_argv(agent_bin, workdir, port) + ["--set", "system_shutdown=true"],
                         env=env, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: ns.accepts(port), 10, "HTTP listening")
        r = ns.run("curl", "-sS", "-m", "5", "-X", "POST", "-H", f"Authorization: Bearer {TOKEN}",
                       f"http://127.0.0.1:{port}/shutdown")
        assert json.loads(r.stdout) == {"status": "stopping"}
        _, err = agent.communicate(timeout=15 * DEADLINE_SCALE)
        assert agent.returncode == 0
        assert "<5>vm-browser-agent: POST /shutdown: asking systemd for reboot.target." in err
        assert "<3>vm-browser-agent: systemd refused the shutdown (org.freedesktop.DBus.Error.ServiceUnknown" in err
        calls = wait_until(lambda: start_unit_calls(monitor_log), 10, "StartUnit on the bus")
        assert len(calls) == 1
        assert "destination=org.freedesktop.systemd1" in calls[0]
        assert 'string "reboot.target"' in calls[0]
        assert 'string "replace-irreversibly"' in calls[0]


def test_post_shutdown_auto_outside_systemd(agent_bin, workdir, fake_system_bus):
    """system_shutdown=auto with NOTIFY_SOCKET and INVOCATION_ID set, but not
    started by PID 1: not a systemd service, so the machine is left alone."""
    address, monitor_log = fake_system_bus
    port = 18096
    with Netns() as ns:
        sock = NotifySocket(workdir)
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address, NOTIFY_SOCKET=sock.path,
                   INVOCATION_ID="0123456789abcdef0123456789abcdef")
        agent = ns.popen(agent_argv(agent_bin, workdir, port), env=env)
        try:
            sock.wait_for("READY=1")
            r = ns.run("curl", "-sS", "-m", "5", "-X", "POST", "-H", f"Authorization: Bearer {TOKEN}",
                       f"http://127.0.0.1:{port}/shutdown")
            assert json.loads(r.stdout) == {"status": "stopping"}
            assert sock.wait_exit(agent) == 0
            assert start_unit_calls(monitor_log) == []
        finally:
            sock.close()
