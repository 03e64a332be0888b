"""The real-CLI tier: each pinned provider CLI (packaging/clis.json, cached
by packaging/cli-cache) logs in through the real agent, offline, against
tests/realcli/standin.py.

The agent runs in a test network namespace and, through private-mounts, a
mount namespace of its own where /etc/hosts maps the providers' names to
the stand-in on 127.0.0.1:443 and /usr/share/vmbajs holds what the cached
Debian node loads from there.  The CLIs are the shipped providers.json's,
with test-only environment added: the stand-in's throw-away CA (and, for
Gemini CLI, the image's system settings file).  Each login: POST
/auth/{provider} → the URL the CLI opens (through the agent's browser
link) → the callback with the code and the URL's own state to the CLI's
listener (Codex's through the agent's /auth/callback relay, as a host
forwards it) → the CLI's token exchange with the stand-in → the
credentials once from /credentials/get, after which the file is gone."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.parse

import pytest

from netns import Netns, require_root, requests_received, squat, wait_until, workdir
from svagent import CLI_POOL_UIDS, Agent, auth

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
STANDIN = os.path.join(HERE, "standin.py")
PRIVATE_MOUNTS = os.path.join(HERE, "private-mounts")
GEMINI_SETTINGS = os.path.join(TOP, "packaging", "image", "gemini-settings.json")
IDLE = [{"name": "idle", "argv": ["/bin/sleep", "100000"]}]
# The names the CLIs reach during a login, and the telemetry ones they must
# not reach with the shipped settings: all on the stand-in.
NAMES = ["auth.openai.com", "chatgpt.com", "api.openai.com", "claude.ai", "claude.com",
         "platform.claude.com", "console.anthropic.com", "api.anthropic.com", "statsig.anthropic.com",
         "accounts.google.com", "oauth2.googleapis.com", "www.googleapis.com",
         "cloudcode-pa.googleapis.com", "play.googleapis.com"]
# Per provider: what its URL starts with, the key its credentials hold,
# the CA variable, the token request the stand-in must have seen.
CASES = {
    "claude_code": ("https://claude.com/cai/oauth/authorize?", "claudeAiOauth", "NODE_EXTRA_CA_CERTS",
                    ("platform.claude.com", "/v1/oauth/token")),
    "codex": ("https://auth.openai.com/oauth/authorize?", "tokens", "CODEX_CA_CERTIFICATE",
              ("auth.openai.com", "/oauth/token")),
    "gemini_cli": ("https://accounts.google.com/o/oauth2/v2/auth?", "refresh_token", "NODE_EXTRA_CA_CERTS",
                   ("oauth2.googleapis.com", "/token")),
}


def cli_cache():
    """packaging/cli-cache's entries: {"node": dir, provider: dir}."""
    r = subprocess.run([os.path.join(TOP, "packaging", "cli-cache")], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=3600)
    if r.returncode != 0:
        pytest.fail(f"packaging/cli-cache failed:\n{r.stderr[-3000:]}")
    return dict(line.split(" ", 1) for line in r.stdout.splitlines())


