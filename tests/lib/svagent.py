"""The real agent (`vm-browser-agent run`) in a test network namespace, for
the supervisor and display tests: unique display number and ports per
instance, log captured to a file, HTTP probes made from inside the
namespace.  Nothing touches the machine's network or its X displays other
than the one this instance owns."""
import atexit
import contextlib
import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile

from netns import DEADLINE_SCALE, Netns, cli_reachable, need, wait_until, workdir

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The image's Firefox policy, the one file mkimage installs.
POLICIES = os.path.join(os.path.dirname(TESTS), "packaging", "image", "firefox-policies.json")
# The image's window manager configuration, over Debian's.
OPENBOX_CONFIG = os.path.join(os.path.dirname(TESTS), "packaging", "image", "openbox")
# Firecracker's MMDS v2, stood in for on an address of a test namespace.
MMDS_SERVER = os.path.join(TESTS, "lib", "mmds_server.py")

# The secrets the host would hand the VM, written to files the agent reads
# (mode 0600), as a host writes them into the rootfs.
TOKEN = "vmba-test-token-0123456789abcdef"
# Its first 8 characters (the VNC password) are a secret of their own:
# nothing else in a test may start with them.
DESKTOP_SECRET = "Desk70p-s3cret-for-the-tests-0123"
# An existing unprivileged user of this machine: tests add no users.
BROWSER_USER = "nobody"
BROWSER_UID = 65534
# x11vnc's and websockify's, and Xvfb's: each another uid than the
# browser's, as in the image.
VNC_USER = "daemon"
VNC_UID = 1
X_USER = "sys"
X_UID = 3
# Its group: /tmp/.X11-unix's, and the X clients' one supplementary group.
X_GID = 3
# The provider CLIs': a uid and a group of their own, as in the image.
CLI_USER = "games"
CLI_UID = 5
CLI_GID = 60
# The users the CLIs run as, one per live login (cli_users): games1 ...
# games8, as the image's vmba-cli1 ... vmba-cli8, with CLI_GID for their
# group.  Tests add no users to this machine: they are in the agent's own
# /etc/passwd (Agent binds a copy with them over it, in its mount
# namespace only), each a uid no account and no other run has (the kernel
# counts a uid's tasks machine-wide; the agent kills a uid's processes).
CLI_USERS = 8
CLI_POOL_UIDS = [1_800_000_000 + (os.getpid() % 100_000) * 64 + i for i in range(CLI_USERS)]
CLI_POOL_PASSWD = "".join(f"{CLI_USER}{i + 1}:x:{uid}:{CLI_GID}::/nonexistent:/usr/sbin/nologin\n"
                          for i, uid in enumerate(CLI_POOL_UIDS))


