"""Network namespaces for the netns tier.

Every test that runs netinit or the agent does it inside namespaces it makes
here: never the machine's own network.  `Lan()` makes two namespaces joined
by a veth pair: `guest` (the VM: its end is `eth0`) and `host` (the host
bridge side: `veth0`, 10.77.0.1/24 by default).  Nothing is created in the
initial namespace.  Everything is removed on close().

A run that is stopped (SIGTERM from a CI's cancel or timeout(1), SIGHUP,
SIGINT) removes what it made all the same: stop_on_signals() turns the
first of those signals into a KeyboardInterrupt, so every with block and
fixture finalizer runs, and what is still open at the end of the session
(close_leftovers()) goes then: the processes started here (an agent runs
in a session of its own, which a signal to pytest's group misses), the
namespaces, the work dirs.
"""
import contextlib
import ctypes
import itertools
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count()


class _Stop:
    """What stop_on_signals() keeps: whether a stop signal came (at most
    one is raised), and how deep in deferred_stop() blocks the main thread is."""
    signalled = None
    deferred = 0
    pending = False


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _on_stop_signal(signo, frame):
    if _Stop.signalled is not None:
        return  # the cleanup the first one started is not cut short
    _Stop.signalled = signo
    if _Stop.deferred:
        _Stop.pending = True
        return
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signo).name}")


def stop_on_signals():
    """The first SIGTERM, SIGINT or SIGHUP raises KeyboardInterrupt in the
    main thread (pytest then tears down as after Ctrl-C); later ones are
    ignored while that cleanup runs.  A handler, not SIG_IGN: a child
    started meanwhile gets the default action."""
    for s in STOP_SIGNALS:
        signal.signal(s, _on_stop_signal)


@contextlib.contextmanager
def deferred_stop():
    """A stop signal that comes in the block is raised at its end: for a
    process or directory made and recorded for cleanup in one step."""
    _Stop.deferred += 1
    try:
        yield
    finally:
        _Stop.deferred -= 1
        if not _Stop.deferred and _Stop.pending:
            _Stop.pending = False
            raise KeyboardInterrupt(f"stopped by {signal.Signals(_Stop.signalled).name}")


# What is open now: closed by close_leftovers() at the end of the session.
_open_netns = []
_open_workdirs = []


def close_leftovers():
    """Closes every Netns still open (its processes killed by group, then
    whatever else runs inside, then the namespace deleted) and removes
    every work dir still there, unless VMBA_KEEP_LOGS: what a test that
    did not close its own left (a stop signal in the middle of it)."""
    while _open_netns:
        ns = _open_netns.pop()
        with contextlib.suppress(Exception):
            ns.close()
    if not os.environ.get("VMBA_KEEP_LOGS"):
        while _open_workdirs:
            shutil.rmtree(_open_workdirs.pop(), ignore_errors=True)


def require_root():
    if os.geteuid() != 0:
        pytest.skip("netns tier needs root")
    r = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if r.returncode != 0:
        pytest.skip("unshare(CLONE_NEWNET) not permitted here")


def need(*binaries):
    """Skips the test unless every program is on PATH."""
    for b in binaries:
        if not shutil.which(b):
            pytest.skip(f"{b} not installed")


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


