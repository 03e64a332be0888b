"""Logins end to end in a test network namespace: the real agent,
fake provider CLIs (tests/netns/login/fake_cli.py) that behave like Claude
Code, Codex and Gemini CLI, a fake OAuth provider page on loopback, and the
host API exactly as the host calls it.  One test drives a real Firefox on
the agent's Xvfb.  Every test ends by searching everything the run wrote
(agent log, CLI transcripts in responses) for the secrets."""
import contextlib
import errno
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
import time
import urllib.parse
import urllib.request
import uuid

import pytest

from desktop import as_user, x_windows
from netns import DEADLINE_SCALE, Lan, wait_until
from svagent import BROWSER_UID, CLI_GID, CLI_UID, CLI_USER, TOKEN, X_GID, Agent, auth, mounts_at, proc_argv

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_CLI = os.path.join(HERE, "login", "fake_cli.py")
FAKE_PROVIDER = os.path.join(HERE, "login", "fake_provider.py")
FAKE_FIREFOX = os.path.join(HERE, "login", "fake_firefox.py")
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
        self.dir = tempfile.mkdtemp(prefix="vmba-login-", dir="/var/tmp")
        self.agent = None
        try:
            # The CLIs' user passes through to control.sock and the logins'
            # HOMEs; nothing here is listed or read by it.
            os.chmod(self.dir, 0o711)
            # login_home: not there yet, as on a fresh image; the agent makes
            # it (and its parent) with the first login.
            self.home_path = os.path.join(self.dir, "state", "logins")
            # Away from the agent's ports (svagent: 15900, 16900, 18300 and
            # 18900 plus a display number of a few hundred).
            self.pport = 20000 + os.getpid() % 1000
            self.provider_url = f"http://127.0.0.1:{self.pport}"
            env = {"FAKE_PROVIDER": self.provider_url, **(provider_env or {})}

            def prov(pid, mode, cred, own_env=None, **kw):
                return {"id": pid, "argv": [sys.executable, FAKE_CLI, mode], "env": {**env, **(own_env or {})},
                        "url_patterns": [f"{self.provider_url}/{mode}/authorize?"],
                        "credential_file": cred, **kw}

            def shipped(pid, mode):
                """The shipped definition with the fake as its CLI: its PTY,
                prompts, credential file and keys, callback port as the agent
                runs the real one."""
                d = dict(SHIPPED[pid], argv=[sys.executable, FAKE_CLI, mode],
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


@pytest.fixture
def make_env(agent_bin):
    """LoginEnv(agent_bin, **kw) for tests that need their own settings;
    closed at teardown."""
    made = []

    def make(**kw):
        made.append(LoginEnv(agent_bin, **kw))
        return made[-1]
    yield make
    for e in made:
        e.close()


@pytest.fixture
def env(agent_bin):
    e = LoginEnv(agent_bin)
    yield e
    if os.environ.get("VMBA_KEEP_LOGS"):
        print(e.agent.log_text()[-8000:])
    e.close()



def home_gone(home):
    """A login's HOME is gone: its name, and the tree the agent set aside
    (.removing-<n> in login_home) for a child to remove."""
    parent = os.path.dirname(home)
    return not os.path.lexists(home) and not [n for n in os.listdir(parent) if n.startswith(".removing-")]

def sid():
    return str(uuid.uuid4())


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def login_of(url):
    """The fake CLI run an authorize URL came from (the end of its state),
    which is also the "login" value of the credentials it writes."""
    return urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["state"][0].rsplit("-", 1)[1]


# -- host-driven flow -------------------------------------------------------

def test_host_driven_state(env):
    s = sid()
    authorize = f"{env.provider_url}/host/authorize?client_id=c&state=host-state-1&redirect_uri=x"
    assert env.json("POST", "/auth/oauth", {"sessionId": s, "authorizeUrl": authorize}) == \
        (200, {"success": True, "message": "Authorize URL opened", "sessionId": s})
    # The host retries: answered as the first time, the URL not opened again.
    assert env.json("POST", "/auth/oauth", {"sessionId": s, "authorizeUrl": authorize}) == \
        (200, {"success": True, "message": "Authorize URL opened", "sessionId": s})
    assert env.json("POST", "/auth/oauth", {"sessionId": s, "authorizeUrl": authorize + "&x=1"}) == \
        (409, {"error": "Session already in progress"})
    assert env.json("POST", "/auth/codex", {"sessionId": s}) == (409, {"error": "Session already in progress"})
    assert env.agent.health()["activeSessions"] == 1
    assert env.json("GET", f"/oauth-url?sessionId={s}") == (200, {"oauthUrl": authorize})
    # Wrong state: refused, nothing captured.
    status, page = env.request("GET", "/oauth/callback?code=SECRET-CODE-x&state=host-state-2")
    assert status == 400 and b"Sign-in failed" in page
    st = env.json("GET", f"/credentials/status?sessionId={s}")
    assert st[0] == 200 and isinstance(st[1].pop("elapsedMs"), int)
    assert st[1] == {"authenticated": False, "waiting": True}
    assert env.json("GET", f"/credentials/get?sessionId={s}") == \
        (400, {"error": "Authentication not completed yet"})
    # Right state.
    status, page = env.request("GET", "/oauth/callback?code=SECRET-CODE-h&state=host-state-1&scope=a+b")
    assert status == 200 and b"Signed in &mdash; you can close this window." in page
    # Replayed: refused, the session keeps the first capture.
    status, _ = env.request("GET", "/oauth/callback?code=SECRET-CODE-evil&state=host-state-1")
    assert status == 400
    st = env.json("GET", f"/credentials/status?sessionId={s}")[1]
    assert ISO.match(st.pop("modifiedAt"))
    assert st == {"authenticated": True, "path": "/oauth/callback", "provider": "oauth"}
    got = env.json("GET", f"/credentials/get?sessionId={s}")
    assert got == (200, {"success": True, "provider": "oauth", "credPath": "/oauth/callback",
                         "credentials": {"code": "SECRET-CODE-h", "state": "host-state-1", "scope": "a b"}})
    # Delivered: wiped and gone.
    assert env.json("GET", f"/credentials/get?sessionId={s}") == (404, {"error": "Session not found"})
    assert env.json("GET", f"/credentials/status?sessionId={s}") == (404, {"error": "Session not found"})
    assert env.agent.health()["activeSessions"] == 0
    env.assert_no_secrets()


def test_host_driven_provider_error(env):
    s = sid()
    authorize = f"{env.provider_url}/host/authorize?client_id=deny&redirect_uri=x"
    assert env.json("POST", "/auth/oauth", {"sessionId": s, "authorizeUrl": authorize,
                                            "state": "host-state-e"})[0] == 200
    status, _ = env.request("GET", "/oauth/callback?error=access_denied&state=host-state-e")
    assert status == 400
    assert env.json("GET", f"/credentials/status?sessionId={s}") == \
        (200, {"authenticated": False, "failed": True, "error": "access_denied"})
    assert env.json("GET", f"/credentials/get?sessionId={s}")[0] == 400
    env.assert_no_secrets()


def test_host_driven_unparseable_callback(env):
    """A callback with the right state but a query the agent refuses (over
    64 parameters) uses the state up: the session fails at once instead of
    waiting for a callback that can no longer match."""
    s = sid()
    authorize = f"{env.provider_url}/host/authorize?client_id=c&redirect_uri=x"
    assert env.json("POST", "/auth/oauth", {"sessionId": s, "authorizeUrl": authorize,
                                            "state": "host-state-m"})[0] == 200
    extra = "&".join(f"p{i}=v" for i in range(70))
    status, page = env.request("GET", f"/oauth/callback?code=SECRET-CODE-m&state=host-state-m&{extra}")
    assert status == 400 and b"Sign-in failed" in page
    assert env.json("GET", f"/credentials/status?sessionId={s}") == \
        (200, {"authenticated": False, "failed": True, "error": "Invalid callback query"})
    env.assert_no_secrets()


# -- validation ---------------------------------------------------------------

BAD_IDS = ["../../etc/passwd", "$(touch /tmp/vmba-login-pwn)", "`id`", "a b", "x" * 129,
           "123e4567-e89b-12d3-a456-426614174000;rm", "caf\u00e9"]
ID_ERROR = "sessionId must be 1-128 characters of A-Z a-z 0-9 . _ : -"


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_session_ids(env, bad):
    assert env.json("POST", "/auth/codex", {"sessionId": bad}) == (400, {"error": ID_ERROR})
    q = urllib.parse.quote(bad, safe="")
    for path in ("/oauth-url", "/credentials/status", "/credentials/get"):
        assert env.json("GET", f"{path}?sessionId={q}") == (400, {"error": ID_ERROR})
    assert not os.path.exists("/tmp/vmba-login-pwn")


def test_an_escaped_nul_is_no_session_id(env):
    """"sessionId=<id>%00x" is not <id> (decoded, it would end at the NUL)
    and "wait=2%00x" is no number: 400 both, and the session is not
    touched (its credentials not taken by a get)."""
    s = sid()
    assert env.json("POST", "/auth/oauth", {"sessionId": s, "state": "host-state-nul",
                                            "authorizeUrl": f"{env.provider_url}/h/authorize"})[0] == 200
    for path in ("/oauth-url", "/credentials/status", "/credentials/get"):
        assert env.json("GET", f"{path}?sessionId={s}%00x") == (400, {"error": ID_ERROR}), path
    assert env.json("GET", f"/credentials/status?sessionId={s}&wait=2%00x") == \
        (400, {"error": "wait must be a number of seconds up to 300"})
    assert env.json("GET", f"/credentials/status?sessionId={s}")[1]["waiting"] is True


def stale_home(parent):
    """A HOME an earlier run left, its credential file in it."""
    os.makedirs(os.path.join(parent, "login-old", ".codex"))
    with open(os.path.join(parent, "login-old", ".codex", "auth.json"), "w") as f:
        f.write('{"tokens": {"access_token": "OLD"}}')


def test_login_home_is_a_tmpfs_of_its_own(make_env):
    """login_home is a tmpfs of login_home_size_mb in the agent's mount
    namespace (nosuid, nodev, noexec; root's, 0710, the CLI user's group;
    an inode per 4 KiB): a login's credential file is never written to the
    disk, and the disk's directory, rid first of the HOMEs an earlier run
    left there (the tmpfs would hide them there for ever), gets none."""
    def earlier_run(env):
        stale_home(env.home_path)
        os.makedirs(os.path.join(env.home_path, ".removing-3", "x"))
        os.mkdir(os.path.join(env.home_path, "lost+found"))
    e = make_env(sets=("login_home_size_mb=2",), before_start=earlier_run)
    assert os.listdir(e.home_path) == ["lost+found"]
    (fstype, flags, options), = mounts_at(e.agent.pid, e.home_path)
    assert fstype == "tmpfs" and {"nosuid", "nodev", "noexec"} <= flags, flags
    assert {"size=2048k", "nr_inodes=512", "mode=710", f"gid={CLI_GID}"} <= options, options
    st, vfs = os.stat(e.home), os.statvfs(e.home)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o710, 0, CLI_GID)
    assert (vfs.f_blocks * vfs.f_frsize, vfs.f_files) == (2 << 20, 512)
    assert f"login_home {e.home_path}: a tmpfs of 2 MiB, the logins' files off the disk (2 HOMEs an earlier run " \
        "left removed first)" in e.agent.log_text()
    s = sid()
    status, started = e.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200, started
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    assert os.path.isfile(os.path.join(e.home_of(s), ".codex", "auth.json"))
    assert os.listdir(e.home_path) == ["lost+found"]
    status, got = e.json("GET", f"/credentials/get?sessionId={s}")
    assert status == 200 and got["credentials"]["tokens"]["access_token"] == "SECRET-ACCESS-codex", got
    wait_until(lambda: home_gone(e.home_of(s)), 10, "the HOME removed after delivery")
    e.assert_no_secrets()