def write_secret_files(directory):
    """token and desktop-secret files in directory; returns their paths."""
    paths = []
    for name, value in (("token", TOKEN), ("desktop-secret", DESKTOP_SECRET)):
        path = os.path.join(directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        paths.append(path)
    return paths


def auth(headers=None, token=TOKEN):
    """headers with the bearer token added (unless they carry their own)."""
    out = {"Authorization": f"Bearer {token}"}
    out.update(headers or {})
    return out


# Display numbers and ports: a block per test process, away from the other
# tiers' ranges (test_pid1 uses 18100, test_notify its own).
_BASE = 140 + (os.getpid() % 40) * 5
_next = [0]
_held = []  # this process's display claims: released when it exits


def free_display():
    """A display number nobody holds a lock for (tests run in parallel, and
    so may whole runs: another clone's).  Claimed with an flock until this
    process exits, since Xvfb -displayfd leaves no lock file and another
    run could pick the number before this one's Xvfb makes its socket;
    the ports derived from it are claimed with it."""
    while True:
        n = _BASE + _next[0]
        _next[0] += 1
        if os.path.exists(f"/tmp/.X{n}-lock") or os.path.exists(f"/tmp/.X11-unix/X{n}"):
            continue
        path = f"/tmp/vmba-test-display-{n}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Locked, but maybe a file its holder removed as it let go
            # (_release()): only the file at the path counts.
            if os.fstat(fd).st_ino != os.stat(path).st_ino:
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            continue
        _held.append((path, fd))
        return n


@atexit.register
def _release():
    """The lock files go with the claims (removed while still locked, so
    a newcomer that opened one just before sees it is gone)."""
    for path, fd in _held:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


# How long close() gives the agent to exit after SIGTERM (scaled by
# VMBA_DEADLINE_SCALE): its own shutdown budget (shutdown_timeout_ms,
# 10 s by default) and then some.
STOP_S = 20


class Agent:
    def __init__(self, agent_bin, *sets, services=None, display=None, ns=None, env=None, policies=True,
                 openbox_config=True, cmdline="quiet", wrap=(), before_start=None, popen_kw=None):
        """policies: /etc as the image has it for Firefox and, with
        openbox_config, for the window manager (else Debian's default).
        wrap: argv the agent's command line is appended to (a program
        that sets up the agent's mount namespace, then execs it).
        before_start: called with this Agent just before the agent starts
        (its directories made, x11_unix among them).
        popen_kw: more keyword arguments for the agent's Popen."""
        self.ns = ns or Netns("vmbasv")
        self.own_ns = ns is None
        self.dir, self.log, self.proc = None, None, None
        self.expected_exit = 0
        try:
            self.dir = workdir("vmba-sv-")
            # The browser, VNC, X and CLI users may pass through (not list) to
            # their own directories, browser/, run-vnc/, run-x/ and run-cli/,
            # which the agent creates (and the CLIs to control.sock and the
            # logins' HOMEs); everything else here is root's.
            os.chmod(self.dir, 0o711)
            self.browser_dir = os.path.join(self.dir, "browser")
            self.runtime_dir = os.path.join(self.dir, "run")
            self.vnc_dir = self.runtime_dir + "-vnc"
            self.vnc_socket = self.vnc_dir + "/rfb.sock"  # x11vnc's, as shipped (vnc_listen unix)
            self.x_dir = self.runtime_dir + "-x"
            self.display = display if display is not None else free_display()
            self.http_port = 18300 + self.display
            self.vnc_port = 15900 + self.display
            self.novnc_port = 16900 + self.display
            self.log_path = os.path.join(self.dir, "agent.log")
            token_file, desktop_file = write_secret_files(self.dir)
            # The CLIs' $BROWSER is a link to the agent's binary.
            self.bin = cli_reachable(agent_bin, self.dir)
            argv = [self.bin, "run", "--no-netinit", "--http-port", str(self.http_port),
                    "--set", f"token_file={token_file}", "--set", f"desktop_secret_file={desktop_file}",
                    "--set", "shutdown_action=exit",
                    "--set", f"display=:{self.display}",
                    "--set", f"vnc_port={self.vnc_port}", "--set", f"novnc_port={self.novnc_port}",
                    "--set", f"firefox_profile={self.browser_dir}/profile",
                    "--set", f"runtime_dir={self.dir}/run",
                    # Nothing of this machine's own /etc or /run: no providers
                    # unless a test gives them, the control socket here.
                    "--set", f"providers_file={self.dir}/no-providers.json",
                    "--set", f"control_socket={self.dir}/control.sock",
                    "--set", f"login_home={self.dir}/logins",
                    "--set", f"browser_user={BROWSER_USER}",
                    "--set", f"vnc_user={VNC_USER}",
                    "--set", f"x_user={X_USER}",
                    "--set", f"cli_user={CLI_USER}",
                    # Never this machine's id, whatever a test's agent is
                    # handed (a restore's machine_id).
                    "--set", f"machine_id_file={self.dir}/machine-id",
                    "--set", f"cmdline_path={self.dir}/cmdline"]
            with open(f"{self.dir}/cmdline", "w") as f:
                f.write(cmdline + "\n")
            if services is not None:
                path = os.path.join(self.dir, "services.json")
                with open(path, "w") as f:
                    json.dump({"services": services}, f)
                argv += ["--services-file", path]
            for s in sets:
                argv += ["--set", s]
            # Outermost: an overlay of /etc shows the /etc below it, not what
            # is mounted over its files, so wrap's mounts (a private
            # /etc/hosts) go on top of it, not under.
            mounts = self.policies_mount(openbox_config) if policies else []
            mounts.append(self.x11_unix_mount())
            mounts.append(self.cli_pool_mount())
            argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", " && ".join(mounts) + ' && exec "$@"',
                    self.dir, *wrap, *argv]
            self.x_ns = XView(self.ns, self.x11_unix)
            if before_start:
                before_start(self)
            self.log = open(self.log_path, "w")
            self.proc = self.ns.popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env, **(popen_kw or {}))
            self.pid = self.proc.pid
        except BaseException:
            self._abandon()
            raise

    def _abandon(self, keep_dir=False):
        """What a start that failed half-way made goes, and what close()
        leaves: the agent (its process group), a namespace of its own,
        its directory (unless keep_dir)."""
        try:
            if self.proc and self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10 * DEADLINE_SCALE)
        finally:
            try:
                if self.own_ns:
                    self.ns.close()
            finally:
                if self.log:
                    self.log.close()
                if self.dir and not keep_dir:
                    shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def root(self):
        """The agent's root directory, through which a path names what the
        agent sees in its own mount namespace (login_home's tmpfs)."""
        return f"/proc/{self.pid}/root"

    def policies_mount(self, openbox_config):
        """The shell commands (with $0 this instance's directory) that, in
        the agent's private mount namespace, overlay /etc with the image's
        /etc/firefox/policies/policies.json and, with openbox_config, its
        /etc/xdg/openbox/{rc,menu}.xml.  The machine's /etc is not touched:
        the overlay exists only in that namespace."""
        upper = os.path.join(self.dir, "etc-upper")
        os.makedirs(os.path.join(upper, "firefox", "policies"))
        os.makedirs(os.path.join(self.dir, "etc-work"))
        shutil.copy(POLICIES, os.path.join(upper, "firefox", "policies", "policies.json"))
        if openbox_config:
            os.makedirs(os.path.join(upper, "xdg", "openbox"))
            for name in ("rc.xml", "menu.xml"):
                shutil.copy(os.path.join(OPENBOX_CONFIG, name), os.path.join(upper, "xdg", "openbox", name))
        return ['mount -t overlay overlay -o "lowerdir=/etc,upperdir=$0/etc-upper,workdir=$0/etc-work" /etc']

    def cli_pool_mount(self):
        """The shell command that binds a copy of /etc/passwd with the CLI
        users (CLI_POOL_PASSWD) over it in the agent's mount namespace."""
        path = os.path.join(self.dir, "passwd")
        with open("/etc/passwd") as f, open(path, "w") as out:
            out.write(f.read() + CLI_POOL_PASSWD)
        os.chmod(path, 0o644)
        return 'mount --bind "$0/passwd" /etc/passwd'

    def x11_unix_mount(self):
        """The shell command that binds this instance's own X sockets'
        directory, x11_unix, over /tmp/.X11-unix in the agent's mount
        namespace: the agent makes that directory root's and x_user's
        group's, 1770, and Xvfb its socket there, and neither may touch
        this machine's (its X server's clients, another run's agents).  It
        starts as X setups make it: root's, 1777."""
        self.x11_unix = os.path.join(self.dir, "x11-unix")
        os.mkdir(self.x11_unix)
        os.chmod(self.x11_unix, 0o1777)
        x11_unix_mount_point()
        return 'mount --bind "$0/x11-unix" /tmp/.X11-unix'

    # -- HTTP from inside the namespace --
    def get(self, path, port=None, timeout=5):
        with self.ns.entered():
            c = http.client.HTTPConnection("127.0.0.1", port or self.http_port, timeout=timeout)
            try:
                c.request("GET", path)
                r = c.getresponse()
                return r.status, r.read()
            finally:
                c.close()

    def try_get(self, path, port=None):
        try:
            return self.get(path, port)
        except OSError:
            return None, b""

    def health(self):
        status, body = self.get("/health")
        assert status == 200, (status, body)
        return json.loads(body)

    def services(self):
        return self.health()["services"]

    def wait_ready(self, timeout=30):
        return wait_until(lambda: self.try_get("/health/ready")[0] == 200, timeout,
                          "GET /health/ready → 200")

    def wait_state(self, name, state, timeout=30):
        return wait_until(lambda: self.try_services().get(name, {}).get("state") == state,
                          timeout, f"{name} {state}")

    def try_services(self):
        status, body = self.try_get("/health")
        return json.loads(body)["services"] if status == 200 else {}

    def banner(self, port, n=12):
        """The first n bytes a server says: on 127.0.0.1:port, or on the
        unix socket port names when it is a path."""
        with self.ns.entered():
            if isinstance(port, str):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(5)
                s.connect(port)
            else:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
            with s:
                data = b""
                while len(data) < n:
                    chunk = s.recv(n - len(data))
                    if not chunk:
                        break
                    data += chunk
                return data

    def log_text(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def xauthority(self):
        return os.path.join(self.runtime_dir, "Xauthority")

    def log_lines(self, needle):
        return [l for l in self.log_text().splitlines() if needle in l]

    def service_lines(self, since=0):
        """The supervisor's lines of the log from line since on, each from
        its "Service " on ("x11vnc started (pid 12, as daemon).")."""
        return [l.split("Service ", 1)[1] for l in self.log_text().splitlines()[since:] if "Service " in l]

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=STOP_S):
        """stop_process() of the agent."""
        return stop_process(self.proc, timeout)

    def expect_exit(self, status):
        """Says how this agent is to end instead of exiting 0 on close()'s
        SIGTERM: status as Popen reports it (1, or -signal.SIGKILL for a
        kill).  close() then fails on any other, 0 included."""
        self.expected_exit = status

    def close(self, check_exit=True):
        """Stops the agent, then removes what it had, whatever cut the
        stop short (a stop signal: netns.stop_on_signals()).  Then fails
        unless the agent exited as expect_exit() said, by default with
        status 0 on SIGTERM within STOP_S (scaled): one that hangs or
        fails on the way out is a bug, and a sanitizer build reports
        leaks only at a normal exit.  check_exit=False: reports that in
        the output only (a test already failing, __exit__)."""
        keep = bool(os.environ.get("VMBA_KEEP_LOGS"))
        try:
            status = self.stop()
            # With a sanitizer build as VMBA_BIN, a report anywhere in the
            # run (shutdown included) fails the test.
            log = self.log_text()
        finally:
            try:
                self.ns.kill_procs()
            finally:
                self._abandon(keep_dir=keep)
        if keep:
            print(f"agent log kept in {self.log_path}")
        problem = exit_problem(status, self.expected_exit)
        if "AddressSanitizer" in log or "runtime error:" in log:
            raise AssertionError(f"a sanitizer report in the agent's log ({problem or end_name(status)}); "
                                 f"it ends:\n{log[-4000:]}")
        if problem and check_exit:
            raise AssertionError(f"{problem}; the agent's log ends:\n{log[-4000:]}")
        if problem:
            print(problem)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if exc[0] is not None:
                print("---- agent log ----\n" + self.log_text()[-6000:])
        finally:
            self.close(check_exit=exc[0] is None)