class RealCli:
    """The cache laid out as the image has it (clis_dir/<provider>, the
    commands and node on PATH), the CA, hosts, providers, the stand-in and
    the agent."""

    def __init__(self, agent_bin):
        require_root()
        cache = cli_cache()
        with open(os.path.join(TOP, "packaging", "clis.json")) as f:
            self.pins = {p["provider"]: p for p in json.load(f)["clis"]}
        self.dir = workdir("vmba-realcli-")
        os.chmod(self.dir, 0o755)
        self.clis = os.path.join(self.dir, "clis")
        self.bin = os.path.join(self.dir, "bin")
        os.makedirs(self.clis)
        os.makedirs(self.bin)
        for provider, pin in self.pins.items():
            os.symlink(cache[provider], os.path.join(self.clis, provider))
            os.symlink(os.path.join(self.clis, provider, pin["entry"]), os.path.join(self.bin, pin["command"]))
        os.symlink(os.path.join(cache["node"], "bin", "node"), os.path.join(self.bin, "node"))
        self.node_share = os.path.join(cache["node"], "share")
        self.ca = os.path.join(self.dir, "ca")
        subprocess.run([sys.executable, STANDIN, "--make-ca", self.ca], check=True)
        self.hosts = os.path.join(self.dir, "hosts")
        with open(self.hosts, "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
            f.writelines(f"127.0.0.1 {n}\n" for n in NAMES)
        # Gemini CLI ignores system settings when the file or a directory
        # above it is writable by group or others, or not root's: a copy
        # under /run (root's, 0755 all the way up), as the image has it in
        # /etc/gemini-cli, whether the checkout is under /tmp or not.
        self.settings_dir = tempfile.mkdtemp(prefix="vmba-realcli-", dir="/run")
        os.chmod(self.settings_dir, 0o755)
        settings = os.path.join(self.settings_dir, "settings.json")
        shutil.copyfile(GEMINI_SETTINGS, settings)
        os.chmod(settings, 0o644)
        self.providers = os.path.join(self.dir, "providers.json")
        with open(os.path.join(TOP, "packaging", "providers.json")) as f:
            shipped = json.load(f)
        for p in shipped["providers"]:
            env = p.setdefault("env", {})
            env[CASES[p["id"]][2]] = os.path.join(self.ca, "ca.pem")
            if p["id"] == "gemini_cli":
                env["GEMINI_CLI_SYSTEM_SETTINGS_PATH"] = settings
        with open(self.providers, "w") as f:
            json.dump(shipped, f)
        self.log = os.path.join(self.dir, "standin.log")
        self.ns = Netns("vmbarc")
        try:
            self.ns.popen([sys.executable, STANDIN, "--ca", self.ca, "--log", self.log])
            wait_until(self.standin_up, 20, "stand-in listening on :443")
            self.agent = Agent(agent_bin, f"providers_file={self.providers}", f"clis_dir={self.clis}",
                               f"clis_file={os.path.join(TOP, 'packaging', 'clis.json')}",
                               f"login_home={self.dir}/logins", f"control_socket={self.dir}/control.sock",
                               f"bin_path={self.bin}:/usr/bin:/bin", "url_wait_s=120",
                               f"environment_file={self.dir}/environment",
                               services=IDLE, ns=self.ns,
                               wrap=(PRIVATE_MOUNTS, self.hosts, self.node_share, "--"))
            wait_until(lambda: self.agent.try_get("/health")[0] == 200, 30, "agent /health")
        except BaseException:
            self.ns.close()
            shutil.rmtree(self.settings_dir, ignore_errors=True)
            raise

    def standin_up(self):
        with self.ns.entered():
            try:
                socket.create_connection(("127.0.0.1", 443), timeout=2).close()
                return True
            except OSError:
                return False

    def request(self, method, path, body=None, host="127.0.0.1", port=None, headers=None, timeout=300):
        """One HTTP request from inside the namespace, redirects not followed."""
        with self.ns.entered():
            c = http.client.HTTPConnection(host, port or self.agent.http_port, timeout=timeout)
            try:
                data = json.dumps(body) if body is not None else None
                h = dict(headers or {})
                if data:
                    h["Content-Type"] = "application/json"
                c.request(method, path, body=data, headers=h)
                r = c.getresponse()
                return r.status, dict(r.getheaders()), r.read()
            finally:
                c.close()

    def api(self, method, path, body=None):
        status, _, data = self.request(method, path, body, headers=auth())
        return status, json.loads(data)

    def standin_requests(self):
        with open(self.log) as f:
            return [r for r in map(json.loads, f) if "host" in r]

    def close(self):
        """Everything goes even when the agent's close() fails (its exit)."""
        log = ""
        try:
            self.agent.stop()
            log = self.agent.log_text()
            self.agent.close()
        finally:
            self.ns.close()
            if os.environ.get("VMBA_KEEP_LOGS"):
                print(f"realcli files kept in {self.dir}\n---- agent log ----\n{log[-8000:]}")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            shutil.rmtree(self.settings_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def rc(agent_bin):
    r = RealCli(agent_bin)
    yield r
    r.close()


def test_health_shows_the_pinned_clis_installed(rc):
    """The cache's layout is what the agent reads (and the image has):
    every pinned CLI installed at its pinned version."""
    got = rc.agent.health()["clis"]
    assert got == {p: {"package": pin["package"], "pinned": pin["version"], "installed": pin["version"],
                       "status": "ok"} for p, pin in rc.pins.items()}


def callback(rc, provider, url, code=None):
    """What the sign-in page would redirect the VM's browser to: the CLI's
    own redirect_uri with a code and the URL's own state.  Codex's goes
    through the agent's relay, as a host forwarding the redirect does; its
    success page is then fetched, as a browser follows the 302."""
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    code = code or f"standin-code-{provider}"
    target = urllib.parse.urlsplit(q["redirect_uri"])
    query = urllib.parse.urlencode({"code": code, "state": q["state"]})
    if provider == "codex":
        status, headers, _ = rc.request("GET", f"/auth/callback?{query}")
        assert status == 302, (status, headers)
        loc = urllib.parse.urlsplit(headers["Location"])
        assert (loc.hostname, loc.port, loc.path) == ("127.0.0.1", target.port, "/success")
        assert rc.request("GET", f"{loc.path}?{loc.query}", host=loc.hostname, port=loc.port)[0] == 200
    else:
        status, headers, _ = rc.request("GET", f"{target.path}?{query}", host="127.0.0.1", port=target.port)
        # A redirect to the provider's own success page.
        assert status in (301, 302), (status, headers)
        assert headers["Location"].startswith("https://"), headers
    return code


@pytest.mark.parametrize("provider", ["claude_code", "codex", "gemini_cli"])
def test_real_cli_login(rc, provider):
    prefix, key, _, (token_host, token_path) = CASES[provider]
    sid = f"realcli-{provider}-{os.getpid()}"  # another run on this machine has its own
    named = "open-url request from a CLI (its login named): session."
    before = len(rc.agent.log_lines(named))
    status, started = rc.api("POST", f"/auth/{provider}", {"sessionId": sid})
    assert status == 200 and "oauthUrl" in started, started
    url = started["oauthUrl"]
    assert url.startswith(prefix), url
    if provider == "claude_code":
        # The URL the CLI printed is its paste-a-code link; this one came
        # through $BROWSER and redirects to its own listener.
        assert "redirect_uri=http%3A%2F%2Flocalhost%3A" in url
    # The real CLI's opener ($BROWSER, or xdg-open for Gemini CLI) kept
    # the CLI's environment: the URL came with the login it is for.
    wait_until(lambda: len(rc.agent.log_lines(named)) > before, 20, f"{provider}'s opener naming its login")
    # The real CLI runs as its login's own CLI user, one of the pool's,
    # every process of its login.
    procs = marked(sid)
    assert procs and len(set(procs.values())) == 1 and set(procs.values()) <= set(CLI_POOL_UIDS), procs
    # With a /tmp, /var/tmp, /dev/shm and SysV IPC of its own.
    for ns in ("mnt", "ipc"):
        seen = ns_of(procs, ns)
        assert seen and os.readlink(f"/proc/{rc.agent.pid}/ns/{ns}") not in seen, ns
    code = callback(rc, provider, url)
    wait_until(lambda: rc.api("GET", f"/credentials/status?sessionId={sid}")[1].get("authenticated"),
               60, f"{provider} authenticated")
    # The file is in login_home's tmpfs (the agent's mount namespace), not
    # in the directory on the disk below it.
    path = rc.api("GET", f"/credentials/status?sessionId={sid}")[1]["path"]
    assert os.path.isfile(rc.agent.root + path) and not os.path.lexists(path), path
    status, got = rc.api("GET", f"/credentials/get?sessionId={sid}")
    assert status == 200 and got["provider"] == provider and got["credPath"] == path, got
    creds = got["credentials"]
    assert creds.get(key), creds
    assert rc.api("GET", f"/credentials/get?sessionId={sid}")[0] == 404
    # Delivered once; the file goes with the login's HOME.
    wait_until(lambda: not os.path.lexists(rc.agent.root + path), 30, "the credential file removed")
    # And every process of the login: the CLI's group and whatever it
    # started outside it (found here by the login's entry in their
    # environment; the agent kills the CLI user's once no CLI runs).
    wait_until(lambda: not marked(sid), 30, f"every process of the {provider} login gone")
    # The CLI exchanged exactly our code with the stand-in.
    exchanges = [r for r in rc.standin_requests()
                 if (r["host"], r["method"], r["path"]) == (token_host, "POST", token_path) and code in r["body"]]
    assert len(exchanges) == 1, [(r["host"], r["path"]) for r in rc.standin_requests()]
    # Telemetry stays off with the shipped settings.
    assert not telemetry(rc), telemetry(rc)


def ns_of(procs, ns):
    """The namespaces of kind ns (mnt, ipc) the processes procs are in (of
    the ones still there once looked at)."""
    found = set()
    for p in procs:
        try:
            found.add(os.readlink(f"/proc/{p}/ns/{ns}"))
        except OSError:
            pass
    return found


def marked(sid):
    """The processes on this machine whose environment names login sid:
    pid -> uid (of the ones still there once looked at)."""
    entry = f"VMBA_LOGIN_SESSION={sid}".encode()
    found = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            uid = os.stat(f"/proc/{p}").st_uid
            with open(f"/proc/{p}/environ", "rb") as f:
                if entry in f.read().split(b"\0"):
                    found[int(p)] = uid
        except OSError:
            pass
    return found


def telemetry(rc):
    """The requests the stand-in saw that were telemetry (Gemini CLI's
    Clearcut, Claude Code's event logging)."""
    seen = [(r["host"], r["path"]) for r in rc.standin_requests()]
    return [s for s in seen if s[0] == "play.googleapis.com" or s[1].startswith("/api/event_logging")]


def test_real_gemini_failed_exchange(rc):
    """Gemini CLI stays up after a failed token exchange (back to its
    dialog with "Failed to sign in"): the session fails at once with what
    it said, not at expiry, and nothing is delivered."""
    sid = "realcli-gemini-refused"
    status, started = rc.api("POST", "/auth/gemini_cli", {"sessionId": sid})
    assert status == 200 and "oauthUrl" in started, started
    callback(rc, "gemini_cli", started["oauthUrl"], code="standin-refuse-gemini")
    wait_until(lambda: rc.api("GET", f"/credentials/status?sessionId={sid}")[1].get("failed"),
               60, "gemini_cli failed")
    st = rc.api("GET", f"/credentials/status?sessionId={sid}")[1]
    assert st["error"].startswith("CLI gemini_cli: Failed to sign in. Message:"), st
    assert rc.api("GET", f"/credentials/get?sessionId={sid}")[0] == 400


def test_real_codex_on_another_port(rc):
    """Another user holds 127.0.0.1:1455 before the login: the real Codex
    listens on another port and names it in its redirect_uri; the relay
    goes there, the login signs in, and the squatter gets no code."""
    sid = "realcli-codex-squatted"
    # The earlier Codex login's connections may be in TIME_WAIT there.
    sq = squat(rc.ns, "127.0.0.1", 1455, reuse=True)
    try:
        status, started = rc.api("POST", "/auth/codex", {"sessionId": sid})
        assert status == 200 and "oauthUrl" in started, started
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(started["oauthUrl"]).query))
        port = urllib.parse.urlsplit(q["redirect_uri"]).port
        assert port != 1455, q["redirect_uri"]
        callback(rc, "codex", started["oauthUrl"])
        wait_until(lambda: rc.api("GET", f"/credentials/status?sessionId={sid}")[1].get("authenticated"),
                   60, "codex authenticated")
        assert rc.api("GET", f"/credentials/get?sessionId={sid}")[0] == 200
        # Only Codex's own "GET /cancel" (it asks an earlier login server
        # of its own there to stop before it moves on), never the code.
        got = requests_received(sq)
        assert all(g.startswith(b"GET /cancel HTTP/1.1\r\n") for g in got), got
    finally:
        sq.close()


