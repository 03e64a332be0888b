"""What the host hands the VM, through each channel, and what happens
without it: the token and desktop secret from files (mode 0600), from the
kernel command line and --set (used, with a warning), from a stand-in for
Firecracker's MMDS v2 on 169.254.169.254 inside the test's host namespace
(session token by PUT, object by GET), and none at all (control routes
refused, /health says so); a secret file that is a FIFO, a directory or a
symlink (the agent exits naming it, without blocking on the FIFO).  Also:
the agent is not dumpable, so another process of its uid cannot read its
memory or environment.

Layout: Lan(): guest namespace (the agent, eth0 10.77.0.2/24, netinit
applying an ip= with the host 10.77.0.1 as gateway) and host namespace
(veth0 10.77.0.1/24, plus 169.254.169.254/32 for the MMDS stand-in).
"""
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

from netns import DEADLINE_SCALE, Lan, Netns, wait_until
from svagent import DESKTOP_SECRET, MMDS_SERVER, TOKEN, auth, exit_problem, stop_process, write_secret_files

PORT = 8080
IP = "ip=10.77.0.2::10.77.0.1:255.255.255.0::eth0:off"
MMDS_TOKEN = "TOKEN-FROM-MMDS-0123456789"
MMDS_DESKTOP = "DESKTOP-FROM-MMDS-0123456789"



@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="vmba-secrets-", dir="/var/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def lan():
    with Lan() as lan:
        yield lan


def argv(agent_bin, workdir, *sets, cmdline="console=ttyS0 " + IP, netinit=True):
    services = os.path.join(workdir, "services.json")
    with open(services, "w") as f:
        json.dump({"services": []}, f)
    with open(os.path.join(workdir, "cmdline"), "w") as f:
        f.write(cmdline + "\n")
    a = [agent_bin, "run", "--services-file", services, "--http-port", str(PORT), "--no-reboot",
         "--set", f"cmdline_path={workdir}/cmdline", "--set", f"resolv_conf={workdir}/resolv.conf",
         "--set", f"hosts_file={workdir}/hosts", "--set", f"hostname_file={workdir}/hostname",
         "--set", f"build_id_path={workdir}/build-id", "--set", "token_file=", "--set", "desktop_secret_file=",
         "--netinit" if netinit else "--no-netinit"]
    for s in sets:
        a += ["--set", s]
    return a


class Agent:
    def __init__(self, ns, argv_, log):
        self.ns = ns
        self.log_path = log
        self.log = open(log, "w")
        self.proc = ns.popen(argv_, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.health() is not None, 20, "the agent's /health")

    def request(self, method, path, headers=None):
        import http.client
        with self.ns.entered():
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            try:
                c.request(method, path, headers=headers or {})
                r = c.getresponse()
                return r.status, r.read()
            finally:
                c.close()

    def health(self):
        try:
            status, body = self.request("GET", "/health")
        except OSError:
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited {self.proc.returncode}: {self.text()}")
            return None
        return json.loads(body) if status == 200 else None

    def text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def close(self):
        """SIGTERM unless it is gone, then fails unless it exited 0 within
        STOP_S (scaled), as svagent's close(): a stop that hangs or fails
        is a bug.  Killed all the same."""
        try:
            status = stop_process(self.proc)
            text = self.text()
        finally:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10 * DEADLINE_SCALE)
            self.log.close()
        problem = exit_problem(status, 0)
        assert problem is None, f"{problem}; the agent's log ends:\n{text[-4000:]}"


def mmds_standin(lan, workdir, unavailable=0, cut=0):
    lan.host.run("ip", "addr", "add", "169.254.169.254/32", "dev", "veth0")
    log = os.path.join(workdir, "mmds.log")
    open(log, "w").close()
    obj = os.path.join(workdir, "mmds-object.json")
    with open(obj, "w") as f:
        json.dump({"token": MMDS_TOKEN, "desktop_secret": MMDS_DESKTOP, "generation": "boot-1"}, f)
    lan.host.popen([sys.executable, MMDS_SERVER, "169.254.169.254", obj, log, str(unavailable), str(cut)])
    return log


def lines(path):
    with open(path) as f:
        return f.read().splitlines()