def stop_process(proc, timeout=STOP_S):
    """SIGTERM to proc unless it has exited; its exit status, or None if it
    has not exited within timeout (scaled as every deadline is:
    VMBA_DEADLINE_SCALE)."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout * DEADLINE_SCALE)
    return proc.poll()


def exit_problem(status, expected):
    """What is wrong with an agent's end (status from Agent.stop(): None
    for still running), given the one expected (Agent.expect_exit()); None
    if nothing."""
    if status == expected:
        return None
    if status is None:
        return f"the agent did not exit within {STOP_S * DEADLINE_SCALE:g} s of SIGTERM (expected: {end_name(expected)})"
    return f"the agent {end_name(status)} (expected: {end_name(expected)})"


def end_name(status):
    """An agent's end in words: "exited with status 1", "was killed by SIGKILL"."""
    if status is None:
        return "still running"
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:  # a real-time signal but the first and last
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


def assert_retried_in_order(lines, chain, retry_s):
    """lines (Agent.service_lines) show chain[0] failed over its budget and
    started again by the retry after retry_s, and the rest of chain, its
    dependents in order, back after it: a line per failure and one retry
    line per failure (more than one only if a retry came before the cause
    went: no flood); no dependent started before the retry that worked,
    nor chain[0] between its last failure and that retry; after it each
    started, and was ready, once the one before was ready."""
    first = chain[0]
    failed = [i for i, l in enumerate(lines) if l.startswith(f"{first} failed: ")]
    retried = [i for i, l in enumerate(lines) if l.startswith(f"{first}: trying again, {retry_s} s after it failed")]
    assert failed and len(retried) == len(failed), lines
    assert not [l for l in lines[:retried[-1]] if l.split()[0] in chain[1:] and " started " in l], lines
    assert not [l for l in lines[failed[-1]:retried[-1]] if l.startswith(f"{first} started ")], lines
    order = [" ".join(l.split()[:2]) for l in lines[retried[-1]:]]
    order = [e for e in order if e.split()[0] in chain and e.split()[1] in ("started", "ready")]
    assert order == [f"{name} {what}" for name in chain for what in ("started", "ready")], lines