def test_login_home_tmpfs_of_an_earlier_run_is_emptied_below(make_env):
    """An agent restarted in its earlier run's mount namespace (a unit
    without one of its own, a run by hand) finds that run's tmpfs on
    login_home: the HOMEs in it go, and a new tmpfs of the configured size
    goes on top (a remount would resize whatever tmpfs that is, a bind
    mount of /run's included)."""
    earlier = ('mkdir -p "$0" && mount -t tmpfs -o size=1m,mode=0755 tmpfs "$0" && '
               'mkdir -p "$0/login-old/.codex" && echo OLD > "$0/login-old/.codex/auth.json" && exec "$@"')
    e = make_env(sets=("login_home_size_mb=3",),
                 wrap=lambda env: ("sh", "-c", earlier, env.home_path))
    (below, _, old), (fstype, flags, options) = mounts_at(e.agent.pid, e.home_path)
    assert below == fstype == "tmpfs" and "size=1024k" in old and "size=3072k" in options, options
    assert {"nosuid", "nodev", "noexec"} <= flags, flags
    st = os.stat(e.home)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o710, 0, CLI_GID) and os.listdir(e.home) == []
    assert f"login_home {e.home_path}: a tmpfs of 3 MiB, the logins' files off the disk (1 HOMEs an earlier run " \
        "left removed first)" in e.agent.log_text()


def test_login_home_tmpfs_lost_from_outside(make_env):
    """Root outside the agent's mount namespace can remove login_home's
    directory below the tmpfs, which detaches the tmpfs in the agent's
    namespace.  The next login's HOME does not go to the disk: a new tmpfs
    goes on first, and the log says so."""
    e = make_env(sets=("login_home_size_mb=2",))
    assert len(mounts_at(e.agent.pid, e.home_path)) == 1
    os.rmdir(e.home_path)
    assert mounts_at(e.agent.pid, e.home_path) == []
    s = sid()
    status, started = e.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200, started
    lost = f"login_home {e.home_path} has lost its tmpfs (unmounted from outside the agent): a new one goes on."
    assert lost in e.agent.log_text()
    (fstype, flags, options), = mounts_at(e.agent.pid, e.home_path)
    assert fstype == "tmpfs" and "size=2048k" in options, options
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    assert os.path.isfile(os.path.join(e.home_of(s), ".codex", "auth.json"))
    assert os.listdir(e.home_path) == []
    # The new tmpfs is kept: the next login's HOME goes beside the first,
    # which stays (a second mount would first have emptied this one).
    s2 = sid()
    assert e.json("POST", "/auth/gemini_cli", {"sessionId": s2})[0] == 200
    assert len(mounts_at(e.agent.pid, e.home_path)) == 1 and e.agent.log_text().count(lost) == 1
    assert os.path.isfile(os.path.join(e.home_of(s), ".codex", "auth.json")) and os.path.isdir(e.home_of(s2))
    assert e.json("GET", f"/credentials/get?sessionId={s}")[0] == 200
    e.assert_no_secrets()


@pytest.mark.parametrize("size, why", [
    ("0", None),
    # A HOME that cannot go (a mount point) would be hidden for ever.
    ("64", "removing the HOMEs an earlier run left in it failed: Device or resource busy")])
def test_login_home_without_a_tmpfs(make_env, size, why):
    """login_home_size_mb=0 leaves login_home a directory of its file
    system; so does a HOME left there that cannot be removed, and the log
    says why.  Logins work in both cases.  (A size out of range is the
    config's error: tests/unit/agent/config.)"""
    busy = 'mkdir -p "$0/login-old" && mount -t tmpfs tmpfs "$0/login-old" && exec "$@"'
    e = make_env(sets=(f"login_home_size_mb={size}",),
                 wrap=lambda env: ("sh", "-c", busy, env.home_path) if size == "64" else ())
    assert [m[0] for m in mounts_at(e.agent.pid, e.home_path)] == []
    log = e.agent.log_text()
    failed = f"login_home {e.home_path} gets no tmpfs of its own, and the logins' files go to whatever file " \
        f"system holds it: {why}."
    assert (failed in log) == bool(why) and (why or "gets no tmpfs" not in log), log
    s = sid()
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
    assert status == 200, started
    assert os.path.isdir(os.path.join(e.home_path, f"login-{s}"))
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    assert e.json("GET", f"/credentials/get?sessionId={s}")[0] == 200


@pytest.mark.parametrize("name", ["network-fix-test-1", "..", ".", "a:b.c_d", "x" * 128])
def test_host_named_session_ids(env, name):
    """The host's own session names work end to end; the HOME is
    login-<id> below login_home whatever the id (".." included)."""
    before = set(os.listdir(env.dir)) | {"state"}
    status, started = env.json("POST", "/auth/gemini_cli", {"sessionId": name})
    assert status == 200 and started["sessionId"] == name, started
    assert os.path.isdir(env.home_of(name)) and os.listdir(env.home) == [f"login-{name}"]
    assert env.browse(started["oauthUrl"])[0] == 200
    q = urllib.parse.quote(name, safe="")
    env.wait_status(q, lambda code, b: b.get("authenticated"))
    got = env.json("GET", f"/credentials/get?sessionId={q}")
    assert got[0] == 200 and env.view(got[1]["credPath"]) == os.path.join(env.home_of(name), ".gemini/oauth_creds.json")
    wait_until(lambda: os.listdir(env.home) == [], 10, "the login's HOME removed")
    assert set(os.listdir(env.dir)) == before and os.listdir(os.path.dirname(env.home)) == ["logins"]
    env.assert_no_secrets()


def waiting_start(e):
    """A claude_code start of a new session (its CLI never prints a URL)
    held in a thread until it waits: (start(), which sends another for
    the session and adds its answer to answers, answers, that thread)."""
    s = sid()
    answers = []

    def start():
        answers.append(e.json("POST", "/auth/claude_code", {"sessionId": s}))
    first = threading.Thread(target=start)
    first.start()
    wait_until(lambda: e.agent.health()["activeSessions"] == 1, 10, "the first start")
    return start, answers, first


def test_repeated_start_joins_the_wait(make_env):
    """A start repeated while the first still waits for the URL waits with
    it, and both get the same answer."""
    e = make_env(provider_env={"FAKE_CLI_NOURL": "1"}, url_wait_s=5)
    start, answers, first = waiting_start(e)
    start()
    first.join(30)
    assert len(answers) == 2
    for status, body in answers:
        assert status == 200 and body["message"] == "CLI started; no OAuth URL within 5 s", body
    assert answers[0] == answers[1]
    assert len([p for p in os.listdir(e.home)]) == 1
    e.assert_no_secrets(*[a[1] for a in answers])


def test_start_retries_take_two_waits_at_most(make_env):
    """A host retrying a start faster than the URL wait (or leaving its
    requests behind) holds two waits of that session at most, so that
    every session finds its own: of two retries sent while the first
    start waits, one joins the wait and one is 429 at once."""
    e = make_env(sets=("url_wait_s=600",), provider_env={"FAKE_CLI_NOURL": "1"})
    start, answers, first = waiting_start(e)
    retries = [threading.Thread(target=start) for _ in range(2)]
    for t in retries:
        t.start()
    wait_until(lambda: answers, 30, "an answer to a retry")
    # The other two still wait (600 s): only a third wait is refused.
    assert answers == [(429, {"error": "Too many waiting requests"})]
    # The CLI gone, the login ends and both waits are answered.
    for pid in cli_pids(e):
        os.kill(int(pid), signal.SIGKILL)
    for t in [first, *retries]:
        t.join(30)
    assert sorted(status for status, _ in answers) == [200, 200, 429], answers


def test_bad_requests(env):
    s = sid()
    assert env.json("POST", "/auth/codex", "{not json") == (400, {"error": "Invalid JSON body"})
    assert env.json("POST", "/auth/codex", {}) == (400, {"error": "sessionId is required"})
    assert env.json("POST", "/auth/nope", {"sessionId": s}) == (400, {"error": "Unknown provider"})
    assert env.json("GET", f"/credentials/status?sessionId={s}") == (404, {"error": "Session not found"})
    assert env.json("GET", f"/oauth-url?sessionId={s}") == (404, {"error": "Session not found"})
    assert env.json("GET", "/credentials/status") == (400, {"error": "sessionId is required"})
    # No login: /auth/callback has nothing to forward to.
    status, page = env.request("GET", "/auth/callback?code=x")
    assert status == 404 and b"No login in progress" in page


def test_open_url_without_a_browser_or_with_a_bad_url(env):
    """No browser in this stack: 503 for any URL, shell metacharacters and
    all (test_open_url_argv: with one, no shell sees them); what is not an
    absolute http(s) URL is a 400 first."""
    assert env.json("POST", "/open-url", {"url": "http://127.0.0.1:9/$(touch${IFS}x);`y`"}) == \
        (503, {"error": "Browser not available"})
    for url in ("file:///etc/passwd", "$(touch x)", "http://a b/", "/relative"):
        assert env.json("POST", "/open-url", {"url": url}) == \
            (400, {"error": "url must be an absolute http(s) URL"}), url