def test_mmds_v2_gives_the_secrets(lan, agent_bin, workdir):
    log = mmds_standin(lan, workdir)
    # Restores are on (auto, as MMDS is asked): the boot's generation comes
    # from the same answer, so MMDS is asked once.
    a = Agent(lan.guest, argv(agent_bin, workdir, "log_level=debug"), os.path.join(workdir, "agent.log"))
    try:
        h = wait_until(lambda: (lambda h: h if h and h["auth"] == "token" else None)(a.health()), 20,
                       "the token from MMDS")
        assert h["desktop"] == "secret"
        assert MMDS_TOKEN not in json.dumps(h) and MMDS_DESKTOP not in json.dumps(h)
        assert h["restore"] == {"generation": "boot-1", "restores": 0, "last_restore_ms": None, "restoring": False}
        # The stand-in sees one question (a PUT, then a GET if the PUT was
        # answered in time) per question the agent asked that left this
        # namespace: the first, each failed attempt the agent logged that
        # reached the stand-in (an answer slower than the 2 s timeout on a
        # loaded machine; not one refused before it listens or one with no
        # route yet), and each restore check that could be sent.  A check has a cause: this machine's clock was set
        # (CLOCK_REALTIME has no namespace), or a check failed and is
        # retried.  The boot's generation never costs a question of its own.
        put, get = "PUT /latest/api/token ttl=60", "GET /vm-browser-agent token=ok accept=application/json"
        def asked():
            text = a.text().splitlines()
            unsent = ("Connection refused", "Network is unreachable", "No route to host")
            failed = [l for l in text if "MMDS attempt " in l and not any(u in l for u in unsent)]
            checks = [re.search(r"Restore check \((.*)\): asking MMDS\.", l) for l in text]
            why = [m.group(1) for m in checks if m]
            assert set(why) <= {"the wall clock was set", "a trigger while asking", "retry"}, why
            assert len(why) - why.count("retry") <= len([l for l in text if "The wall clock was set:" in l])
            assert why.count("retry") <= len([l for l in text if "Restore check: MMDS gave no usable" in l or
                                              "Restore check: cannot ask MMDS" in l])
            return 1 + len(failed) + len(why) - len([l for l in text if "Restore check: cannot ask MMDS" in l])
        def questions():
            with open(log) as f:
                seen = f.read().split("\n")[:-1]   # whole lines only: the stand-in may be writing one
            assert set(seen) <= {put, get}, seen
            # The stand-in's threads may log two questions' lines in either order.
            return seen.count(put), 1 <= seen.count(get) <= seen.count(put)
        wait_until(lambda: questions() == (asked(), True), 20,
                   "one question for each the agent asked, one answered at least")
        path = "/credentials/status?sessionId=00000000-0000-4000-8000-000000000000"
        assert a.request("GET", path, auth(token=MMDS_TOKEN))[0] == 404   # through the gate
        assert a.request("GET", path, auth(token="guess"))[0] == 401
        text = a.text()
        assert "Control token received from MMDS." in text
        assert MMDS_TOKEN not in text and MMDS_DESKTOP not in text
    finally:
        a.close()


