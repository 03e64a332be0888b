"""Logins end to end in a test network namespace: the real agent, fake
provider CLIs (tests/netns/login/fake_cli.py) that behave like Claude
Code, Codex and Gemini CLI, a fake OAuth provider page on loopback, and the
host API exactly as the host calls it (LoginEnv, tests/lib/loginenv.py).
Here: the host-driven flow, session ids and bad requests, the token and
allow_from, each CLI's login and what it runs with (its user, no
capability but a callback port's below the port floor, the proxy), a
provider the agent was not built with, every way a CLI opens its URL,
what is captured and how a CLI fails, logins of one provider apart, a
start that gets no URL, expiry, shutdown during a login, no user for the
CLIs.  The logins' HOMEs are test_login_homes.py's, the delivery of
credentials test_handoff.py's, the browser test_login_browser.py's.  The
tests end by searching everything the run wrote (agent log, CLI
transcripts in responses) for the secrets.  Over 800 lines: each case
is a few lines on the one LoginEnv, and the file is already what is left
after the HOMEs, the delivery and the browser went to files of their
own."""
import http.client
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import urllib.parse

import pytest

from desktop import as_user
from loginenv import IDLE, LoginEnv, cli_pids, home_gone, login_of, open_gate, sid
from netns import Lan, wait_until, workdir
from svagent import BROWSER_UID, CLI_GID, CLI_POOL_UIDS, CLI_UID, CLI_USER


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


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
    # Replayed (a reload, or another code): the page again, the session
    # keeps the first capture.
    status, page = env.request("GET", "/oauth/callback?code=SECRET-CODE-evil&state=host-state-1")
    assert status == 200 and b"Signed in &mdash; you can close this window." in page
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


def test_a_cli_delivered_from_still_answers_the_browser(make_env):
    """The host pulls the credentials the moment they are captured, before
    the CLI answered the browser's callback (the real Gemini CLI writes
    its tokens, then asks Google for the account, then redirects): the
    CLI keeps the grace its capture gave it, and the person gets its page,
    not a connection reset for a sign-in that worked."""
    e = make_env(provider_env={"FAKE_CLI_ANSWER_GATE": "1"})
    s = sid()
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
    assert status == 200 and "oauthUrl" in started, started
    browsed = {}

    def browse():
        try:
            browsed["answer"] = e.browse(started["oauthUrl"])
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            browsed["answer"] = repr(err)
    person = threading.Thread(target=browse)
    person.start()
    try:
        e.wait_status(s, lambda code, b: b.get("authenticated"))
        status, got = e.json("GET", f"/credentials/get?sessionId={s}")
        assert status == 200 and got["credentials"]["access_token"] == "SECRET-ACCESS-gemini"
        open_gate(e, s, ".answer-gate")
    finally:
        person.join(60)
    assert browsed.get("answer") == (200, b"<p>fake CLI: signed in</p>"), browsed
    wait_until(lambda: home_gone(e.home_of(s)), 20, "the login's HOME removed")
    e.assert_no_secrets()


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
    # The CLI gone, the login ends and both waits are answered.  The session
    # is there from the CLI's fork, the CLI's command line only from its
    # exec: killed once it runs, not whatever ran before.
    for pid in wait_until(lambda: cli_pids(e), 20, "the CLI running"):
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
    # The login's user is one of the pool's, the CLIs' group its group.
    uid = os.stat(home).st_uid
    assert uid in CLI_POOL_UIDS, uid
    # Its TMPDIR below its HOME, its own: what it leaves there goes with
    # the HOME, not to the next login with the same user, as in /tmp.
    for d in (home, os.path.dirname(path), os.path.join(home, "tmp")):
        m = os.stat(d)
        assert (m.st_mode & 0o777, m.st_uid, m.st_gid) == (0o700, uid, CLI_GID), d
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
    assert (seen["uid"], seen["gid"], seen["groups"], seen["tty_owner"]) == (uid, CLI_GID, [], uid)
    assert seen["no_new_privs"] == ["1"]
    # Its terminal on 0-2 and nothing else of the agent's (its listeners,
    # the control socket, the terminal's master side, another login's).
    assert seen["fds"].keys() == {"0", "1", "2"} and len(set(seen["fds"].values())) == 1, seen["fds"]
    assert seen["fds"]["0"].startswith("/dev/pts/"), seen["fds"]
    # No capability (the namespace's port floor is the kernel's 1024:
    # not the agent's namespace to raise it, but it reads it).
    assert env.agent.health()["network"]["unprivileged_port_start"] == 1024
    assert {k: v for k, v in seen["caps"].items() if k != "CapBnd"} == dict.fromkeys(
        ("CapPrm", "CapEff", "CapInh", "CapAmb"), 0), seen["caps"]
    assert e["HTTP_PROXY"] == e["http_proxy"] == "http://10.9.9.9:3128"
    assert e["NO_PROXY"] == e["no_proxy"] == "127.0.0.1,localhost"
    assert "HTTPS_PROXY" not in e and "https_proxy" not in e
    assert e["HOME"] == env.named(home) and e["TERM"] == "xterm-256color"
    assert e["TMPDIR"] == env.named(os.path.join(home, "tmp"))
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
            assert seen["uid"] in CLI_POOL_UIDS and seen["no_new_privs"] == ["1"]
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