def test_token_and_allow_from(agent_bin):
    lan = Lan()
    try:
        lan.guest.run("ip", "addr", "add", "10.77.0.2/24", "dev", "eth0")
        lan.guest.run("ip", "link", "set", "eth0", "up")
        e = LoginEnv(agent_bin, sets=("token=tok-123",), ns=lan.guest)
        try:
            s = sid()
            path = f"/credentials/status?sessionId={s}"
            assert e.request("GET", path)[0] == 401
            assert e.request("GET", path, headers={"Authorization": "Bearer tok-124"})[0] == 401
            assert e.json("GET", path, headers={"Authorization": "Bearer tok-123"}) == \
                (404, {"error": "Session not found"})
            # From the host bridge: not in allow_from, even with the token.
            with lan.host.entered():
                c = http.client.HTTPConnection("10.77.0.2", e.agent.http_port, timeout=10)
                c.request("GET", path, headers={"Authorization": "Bearer tok-123"})
                assert c.getresponse().status == 403
                c.close()
                c = http.client.HTTPConnection("10.77.0.2", e.agent.http_port, timeout=10)
                c.request("GET", "/oauth/callback?code=x&state=y")
                assert c.getresponse().status == 403  # loopback only
                c.close()
                c = http.client.HTTPConnection("10.77.0.2", e.agent.http_port, timeout=10)
                c.request("GET", "/health")
                r = c.getresponse()
                assert r.status == 200 and b"tok-123" not in r.read()
                c.close()
            assert "tok-123" not in e.agent.log_text()
        finally:
            e.close()
    finally:
        lan.close()


# -- provider CLIs --------------------------------------------------------------

@pytest.mark.parametrize("provider,mode,cred", [
    ("claude_code", "claude-auth", ".claude/.credentials.json"),
    ("claude_tui", "claude", ".claude/.credentials.json"),
    ("codex_cli", "codex", ".codex/auth.json"),
    ("gemini_cli", "gemini", ".gemini/oauth_creds.json"),
])
def test_cli_login(env, provider, mode, cred):
    s = sid()
    status, started = env.json("POST", f"/auth/{provider}", {"sessionId": s,
                                "proxy": {"httpProxy": "http://10.9.9.9:3128", "noProxy": "127.0.0.1,localhost"}})
    assert status == 200, started
    url = started.pop("oauthUrl")
    assert started == {"success": True, "message": "OAuth URL captured", "sessionId": s}
    assert url.startswith(f"{env.provider_url}/{mode}/authorize?") and "state=STATE-" in url
    # The host retries: the same answer, the same CLI.
    assert env.json("POST", f"/auth/{provider}", {"sessionId": s}) == \
        (200, {"success": True, "message": "OAuth URL captured", "sessionId": s, "oauthUrl": url})
    other = "gemini_cli" if provider != "gemini_cli" else "codex"
    assert env.json("POST", f"/auth/{other}", {"sessionId": s}) == (409, {"error": "Session already in progress"})
    assert env.json("GET", f"/oauth-url?sessionId={s}") == (200, {"oauthUrl": url})
    # The person signs in: the provider redirects to the CLI's listener.
    status, page = env.browse(url)
    assert status == 200 and b"fake CLI: signed in" in page
    st = env.wait_status(s, lambda code, b: code == 200 and b.get("authenticated"))
    # The login's own HOME below login_home, 0700 and the CLI user's (the
    # credential file's directory too); login_home root's, which only that
    # user's group may pass through.
    home = env.home_of(s)
    path = os.path.join(home, cred)
    assert ISO.match(st.pop("modifiedAt"))
    assert st == {"authenticated": True, "path": env.named(path), "provider": provider}
    assert os.stat(path).st_mode & 0o777 == 0o600
    for d in (home, os.path.dirname(path)):
        m = os.stat(d)
        assert (m.st_mode & 0o777, m.st_uid, m.st_gid) == (0o700, CLI_UID, CLI_GID), d
    m = os.stat(env.home)
    assert (m.st_mode & 0o777, m.st_uid, m.st_gid) == (0o710, 0, CLI_GID)
    assert os.stat(os.path.dirname(env.home)).st_mode & 0o022 == 0
    with open(path) as f:
        creds = json.load(f)
    assert creds["login"] == login_of(url)  # the real content, not the "{}" before it
    # What the CLI saw: a fresh environment with the request's proxy, the
    # agent as its browser (one program path: a link to the agent, in a
    # directory first on PATH that has xdg-open and x-www-browser too), a PTY.
    with open(os.path.join(home, f".fake-env-{mode}.json")) as f:
        seen = json.load(f)
    assert env.json("GET", f"/credentials/get?sessionId={s}") == \
        (200, {"success": True, "provider": provider, "credentials": creds, "credPath": env.named(path)})
    assert env.json("GET", f"/credentials/get?sessionId={s}")[0] == 404
    # Delivered: the credential file and the rest of the HOME are gone.
    wait_until(lambda: home_gone(home), 10, "the login's HOME removed after delivery")
    e = seen["env"]
    assert seen["tty"] is True
    # Its own user, no supplementary group, its terminal its own, and
    # nothing it execs gains privileges.
    assert (seen["uid"], seen["gid"], seen["groups"], seen["tty_owner"]) == (CLI_UID, CLI_GID, [], CLI_UID)
    assert seen["no_new_privs"] == ["1"]
    # No capability (the namespace's port floor is the kernel's 1024:
    # not the agent's namespace to raise it, but it reads it).
    assert env.agent.health()["network"]["unprivileged_port_start"] == 1024
    assert {k: v for k, v in seen["caps"].items() if k != "CapBnd"} == dict.fromkeys(
        ("CapPrm", "CapEff", "CapInh", "CapAmb"), 0), seen["caps"]
    assert e["HTTP_PROXY"] == e["http_proxy"] == "http://10.9.9.9:3128"
    assert e["NO_PROXY"] == e["no_proxy"] == "127.0.0.1,localhost"
    assert "HTTPS_PROXY" not in e and "https_proxy" not in e
    assert e["HOME"] == env.named(home) and e["TERM"] == "xterm-256color"
    links = os.path.join(env.agent.dir, "run-cli", "bin")
    assert e["BROWSER"] == os.path.join(links, "vmba-open-url")
    assert e["PATH"].split(":")[0] == links
    for name in ("vmba-open-url", "xdg-open", "x-www-browser"):
        assert os.path.realpath(os.path.join(links, name)) == os.path.realpath(env.agent_bin)
    assert e["VMBA_CONTROL_SOCKET"] == os.path.join(env.dir, "control.sock")
    assert not [k for k in e if k.startswith(("PYTEST", "VMBA_BIN", "NOTIFY_SOCKET"))]
    env.assert_no_secrets()


# Binds 127.0.0.1:PORT (argv[1]).
BIND_TCP = "import socket, sys; socket.socket().bind(('127.0.0.1', int(sys.argv[1])))"


def test_port_floor_keeps_the_cli_ports(agent_bin, tmp_path):
    """With netinit the agent raises its namespace's port floor
    (net.ipv4.ip_unprivileged_port_start) to 1458: no other local user
    can take Codex's callback ports (127.0.0.1:1455, then 1457) before it
    and fail its logins.  The CLI keeps CAP_NET_BIND_SERVICE, its one
    capability, listens on 1455 and signs in; a CLI without a callback
    port keeps none."""
    with Lan() as lan:
        e = LoginEnv(agent_bin, ns=lan.guest, cmdline="ip=10.77.0.2::10.77.0.1:24::eth0:off",
                     sets=("netinit=true", f"resolv_conf={tmp_path}/resolv.conf", f"hosts_file={tmp_path}/hosts",
                           "hostname_file="))
        try:
            floor = lan.guest.run("cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").stdout.strip()
            assert floor == "1458" and e.agent.health()["network"]["unprivileged_port_start"] == 1458
            assert e.agent.log_lines("Ports below 1458 are root's, and those of the provider CLIs with a "
                                     "callback port (they keep CAP_NET_BIND_SERVICE).")
            for port in (1455, 1457):
                r = lan.guest.run(*as_user(BROWSER_UID, sys.executable, "-c", BIND_TCP, str(port)), check=False)
                assert r.returncode != 0 and "PermissionError" in r.stderr, (port, r.stderr)
            s = sid()
            status, started = e.json("POST", "/auth/codex", {"sessionId": s})
            assert status == 200 and "redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2F" in started["oauthUrl"], started
            with open(os.path.join(e.home_of(s), ".fake-env-codex.json")) as f:
                seen = json.load(f)
            bind = 1 << 10  # CAP_NET_BIND_SERVICE
            assert seen["caps"] == {"CapPrm": bind, "CapEff": bind, "CapInh": bind, "CapAmb": bind,
                                    "CapBnd": bind}, seen["caps"]
            assert seen["uid"] == CLI_UID and seen["no_new_privs"] == ["1"]
            status, page = e.browse(started["oauthUrl"])
            assert status == 200 and b"fake CLI: signed in" in page
            e.wait_status(s, lambda code, b: code == 200 and b.get("authenticated"))
            # A CLI without a callback port of its own keeps nothing.
            g = sid()
            assert e.json("POST", "/auth/gemini_cli", {"sessionId": g})[0] == 200
            with open(os.path.join(e.home_of(g), ".fake-env-gemini.json")) as f:
                caps = json.load(f)["caps"]
            assert {v for k, v in caps.items() if k != "CapBnd"} == {0}, caps
        finally:
            e.close()


def test_port_floor_above_the_local_port_range_is_named(agent_bin, tmp_path):
    """The kernel refuses a floor above the start of the local port range
    (EINVAL, which alone names neither setting): the log names the range
    and where it starts, the floor stays the kernel's, and the log says
    the callback ports are open to any local user."""
    with Lan() as lan:
        lan.guest.run("sysctl", "-qw", "net.ipv4.ip_local_port_range=1400 60999")
        e = LoginEnv(agent_bin, ns=lan.guest, cmdline="ip=10.77.0.2::10.77.0.1:24::eth0:off",
                     sets=("netinit=true", f"resolv_conf={tmp_path}/resolv.conf", f"hosts_file={tmp_path}/hosts",
                           "hostname_file="))
        try:
            assert e.agent.log_lines("Failed to set net.ipv4.ip_unprivileged_port_start = 1458: "
                                     "net.ipv4.ip_local_port_range starts below it, at 1400 (raise that, or lower "
                                     "unprivileged_port_start).")
            assert e.agent.health()["network"]["unprivileged_port_start"] == 1024
            assert e.agent.log_lines("Any local user may take a provider CLI's callback port first (Codex: 1455, "
                                     "1457): net.ipv4.ip_unprivileged_port_start is 1024.")
        finally:
            e.close()


def test_proxy_from_the_host_environment_file(env):
    """No proxy in the request: the CLI gets the one the host wrote into
    the rootfs's /etc/environment; a request's proxy replaces it whole."""
    with open(os.path.join(env.dir, "environment"), "w") as f:
        f.write('SESSION_ID=network-fix-test-1\nDISPLAY=:1\nHTTP_PROXY=http://10.9.9.8:3128\n'
                "export https_proxy='http://10.9.9.8:3129'\nNO_PROXY=localhost\n")

    def seen(body):
        s = sid()
        status, started = env.json("POST", "/auth/gemini_cli", {"sessionId": s, **body})
        assert status == 200, started
        with open(os.path.join(env.home_of(s), ".fake-env-gemini.json")) as f:
            e = json.load(f)["env"]
        env.json("GET", f"/credentials/get?sessionId={s}")  # done with it
        return {k: v for k, v in e.items() if k.lower().endswith("_proxy")}
    assert seen({}) == {"HTTP_PROXY": "http://10.9.9.8:3128", "http_proxy": "http://10.9.9.8:3128",
                        "HTTPS_PROXY": "http://10.9.9.8:3129", "https_proxy": "http://10.9.9.8:3129",
                        "NO_PROXY": "localhost", "no_proxy": "localhost"}
    assert seen({"proxy": {"httpProxy": "http://10.1.1.1:1"}}) == \
        {"HTTP_PROXY": "http://10.1.1.1:1", "http_proxy": "http://10.1.1.1:1"}
    os.unlink(os.path.join(env.dir, "environment"))
    assert seen({}) == {}
    assert "10.9.9.8" not in env.agent.log_text()


