"""Provider logins in a test network namespace, for the netns tier:
LoginEnv runs the real agent with a workdir of its own (login_home, a
providers.json of the shipped definitions with the fake CLIs of
tests/netns/login/ in place of the real ones, the fake OAuth provider on
loopback) and calls the host API exactly as the host does.  Beside it,
what the login tests of several files share: session ids, a login's HOME
gone, the login an authorize URL came from, the fake CLIs still running
and their gates, a line of the push handoff and its queue.  SECRETS are
the strings no log or answer may show."""
import contextlib
import errno
import http.client
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from netns import DEADLINE_SCALE, cli_reachable, wait_until, workdir
from svagent import CLI_GID, CLI_UID, Agent, auth

HERE = os.path.dirname(os.path.abspath(__file__))
LOGIN = os.path.join(os.path.dirname(HERE), "netns", "login")
FAKE_CLI = os.path.join(LOGIN, "fake_cli.py")
FAKE_PROVIDER = os.path.join(LOGIN, "fake_provider.py")
FAKE_FIREFOX = os.path.join(LOGIN, "fake_firefox.py")
IDLE = [{"name": "idle", "argv": ["/bin/sleep", "1000"]}]
with open(os.path.join(HERE, "..", "..", "packaging", "providers.json")) as _f:
    SHIPPED = {p["id"]: p for p in json.load(_f)["providers"]}
SECRETS = ["SECRET-ACCESS", "SECRET-REFRESH", "SECRET-CODE", "STATE-", "host-state-"]