def test_proxy_credentials_readable_by_all_are_warned_about(env):
    """A proxy's credentials in an environment file every local user can
    read (Debian's /etc/environment is 0644) are said once, without them;
    at 0600 nothing is said."""
    path = os.path.join(env.dir, "environment")
    warning = ("holds a proxy's credentials and is readable by group or others (mode 0644): every local user "
               "can read them; expected mode 0600, or the proxy in each login request.")

    def start():
        s = sid()
        status, started = env.json("POST", "/auth/gemini_cli", {"sessionId": s})
        assert status == 200, started
        env.json("GET", f"/credentials/get?sessionId={s}")
    with open(path, "w") as f:
        f.write("HTTPS_PROXY=http://10.9.9.8:3129\n")
    os.chmod(path, 0o644)
    start()
    with open(path, "w") as f:
        f.write("HTTPS_PROXY=http://vmba:Pr0xyPw@10.9.9.8:3129\n")
    os.chmod(path, 0o600)
    start()
    assert warning not in env.agent.log_text()
    # The credentials in the variable the agent passes over (the upper
    # case one wins), written without a scheme, as curl takes them.
    with open(path, "w") as f:
        f.write("HTTPS_PROXY=http://10.9.9.8:3129\nhttps_proxy=vmba:Pr0xyPw@10.9.9.8:3129\n")
    os.chmod(path, 0o644)
    start()
    start()
    log = env.agent.log_text()
    assert log.count(f"{path} {warning}") == 1
    assert "Pr0xyPw" not in log


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


def test_a_failure_message_longer_once_redacted_is_reported_whole(make_env):
    """The failure row is redacted (each secret grows to "[REDACTED]") and
    becomes the session's error.  Cut to a fixed size it ended inside a
    character here (the em dash across byte 299), no JSON string could
    hold it and every status was a 500: it is kept whole."""
    prefix = "Failed to sign in. Message: "
    head = "invalid_grant " + "code=x " * 12
    redacted = "CLI gemini_cli: " + prefix + "invalid_grant " + "code=[REDACTED] " * 12
    filler = "e" * (298 - len(redacted) - 1)
    message = head + filler + "\u2014 reason"
    assert len((prefix + message).encode()) < 255  # one row as the runner reads it
    e = make_env(provider_env={"FAKE_CLI_EXCHANGE_FAIL": "1", "FAKE_CLI_EXCHANGE_MESSAGE": message})
    s = sid()
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
    assert status == 200 and "oauthUrl" in started, started
    e.browse_to(started["oauthUrl"], "developers.google.com")
    st = e.wait_status(s, lambda code, b: code == 200 and b.get("failed"))
    assert st == {"authenticated": False, "failed": True, "error": redacted + filler + "\u2014 reason"}
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