def test_real_second_codex_login_ends_the_first(rc):
    """A second Codex login asks the first one's listener to stop (GET
    /cancel on 1455), and the first Codex exits 1: its login fails, as
    tests/netns/login/fake_cli.py does it.  The second takes 1455 and
    signs in."""
    first, second = "realcli-codex-first", "realcli-codex-second"
    assert rc.api("POST", "/auth/codex", {"sessionId": first})[0] == 200
    status, started = rc.api("POST", "/auth/codex", {"sessionId": second})
    assert status == 200 and "oauthUrl" in started, started
    wait_until(lambda: rc.api("GET", f"/credentials/status?sessionId={first}")[1].get("failed"),
               60, "the first codex login failed")
    assert rc.api("GET", f"/credentials/status?sessionId={first}")[1]["error"] == "CLI exited 1"
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(started["oauthUrl"]).query))
    assert urllib.parse.urlsplit(q["redirect_uri"]).port == 1455, q["redirect_uri"]
    callback(rc, "codex", started["oauthUrl"])
    wait_until(lambda: rc.api("GET", f"/credentials/status?sessionId={second}")[1].get("authenticated"),
               60, "the second codex login authenticated")
    assert rc.api("GET", f"/credentials/get?sessionId={second}")[0] == 200


def test_no_telemetry_when_the_clis_stop(rc):
    """Last in this module: a CLI may send telemetry as it exits.  After
    every login above, the agent stops (stopping any CLI still running,
    as at shutdown), and the stand-in has still seen none."""
    assert rc.agent.stop() == 0
    assert not telemetry(rc), telemetry(rc)