def test_new_provider(make_env):
    """Providers are data: one the agent was not built with logs in through
    the same routes once it is in providers.json."""
    e = make_env(extra_providers=[("acme_cli", "acme", ".config/acme/token.json")])
    s = sid()
    status, started = e.json("POST", "/auth/acme_cli", {"sessionId": s})
    assert status == 200, started
    url = started.pop("oauthUrl")
    assert started == {"success": True, "message": "OAuth URL captured", "sessionId": s}
    assert url.startswith(f"{e.provider_url}/acme/authorize?")
    assert e.browse(url)[0] == 200
    st = e.wait_status(s, lambda code, b: b.get("authenticated"))
    path = os.path.join(e.home_of(s), ".config/acme/token.json")
    assert ISO.match(st.pop("modifiedAt"))
    assert st == {"authenticated": True, "path": e.named(path), "provider": "acme_cli"}
    assert e.json("GET", f"/credentials/get?sessionId={s}") == \
        (200, {"success": True, "provider": "acme_cli",
               "credentials": {"token": "SECRET-ACCESS-acme", "login": login_of(url)}, "credPath": e.named(path)})
    e.assert_no_secrets()


@pytest.mark.parametrize("opener", ["browser-path", "browser-split", "xdg-open", "x-www-browser"])
def test_every_opener_reaches_the_agent(make_env, opener):
    """However a CLI opens its URL, the agent gets it: $BROWSER run as one
    program path (Claude Code) or split on blanks (Codex), xdg-open from
    PATH (Gemini CLI), x-www-browser (Codex without $BROWSER).  The CLI
    prints no URL here: the opener is the only way."""
    e = make_env(extra_providers=[("acme_cli", "acme", ".config/acme/token.json")],
                 provider_env={"FAKE_CLI_OPENER": opener})
    s = sid()
    status, started = e.json("POST", "/auth/acme_cli", {"sessionId": s})
    assert status == 200 and started.get("oauthUrl", "").startswith(f"{e.provider_url}/acme/authorize?"), started
    assert e.agent.log_lines("open-url request from a CLI (its login named): session.")
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    e.assert_no_secrets()


def test_only_the_real_credentials_are_captured(make_env):
    """A CLI that writes "{}" where its credentials go (Claude Code does,
    before the tokens) and then exits without the tokens has not signed
    in: "{}" is not captured, the login fails when the CLI exits."""
    e = make_env(provider_env={"FAKE_CLI_PARTIAL": "1"})
    s = sid()
    status, started = e.json("POST", "/auth/claude_code", {"sessionId": s})
    assert status == 200 and "oauthUrl" in started, started
    assert e.browse(started["oauthUrl"])[0] == 200
    st = e.wait_status(s, lambda code, b: b.get("failed"))
    assert st == {"authenticated": False, "failed": True, "error": "CLI exited 0"}
    assert e.json("GET", f"/credentials/get?sessionId={s}") == (400, {"error": "Authentication not completed yet"})
    e.assert_no_secrets()


def test_cli_failure(make_env):
    e = make_env(provider_env={"FAKE_CLI_FAIL": "1"})
    s = sid()
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
    assert status == 200 and "oauthUrl" in started
    st = e.wait_status(s, lambda code, b: b.get("failed"))
    assert st == {"authenticated": False, "failed": True, "error": "CLI exited 3"}
    wait_until(lambda: home_gone(e.home_of(s)), 10, "the failed login's HOME removed")
    # A failed session may be started again.
    assert e.json("POST", "/auth/gemini_cli", {"sessionId": s})[0] == 200
    e.assert_no_secrets()


@pytest.mark.parametrize("screen", ["url-before", "url-with-the-failure", "stale-failure-above"])
def test_cli_that_stays_up_after_a_failed_sign_in(make_env, screen):
    """Gemini CLI goes back to its dialog after a failed token exchange and
    waits: the session fails with what its screen says (redacted), at
    once rather than at expiry, and the CLI is stopped.  Also when the
    agent reads the URL's text and the failure drawn over it at once (a
    loaded machine; the URL came by the browser link): the screen then
    never showed the URL, and the failure still counts.  And when a
    failure from before the URL was on the screen (ignored) and the new
    one is drawn in its place: another text there is a new failure."""
    env = {"FAKE_CLI_EXCHANGE_FAIL": "1"}
    if screen == "url-with-the-failure":
        env["FAKE_CLI_URL_WITH_FAILURE"] = "1"
    if screen == "stale-failure-above":
        env["FAKE_CLI_STALE_FAILURE"] = "1"
    e = make_env(provider_env=env)
    s = sid()
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
    assert status == 200 and "oauthUrl" in started, started
    # The failure page it redirects to is Google's: not reachable here.
    assert e.browse_to(started["oauthUrl"], "developers.google.com") == \
        "https://developers.google.com/gemini-code-assist/auth_failure_gemini"
    st = e.wait_status(s, lambda code, b: b.get("failed"))
    assert st == {"authenticated": False, "failed": True,
                  "error": "CLI gemini_cli: Failed to sign in. Message: Failed to exchange authorization code "
                           "for tokens: invalid_grant (code=[REDACTED])"}
    wait_until(lambda: home_gone(e.home_of(s)), 10, "the failed login's HOME removed")
    assert e.json("GET", f"/credentials/get?sessionId={s}")[0] == 400
    e.assert_no_secrets()


def test_a_failure_shown_before_the_url_is_not_the_outcome(make_env):
    """A failure the CLI's screen showed before the sign-in began (left from
    an earlier attempt) stays above the URL, and the agent looks at the
    screen again after the URL: the login goes on all the same."""
    e = make_env(provider_env={"FAKE_CLI_STALE_FAILURE": "1"})
    s = sid()
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
    assert status == 200 and "oauthUrl" in started, started
    assert e.browse(started["oauthUrl"])[0] == 200
    st = e.wait_status(s, lambda code, b: b.get("authenticated") or b.get("failed"))
    assert st.get("authenticated") is True, st
    status, got = e.json("GET", f"/credentials/get?sessionId={s}")
    assert status == 200 and got["credentials"]["refresh_token"] == "SECRET-REFRESH-gemini", got
    e.assert_no_secrets()


def test_cli_fails_before_url(make_env):
    """The CLI exits before any URL: the start request is answered at once
    with the output shape (there is no URL to give), and the status says
    why the login failed."""
    e = make_env(provider_env={"FAKE_CLI_FAIL_EARLY": "1"})
    s = sid()
    assert e.json("POST", "/auth/gemini_cli", {"sessionId": s}) == \
        (200, {"success": True, "message": "Login ended before an OAuth URL was printed", "sessionId": s,
               "cliOutput": "Error: cannot reach the auth server (refresh_token=[REDACTED])\n"})
    assert e.json("GET", f"/credentials/status?sessionId={s}") == \
        (200, {"authenticated": False, "failed": True, "error": "CLI exited 3"})
    assert e.json("GET", f"/oauth-url?sessionId={s}") == (410, {"error": "CLI exited 3"})
    e.assert_no_secrets()


def test_old_credential_file_not_captured_on_exit(make_env):
    """A credential file left from before the login (a HOME of the same
    session id from an agent that did not get to remove it) is not this
    login's, also when the CLI exits without writing one (the exit path
    reads the file in case its inotify event is still queued): the login
    starts in an empty HOME."""
    e = make_env(provider_env={"FAKE_CLI_FAIL_EARLY": "1"})
    s = sid()
    old = os.path.join(e.home_of(s), ".gemini/oauth_creds.json")
    os.makedirs(os.path.dirname(old))
    with open(old, "w") as f:
        # What Gemini's definition captures: a file its CLI could have written.
        json.dump({"access_token": "SECRET-ACCESS-old", "refresh_token": "SECRET-REFRESH-old"}, f)
    assert e.json("POST", "/auth/gemini_cli", {"sessionId": s})[0] == 200
    assert e.json("GET", f"/credentials/status?sessionId={s}") == \
        (200, {"authenticated": False, "failed": True, "error": "CLI exited 3"})
    assert not os.path.lexists(old)
    e.assert_no_secrets()


def test_a_cli_forking_without_end_is_bounded(make_env):
    """A CLI (third-party code) that forks without end would outrun the
    passes that kill a login's processes: cli_tasks_max bounds cli_user's
    tasks (RLIMIT_NPROC), the fork past it is refused, and when the login
    ends every process it left goes."""
    e = make_env(sets=("cli_tasks_max=40",), provider_env={"FAKE_CLI_FORKS": "100"})
    s = sid()
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
    assert status == 200 and "oauthUrl" in started, started
    with open(os.path.join(e.home_of(s), ".forks")) as f:
        forked, refused = (int(w) for w in f.read().split()[1::2])
    assert refused == 1 and forked < 40, (forked, refused)
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    wait_until(lambda: not cli_pids(e), 30, "every process the CLI left gone")
    e.assert_no_secrets()


def cli_pids(e):
    """Fake CLIs still running in the namespace."""
    found = []
    for p in e.ns.run("ip", "netns", "pids", e.ns.name, check=False).stdout.split():
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if b"fake_cli.py" in f.read():
                    found.append(p)
        except OSError:
            pass
    return found