def test_a_cli_whose_exec_fails_is_refused_at_once(make_env):
    """The CLI's binary is there and executable, but its exec as the CLI
    user fails (here: a script whose interpreter is missing, ENOENT; over
    cli_tasks_max it is EAGAIN): the start answers 503 with the step and
    its errno at once (before: a login that failed later with "CLI exited
    127", and whose start waited url_wait_s for a URL); the session has
    failed with that, and nothing of it is left."""
    def no_interpreter(env):
        script = os.path.join(env.dir, "acme-cli")
        with open(script, "w") as f:
            f.write("#!/nonexistent/vmba-interpreter\n")
        os.chmod(script, 0o755)
        with open(env.providers_file) as f:
            providers = json.load(f)
        for p in providers["providers"]:
            if p["id"] == "acme_cli":
                p["argv"] = [script]
        with open(env.providers_file, "w") as f:
            json.dump(providers, f)
        env.script = script
    e = make_env(extra_providers=[("acme_cli", "acme", ".config/acme/token.json")], before_start=no_interpreter)
    s = sid()
    status, body = e.json("POST", "/auth/acme_cli", {"sessionId": s})
    why = re.fullmatch(rf"Failed to start the CLI: execute {re.escape(e.script)} as uid (\d+): "
                       "No such file or directory", body.get("error", ""))
    assert status == 503 and why and int(why.group(1)) in CLI_POOL_UIDS, (status, body)
    assert e.json("GET", f"/credentials/status?sessionId={s}") == \
        (200, {"authenticated": False, "failed": True, "error": body["error"]})
    assert e.agent.log_lines(f"Login {s} (acme_cli): {body['error']}")
    wait_until(lambda: home_gone(e.home_of(s)), 10, "the failed login's HOME removed")
    assert not e.agent.log_lines("cannot execute")


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


def test_cli_users_missing_from_the_pool(make_env):
    """A pool that is not whole (cli_users names a 9th user, and there are
    8) runs no CLI, naming the key and the user: two logins would
    otherwise share one, and reach each other."""
    e = make_env(sets=("cli_users=9",))
    status, body = e.json("POST", "/auth/codex", {"sessionId": sid()})
    assert status == 503 and body["error"].startswith("Provider CLIs cannot run: cli_users (user 9 of 9): "), body
    assert f"{CLI_USER}9" in body["error"], body
    assert not cli_pids(e)


def assert_clis_refused(e, why, routes=("/auth/codex",)):
    """No CLI runs, for why: each route's login refused with 503 and it,
    which start logged and /health says (for a host that never reads the
    log)."""
    for route in routes:
        status, body = e.json("POST", route, {"sessionId": sid()})
        assert (status, body) == (503, {"error": f"Provider CLIs cannot run: {why}"})
    assert f"Provider CLI logins unavailable: {why}." in e.agent.log_text()
    assert not cli_pids(e)
    health = e.agent.health()
    assert (health["status"], health["cli_error"]) == ("degraded", why), health


@pytest.mark.parametrize("key, value, what", [
    ("login_home", "/var/tmp/vmba-logins", "login_home /var/tmp/vmba-logins"),
    ("control_socket", "/dev/shm/vmba-control.sock", "control_socket /dev/shm/vmba-control.sock"),
    ("bin_path", "/usr/bin:/tmp/vmba-bin", "bin_path has /tmp/vmba-bin"),
])
def test_what_the_clis_reach_below_their_own_tmp(make_env, key, value, what):
    """Each CLI has an empty /tmp, /var/tmp and /dev/shm of its own: what
    it must reach cannot be there, which start says (fail closed, as
    without a user) rather than each CLI failing on its own."""
    e = make_env(sets=(f"{key}={value}",))
    why = f"{what} is where each provider CLI has an empty /tmp, /var/tmp, /dev/shm or /run/lock of its own"
    assert_clis_refused(e, why)