def mounts_at(pid, path):
    """The mounts at path in pid's mount namespace, bottom first: (fstype,
    mount options, super options) from its mountinfo."""
    found = []
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[4] == path:
                found.append((fields[sep + 1], set(fields[5].split(",")), set(fields[sep + 3].split(","))))
    return found


def x11_unix_mount_point():
    """/tmp/.X11-unix, to bind over: made as X setups make it (root's,
    1777) when this machine has none, else left as it is."""
    try:
        os.mkdir("/tmp/.X11-unix")
    except FileExistsError:
        return
    os.chmod("/tmp/.X11-unix", 0o1777)


class XView:
    """Runs a test's X clients in ns with the X sockets' directory of an
    Agent (x11_unix) as their /tmp/.X11-unix, as the agent's services see
    it: ns.run() and ns.popen() with argv in a private mount namespace."""

    def __init__(self, ns, x11_unix):
        self.ns = ns
        self.x11_unix = x11_unix

    def argv(self, *argv):
        return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /tmp/.X11-unix && exec "$@"', self.x11_unix, *argv]

    def run(self, *argv, **kw):
        return self.ns.run(*self.argv(*argv), **kw)

    def popen(self, argv, **kw):
        return self.ns.popen(self.argv(*argv), **kw)


def proc_argv(pid):
    """pid's command line as a list of str; None when it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            data = f.read()
    except OSError:
        return None
    data = data[:-1] if data.endswith(b"\0") else data
    return [a.decode(errors="replace") for a in data.split(b"\0")] if data else []


def proc_cmdline(pid):
    argv = proc_argv(pid)
    return None if argv is None else (argv[0] if argv else "")


def pids_with_argv(pred):
    """The pids whose command line (a list of str) satisfies pred."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            argv = proc_argv(d)
            if argv is not None and pred(argv):
                out.append(int(d))
    return out