def test_sessions_of_one_provider_apart(env):
    """Two live logins of one provider at once: each CLI runs in its own
    HOME below login_home, so one sign-in completes only its own session,
    and each session delivers what its own CLI wrote, once.  A delivered
    session's HOME is gone; the other one's is untouched."""
    a, b = sid(), sid()
    urls = {}
    for s in (a, b):
        status, started = env.json("POST", "/auth/gemini_cli", {"sessionId": s})
        assert status == 200 and "oauthUrl" in started, started
        urls[s] = started["oauthUrl"]
        assert os.stat(env.home_of(s)).st_mode & 0o777 == 0o700
    assert login_of(urls[a]) != login_of(urls[b])
    assert env.browse(urls[a])[0] == 200
    env.wait_status(a, lambda code, body: body.get("authenticated"))
    got = {}
    got[a] = env.json("GET", f"/credentials/get?sessionId={a}")
    assert env.json("GET", f"/credentials/get?sessionId={a}")[0] == 404
    wait_until(lambda: home_gone(env.home_of(a)), 10, "A's HOME removed")
    # B's CLI has written nothing yet: B still waits, its HOME is there.
    st = env.json("GET", f"/credentials/status?sessionId={b}")[1]
    assert st.get("waiting") is True, st
    assert os.path.isfile(os.path.join(env.home_of(b), ".fake-env-gemini.json"))
    assert env.browse(urls[b])[0] == 200
    env.wait_status(b, lambda code, body: body.get("authenticated"))
    got[b] = env.json("GET", f"/credentials/get?sessionId={b}")
    assert env.json("GET", f"/credentials/get?sessionId={b}")[0] == 404
    wait_until(lambda: home_gone(env.home_of(b)), 10, "B's HOME removed")
    for s in (a, b):
        status, body = got[s]
        assert status == 200 and body["credentials"]["login"] == login_of(urls[s]), (s, body)
        assert env.view(body["credPath"]) == os.path.join(env.home_of(s), ".gemini/oauth_creds.json")
    assert got[a][1]["credentials"] != got[b][1]["credentials"]
    env.assert_no_secrets()


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


def test_browser_url_goes_to_its_own_login(make_env):
    """Two logins of one provider waiting for their URLs, which only their
    CLIs' $BROWSER gives (claude_code): the first CLI's opener runs after
    the second login started.  Its URL is the first login's (the opener
    says whose, from the CLI's environment), not the newest one's: that
    caller would have signed in to the other caller's login."""
    e = make_env(provider_env={"FAKE_CLI_OPEN_GATE": "1"}, url_wait_s=1)
    a, b = sid(), sid()
    for s in (a, b):
        status, started = e.json("POST", "/auth/claude_code", {"sessionId": s})
        assert status == 200 and "oauthUrl" not in started, started
    open_gate(e, a)
    wait_until(lambda: oauth_url(e, a), 20, "A's URL")
    assert oauth_url(e, b) is None
    open_gate(e, b)
    wait_until(lambda: oauth_url(e, b), 20, "B's URL")
    urls = {s: oauth_url(e, s) for s in (a, b)}
    assert login_of(urls[a]) != login_of(urls[b])
    for s in (a, b):
        with open(os.path.join(e.home_of(s), ".fake-env-claude-auth.json")) as f:
            assert json.load(f)["env"]["VMBA_LOGIN_SESSION"] == s
    # Each sign-in completes its own login.
    assert e.browse(urls[a])[0] == 200
    e.wait_status(a, lambda code, body: body.get("authenticated"))
    got = e.json("GET", f"/credentials/get?sessionId={a}")
    assert got[0] == 200 and got[1]["credentials"]["login"] == login_of(urls[a]), got
    e.assert_no_secrets()


def test_longest_url_with_its_login(env):
    """The longest URL the agent takes (8192 bytes) fits the control
    socket's line with the longest login id after it, as without one: the
    whole line reaches the login manager, which refuses the URL (no login
    waits for it) naming the login id it got, never "line too long"."""
    url = env.provider_url + "/acme/authorize?x=" + "a" * (8192 - len(env.provider_url) - 18)
    assert len(url) == 8192
    results = []
    for login in (None, "L" * 128):
        extra = {"VMBA_LOGIN_SESSION": login} if login else {}
        r = env.ns.run("env", f"VMBA_CONTROL_SOCKET={env.dir}/control.sock",
                       *[f"{k}={v}" for k, v in extra.items()], env.agent_bin, "open-url", url, check=False)
        results.append((r.returncode, r.stderr.strip().endswith("open-url: ERR Operation not permitted")))
    assert results == [(1, True), (1, True)], results
    refused = env.agent.log_lines("Refused a CLI's $BROWSER URL")
    assert [l[l.index("Refused"):] for l in refused] == [
        f"Refused a CLI's $BROWSER URL at {env.provider_url}: not the authorize URL of any login.",
        f"Refused a CLI's $BROWSER URL at {env.provider_url}: not the authorize URL of login "
        f"{'L' * 128}.",
    ], refused


def test_browser_url_without_its_login_is_never_a_guess(make_env):
    """An opener that lost the CLI's environment does not say whose URL it
    is: with one login waiting, the URL is that login's; with two, it is
    refused, given to neither and not opened (either could be the wrong
    caller's)."""
    e = make_env(provider_env={"FAKE_CLI_OPEN_GATE": "1", "FAKE_CLI_OPENER_NO_LOGIN": "1"}, url_wait_s=1)
    a, b, c = sid(), sid(), sid()
    assert e.json("POST", "/auth/claude_code", {"sessionId": a})[0] == 200
    open_gate(e, a)
    wait_until(lambda: oauth_url(e, a), 20, "A's URL, the only login waiting")
    for s in (b, c):
        assert e.json("POST", "/auth/claude_code", {"sessionId": s})[0] == 200
    open_gate(e, b)
    refused = wait_until(lambda: e.agent.log_lines("fits 2 waiting logins and names none"), 20,
                         "the URL given to neither")
    assert refused[0].startswith("<4>") and f"URL at {e.provider_url}: " in refused[0], refused
    assert oauth_url(e, b) is None and oauth_url(e, c) is None
    e.assert_no_secrets()


@pytest.mark.skipif(not shutil.which("Xvfb") or not shutil.which("dbus-daemon"), reason="needs Xvfb and dbus")
def test_browser_url_of_no_login_is_refused(make_env):
    """The CLIs' $BROWSER puts nothing but a login's authorize URL in front
    of the person on the desktop: every process of the CLIs' user can
    reach the control socket.  A URL that no login can take (none named,
    one named that does not exist, or the waiting one), and one that fits
    the waiting login but is named for another, are refused: the opener
    prints the agent's ERR and exits 1, the browser is never asked, the
    waiting login gets no URL, and the agent's warning names only each
    URL's scheme and host."""
    e = fake_firefox_env(make_env, provider_env={"FAKE_CLI_OPEN_GATE": "1"}, url_wait_s=1)
    waiting = sid()
    status, started = e.json("POST", "/auth/claude_code", {"sessionId": waiting})
    assert status == 200 and "oauthUrl" not in started, started
    # A sign-in link's token in the path is not logged either.
    unrelated = "https://elsewhere.example/verify/SECRET-CODE-in-path?code=SECRET-CODE-unrelated#STATE-unrelated"
    fits = f"{e.provider_url}/claude-auth/authorize?code=SECRET-CODE-fits#STATE-fits"
    for url, login in ((unrelated, None), (unrelated, "no-such-login"), (unrelated, waiting),
                       (fits, "another-login")):
        extra = [f"VMBA_LOGIN_SESSION={login}"] if login else []
        # As any process of the CLIs' user (its group has the socket).
        r = e.ns.run("setpriv", f"--reuid={CLI_UID}", f"--regid={CLI_GID}", "--clear-groups", "env", "-i",
                     f"VMBA_CONTROL_SOCKET={e.dir}/control.sock", *extra, e.agent_bin, "open-url", url,
                     check=False)
        assert r.returncode == 1 and "open-url: ERR Operation not permitted" in r.stderr, (url, login, r)
    warnings = e.agent.log_lines("Refused a CLI's $BROWSER URL")
    assert [w[w.index("Refused"):] for w in warnings] == [
        "Refused a CLI's $BROWSER URL at https://elsewhere.example: not the authorize URL of any login.",
        "Refused a CLI's $BROWSER URL at https://elsewhere.example: not the authorize URL of login "
        "no-such-login.",
        f"Refused a CLI's $BROWSER URL at https://elsewhere.example: not the authorize URL of login {waiting}.",
        f"Refused a CLI's $BROWSER URL at {e.provider_url}: not the authorize URL of login "
        "another-login.",
    ], warnings
    assert all(w.startswith("<4>") for w in warnings), warnings
    assert oauth_url(e, waiting) is None
    assert e.agent.services()["firefox"]["state"] == "inactive"
    assert not os.path.exists(os.path.join(e.agent.browser_dir, "firefox-argv.log"))
    e.assert_no_secrets()


def test_homes_removed_when_sessions_expire(make_env):
    """Expiry removes a login's HOME, the credential file of one that was
    captured but never fetched included, once its CLI is stopped; symlinks
    the CLI put there are removed, never followed."""
    outside = tempfile.mkdtemp(prefix="vmba-outside-", dir="/var/tmp")
    try:
        with open(os.path.join(outside, "secret"), "w") as f:
            f.write("not the agent's to remove\n")
        # Long enough for a sign-in on a loaded machine, short for a test.
        ttl = int(6 * DEADLINE_SCALE)
        e = make_env(sets=(f"session_ttl_s={ttl}",), provider_env={"FAKE_CLI_LINKS": outside})
        signed_in, waiting = sid(), sid()
        status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": signed_in})
        assert status == 200 and "oauthUrl" in started, started
        assert e.json("POST", "/auth/gemini_cli", {"sessionId": waiting})[0] == 200
        # Each CLI planted its links before it printed the URL /auth waits for.
        homes = {s: e.home_of(s) for s in (signed_in, waiting)}
        for home in homes.values():
            assert os.path.islink(os.path.join(home, "linked-dir"))
        assert e.browse(started["oauthUrl"])[0] == 200
        e.wait_status(signed_in, lambda code, body: body.get("authenticated"))
        cred = os.path.join(homes[signed_in], ".gemini/oauth_creds.json")
        assert os.path.isfile(cred)
        for s, home in homes.items():
            assert e.wait_status(s, lambda code, body: body.get("failed"), timeout=ttl + 20) == \
                {"authenticated": False, "failed": True, "error": "Session expired"}
            wait_until(lambda: home_gone(home), 10, f"HOME of {s} removed after expiry")
        wait_until(lambda: not cli_pids(e), 10, "the CLIs stopped")
        assert os.listdir(outside) == ["secret"]
        e.assert_no_secrets()
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def helper_dir():
    """Where the fake CLIs' helpers write their pids: the CLI user's."""
    d = tempfile.mkdtemp(prefix="vmba-helpers-", dir="/var/tmp")
    os.chown(d, CLI_UID, CLI_GID)
    return d


def helper_of(helpers, s):
    """The pid the helper of login s wrote, once it has, as a pidfd."""
    path = os.path.join(helpers, f"helper-{s}")
    wait_until(lambda: os.path.exists(path), 20, f"the helper of {s} started")
    with open(path) as f:
        helper = int(f.read())
    pidfd = os.pidfd_open(helper)
    assert os.getsid(helper) == helper  # out of the CLI's group and session
    assert os.stat(f"/proc/{helper}").st_uid == CLI_UID
    return pidfd


def as_cli_user():
    os.setgroups([])
    os.setresgid(CLI_GID, CLI_GID, CLI_GID)
    os.setresuid(CLI_UID, CLI_UID, CLI_UID)