@pytest.mark.parametrize("entry", ["into", "through"])
def test_a_bin_path_entry_leading_below_the_clis_own_tmp(make_env, entry):
    """A bin_path directory that is a symlink into /tmp, or through it to
    /usr/bin (realpath() says /usr/bin, but each CLI finds nothing at the
    /tmp name on the way): refused at start as one below /tmp is, saying
    where it leads."""
    tmp = tempfile.mkdtemp(prefix="vmba-bin-", dir="/tmp")
    links = workdir("vmba-links-")
    try:
        bin_dir = os.path.join(links, "bin")
        where = tmp if entry == "into" else os.path.join(tmp, "bin")
        if entry == "through":
            os.symlink("/usr/bin", where)
        os.symlink(where, bin_dir)
        e = make_env(sets=(f"bin_path={bin_dir}:/usr/bin:/bin",))
        why = (f"bin_path has {bin_dir}, which leads to {where}, where each provider CLI has an empty /tmp, "
               "/var/tmp, /dev/shm or /run/lock of its own")
        assert_clis_refused(e, why)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(links, ignore_errors=True)


def codex_program(argv0):
    """A before_start that makes codex's program argv0 in the providers
    file the agent reads."""
    def before_start(e):
        with open(e.providers_file) as f:
            providers = json.load(f)
        codex, = (p for p in providers["providers"] if p["id"] == "codex")
        codex["argv"][0] = argv0
        with open(e.providers_file, "w") as f:
            json.dump(providers, f)
    return before_start