class LoginEnv:
    """A workdir with login_home, providers.json and the fake provider, and
    the agent configured to use them."""

    def __init__(self, agent_bin, services=IDLE, sets=(), ns=None, provider_env=None, extra_providers=(),
                 url_wait_s=int(10 * DEADLINE_SCALE), cmdline="quiet", wrap=(), before_start=None):
        """url_wait_s: how long a start waits for the fake CLI's URL, on a
        loaded machine too (a Python start); the tests of a CLI that prints
        none give their own, shorter one.  before_start: called with this
        env before the agent starts; wrap: svagent.Agent's, or a function
        of this env giving it."""
        self.dir = workdir("vmba-login-")
        self.agent = None
        try:
            # The CLIs' user passes through to control.sock and the logins'
            # HOMEs; nothing here is listed or read by it.
            os.chmod(self.dir, 0o711)
            fake_cli = cli_reachable(FAKE_CLI, self.dir)
            # login_home: not there yet, as on a fresh image; the agent makes
            # it (and its parent) with the first login.
            self.home_path = os.path.join(self.dir, "state", "logins")
            # Away from the agent's ports (svagent: 15900, 16900, 18300 and
            # 18900 plus a display number of a few hundred).
            self.pport = 20000 + os.getpid() % 1000
            self.provider_url = f"http://127.0.0.1:{self.pport}"
            env = {"FAKE_PROVIDER": self.provider_url, **(provider_env or {})}

            def prov(pid, mode, cred, own_env=None, **kw):
                return {"id": pid, "argv": [sys.executable, fake_cli, mode], "env": {**env, **(own_env or {})},
                        "url_patterns": [f"{self.provider_url}/{mode}/authorize?"],
                        "credential_file": cred, **kw}

            def shipped(pid, mode):
                """The shipped definition with the fake as its CLI: its PTY,
                prompts, credential file and keys, callback port as the agent
                runs the real one."""
                d = dict(SHIPPED[pid], argv=[sys.executable, fake_cli, mode],
                         url_patterns=[f"{self.provider_url}/{mode}/authorize?"])
                d["env"] = {**d.get("env", {}), **env}
                return d
            providers = {"providers": [
                shipped("claude_code", "claude-auth"),
                shipped("codex", "codex"),
                shipped("gemini_cli", "gemini"),
                # The interactive `claude /login`, for its prompts.
                prov("claude_tui", "claude", ".claude/.credentials.json", pty=True,
                     credential_keys=["claudeAiOauth"],
                     prompts=[{"match": "Choose the text style", "send": "\r"},
                              {"match": "Select login method", "send": "\r"}]),
            ] + [prov(*p) for p in extra_providers]}
            self.providers_file = os.path.join(self.dir, "providers.json")
            with open(self.providers_file, "w") as f:
                json.dump(providers, f)
            self.agent_bin = agent_bin
            if before_start:
                before_start(self)
            if callable(wrap):
                wrap = wrap(self)
            self.agent = Agent(agent_bin,
                               f"providers_file={self.providers_file}", f"login_home={self.home_path}",
                               f"control_socket={self.dir}/control.sock", f"url_wait_s={url_wait_s}",
                               # Not this machine's /etc/environment: the test's own.
                               f"environment_file={self.dir}/environment",
                               f"bin_path={os.path.dirname(sys.executable)}:/usr/bin:/bin",
                               *sets, services=services, ns=ns, cmdline=cmdline, wrap=wrap)
            self.ns = self.agent.ns
            self.agent_bin = self.agent.bin
            self.ns.popen([sys.executable, FAKE_PROVIDER, str(self.pport)])
            wait_until(lambda: self.agent.try_get("/health")[0] == 200, 20, "agent /health")
            wait_until(lambda: self.ns.accepts(self.pport), 10, "fake provider listening")
        except BaseException:
            # Nobody else would: the agent, its namespace, the directories.
            # The start's failure is the one to report, not a later one.
            with contextlib.suppress(Exception):
                self.close()
            raise

    @property
    def home(self):
        """login_home as the agent sees it: the agent mounts a tmpfs on it
        in its own mount namespace, below which this test's view has only
        the directory on the disk."""
        return self.view(self.home_path)

    def view(self, path):
        """A path the agent names (a credPath), as the agent sees it."""
        return self.agent.root + path

    def named(self, path):
        """What the agent calls a path of view()."""
        assert path.startswith(self.agent.root + "/"), path
        return path[len(self.agent.root):]

    def home_of(self, session_id):
        """The HOME the agent gives a CLI login, as the agent sees it."""
        return os.path.join(self.home, f"login-{session_id}")

    def request(self, method, path, body=None, headers=None, host="127.0.0.1"):
        """As the host's API client would: the bearer token, and a JSON body
        said to be JSON (headers may override either)."""
        with self.ns.entered():
            c = http.client.HTTPConnection(host, self.agent.http_port, timeout=30)
            try:
                data = json.dumps(body) if isinstance(body, (dict, list)) else body
                base = {"Content-Type": "application/json"} if data else {}
                c.request(method, path, body=data, headers=auth({**base, **(headers or {})}))
                r = c.getresponse()
                return r.status, r.read()
            finally:
                c.close()

    def json(self, method, path, body=None, headers=None):
        status, data = self.request(method, path, body, headers)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, data

    def browse(self, url):
        """The person's browser, for tests that do not need Firefox: follows
        the authorize URL and its redirect inside the namespace."""
        with self.ns.entered():
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            try:
                with opener.open(url, timeout=20) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()

    def browse_to(self, url, host):
        """The person's browser up to the first redirect to `host` (one not
        reachable here): returns that Location.  Each hop must answer, so
        a hop that times out fails here rather than passing for the
        unreachable last one."""
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args):
                return None
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)
        with self.ns.entered():
            for _ in range(10):
                try:
                    with opener.open(url, timeout=20) as r:
                        raise AssertionError(f"{url}: {r.status} without a redirect to {host}")
                except urllib.error.HTTPError as e:
                    assert e.code in (301, 302, 303, 307), (url, e.code)
                    url = urllib.parse.urljoin(url, e.headers["Location"])
                if urllib.parse.urlsplit(url).hostname == host:
                    return url
        raise AssertionError(f"no redirect to {host} in 10 hops")

    def wait_status(self, sid, pred, timeout=30):
        last = {}

        def check():
            nonlocal last
            last = self.json("GET", f"/credentials/status?sessionId={sid}")
            return pred(*last)
        try:
            wait_until(check, timeout, f"status of {sid}")
        except AssertionError:
            raise AssertionError(f"last status: {last}")
        return last[1]

    def assert_no_secrets(self, *texts):
        everything = [self.agent.log_text()] + [t if isinstance(t, str) else json.dumps(t) for t in texts]
        for t in everything:
            for s in SECRETS:
                assert s not in t, f"{s} leaked into: {t[-2000:]}"

    def close(self):
        try:
            if self.agent:
                self.agent.close()  # fails on a sanitizer report in the agent's log
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def home_gone(home):
    """A login's HOME is gone: its name, and the tree the agent set aside
    (.removing-<n> in login_home) for a child to remove."""
    parent = os.path.dirname(home)
    return not os.path.lexists(home) and not [n for n in os.listdir(parent) if n.startswith(".removing-")]