def connect_as(ns, uid, host, port):
    """connect() to host:port from ns as uid: "ok" or the errno's name."""
    code = ("import errno, socket, sys\n"
            "s = socket.socket()\n"
            "s.settimeout(10)\n"
            "try:\n"
            "    s.connect((sys.argv[1], int(sys.argv[2])))\n"
            "    print('ok')\n"
            "except OSError as e:\n"
            "    print(errno.errorcode.get(e.errno, e))\n")
    return ns.run("setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                  sys.executable, "-c", code, host, str(port)).stdout.strip()


def test_only_root_reaches_mmds(lan, agent_bin, workdir):
    # MMDS answers anyone who asks: once the agent uses it, a policy rule
    # keeps every other uid's sockets away from its address (EACCES), so
    # the browser or a VNC server cannot take the token.  Everything else
    # stays reachable for everyone.
    mmds_standin(lan, workdir)
    a = Agent(lan.guest, argv(agent_bin, workdir), os.path.join(workdir, "agent.log"))
    try:
        wait_until(lambda: a.health()["auth"] == "token", 20, "the token from MMDS")
        for uid in (65534, 1):
            assert connect_as(lan.guest, uid, "169.254.169.254", 80) == "EACCES"
            assert connect_as(lan.guest, uid, "10.77.0.1", 9) == "ECONNREFUSED"  # the gateway: routed
        assert connect_as(lan.guest, 0, "169.254.169.254", 80) == "ok"
        rules = json.loads(lan.guest.run("ip", "-j", "rule", "show").stdout)
        assert [(x["priority"], x.get("uid_start"), x.get("uid_end"), x["action"]) for x in rules
                if x.get("dst") == "169.254.169.254"] == [(1000, 1, 4294967294, "prohibit")]
        assert "every local user can read" not in a.text()
    finally:
        a.close()
    # Idempotent: a second agent (as after a restart) adds nothing.
    a = Agent(lan.guest, argv(agent_bin, workdir), os.path.join(workdir, "agent2.log"))
    try:
        wait_until(lambda: a.health()["auth"] == "token", 20, "the token from MMDS")
        rules = json.loads(lan.guest.run("ip", "-j", "rule", "show").stdout)
        assert len([x for x in rules if x.get("dst") == "169.254.169.254"]) == 1
        assert "every local user can read" not in a.text()
    finally:
        a.close()
    # The control: without the rule, the same uid reaches it.
    lan.guest.run("ip", "rule", "del", "priority", "1000")
    assert connect_as(lan.guest, 65534, "169.254.169.254", 80) == "ok"


def test_mmds_answering_late(lan, agent_bin, workdir):
    # The host puts the metadata a moment after boot: the first answers
    # are errors (three 503s to the session PUT, then 503 for the object
    # until the test puts it), the agent asks again (with a growing delay)
    # meanwhile refusing the control routes, and /health says it is
    # waiting; a restore poke then is not a restore.
    log = mmds_standin(lan, workdir, unavailable=3)
    obj = os.path.join(workdir, "mmds-object.json")
    held = obj + ".held"
    os.rename(obj, held)
    # Restores on: they learn the generation from the secrets' answer, so
    # every question here is the secrets'.
    a = Agent(lan.guest, argv(agent_bin, workdir), os.path.join(workdir, "agent.log"))
    try:
        wait_until(lambda: [l.split()[0] for l in lines(log)].count("PUT") >= 4, 30,
                   "the session PUT answered after three 503s")
        h = a.health()
        assert (h["auth"], h["status"]) == ("pending", "starting")
        assert a.request("POST", "/shutdown", auth(token=MMDS_TOKEN))[0] == 503
        # A restore poke meanwhile (anyone on the bridge can send one) asks
        # nothing of its own: an answer to it before the secrets' would
        # have been taken for a clone's handover (nothing to compare with).
        assert a.request("POST", "/restore-check")[0] == 202
        # Put in place once the agent was answered 503 for it: the PUT the
        # test waited for is answered before the agent's GET, which a
        # loaded stand-in may take after the test's requests above (then
        # the object would be there already, and no GET answered 503).
        get_503 = ": MMDS answered HTTP status 503 to GET /vm-browser-agent\n"
        wait_until(lambda: get_503 in a.text(), 30, "a GET answered 503 while the object is held")
        os.rename(held, obj)
        wait_until(lambda: a.health()["auth"] == "token", 30, "the token from MMDS")
        puts = [l for l in lines(log) if l.startswith("PUT")]
        assert len(puts) >= 5  # three refused, one without the object yet, one with it
        # Each failure names the status MMDS answered and to what: an
        # HTTP answer is not "Bad message", as one that is not HTTP is.
        text = a.text()
        assert re.search(r"MMDS attempt \d+ failed, retrying in \d+ ms: MMDS answered HTTP status 503 to PUT "
                         r"/latest/api/token\n", text), text
        assert "Bad message" not in text
        h = a.health()
        assert h["restore"] == {"generation": "boot-1", "restores": 0, "last_restore_ms": None,
                                "restoring": False}, h["restore"]
        assert "Restored from a snapshot" not in a.text()
    finally:
        a.close()


def test_mmds_answer_cut_off(lan, agent_bin, workdir):
    # MMDS's answer ends before the body its Content-Length announced (the
    # connection lost mid-answer): the part that came is not taken, even
    # when it parses as a whole object; the agent asks again, said so.
    log = mmds_standin(lan, workdir, cut=1)
    a = Agent(lan.guest, argv(agent_bin, workdir), os.path.join(workdir, "agent.log"))
    try:
        wait_until(lambda: a.health()["auth"] == "token", 30, "the token from MMDS")
        gets = [l for l in lines(log) if l.startswith("GET")]
        assert len(gets) >= 2, gets  # the cut answer's, then the whole one's
        text = a.text()
        assert re.search(r"MMDS attempt \d+ failed, retrying in \d+ ms: MMDS's answer to GET /vm-browser-agent "
                         r"was cut off\n", text), text
        assert MMDS_TOKEN not in text and MMDS_DESKTOP not in text
    finally:
        a.close()


def test_mmds_before_the_network_is_up(lan, agent_bin, workdir):
    # Something other than the agent brings the network up, after it
    # started (--no-netinit): its first questions cannot even be sent (no
    # route, connect() fails at once) and are asked again, as unanswered
    # ones are, until the network is there.
    log = mmds_standin(lan, workdir)
    a = Agent(lan.guest, argv(agent_bin, workdir, "log_level=debug", "mmds=true", netinit=False),
              os.path.join(workdir, "agent.log"))
    try:
        wait_until(lambda: "MMDS attempt 2 failed" in a.text(), 20, "two questions that could not be sent")
        assert "Network is unreachable" in a.text()
        assert a.health()["auth"] == "pending"
        assert lines(log) == []
        lan.guest.run("ip", "link", "set", "eth0", "up")
        lan.guest.run("ip", "addr", "add", "10.77.0.2/24", "dev", "eth0")
        lan.guest.run("ip", "route", "add", "default", "via", "10.77.0.1")
        h = wait_until(lambda: (lambda h: h if h and h["auth"] == "token" else None)(a.health()), 60,
                       "the token from MMDS once the network is up")
        assert h["desktop"] == "secret"
        assert "MMDS gave no" not in a.text()
    finally:
        a.close()


@pytest.mark.parametrize("args, message", [
    # glibc's own message showed the option whole, value and all.
    (["run", "--token=S3CRET-1"], "Unknown option '--token', or its argument missing"),
    (["--desktop-secret=S3CRET-1"], "Unknown option '--desktop-secret', or its argument missing"),
    (["run", "-xS3CRET-1"], "Unknown option '-x', or its argument missing"),
    # A value that lost its option was echoed as the unexpected argument.
    (["run", "--set", "token=", "S3CRET-1"], "Unexpected argument (not shown: it may be a secret)"),
])
def test_a_secret_given_wrong_on_the_command_line_is_not_echoed(agent_bin, args, message):
    # Refused before anything runs; in a namespace all the same.
    with Netns() as ns:
        r = ns.run(agent_bin, *args, check=False, timeout=10, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and message in r.stderr and "S3CRET" not in r.stdout + r.stderr, r.stderr


def test_no_secrets_fail_closed(lan, agent_bin, workdir):
    a = Agent(lan.guest, argv(agent_bin, workdir, "mmds=false"), os.path.join(workdir, "agent.log"))
    try:
        h = a.health()
        assert (h["auth"], h["desktop"], h["status"]) == ("no-token", "no-secret", "degraded")
        for method, path in (("POST", "/shutdown"), ("GET", "/credentials/get?sessionId=x")):
            status, body = a.request(method, path, auth())
            assert (status, json.loads(body)) == (503, {"error": "no control token configured"})
        text = a.text()
        assert ("No control token (no token_file, no vmba.token=, MMDS not asked): control routes refuse "
                "every request until the host provides one.") in text
        assert "No desktop secret" in text
        assert a.proc.poll() is None
    finally:
        a.close()


def test_a_command_line_too_long_to_read_is_said(lan, agent_bin, workdir):
    # Over 4096 bytes the command line is not read: the host's vmba.*
    # keys do not apply (here its token), and the log says why.
    cmdline = f"console=ttyS0 vmba.token={TOKEN} " + "x" * 5000
    a = Agent(lan.guest, argv(agent_bin, workdir, "mmds=false", cmdline=cmdline, netinit=False),
              os.path.join(workdir, "agent.log"))
    try:
        assert a.health()["auth"] == "no-token"
        assert f"Cannot read {workdir}/cmdline, so no vmba.* key applies: File too large" in a.text()
        assert TOKEN not in a.text()
    finally:
        a.close()


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink"])
def test_a_token_file_that_is_not_a_regular_file(lan, agent_bin, workdir, kind):
    # Fatal for a service process, as any unreadable secret file: it exits
    # naming the file.  A FIFO is not opened at all, which would block the
    # start until someone wrote to it; a directory or a symlink is no
    # secret file either.
    token_file, _ = write_secret_files(workdir)
    path = os.path.join(workdir, kind)
    {"fifo": lambda: os.mkfifo(path, 0o600), "directory": lambda: os.mkdir(path, 0o700),
     "symlink": lambda: os.symlink(token_file, path)}[kind]()
    r = lan.guest.run(*argv(agent_bin, workdir, f"token_file={path}", "mmds=false"), check=False, timeout=30)
    assert r.returncode == 1
    why = (f"cannot read the control token file {path}: Too many levels of symbolic links" if kind == "symlink"
           else f"the control token file {path} is not a regular file")
    # One line says it, naming the file.
    assert f"Failed to set up the host's secrets: {why}." in r.stderr, r.stderr
    assert r.stderr.count(path) == 1, r.stderr
    assert TOKEN not in r.stderr


def test_files_and_the_command_line(lan, agent_bin, workdir):
    token_file, desktop_file = write_secret_files(workdir)
    os.chmod(token_file, 0o644)
    a = Agent(lan.guest, argv(agent_bin, workdir, f"token_file={token_file}",
                              f"desktop_secret_file={desktop_file}", "mmds=false"),
              os.path.join(workdir, "agent.log"))
    try:
        h = a.health()
        assert (h["auth"], h["desktop"]) == ("token", "secret")
        assert a.request("POST", "/shutdown", auth(token=TOKEN))[0] == 202
        a.proc.wait(timeout=30 * DEADLINE_SCALE)
        text = a.text()
        assert f"{token_file} is readable by group or others; expected mode 0600." in text
        assert TOKEN not in text and DESKTOP_SECRET not in text and "short enough to guess" not in text
    finally:
        a.close()
    # vmba.*= on the kernel command line and --set win over the files, with a warning each.
    a = Agent(lan.guest, argv(agent_bin, workdir, f"token_file={token_file}", "desktop_secret=from-set",
                              "mmds=false", cmdline=f"console=ttyS0 {IP} vmba.token=from-cmdline"),
              os.path.join(workdir, "agent2.log"))
    try:
        assert a.request("POST", "/shutdown", auth(token=TOKEN))[0] == 401
        assert a.request("POST", "/shutdown", auth(token="from-cmdline"))[0] == 202
        a.proc.wait(timeout=30 * DEADLINE_SCALE)
        text = a.text()
        assert "Token set with vmba.token= on the kernel command line" in text
        assert "desktop_secret set with --set, which every process can read in /proc/" in text
        # 12 bytes: said to be guessable (the files' 32-byte token was not).
        assert ("The control token given is 12 bytes long: short enough to guess from inside the VM. Give at "
                "least 16 random characters (32 random hex digits, say).") in text
        assert "from-cmdline" not in text and "from-set" not in text
    finally:
        a.close()


def test_not_dumpable(agent_bin, workdir):
    # Run as an unprivileged uid (no netinit, nothing that needs root): a
    # second process of the same uid cannot read its environment, which
    # it could for a dumpable process.
    ns = Netns()
    try:
        os.chmod(workdir, 0o755)
        sleeper = ns.popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "300"])
        agent = ns.popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] +
                         argv(agent_bin, workdir, "mmds=false", f"runtime_dir={workdir}/run",
                              f"control_socket={workdir}/run/control.sock", netinit=False),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Serving /health: long past the first thing the agent does.
        wait_until(lambda: ns.run("curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{PORT}/health",
                                  check=False).returncode == 0, 20, "the agent's /health")

        def readable(pid):
            r = ns.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                       "cat", f"/proc/{pid}/environ", check=False)
            return r.returncode == 0
        # The control: same uid, dumpable, once setpriv has dropped to that
        # uid and exec'd sleep (before, the pid is root's `ip netns exec`).
        wait_until(lambda: os.readlink(f"/proc/{sleeper.pid}/exe").endswith("/sleep"), 20, "the sleeper exec'd")
        assert readable(sleeper.pid)
        assert not readable(agent.pid)
        assert "Max core file size        0                    0" in open(f"/proc/{agent.pid}/limits").read()
    finally:
        ns.kill_procs()
        ns.close()