@pytest.mark.parametrize("shape", ["named", "linked", "on_bin_path"])
def test_a_provider_program_below_the_clis_own_tmp(make_env, shape):
    """A provider whose program is named by a path below /tmp: each CLI has
    an empty /tmp of its own, where that program is not (every login of
    that provider would fail at its exec, ENOENT).  Start says so, as for the
    agent's own paths above; no CLI runs, that provider's or another's:
    whether one provider can run is not told apart.  The same for an
    absolute argv[0] outside /tmp that is a symlink there, and for the file
    a bare name finds on bin_path that is one (realpath() says
    sys.executable, but each CLI finds nothing at the /tmp name on the
    way): the refusal says where it leads."""
    tmp = tempfile.mkdtemp(prefix="vmba-prog-", dir="/tmp")
    in_tmp = os.path.join(tmp, "python3")
    os.symlink(sys.executable, in_tmp)
    bin_dir = workdir("vmba-bin-")
    # The CLI's user could exec from it, were the link not through /tmp.
    os.chmod(bin_dir, 0o755)
    link = os.path.join(bin_dir, "vmba-python3")
    os.symlink(in_tmp, link)
    argv0, program = {"named": (in_tmp, in_tmp), "linked": (link, link), "on_bin_path": ("vmba-python3", link)}[shape]

    try:
        e = make_env(before_start=codex_program(argv0),
                     sets=(f"bin_path={bin_dir}:{os.path.dirname(sys.executable)}:/usr/bin:/bin",))
        said = f"{program} is where" if shape == "named" else f"{program}, which leads to {in_tmp}, where"
        why = (f"provider codex's program {said} each provider CLI has an empty /tmp, /var/tmp, "
               "/dev/shm or /run/lock of its own")
        assert_clis_refused(e, why, ("/auth/codex", "/auth/gemini_cli"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(bin_dir, ignore_errors=True)


@pytest.mark.parametrize("shape", ["named", "linked", "env", "fine", "env_past"])
def test_a_provider_script_whose_interpreter_is_below_the_clis_own_tmp(make_env, shape):
    """A provider whose program is a script whose "#!" interpreter is below
    /tmp: each CLI's exec of it fails (ENOENT, the interpreter missing in
    its empty /tmp) though the program itself is there.  Start says so,
    naming the program and the interpreter, for one named below /tmp, one
    that a symlink leads there, and the program "#!/usr/bin/env" runs,
    found on bin_path as env finds it; no CLI runs.  A script whose
    interpreter each CLI reaches runs, and so does one whose env program
    bin_path's first entry has only through a link below /tmp, as env
    goes on past that (ENOENT in the CLI's /tmp) to the next entry's."""
    tmp = tempfile.mkdtemp(prefix="vmba-interp-", dir="/tmp")
    in_tmp = os.path.join(tmp, "python3")
    os.symlink(sys.executable, in_tmp)
    bin_dir = workdir("vmba-bin-")
    os.chmod(bin_dir, 0o755)  # the CLI's user execs from it
    link = os.path.join(bin_dir, "vmba-python3")
    os.symlink(in_tmp, link)
    os.symlink(sys.executable, os.path.join(bin_dir, "vmba-ok-python3"))
    if shape == "env_past":  # before sys.executable's own directory on bin_path
        os.symlink(in_tmp, os.path.join(bin_dir, os.path.basename(sys.executable)))
    script = os.path.join(bin_dir, "vmba-cli")
    line = {"named": f"#!{in_tmp}", "linked": f"#! {link} -u", "env": "#!/usr/bin/env vmba-python3",
            "fine": "#!/usr/bin/env vmba-ok-python3",
            "env_past": f"#!/usr/bin/env {os.path.basename(sys.executable)}"}[shape]
    with open(script, "w") as f:
        f.write(f"{line}\nimport os, sys\nos.execv(sys.executable, [sys.executable] + sys.argv[1:])\n")
    os.chmod(script, 0o755)

    try:
        e = make_env(before_start=codex_program(script),
                     sets=(f"bin_path={bin_dir}:{os.path.dirname(sys.executable)}:/usr/bin:/bin",))
        if shape in ("fine", "env_past"):
            assert "cli_error" not in e.agent.health()
            status, body = e.json("POST", "/auth/codex", {"sessionId": sid()})
            assert status == 200 and body["oauthUrl"].startswith(f"{e.provider_url}/codex/authorize?"), body
            return
        said = f"{in_tmp} where" if shape == "named" else f"{link}, which leads to {in_tmp}, where"
        why = (f"provider codex's program {script} has its interpreter (#!) {said} each provider CLI has an "
               "empty /tmp, /var/tmp, /dev/shm or /run/lock of its own")
        assert_clis_refused(e, why, ("/auth/codex", "/auth/gemini_cli"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(bin_dir, ignore_errors=True)


@pytest.mark.parametrize("shape", ["relative", "interpreter_mode", "interpreter_dir", "unreadable", "group_bits",
                                   "group_fine", "interpreter_is_dir", "interpreter_noexec"])
def test_a_provider_program_the_clis_user_may_not_run(make_env, shape):
    """A provider whose program, or what runs it, each CLI cannot run as
    its user: a "#!" interpreter named relative (the kernel looks it up
    from the CLI's working directory, its new, empty HOME: ENOENT), one
    the user may not execute by the mode bits, one in a directory it may
    not search (EACCES), a script it may not read (its interpreter opens
    it by name), and a program 0705 of the CLIs' group (the group's bits
    are the group's, though the others' allow); and, for any user, an
    interpreter that is a directory, or one on a file system mounted
    noexec (a tmpfs in the agent's own mount namespace): exec refuses both
    (EACCES).  Each failed every login at its exec or just after.  Start
    says so, naming the program, what runs it, and the user and the bits
    or the cause; no CLI runs.  A program 0750 of that group runs."""
    bin_dir = workdir("vmba-bin-")
    os.chmod(bin_dir, 0o755)  # the CLI's user execs from it
    closed = os.path.join(bin_dir, "closed")
    os.mkdir(closed, 0o700)
    interp, hidden = os.path.join(bin_dir, "vmba-interp"), os.path.join(closed, "vmba-interp")
    for path, mode in ((interp, 0o700), (hidden, 0o755)):
        with open(path, "w") as f:
            f.write(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        os.chmod(path, mode)
    as_dir = os.path.join(bin_dir, "vmba-interp-dir")
    os.mkdir(as_dir, 0o755)
    noexec = os.path.join(bin_dir, "noexec")
    os.mkdir(noexec, 0o755)
    # The agent's mount namespace only: a tmpfs mounted noexec there, with
    # a copy of the interpreter the others use (0755).
    wrap = ("sh", "-c", 'mount -t tmpfs -o noexec,size=1m,mode=0755 vmba-noexec "$0" && cp -p "$1" "$0"/ && shift && '
            'exec "$@"', noexec, hidden) if shape == "interpreter_noexec" else ()
    on_noexec = os.path.join(noexec, "vmba-interp")
    script = os.path.join(bin_dir, "vmba-cli")
    line = {"relative": "#!bin/python3", "interpreter_mode": f"#!{interp}", "interpreter_dir": f"#!{hidden}",
            "interpreter_is_dir": f"#!{as_dir}", "interpreter_noexec": f"#!{on_noexec}"}.get(shape,
                                                                                          f"#!{sys.executable}")
    with open(script, "w") as f:
        f.write(f"{line}\nimport os, sys\nos.execv(sys.executable, [sys.executable] + sys.argv[1:])\n")
    os.chown(script, 0, CLI_GID)
    os.chmod(script, {"unreadable": 0o711, "group_bits": 0o705, "group_fine": 0o750}.get(shape, 0o755))

    try:
        e = make_env(before_start=codex_program(script), wrap=wrap)
        if shape == "group_fine":
            assert "cli_error" not in e.agent.health()
            status, body = e.json("POST", "/auth/codex", {"sessionId": sid()})
            assert status == 200 and body["oauthUrl"].startswith(f"{e.provider_url}/codex/authorize?"), body
            return
        who = f"a provider CLI's user (uid {CLI_POOL_UIDS[0]}, gid {CLI_GID})"
        why = f"provider codex's program {script}" + {
            "relative": " has its interpreter (#!) bin/python3, a relative name, which each provider CLI's exec "
                        "looks up in its new, empty HOME",
            "interpreter_mode": f" has its interpreter (#!) {interp}, which {who} may not execute "
                                "(mode 0700, owner 0:0)",
            "interpreter_dir": f" has its interpreter (#!) {hidden}, below {closed}, a directory {who} may not "
                               "search (mode 0700, owner 0:0)",
            "unreadable": f", a script, which {who} may not read for its interpreter (mode 0711, owner 0:{CLI_GID})",
            "group_bits": f", which {who} may not execute (mode 0705, owner 0:{CLI_GID})",
            "interpreter_is_dir": f" has its interpreter (#!) {as_dir}, which is a directory, not a file exec runs",
            "interpreter_noexec": f" has its interpreter (#!) {on_noexec}, on a file system mounted noexec, where exec "
                                  "runs nothing",
        }[shape]
        assert_clis_refused(e, why, ("/auth/codex", "/auth/gemini_cli"))
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)


def test_a_provider_program_not_there_at_start(make_env):
    """A bare name that bin_path finds nothing for at start (a CLI
    installed later) is not refused then: each login looks it up again,
    and one that finds it runs it."""
    bin_dir = workdir("vmba-bin-")
    os.chmod(bin_dir, 0o755)  # the CLI's user execs from it

    try:
        e = make_env(before_start=codex_program("vmba-python3"),
                     sets=(f"bin_path={bin_dir}:{os.path.dirname(sys.executable)}:/usr/bin:/bin",))
        assert "cli_error" not in e.agent.health()
        os.symlink(sys.executable, os.path.join(bin_dir, "vmba-python3"))
        s = sid()
        status, body = e.json("POST", "/auth/codex", {"sessionId": s})
        assert status == 200 and body["oauthUrl"].startswith(f"{e.provider_url}/codex/authorize?"), body
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)


def test_control_socket_the_cli_user_cannot_reach(make_env):
    """An operator's control_socket in a directory only root may pass
    through (as runtime_dir is): said at start, naming the directory,
    rather than found out by the first login."""
    private = workdir("vmba-private-")
    try:
        e = make_env(sets=(f"control_socket={private}/control.sock",))
        assert (f"cli_user cannot pass through {private} to control_socket {private}/control.sock: "
                "the provider CLIs will fail there.") in e.agent.log_text()
        assert "to login_home" not in e.agent.log_text()
    finally:
        shutil.rmtree(private, ignore_errors=True)