def exited(pidfd, timeout=20):
    return bool(select.select([pidfd], [], [], timeout * DEADLINE_SCALE)[0])


LEFT_RUNNING = r"Sent SIGKILL to 1 process\(es\) of the provider CLIs' user left running after them"


@pytest.mark.parametrize("end", ["cli-exits", "session-expires"])
def test_what_a_cli_left_outside_its_group_goes_with_the_login(make_env, end):
    """A helper the CLI started in a session of its own (setsid(), Node's
    detached spawn), ignoring SIGTERM, is not in the CLI's process group:
    it runs as the CLI user, and once no CLI runs every process of that
    user below the agent is killed: after the CLI exits by itself after
    the sign-in, or is stopped at expiry.  A process of that user that is
    not the agent's (another agent's on this machine) is left alone."""
    helpers = helper_dir()
    # Short only where the login is to expire: the other signs in first.
    ttl = int(6 * DEADLINE_SCALE)
    sets = (f"session_ttl_s={ttl}",) if end == "session-expires" else ()
    e = make_env(sets=sets, provider_env={"FAKE_CLI_HELPER": helpers})
    s = sid()
    bystander = subprocess.Popen(["/bin/sleep", "1000"], preexec_fn=as_cli_user)
    try:
        provider = "codex" if end == "cli-exits" else "gemini_cli"
        status, started = e.json("POST", f"/auth/{provider}", {"sessionId": s})
        assert status == 200 and "oauthUrl" in started, started
        pidfd = helper_of(helpers, s)
        try:
            if end == "cli-exits":
                assert e.browse(started["oauthUrl"])[0] == 200
                e.wait_status(s, lambda code, b: b.get("authenticated"))
            else:
                assert e.wait_status(s, lambda code, b: b.get("failed"), timeout=ttl + 20) == \
                    {"authenticated": False, "failed": True, "error": "Session expired"}
            wait_until(lambda: not cli_pids(e), 20, "the CLI gone")
            assert exited(pidfd), "the helper is still running"
        finally:
            os.close(pidfd)
        assert bystander.poll() is None
        # The agent logs the count once its sweep is over, which may be
        # after the helper's exit was seen here.
        wait_until(lambda: re.search(LEFT_RUNNING, e.agent.log_text()), 10, "the sweep logged")
        e.assert_no_secrets()
    finally:
        bystander.kill()
        bystander.wait()
        shutil.rmtree(helpers, ignore_errors=True)


def test_what_clis_left_waits_for_the_last_cli(make_env):
    """The CLI user's processes are not told apart by login (that would
    mean reading their memory): a helper left by a login whose CLI has
    exited lives on while another login's CLI runs, and goes with it."""
    helpers = helper_dir()
    e = make_env(provider_env={"FAKE_CLI_HELPER": helpers})
    first, second = sid(), sid()
    try:
        status, started = e.json("POST", "/auth/codex", {"sessionId": first})
        assert status == 200, started
        pidfd_first = helper_of(helpers, first)
        status, other = e.json("POST", "/auth/gemini_cli", {"sessionId": second})
        assert status == 200, other
        pidfd_second = helper_of(helpers, second)
        try:
            assert e.browse(started["oauthUrl"])[0] == 200
            e.wait_status(first, lambda code, b: b.get("authenticated"))
            wait_until(lambda: len(cli_pids(e)) == 1, 20, "the first CLI gone")
            # Still there: the second login's CLI runs.
            assert not exited(pidfd_first, 0) and not exited(pidfd_second, 0)
            assert e.browse(other["oauthUrl"])[0] == 200
            e.wait_status(second, lambda code, b: b.get("authenticated"))
            assert exited(pidfd_first) and exited(pidfd_second)
        finally:
            os.close(pidfd_first)
            os.close(pidfd_second)
        wait_until(lambda: re.search(r"Sent SIGKILL to 2 process\(es\) of the provider CLIs' user", e.agent.log_text()),
                   10, "the sweep logged")
        e.assert_no_secrets()
    finally:
        shutil.rmtree(helpers, ignore_errors=True)


def test_homes_nobody_has_are_removed(env):
    """A HOME below login_home that no login has (one an earlier run of
    the agent left, a credential file in it) is removed once no CLI runs:
    here when the next login starts.  A signed-in login's HOME, waiting
    for delivery, is kept through the sweep after its CLI exits."""
    stale = os.path.join(env.home, "login-stale")
    os.makedirs(os.path.join(stale, ".codex"))
    with open(os.path.join(stale, ".codex", "auth.json"), "w") as f:
        f.write('{"tokens": {"access_token": "OLD"}}')
    s = sid()
    status, started = env.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200, started
    assert not os.path.lexists(stale)
    wait_until(lambda: home_gone(stale), 10, "the stale HOME's tree removed")
    assert env.browse(started["oauthUrl"])[0] == 200
    env.wait_status(s, lambda code, b: b.get("authenticated"))
    wait_until(lambda: not cli_pids(env), 20, "the CLI gone")
    home = env.home_of(s)
    assert os.path.isfile(os.path.join(home, ".codex", "auth.json"))
    status, got = env.json("GET", f"/credentials/get?sessionId={s}")
    assert status == 200 and got["credentials"]["tokens"]["access_token"] == "SECRET-ACCESS-codex", got
    wait_until(lambda: home_gone(home), 10, "the HOME removed after delivery")
    env.assert_no_secrets()


def test_auth_callback_forwarded(env):
    s = sid()
    status, started = env.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200
    state = urllib.parse.parse_qs(urllib.parse.urlparse(started["oauthUrl"]).query)["state"][0]
    status, page = env.request("GET", f"/auth/callback?code=SECRET-CODE-codex&state={state}")
    assert (status, page) == (302, b"")
    env.wait_status(s, lambda code, b: b.get("authenticated"))
    assert env.json("GET", f"/credentials/get?sessionId={s}")[1]["credentials"]["tokens"]["access_token"] == \
        "SECRET-ACCESS-codex"
    env.assert_no_secrets()