def sid():
    return str(uuid.uuid4())


def login_of(url):
    """The fake CLI run an authorize URL came from (the end of its state),
    which is also the "login" value of the credentials it writes."""
    return urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["state"][0].rsplit("-", 1)[1]


def cli_pids(e):
    """Fake CLIs still running in the namespace: each a CLI the agent
    started, or a process of one whose CLI is gone.  A child of a running
    one is left out: between its fork and its exec (the $BROWSER opener,
    run after the URL the agent may already have read off the screen) it
    shows its CLI's command line too."""
    found = {}
    for p in e.ns.run("ip", "netns", "pids", e.ns.name, check=False).stdout.split():
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{p}/stat") as f:
                # The parent's pid follows the command name's closing ")".
                ppid = f.read().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if b"fake_cli.py" in cmdline:
            found[p] = ppid
    return [p for p, ppid in found.items() if ppid not in found]


def open_gate(e, s, name=".open-gate"):
    """Lets session s's fake CLI run its opener (FAKE_CLI_OPEN_GATE), or
    print its URL (FAKE_CLI_URL_GATE, name ".url-gate")."""
    gate = os.path.join(e.home_of(s), name)
    wait_until(lambda: os.path.exists(gate), 20, f"the CLI at its {name}")

    def opened():
        """Never blocks: a CLI that died at its gate fails the wait."""
        try:
            os.close(os.open(gate, os.O_WRONLY | os.O_NONBLOCK))
            return True
        except OSError as err:
            if err.errno != errno.ENXIO:  # no reader yet
                raise
            return False
    wait_until(opened, 20, f"the CLI reading its {name}")


def oauth_url(e, s):
    status, body = e.json("GET", f"/oauth-url?sessionId={s}")
    return body.get("oauthUrl") if status == 200 else None


def as_cli_user(uid=CLI_UID):
    """For preexec_fn: this process as uid (by default cli_user's own, the
    CLIs' shared account; a login's is one of CLI_POOL_UIDS), with the
    CLIs' group."""
    os.setgroups([])
    os.setresgid(CLI_GID, CLI_GID, CLI_GID)
    os.setresuid(uid, uid, uid)


def read_line(conn, pause=0.0):
    """One JSON line from the agent's push connection, read in 4 KiB
    chunks (pausing between them: a host that reads slowly)."""
    conn.settimeout(30)
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = conn.recv(4096)
        assert chunk, f"connection closed after {len(buf)} bytes, before the end of a line"
        buf += chunk
        time.sleep(pause)
    return json.loads(buf)


def push_queued(e):
    """vmba_push_queued: the deliveries the agent holds for the host."""
    m = re.search(r"^vmba_push_queued (\d+)$", e.request("GET", "/metrics")[1].decode(), re.M)
    assert m, "no vmba_push_queued in /metrics"
    return int(m.group(1))


def assert_nothing_left_to_push(e, srv=None):
    """The agent's own word that it will not come back: its push queue is
    empty (it connects to the host only to send a queued delivery, and a
    delivery leaves the queue only with its secret); and, with srv, it
    made no other connection there meanwhile."""
    wait_until(lambda: push_queued(e) == 0, 10, "the push queue empty")
    if srv is None:
        return
    timeout = srv.gettimeout()
    srv.setblocking(False)
    try:
        with pytest.raises(BlockingIOError):
            srv.accept()[0].close()
    finally:
        srv.settimeout(timeout)