class Netns:
    """A named network namespace (`ip netns add`), removed on close()."""

    def __init__(self, prefix="vmba"):
        require_root()
        self.name = f"{prefix}-{os.getpid()}-{next(_counter)}"
        self.procs = []
        _open_netns.append(self)
        try:
            # Interrupted, `ip` may or may not have made it: close() says.
            _ip("netns", "add", self.name)
            self.run("ip", "link", "set", "lo", "up")
        except BaseException:
            self.close()  # a failed setup leaves no namespace behind
            raise

    def argv(self, *argv):
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv, check=True, timeout=30, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.argv(*argv), check=check, timeout=timeout, **kw)

    def popen(self, argv, **kw):
        """Starts argv in the namespace in its own process group; it is
        killed (the whole group) on close()."""
        kw.setdefault("start_new_session", True)
        with deferred_stop():
            p = subprocess.Popen(self.argv(*argv), **kw)
            self.procs.append(p)
        return p

    def ip_json(self, *args):
        import json
        out = self.run("ip", "-j", *args).stdout
        return json.loads(out) if out.strip() else []

    @contextlib.contextmanager
    def entered(self):
        """Moves this thread into the namespace for the block: sockets made
        inside belong to it (pytest runs tests on one thread)."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            yield self
        finally:
            _libc.setns(own, CLONE_NEWNET)
            os.close(own)
            os.close(target)

    def accepts(self, port, host="127.0.0.1"):
        """Whether a TCP connection to host:port in the namespace is
        accepted now (within 1 s)."""
        with self.entered():
            try:
                socket.create_connection((host, port), timeout=1).close()
                return True
            except OSError:
                return False

    def kill_procs(self):
        """Each group SIGKILLed first, then each waited for: one that is
        slow to go leaves none of the others running."""
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
        while self.procs:
            self.procs[0].wait(timeout=10 * DEADLINE_SCALE)
            self.procs.pop(0)

    def close(self):
        try:
            self.kill_procs()
        finally:
            # Any stragglers still inside (started by hand) are ours too.
            pids = _ip("netns", "pids", self.name, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _ip("netns", "del", self.name, check=False)
            with contextlib.suppress(ValueError):
                _open_netns.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Lan:
    """A guest namespace with `eth0` and a host namespace with `veth0`,
    joined by a veth pair.  create_device=False leaves the guest without
    eth0 until add_device() (for tests of netinit waiting for it)."""

    def __init__(self, host_addr="10.77.0.1/24", create_device=True, guest_dev="eth0"):
        self.host_addr = host_addr
        self.guest_dev = guest_dev
        self.host = Netns("vmbah")
        self.guest = None
        try:
            self.guest = Netns("vmbag")
            if create_device:
                self.add_device()
        except BaseException:
            self.close()  # a failed setup leaves no namespace behind
            raise

    def add_device(self, mtu=None):
        self.host.run("ip", "link", "add", "veth0", "type", "veth",
                      "peer", "name", self.guest_dev, "netns", self.guest.name)
        if mtu:
            self.host.run("ip", "link", "set", "veth0", "mtu", str(mtu))
        if self.host_addr:
            self.host.run("ip", "addr", "add", self.host_addr, "dev", "veth0")
        self.host.run("ip", "link", "set", "veth0", "up")

    def close(self):
        try:
            if self.guest:
                self.guest.close()
        finally:
            self.host.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# Deadlines only keep a broken build from hanging a test; they are not
# expectations of speed.  A loaded 2-core CI machine can take several times
# as long as an idle one, so every deadline is stretched by this factor.
DEADLINE_SCALE = float(os.environ.get("VMBA_DEADLINE_SCALE", "3"))


# Where the tests keep what an agent's provider CLIs must reach (their
# binaries, the control socket, login_home, the browser links): not below
# /tmp, /var/tmp, /dev/shm or /run/lock, which each CLI has empty, a tmpfs
# of its own.
WORKDIR = os.environ.get("VMBA_TEST_WORKDIR", "/var/lib/vmba-tests")


def workdir(prefix):
    """A new directory below WORKDIR (made 0755, root's, when missing),
    removed by close_leftovers() if still there at the end of the session."""
    os.makedirs(WORKDIR, mode=0o755, exist_ok=True)
    with deferred_stop():
        d = tempfile.mkdtemp(prefix=prefix, dir=WORKDIR)
        _open_workdirs.append(d)
    return d


def cli_reachable(path, directory):
    """path, or when each CLI's private /tmp, /var/tmp, /dev/shm or
    /run/lock would hide it (a checkout or build below /tmp), a copy of it in directory."""
    real = os.path.realpath(path)
    if not any(real == d or real.startswith(d + "/") for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")):
        return path
    copy = os.path.join(directory, os.path.basename(path))
    shutil.copy2(real, copy)
    return copy


def wait_until(pred, timeout=10.0, what="condition"):
    """Polls pred() with a deadline: test-side only, for observing a process
    we do not control.  The agent itself never waits this way."""
    timeout *= DEADLINE_SCALE
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def read_line(stream, text=None, timeout=10.0):
    """The first line a child writes on a pipe (stream: a Popen's stdout or
    stderr, or a pipe's fd), or the first with text in it (or one of a
    tuple of texts).
    Waited for with a deadline, scaled: a child that keeps running without
    writing it would keep a plain read, and the tier with it (pytest has no
    timeout of its own), waiting for good.  Read from the fd a byte at a
    time, as select() knows nothing of a text stream's buffer: nothing
    past the line is taken, so the stream can be read on afterwards (by
    communicate(), by this again), as long as nothing read it before."""
    texts = (text,) if isinstance(text, str) else text
    fd = stream if isinstance(stream, int) else stream.fileno()
    deadline = time.monotonic() + timeout * DEADLINE_SCALE
    what = "line" if texts is None else f"line with {text!r}"
    line = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"no {what} within {timeout * DEADLINE_SCALE:g} s")
        byte = os.read(fd, 1)
        if not byte:
            raise AssertionError(f"no {what} before EOF")
        line += byte
        if byte == b"\n":
            if texts is None or any(t in line.decode(errors="replace") for t in texts):
                return line.decode(errors="replace")
            line = b""


def squat(ns, address, port, reuse=False):
    """A listener of root's (another user than the CLIs') on address:port
    in ns; an IPv6 address takes IPv4 connections too.  reuse: bind over
    connections of an earlier listener still in TIME_WAIT there."""
    with ns.entered():
        sq = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
        try:
            if ":" in address:
                sq.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            if reuse:
                sq.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sq.bind((address, port))
            sq.listen(8)
        except OSError:
            sq.close()
            raise
    return sq


def bind_errno(address, port, v6only=False, reuse=False, uid=0):
    """What a bind and listen on address:port gets as uid in the network
    namespace entered: 0 when the port was its own (closed again), else
    the errno.  v6only: an IPv6 address alone, not IPv4's too."""
    os.seteuid(uid)
    try:
        s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    finally:
        os.seteuid(0)
    with s:
        if ":" in address:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
        if reuse:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
            s.listen()
        except OSError as e:
            return e.errno
    return 0


def requests_received(listener):
    """What reached a listening socket so far: the first bytes of each
    connection waiting in its queue (each then closed)."""
    listener.setblocking(False)
    got = []
    while True:
        try:
            c, _ = listener.accept()
        except BlockingIOError:
            return got
        with c:
            c.settimeout(5 * DEADLINE_SCALE)
            try:
                got.append(c.recv(4096))
            except OSError as e:
                got.append(repr(e).encode())