def test_auth_callback_raw_query_refused(env):
    """MHD passes spaces and control bytes in the query through; forwarded
    raw they would break the request line sent to the CLI's listener."""
    s = sid()
    assert env.json("POST", "/auth/codex", {"sessionId": s})[0] == 200
    with env.ns.entered():
        for q in (b"code=SECRET-CODE-sp ace", b"code=a\tb", b"code=a\x01b", b"code=\xff"):
            c = socket.create_connection(("127.0.0.1", env.agent.http_port), timeout=10)
            c.sendall(b"GET /auth/callback?" + q + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := c.recv(4096):
                data += chunk
            c.close()
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 ") and json.loads(body) == {"error": "Invalid callback query"}, data
    # The login goes on: the CLI's listener saw none of them.
    st = env.json("GET", f"/credentials/status?sessionId={s}")[1]
    assert st["authenticated"] is False and st["waiting"] is True
    env.assert_no_secrets()


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


@pytest.fixture
def host_socket():
    """The host's end of the push handoff: a listening unix socket standing
    in for Firecracker's <uds_path>_<port> (never AF_VSOCK)."""
    d = tempfile.mkdtemp(prefix="vmba-handoff-", dir="/var/tmp")
    path = os.path.join(d, "h.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    srv.settimeout(30)
    yield path, srv
    srv.close()
    shutil.rmtree(d, ignore_errors=True)


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


# -- the real browser -------------------------------------------------------------

@pytest.mark.skipif(not shutil.which("firefox-esr") or not shutil.which("Xvfb"),
                    reason="needs firefox-esr and Xvfb")
def test_codex_login_through_firefox(make_env):
    """The whole round trip with the VM's real browser: the agent starts
    Firefox on its Xvfb at the authorize URL, Firefox follows the fake
    provider's redirect to the Codex CLI's listener on :1455, the CLI
    writes auth.json, the host polls and pulls."""
    e = make_env(services=None, sets=("window_manager=",))
    e.agent.wait_ready(60)
    s = sid()
    status, started = e.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200 and "oauthUrl" in started, started
    wait_until(lambda: e.agent.try_services().get("firefox", {}).get("state") in ("ready", "starting"),
               30, "firefox started")
    st = e.wait_status(s, lambda code, b: b.get("authenticated"), timeout=90)
    path = os.path.join(e.home_of(s), ".codex/auth.json")
    assert st["path"] == e.named(path) and st["provider"] == "codex"
    with open(path) as f:
        creds = json.load(f)
    assert e.json("GET", f"/credentials/get?sessionId={s}") == \
        (200, {"success": True, "provider": "codex", "credentials": creds, "credPath": e.named(path)})
    # Firefox (not the test) followed the redirect: it was launched with
    # the URL and the fake CLI's listener got the code from it.  The
    # CLI's own $BROWSER call with the same URL opened no second tab.
    assert len(e.agent.log_lines("authorize URL opened (browser_launch)")) == 1
    assert e.agent.log_lines("open-url request from a CLI (its login named): session.")
    assert not e.agent.log_lines("keyboard_navigation")
    # Captured: the browser is closed.
    wait_until(lambda: e.agent.try_services().get("firefox", {}).get("state") == "inactive",
               30, "firefox stopped after the capture")
    # /open-url: launches the browser, then navigates the running one
    # instead of starting a second.
    target = f"{e.provider_url}/nowhere"
    assert e.json("POST", "/open-url", {"url": target}) == (200, {"success": True, "method": "browser_launch"})
    wait_until(lambda: e.agent.try_services().get("firefox", {}).get("state") == "ready", 60, "firefox ready")
    assert e.json("POST", "/open-url", {"url": target + "2"}) == (200, {"success": True, "method": "keyboard_navigation"})
    if shutil.which("xwininfo"):
        # The window was found through libxdo and sized to the screen.
        def firefox_full_screen():
            # The display needs its cookie (XAUTHORITY) since Xvfb runs with -auth.
            tree = x_windows(e.agent.x_ns, e.agent.display, e.agent.xauthority())
            return [l for l in tree if re.search(r'"[Ff]irefox', l) and "1280x800+0+0" in l]
        wait_until(firefox_full_screen, 30, "firefox window sized to the 1280x800 screen")
    e.assert_no_secrets()
    profile = os.path.join(e.agent.browser_dir, "profile", "user.js")
    with open(profile) as f:
        prefs = f.read()
    for pref in ("browser.shell.checkDefaultBrowser\", false", "signon.rememberSignons\", false",
                 "app.update.enabled\", false", "toolkit.telemetry.enabled\", false",
                 "browser.sessionstore.resume_from_crash\", false", "browser.aboutwelcome.enabled\", false"):
        assert pref in prefs


def test_no_url_returns_redacted_output(make_env):
    """A start answers at url_wait_s with the CLI's output so far,
    redacted; a start repeated for the live login waits again and answers
    the same way, with what was printed by then: it is repeated until the
    fake CLI's three lines (one write, after its start-up) are in."""
    e = make_env(provider_env={"FAKE_CLI_NOURL": "1"}, url_wait_s=1)
    s = sid()
    want = "debug: refresh_token=[REDACTED]\nGET /cb?code=[REDACTED]&state=[REDACTED]\nstill working\n"
    outs = []

    def start():
        status, started = e.json("POST", "/auth/claude_code", {"sessionId": s})
        assert status == 200, started
        outs.append(started.pop("cliOutput"))
        assert started == {"success": True, "message": "CLI started; no OAuth URL within 1 s", "sessionId": s}
        e.assert_no_secrets(outs[-1])
        return outs[-1]
    try:
        wait_until(lambda: start() == want, 60, "the CLI's output in a start's answer")
    except AssertionError as err:
        raise AssertionError(f"{err}; the last answer's output: {outs[-1:]!r}") from None
    status, waiting = e.json("GET", f"/oauth-url?sessionId={s}")
    assert status == 202 and isinstance(waiting.pop("elapsedMs"), int)
    assert waiting == {"waiting": True, "message": "Waiting for OAuth URL"}
    e.assert_no_secrets()


def test_session_expires(make_env):
    e = make_env(sets=("session_ttl_s=1",))
    s = sid()
    assert e.json("POST", "/auth/oauth", {"sessionId": s, "state": "host-state-x",
                                          "authorizeUrl": f"{e.provider_url}/h/authorize"})[0] == 200
    st = e.wait_status(s, lambda code, b: b.get("failed"), timeout=10)
    assert st == {"authenticated": False, "failed": True, "error": "Session expired"}
    # Its state is gone with it.
    assert e.request("GET", "/oauth/callback?code=SECRET-CODE-late&state=host-state-x")[0] == 400
    assert e.json("GET", f"/credentials/get?sessionId={s}")[0] == 400


@pytest.mark.skipif(not shutil.which("Xvfb") or not shutil.which("dbus-daemon"), reason="needs Xvfb and dbus")
def test_open_url_argv(make_env):
    """The URL reaches the browser as exactly one argv element, shell
    metacharacters and all, and nothing runs them."""
    e = fake_firefox_env(make_env)
    log = os.path.join(e.agent.browser_dir, "firefox-argv.log")
    profile = os.path.join(e.agent.browser_dir, "profile")
    d = tempfile.mkdtemp(prefix="vmba-no-shell-")  # what a shell would touch: this run's own
    os.chmod(d, 0o777)  # any user's shell could
    u1 = f"http://127.0.0.1:9/a?x=$(touch${{IFS}}{d}/ff1)&y=`touch${{IFS}}{d}/ff2`"
    u2 = f"https://example.test/;touch${{IFS}}{d}/ff3;|&>x"
    assert e.json("POST", "/open-url", {"url": u1}) == (200, {"success": True, "method": "browser_launch"})
    wait_until(lambda: os.path.exists(log), 30, "fake firefox started")
    wait_until(lambda: e.agent.try_services().get("firefox", {}).get("state") == "ready", 30, "firefox ready")
    # Handed over on the bus (the fake registers its name a moment after
    # exec, as Firefox does: the agent waits for it), never spawned.
    assert e.json("POST", "/open-url", {"url": u2}) == (200, {"success": True, "method": "keyboard_navigation"})
    with open(log) as f:
        lines = [json.loads(l) for l in f]
    assert lines == [["--profile", profile, u1], ["remote", "/", FAKE_FIREFOX, "--new-tab", u2]]
    # Both were handed over by now: a shell would have run them.
    assert os.listdir(d) == []
    os.rmdir(d)


def fake_firefox_env(make_env, *sets, **kwargs):
    """A LoginEnv whose browser is the fake Firefox (it logs each start's
    and each OpenURL's argv to firefox-argv.log), with no window manager,
    its display chain ready."""
    e = make_env(services=None, sets=("window_manager=", f"firefox={FAKE_FIREFOX}", *sets), **kwargs)
    e.agent.wait_ready(60)
    return e


class FakeFirefoxLogins:
    """fake_firefox_env() for fake Gemini CLI logins."""

    def __init__(self, make_env, *sets):
        self.e = fake_firefox_env(make_env, *sets)
        self.log = os.path.join(self.e.agent.browser_dir, "firefox-argv.log")
        self.profile = os.path.join(self.e.agent.browser_dir, "profile")

    def argv_lines(self):
        with open(self.log) as f:
            return [json.loads(l) for l in f.read().split("\n")[:-1]]

    def start(self, s):
        """Starts login s; its authorize URL once the browser took it."""
        status, started = self.e.json("POST", "/auth/gemini_cli", {"sessionId": s})
        assert status == 200 and "oauthUrl" in started, started
        wait_until(lambda: self.e.agent.log_lines(f"Login {s}: authorize URL opened"), 60, f"{s}'s URL opened")
        return started["oauthUrl"]

    def firefox(self):
        return self.e.agent.try_services().get("firefox", {})


@pytest.mark.skipif(not shutil.which("Xvfb") or not shutil.which("dbus-daemon"), reason="needs Xvfb and dbus")
def test_a_crashed_browser_comes_back_with_the_waiting_logins_pages(make_env):
    """Firefox keeps no session (user.js): killed, it is started again with
    the sign-in pages of the logins still waiting, not with the URL it was
    first started with, whose login is over."""
    f = FakeFirefoxLogins(make_env)
    a, b = sid(), sid()
    url_a, url_b = f.start(a), f.start(b)
    assert f.argv_lines() == [["--profile", f.profile, url_a], ["remote", "/", FAKE_FIREFOX, "--new-tab", url_b]]
    assert f.e.browse(url_a)[0] == 200
    f.e.wait_status(a, lambda code, body: body.get("authenticated"))
    assert f.firefox()["state"] == "ready"  # b still needs it
    os.killpg(f.firefox()["pid"], signal.SIGKILL)
    wait_until(lambda: len(f.argv_lines()) == 3, 60, "firefox started again")
    assert f.argv_lines()[2] == ["--profile", f.profile, url_b]
    f.e.assert_no_secrets()


@pytest.mark.skipif(not shutil.which("Xvfb") or not shutil.which("dbus-daemon"), reason="needs Xvfb and dbus")
def test_a_browser_started_again_shows_every_waiting_login(make_env):
    """Firefox gave up (killed, no restart left) while a login waits: the
    next login starts it again with its own page first and the waiting
    one's behind it."""
    f = FakeFirefoxLogins(make_env, "restart_burst=1")
    url_a = f.start(sid())
    # A start asked for is not counted: one restart, then none.
    wait_until(lambda: f.firefox().get("state") == "ready", 60, "firefox ready")
    os.killpg(f.firefox()["pid"], signal.SIGKILL)
    wait_until(lambda: f.firefox().get("restarts") == 1 and f.firefox().get("state") == "ready", 60, "firefox back")
    os.killpg(f.firefox()["pid"], signal.SIGKILL)
    wait_until(lambda: f.firefox().get("state") == "failed", 60, "firefox given up")
    url_b = f.start(sid())
    wait_until(lambda: len(f.argv_lines()) == 3, 60, "firefox started again")
    assert f.argv_lines() == [["--profile", f.profile, url_a], ["--profile", f.profile, url_a],
                              ["--profile", f.profile, url_b, url_a]]
    f.e.assert_no_secrets()


@pytest.mark.skipif(not shutil.which("Xvfb") or not shutil.which("dbus-daemon"), reason="needs Xvfb and dbus")
def test_a_profile_swapped_for_a_symlink_gets_no_user_js_written_through_it(make_env):
    """The profile is a directory in the browser user's own: that user
    may put a symlink to any directory in its place.  The user.js the
    agent (root) writes before each URL must not land there: root would
    create files in a directory of its choosing."""
    e = fake_firefox_env(make_env)
    target = os.path.join(e.dir, "roots-own")
    os.mkdir(target, 0o755)
    profile = os.path.join(e.agent.browser_dir, "profile")
    # As the browser user (the tests' is nobody), as a Firefox hole could.
    r = e.ns.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                 "import os, sys; os.rename(sys.argv[1], sys.argv[1] + '.old'); os.symlink(sys.argv[2], sys.argv[1])",
                 profile, target, check=False)
    assert r.returncode == 0, r
    assert os.path.islink(profile)
    e.json("POST", "/open-url", {"url": "https://example.test/a"})
    assert os.listdir(target) == []
    assert e.agent.alive()


@pytest.mark.skipif(not shutil.which("Xvfb") or not shutil.which("dbus-daemon"), reason="needs Xvfb and dbus")
def test_a_bus_socket_that_never_accepts_never_blocks_the_agent(make_env):
    """The browser's bus socket is in the browser user's directory: a
    listener put there whose backlog is full (one connection queued on
    listen(0)) must not block the agent's connect, and with it PID 1's
    loop.  The URL still goes to a browser started with it, and the agent
    keeps serving."""
    e = fake_firefox_env(make_env)
    path = os.path.join(e.agent.browser_dir, "bus")
    os.unlink(path)
    with socket.socket(socket.AF_UNIX) as listener, socket.socket(socket.AF_UNIX) as filler:
        listener.bind(path)
        listener.listen(0)
        filler.connect(path)
        assert e.json("POST", "/open-url", {"url": "https://example.test/a"}) == \
            (200, {"success": True, "method": "browser_launch"})
        assert e.agent.health()["status"] in ("ok", "degraded", "starting")


@pytest.mark.skipif(not shutil.which("Xvfb") or not shutil.which("dbus-daemon"), reason="needs Xvfb and dbus")
def test_the_x_server_dying_never_takes_the_agent_with_it(make_env):
    """The browser's window is awaited and arranged by a child running as
    the browser's user, never by the agent: Xlib ends a process whose X
    server goes away (in PID 1, the VM).  Xvfb killed while a window is
    awaited (the fake browser maps none): the agent serves on, Xvfb comes
    back, and the arranger is gone with its connection."""
    e = fake_firefox_env(make_env)

    def arrangers():
        out = []
        for p in e.ns.run("ip", "netns", "pids", e.ns.name, check=False).stdout.split():
            argv = proc_argv(p)
            if argv and argv[1:2] == ["arrange-window"]:
                out.append(int(p))
        return out
    assert e.json("POST", "/open-url", {"url": "https://example.test/a"}) == \
        (200, {"success": True, "method": "browser_launch"})
    wait_until(lambda: e.agent.try_services().get("firefox", {}).get("state") == "ready", 30, "firefox ready")
    [arranger] = wait_until(arrangers, 30, "the window arranger runs")
    firefox = e.agent.services()["firefox"]["pid"]
    def uids(pid):
        with open(f"/proc/{pid}/status") as f:
            return [l.split()[1:] for l in f if l.startswith(("Uid:", "Gid:", "Groups:"))]
    # The browser's user, and the X socket's group as its only other one.
    assert uids(arranger) == uids(firefox) and uids(arranger)[0][0] != "0"
    assert uids(firefox)[2] == [str(X_GID)]
    assert proc_argv(arranger)[2:] == [f":{e.agent.display}", "[Ff]irefox", "60"]
    xvfb = e.agent.services()["Xvfb"]["pid"]
    os.kill(xvfb, signal.SIGKILL)
    wait_until(lambda: not arrangers(), 30, "the arranger ended with its X connection")
    wait_until(lambda: e.agent.try_services().get("Xvfb", {}).get("pid") not in (None, xvfb) and
               e.agent.try_services()["Xvfb"]["state"] == "ready", 60, "Xvfb back")
    assert e.agent.alive()
    assert e.agent.health()["services"]["Xvfb"]["last_exit"] == "killed by SIGKILL"


@pytest.mark.skipif(not shutil.which("Xvfb") or not shutil.which("dbus-daemon"), reason="needs Xvfb and dbus")
@pytest.mark.parametrize("flow", ["cli", "host-driven"])
def test_a_browser_that_cannot_show_the_url_fails_the_login(make_env, flow):
    """The running browser refuses the login's URL (its OpenURL answers a
    D-Bus error): the login fails at once, naming the browser and why,
    rather than waiting out its TTL with no page to sign in on; a CLI's
    is stopped."""
    e = fake_firefox_env(make_env, "browser_prestart=true")
    assert e.agent.try_services()["firefox"]["state"] == "ready"
    open(os.path.join(e.agent.browser_dir, "refuse-open-url"), "w").close()
    s = sid()
    if flow == "cli":
        status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
        assert status == 200 and "oauthUrl" in started, started
    else:
        authorize = f"{e.provider_url}/host/authorize?client_id=c&state=host-state-1&redirect_uri=x"
        assert e.json("POST", "/auth/oauth", {"sessionId": s, "authorizeUrl": authorize}) == \
            (200, {"success": True, "message": "Authorize URL opened", "sessionId": s})
    assert e.wait_status(s, lambda code, b: b.get("failed")) == \
        {"authenticated": False, "failed": True,
         "error": "The browser could not open the authorize URL: Permission denied"}
    wait_until(lambda: not cli_pids(e), 20, "the CLI stopped")
    assert e.agent.log_lines("failed to open the authorize URL in the browser: Permission denied")
    e.assert_no_secrets()


def firefox(e):
    """The browser service as /health shows it: (state, pid)."""
    ff = e.agent.try_services().get("firefox", {})
    return ff.get("state"), ff.get("pid")


@pytest.mark.skipif(not shutil.which("Xvfb") or not shutil.which("dbus-daemon"), reason="needs Xvfb and dbus")
@pytest.mark.parametrize("other_ends", ["cli-exits-before-its-url", "captured"])
def test_browser_stays_while_another_login_needs_it(make_env, other_ends):
    """Two logins at once, the browser showing the first one's sign-in
    page: the second one ending (its CLI exits before printing a URL, or
    it captures) leaves the browser to the first, which still completes
    there.  The browser closes when the last login that needed it ends."""
    e = fake_firefox_env(make_env, extra_providers=[("early_exit", "acme", ".config/acme/token.json",
                                                     {"FAKE_CLI_FAIL_EARLY": "1"})])
    a, b = sid(), sid()
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": a})
    assert status == 200 and "oauthUrl" in started, started
    wait_until(lambda: firefox(e)[0] == "ready", 30, "firefox showing the first login's page")
    shown = firefox(e)
    if other_ends == "captured":
        status, other = e.json("POST", "/auth/gemini_cli", {"sessionId": b})
        assert status == 200 and "oauthUrl" in other, other
        assert e.browse(other["oauthUrl"])[0] == 200
        e.wait_status(b, lambda code, body: body.get("authenticated"))
    else:
        status, other = e.json("POST", "/auth/early_exit", {"sessionId": b})
        assert status == 200 and other["message"] == "Login ended before an OAuth URL was printed", other
        assert e.json("GET", f"/credentials/status?sessionId={b}")[1].get("failed") is True
    # The second login's end was applied before its status said so: the
    # browser under the first one is the same process, still serving.
    assert firefox(e) == shown
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(a, lambda code, body: body.get("authenticated"))
    wait_until(lambda: firefox(e)[0] == "inactive", 30, "firefox stopped once no login needs it")
    got = e.json("GET", f"/credentials/get?sessionId={a}")
    assert got[0] == 200 and got[1]["credentials"]["login"] == login_of(started["oauthUrl"]), got
    e.assert_no_secrets()


def test_shutdown_with_login_in_progress(agent_bin):
    """SIGTERM while a start request waits for its URL and the CLI runs:
    the request is answered or dropped, the CLI's group is killed, the
    agent exits cleanly (with the ASan build: no use after free)."""
    import threading
    e = LoginEnv(agent_bin, provider_env={"FAKE_CLI_NOURL": "1"})
    try:
        s = sid()
        result = {}

        def start():
            try:
                result["r"] = e.request("POST", "/auth/claude_code", json.dumps({"sessionId": s}))
            except Exception as ex:  # dropped connection is fine
                result["r"] = ex
        t = threading.Thread(target=start)
        t.start()
        e.wait_status(s, lambda code, b: code == 200 and b.get("waiting"))
        assert e.agent.stop(timeout=30) == 0
        t.join(30)
        assert not t.is_alive()
        r = result["r"]
        assert isinstance(r, Exception) or r[0] in (200, 503), r
        log = e.agent.log_text()
        assert "AddressSanitizer" not in log and "runtime error" not in log
        # Nothing of the CLI is left in the namespace.
        left = e.ns.run("ip", "netns", "pids", e.ns.name, check=False).stdout.split()
        cmdlines = []
        for p in left:
            try:
                cmdlines.append(open(f"/proc/{p}/cmdline", "rb").read())
            except OSError:
                pass
        assert not [c for c in cmdlines if b"fake_cli.py" in c], cmdlines
    finally:
        e.close()


def test_open_url_from_another_user_refused(make_env, agent_bin):
    """The control socket is root's with the CLI user's group, 0660, and
    serves only the agent's own uid and the CLI user's (SO_PEERCRED), even
    with its modes loosened: another user (the browser's) cannot plant the
    authorize URL of a waiting login."""
    e = make_env(provider_env={"FAKE_CLI_NOURL": "1"})
    s = sid()
    import threading
    t = threading.Thread(target=e.request, args=("POST", "/auth/claude_code", json.dumps({"sessionId": s})))
    t.start()
    e.wait_status(s, lambda code, b: code == 200 and b.get("waiting"))
    sock = os.path.join(e.dir, "control.sock")
    m = os.stat(sock)
    assert (stat.S_ISSOCK(m.st_mode), m.st_mode & 0o777, m.st_uid, m.st_gid) == (True, 0o660, 0, CLI_GID)
    os.chmod(e.dir, 0o755)
    os.chmod(sock, 0o666)
    evil = f"{e.provider_url}/claude-auth/authorize?client_id=evil"
    env = {"VMBA_CONTROL_SOCKET": sock, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    r = e.ns.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 agent_bin, "open-url", evil, env=env, check=False)
    assert r.returncode == 1 and "permission denied" in r.stderr, (r.returncode, r.stderr)
    assert e.json("GET", f"/oauth-url?sessionId={s}")[0] == 202
    # The CLI user may, as its CLIs do.
    r = e.ns.run("setpriv", f"--reuid={CLI_UID}", f"--regid={CLI_GID}", "--clear-groups",
                 agent_bin, "open-url", evil, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert e.json("GET", f"/oauth-url?sessionId={s}") == (200, {"oauthUrl": evil})
    t.join(30)


@pytest.mark.parametrize("user,why", [
    ("vmba-no-such-user", "cli_user: user 'vmba-no-such-user' not found in /etc/passwd"),
    ("root", "cli_user: user 'root' is root (uid 0, gid 0): refused"),
    ("", "cli_user is empty, and the provider CLIs never run as root"),
    ("nobody", "cli_user 'nobody' (uid 65534, gid 65534) shares its uid or group with browser_user, vnc_user or "
               "x_user; the provider CLIs need a user of their own"),
])
def test_no_cli_user_no_cli(make_env, user, why):
    """Without a user of their own the provider CLIs never run (fail
    closed): a login is refused with 503 and the reason, which the log
    says at start; nothing is made for them (links, socket, HOMEs)."""
    e = make_env(sets=(f"cli_user={user}",))
    status, body = e.json("POST", "/auth/codex", {"sessionId": sid()})
    assert (status, body) == (503, {"error": f"Provider CLIs cannot run: {why}"})
    assert f"Provider CLI logins unavailable: {why}." in e.agent.log_text()
    assert not os.path.exists(os.path.join(e.dir, "control.sock"))
    assert not os.path.exists(e.home)
    assert not os.path.exists(os.path.join(e.agent.dir, "run-cli"))
    assert not cli_pids(e)


def test_no_cli_user_shared_with_a_service(make_env):
    """A services_file service that runs as cli_user: the sweeps of that
    user would kill it, and third-party code would reach its files, so
    the provider CLIs do not run, saying which service."""
    e = make_env(services=IDLE + [{"name": "helper", "argv": ["/bin/sleep", "1000"], "user": CLI_USER}])
    why = (f"cli_user '{CLI_USER}' (uid {CLI_UID}, gid {CLI_GID}) shares its uid or group with service helper's user "
           f"'{CLI_USER}'; the provider CLIs need a user of their own")
    status, body = e.json("POST", "/auth/codex", {"sessionId": sid()})
    assert (status, body) == (503, {"error": f"Provider CLIs cannot run: {why}"})
    assert f"Provider CLI logins unavailable: {why}." in e.agent.log_text()
    assert e.agent.services()["helper"]["state"] == "ready"


def test_control_socket_the_cli_user_cannot_reach(make_env):
    """An operator's control_socket in a directory only root may pass
    through (as runtime_dir is): said at start, naming the directory,
    rather than found out by the first login."""
    private = tempfile.mkdtemp(prefix="vmba-private-", dir="/var/tmp")
    try:
        e = make_env(sets=(f"control_socket={private}/control.sock",))
        assert (f"cli_user cannot pass through {private}/ to control_socket {private}/control.sock: "
                "the provider CLIs will fail there.") in e.agent.log_text()
        assert "to login_home" not in e.agent.log_text()
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_open_url_verb_errors(agent_bin, tmp_path):
    env = dict(os.environ, VMBA_CONTROL_SOCKET=str(tmp_path / "none.sock"))
    r = subprocess.run([agent_bin, "open-url", "file:///etc/passwd"], env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "not an absolute http(s) URL" in r.stderr
    r = subprocess.run([agent_bin, "open-url", "http://127.0.0.1:9/x"], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "cannot reach the agent" in r.stderr
    r = subprocess.run([agent_bin, "open-url"], env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "Usage: vm-browser-agent open-url URL" in r.stderr