@contextlib.contextmanager
def etc_file_plus(name, line):
    """A wrap for Agent() that binds a copy of /etc/<name> with line added
    over it, in the agent's mount namespace only."""
    copy = tempfile.NamedTemporaryFile("w", prefix=f"vmba-{name}-", dir="/var/tmp", delete=False)
    try:
        with open(f"/etc/{name}") as f:
            copy.write(f.read() + line + "\n")
        copy.close()
        os.chmod(copy.name, 0o644)
        yield ("sh", "-c", f'mount --bind "$0" /etc/{name} && exec "$@"', copy.name)
    finally:
        os.unlink(copy.name)


def passwd_alias(uid, gid=None):
    """A wrap for Agent() that gives uid a second name, vmba-alias (its
    primary group gid, else uid), in the agent's mount namespace only (a
    private /etc/passwd bound over it).
    A run's own uid for a service user: the kernel counts a uid's tasks
    (RLIMIT_NPROC) machine-wide, across concurrent runs."""
    return etc_file_plus("passwd", CLI_POOL_PASSWD + f"vmba-alias:x:{uid}:{uid if gid is None else gid}::"
                                   "/nonexistent:/usr/sbin/nologin")


def run_uid():
    """A uid no account and no other run uses (this process's own)."""
    return 1_900_000_000 + os.getpid() % 1_000_000


@contextlib.contextmanager
def desktop_agent(agent_bin):
    """The desktop as shipped, without a window manager, ready: the
    `agent` of test_desktop.py and test_desktop_novnc.py."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon", "xwininfo")
    with Agent(agent_bin, "window_manager=") as a:
        a.wait_ready()
        yield a


@contextlib.contextmanager
def aliased(agent_bin, key, uid):
    """The agent with `key`=vmba-alias, a second name for uid that exists
    only in the agent's mount namespace (a private /etc/passwd)."""
    with passwd_alias(uid) as wrap, Agent(agent_bin, "window_manager=", f"{key}=vmba-alias", wrap=wrap) as a:
        yield a
