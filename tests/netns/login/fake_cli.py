#!/usr/bin/python3
"""Fake provider CLIs for the login tests, behaving like the real ones as
far as the agent can tell.  argv[1] picks the behaviour:
  codex   PTY: listens on 127.0.0.1:1455, prints the
          authorize URL (wrapped in colour codes) and runs $BROWSER split on
          blanks with it (x-www-browser from PATH without $BROWSER); answers
          the callback with a 302 to its /success page and exits once that
          was fetched.
  claude-auth  as `claude auth login --claudeai`: prints only the compact
          paste-a-code link (which is not the login's URL), runs $BROWSER
          with the real URL as ONE program path, without a shell or
          splitting (xdg-open without $BROWSER when DISPLAY is set); when
          that fails there is no fallback.  Listens on an ephemeral port;
          writes its credential file twice, "{}" first.
  claude  PTY: draws like Claude Code 2.1: asks the terminal's colours and
          attributes (and waits for the answer to the latter), then a
          theme screen whose words are placed with cursor moves (CSI n G,
          no blank written between them) under a rule as wide as the
          terminal, and a login-method screen drawn over it with relative
          moves (CSI n A/B/C); each waits for Enter; then the URL (an OSC 8
          link); listens on an ephemeral port.
  gemini  PTY: asks the terminal's background colour and attributes
          (OSC 11, ESC[c) and waits for the answer to the latter before
          drawing anything; the trust screen unless GEMINI_CLI_TRUST_WORKSPACE=true
          (nothing answers it), "Sign in with Google" and "Do you want to
          continue?" each waiting for Enter, then runs xdg-open from PATH
          (ignoring $BROWSER) and prints the URL after "Otherwise navigate
          to:", wrapped at the terminal's width; writes the credential file
          in place and keeps running after the sign-in.
  acme    a provider the agent was not built with (test_new_provider): no
          PTY, prints no URL, opens it with $FAKE_CLI_OPENER: browser-split
          ($BROWSER split on blanks, the default), browser-path ($BROWSER as
          one program path), xdg-open or x-www-browser (from PATH).
The authorize URL points at the fake provider ($FAKE_PROVIDER); after the
redirect to our listener we write the credential file under $HOME the way
the real CLI does (temporary file + rename), answer the browser, exit 0.
Each run has its own random id: it ends the URL's state (STATE-<mode>-<id>)
and is the credentials' "login" value, so a test can tell whose
credentials a session got.
Env FAKE_CLI_FAIL=1: exit 3 right after printing the URL; FAKE_CLI_FAIL_EARLY=1:
print an error and exit 3 before any URL; FAKE_CLI_BIG=1:
600 KB of padding in the credentials; FAKE_CLI_SIZE=N: padded so the
credential file is exactly N bytes; FAKE_CLI_NOURL=1: print secrets, never
a URL, hang; FAKE_CLI_LINKS=DIR: first plant symlinks to DIR and to
DIR/secret in $HOME (a CLI that links out of its HOME);
FAKE_CLI_MUTE_LISTENER=1: the callback listener never answers;
FAKE_CLI_DROP_LISTENER=1 (codex): the callback listener is closed once
the URL is out, the CLI still running (a port it let go); =gate: only
once the test opens the FIFO $HOME/.drop-gate for writing (a port let go
at a point of the test's choosing);
FAKE_CLI_EXCHANGE_FAIL=1 (gemini): the token exchange fails; the browser
is sent to the failure page and the CLI shows "Failed to sign in.
Message: …" in its dialog and keeps running, as the real one does;
FAKE_CLI_EXCHANGE_MESSAGE=TEXT (gemini, with FAKE_CLI_EXCHANGE_FAIL): the
text its failure row shows after "Message:" (the provider's own words);
FAKE_CLI_URL_WITH_FAILURE=1 (gemini): the URL's text is written only
with the failure, in one write, so the agent reads both at once (the
screen then shows only the failure; the URL came by the browser link);
FAKE_CLI_STALE_FAILURE=1 (gemini): its "Do you want to continue?" screen
also shows a failure left from an earlier attempt, which stays on the
screen above the URL; once the URL is out it asks "Do you want to
continue?" once more, on a new row, and waits for the answer (so the agent
has looked at the screen after the URL);
FAKE_CLI_PARTIAL=1: the credential file gets only "{}", then the CLI
answers the browser and exits 0 (a login that wrote no credentials);
FAKE_CLI_OPEN_GATE=1: the opener runs only once the test opens the FIFO
$HOME/.open-gate for writing (so a test orders two logins' openers);
FAKE_CLI_OPENER_NO_LOGIN=1: the opener runs without $VMBA_LOGIN_SESSION
(a CLI that gives its opener an environment of its own);
FAKE_CLI_FORKS=N: first fork N children that wait forever, stopping at
the first fork refused, then end 10 of them (room to go on with the
login); writes "forked K refused R" to $HOME/.forks;
FAKE_CLI_HELPER=DIR: first start a helper in a session of its own (as
Node's spawn({detached: true})) with the CLI's environment, that ignores
SIGTERM and writes its pid to DIR/helper-$VMBA_LOGIN_SESSION once it
does;
FAKE_CLI_URL_GATE=1 (codex): its listener up, it prints the URL only once
the test opens the FIFO $HOME/.url-gate for writing (a login whose
callback arrives before its URL); FAKE_CLI_ANSWER_GATE=1: its credential
file written, it answers the browser's callback only once the test opens
$HOME/.answer-gate (the real Gemini CLI asks for the account first); FAKE_CLI_LONG_LOCATION=N (codex): the
redirect to its /success page carries an id_token that makes its
Location exactly N bytes long;
FAKE_CLI_LEAVE=NAME: first looks for /tmp/NAME, /var/tmp/NAME,
/dev/shm/NAME and /run/lock/NAME (what an earlier CLI would have left), then writes them (a
CLI that keeps state there by name), and records both in $HOME/.left;
FAKE_CLI_ALLOC_MB=N: first allocates N MiB and writes to all of it, 16 MiB
at a time (a CLI that allocates without end: the kernel's OOM killer is
to end it), then goes on holding it;
FAKE_CLI_BURN_MS=N: first spins until its own CPU time
(CLOCK_PROCESS_CPUTIME_ID) reaches N ms (a CLI busy at its start), however
long that takes on a loaded machine;
FAKE_CLI_FILL=MODE[:inodes]: the CLI of that mode, once its URL is shown,
fills its HOME's file system until ENOSPC, with one file's bytes, or
(inodes) with empty files, then serves its callback as usual (npm code
taking all the room it can)."""
import errno
import http.server
import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
import tty
import urllib.parse

MODE = sys.argv[1]
PROVIDER = os.environ["FAKE_PROVIDER"]
LOGIN = os.urandom(6).hex()
CREDS = {
    "codex": (".codex/auth.json", {"OPENAI_API_KEY": None, "tokens": {"access_token": "SECRET-ACCESS-codex", "refresh_token": "SECRET-REFRESH-codex"}}),
    "claude": (".claude/.credentials.json", {"claudeAiOauth": {"accessToken": "SECRET-ACCESS-claude", "refreshToken": "SECRET-REFRESH-claude", "expiresAt": 1893456000000}}),
    "claude-auth": (".claude/.credentials.json", {"claudeAiOauth": {"accessToken": "SECRET-ACCESS-claude", "refreshToken": "SECRET-REFRESH-claude", "expiresAt": 1893456000000, "scopes": ["user:inference"]}}),
    "gemini": (".gemini/oauth_creds.json", {"access_token": "SECRET-ACCESS-gemini", "refresh_token": "SECRET-REFRESH-gemini", "token_type": "Bearer"}),
    "acme": (".config/acme/token.json", {"token": "SECRET-ACCESS-acme"}),
}


def out(s):
    os.write(1, s.encode())


def read_until(pred, timeout=20):
    buf = b""
    while not pred(buf):
        r, _, _ = select.select([0], [], [], timeout)
        if not r:
            sys.exit(9)
        chunk = os.read(0, 256)
        if not chunk:
            sys.exit(8)
        buf += chunk
    return buf


def at_columns(col, text):
    """Each word of text placed at its column (1-based) with CSI n G, as
    Claude Code's renderer does: the blanks between words are never
    written, so the bytes hold no "Choose the" but the screen does."""
    s = ""
    for w in text.split(" "):
        s += f"\x1b[{col}G{w}"
        col += len(w) + 1
    return s


def write_file(path, text, in_place=False):
    """As the CLIs write: a temporary file renamed over the file, or (Gemini
    CLI) the file itself; in two writes, so a reader between them would see
    half a file."""
    tmp = path if in_place else path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text[: len(text) // 2])
        f.flush()
        f.write(text[len(text) // 2:])
    if not in_place:
        os.rename(tmp, path)


def wait_gate(name):
    """Returns once the test opened the FIFO $HOME/name for writing."""
    gate = os.path.join(os.environ["HOME"], name)
    os.mkfifo(gate)
    with open(gate):
        pass


def open_url(how, url):
    """Opens url the way a CLI does; False when the opener could not run."""
    if os.environ.get("FAKE_CLI_OPEN_GATE"):
        wait_gate(".open-gate")
    env = dict(os.environ)
    if os.environ.get("FAKE_CLI_OPENER_NO_LOGIN"):
        env.pop("VMBA_LOGIN_SESSION", None)
    if how == "browser-split":
        argv = shlex.split(os.environ["BROWSER"]) if os.environ.get("BROWSER") else ["x-www-browser"]
    elif how == "browser-path":
        argv = [os.environ["BROWSER"]] if os.environ.get("BROWSER") else ["xdg-open"]
    else:
        argv = [how]
    try:
        return subprocess.run(argv + [url], env=env).returncode == 0
    except OSError:
        return False


def wrapped(text, indent=2):
    """text hard-wrapped at the terminal's width, each piece on its own
    line after indent blanks, coloured, as Gemini CLI prints its URL."""
    width = (os.get_terminal_size(0).columns or 80) - indent
    return "".join(" " * indent + f"\x1b[38;5;147m{text[i:i + width]}\x1b[39m\r\n"
                   for i in range(0, len(text), width))


def raw_tty():
    if os.isatty(0):
        tty.setraw(0)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        code = q.get("code", [""])[0]
        if MODE == "codex" and u.path == "/success":
            self.answer(200, b"<p>fake CLI: signed in</p>")
            self.server.done = True
            return
        if MODE == "codex" and u.path == "/cancel":
            # Another Codex login wants the port: this one ends (exit 1),
            # whether or not the asker reads the answer.
            self.server.done = self.server.cancelled = True
            self.answer(200, b"Login cancelled")
            return
        if os.environ.get("FAKE_CLI_MUTE_LISTENER"):
            select.select([], [], [], 120)  # the token exchange never ends
        # As the real CLIs (Codex: 400 "State mismatch"): only its own state.
        if q.get("state", [""])[0] != f"STATE-{MODE}-{LOGIN}":
            self.answer(400, b"State mismatch")
            return
        if not code.startswith("SECRET-CODE"):
            self.send_response(400)
            self.end_headers()
            return
        if MODE == "gemini" and os.environ.get("FAKE_CLI_EXCHANGE_FAIL"):
            # As the real one when its token exchange fails: the browser
            # goes to Google's failure page, the CLI stays up.
            self.answer(301, b"", ("Location", "https://developers.google.com/gemini-code-assist/auth_failure_gemini"))
            self.server.done = self.server.failed = True
            return
        rel, body = CREDS[MODE]
        body = dict(body, login=LOGIN)
        if os.environ.get("FAKE_CLI_BIG"):
            body = dict(body, padding="p" * 600000)
        if os.environ.get("FAKE_CLI_SIZE"):
            size = int(os.environ["FAKE_CLI_SIZE"])
            body = dict(body, padding="p" * (size - len(json.dumps(dict(body, padding="")))))
        path = os.path.join(os.environ["HOME"], rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if MODE.startswith("claude") or os.environ.get("FAKE_CLI_PARTIAL"):
            # Claude Code writes an empty object first, then the tokens.
            write_file(path, "{}")
        if not os.environ.get("FAKE_CLI_PARTIAL"):
            write_file(path, json.dumps(body), in_place=MODE == "gemini")
        if os.environ.get("FAKE_CLI_ANSWER_GATE"):
            wait_gate(".answer-gate")
        if MODE == "codex":
            # As the real Codex: a redirect to its own success page, which
            # it serves before it exits.
            success = f"http://127.0.0.1:{self.server.server_address[1]}/success?needs_setup=false"
            if os.environ.get("FAKE_CLI_LONG_LOCATION"):
                success += "&id_token="
                success += "t" * (int(os.environ["FAKE_CLI_LONG_LOCATION"]) - len(success))
            self.answer(302, b"", ("Location", success))
            self.server.timeout = 30
        else:
            self.answer(200, b"<p>fake CLI: signed in</p>")
            self.server.done = True

    def answer(self, status, page, *headers):
        self.send_response(status)
        for h in headers:
            self.send_header(*h)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *a):
        pass


def codex_port_taken():
    """As the real Codex (0.171.0) when 1455 is taken: it asks whoever
    holds it to stop (an earlier Codex login server does, and that Codex
    exits 1), takes 1455 once it is free, and otherwise listens on 1457,
    naming it in the authorize URL's redirect_uri.  A holder that agreed
    to stop is waited for until it has (its exit may take seconds on a
    loaded machine); one that did not answer (in 5 s), 2 s."""
    agreed = False
    try:
        with socket.create_connection(("127.0.0.1", 1455), timeout=2) as c:
            c.sendall(b"GET /cancel HTTP/1.1\r\nHost: 127.0.0.1:1455\r\nConnection: close\r\n\r\n")
            c.settimeout(5)
            agreed = c.recv(64).startswith(b"HTTP/1.0 200")
    except OSError:
        pass
    deadline = time.monotonic() + (120 if agreed else 2)
    while True:
        try:
            return http.server.HTTPServer(("127.0.0.1", 1455), Handler)
        except OSError:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
    return http.server.HTTPServer(("127.0.0.1", 1457), Handler)


HELPER = """import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(1000)
"""


def start_helper(d):
    name = "helper-" + os.environ.get("VMBA_LOGIN_SESSION", "unnamed")
    subprocess.Popen([sys.executable, "-c", HELPER, os.path.join(d, name)], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fork_children(home, n):
    """Up to n children that wait forever (as a CLI forking without end
    would leave them), until a fork is refused."""
    forked, refused, pids = 0, 0, []
    for _ in range(n):
        try:
            pid = os.fork()
        except BlockingIOError:
            refused = 1
            break
        if pid == 0:
            while True:
                signal.pause()
        forked += 1
        pids.append(pid)
    for pid in pids[:10]:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    with open(os.path.join(home, ".forks"), "w") as f:
        f.write(f"forked {forked} refused {refused}\n")


def leave_files(home, name):
    """FAKE_CLI_LEAVE: what was there before us, then ours."""
    paths = [os.path.join(d, name) for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")]
    found = [p for p in paths if os.path.lexists(p)]
    wrote = []
    for p in paths:
        try:
            with open(p, "x") as f:
                f.write("left by the CLI of login " + os.environ.get("VMBA_LOGIN_SESSION", "") + "\n")
            wrote.append(p)
        except OSError as e:
            wrote.append(f"{p}: {e}")
    with open(os.path.join(home, ".left"), "w") as f:
        json.dump({"found": found, "wrote": wrote}, f)


def open_fds():
    """The descriptors we were started with, each with what it is: taken
    before we open anything (the listing's own directory left out)."""
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass  # the listing's own, closed by now
    return {fd: what for fd, what in fds.items() if not what.startswith("/proc/")}


def record_env(home):
    """What the agent started us with, for the tests to check."""
    fds = open_fds()
    with open(os.path.join(home, f".fake-env-{MODE}.json"), "w") as f:
        tty = os.isatty(0)
        with open("/proc/self/status") as st:
            status = dict(line.rstrip("\n").split(":\t", 1) for line in st if ":\t" in line)
        nnp = [status["NoNewPrivs"]]
        caps = {k: int(status[k], 16) for k in ("CapPrm", "CapEff", "CapInh", "CapAmb", "CapBnd")}
        json.dump({"env": dict(os.environ), "tty": tty, "uid": os.getuid(), "gid": os.getgid(), "no_new_privs": nnp,
                   "groups": os.getgroups(), "tty_owner": os.stat(os.ttyname(0)).st_uid if tty else None,
                   "caps": caps, "fds": fds}, f)


def plant_links(home, target):
    os.symlink(target, os.path.join(home, "linked-dir"))
    os.makedirs(os.path.join(home, ".cache"), exist_ok=True)
    os.symlink(os.path.join(target, "secret"), os.path.join(home, ".cache", "linked-file"))


def listen():
    """The callback listener: Codex's fixed port (or its fallback), else an
    ephemeral one."""
    try:
        srv = http.server.HTTPServer(("127.0.0.1", 1455 if MODE == "codex" else 0), Handler)
    except OSError:
        if MODE != "codex":
            raise
        srv = codex_port_taken()
    srv.done = srv.failed = srv.cancelled = False
    return srv


def authorize_url(port):
    # As the real ones: Codex (0.171.0) names 127.0.0.1, Claude Code localhost.
    redirect = f"http://{'127.0.0.1' if MODE == 'codex' else 'localhost'}:{port}/auth/callback"
    return f"{PROVIDER}/{MODE}/authorize?" + urllib.parse.urlencode(
        {"client_id": "fake", "redirect_uri": redirect, "state": f"STATE-{MODE}-{LOGIN}",
         "code_challenge": "xyz"})


def fail_before_url():
    if os.environ.get("FAKE_CLI_FAIL_EARLY"):
        out("Error: cannot reach the auth server (refresh_token=SECRET-REFRESH-early)\n")
        sys.exit(3)
    if os.environ.get("FAKE_CLI_NOURL"):
        # Chatty and stuck: secrets in the output, no URL ever.
        out("debug: refresh_token=SECRET-REFRESH-chatty\r\nGET /cb?code=SECRET-CODE-chatty&state=STATE-chatty\r\n"
            "\x1b[1mstill working\x1b[0m\r\n")
        select.select([], [], [], 120)
        sys.exit(0)


def show_codex(port, url):
    if os.environ.get("FAKE_CLI_URL_GATE"):
        wait_gate(".url-gate")
    out(f"Starting local login server on http://localhost:{port}.\r\n"
        f"If your browser did not open, navigate to this URL to authenticate:\r\n\r\n"
        f"\x1b[94m{url}\x1b[0m\r\n")
    # The real Codex also opens the browser itself.
    assert open_url("browser-split", url)


def show_claude(url):
    raw_tty()
    cols = os.get_terminal_size(0).columns
    out("\x1b]11;?\x07\x1b[c\x1b[>0q\x1b[?u")
    read_until(lambda b: re.search(rb"\x1b\[\?[0-9;]*c", b))
    theme = [at_columns(2, "Let's get started."), "",
             "\x1b[1m" + at_columns(2, "Choose the text style that looks best with your terminal") + "\x1b[22m",
             "\x1b[2G\x1b[38;5;153m\u276f" + at_columns(4, "1. Dark mode") + "\x1b[39m",
             at_columns(4, "2. Light mode"), "",
             "\x1b[2G\x1b[38;5;239m" + "\u254c" * (cols - 2) + "\x1b[39m"]
    # One write, as the real one's frame: the 3 KB rule follows the prompt.
    out("".join(line + "\r\r\n" for line in theme))
    read_until(lambda b: b"\r" in b)
    out("\x1b[2K\x1b[1A" * len(theme) + "\x1b[2K\x1b[G"
        + "\x1b[1C\x1b[1mSelect\x1b[1Clogin\x1b[1Cmethod:\x1b[22m\r\n\r\n"
        + "\x1b[1C\u276f 1. Claude account\r\n\x1b[3C2. Anthropic Console account\r\n\x1b[4A")
    read_until(lambda b: b"\r" in b)
    out(f"\x1b[4B\r\n Browser didn't open? Use the url below to sign in (c to copy)\r\n\r\n"
        f" \x1b]8;;{url}\x07{url}\x1b]8;;\x07\r\n")


def show_claude_auth(url):
    compact = f"{PROVIDER}/paste-a-code/authorize?z-{LOGIN}xyz"
    out(f"Opening browser to sign in\u2026\r\nIf the browser didn't open, visit:\r\n"
        f"\x1b]8;;{compact}\x07\x1b[94m{compact}\x1b[39m\x1b]8;;\x07\r\nPaste code here if prompted > ")
    # No fallback when the program does not run: the login then waits
    # for a code to be pasted, and the agent never sees its URL.
    open_url("browser-path", url)


def show_gemini(url):
    """Its dialogs up to the URL; returns what it holds back until after
    the callback ("" when nothing)."""
    raw_tty()
    out("\x1b]11;?\x1b\\\x1b[c")
    read_until(lambda b: re.search(rb"\x1b\[\?[0-9;]*c", b))
    if os.environ.get("GEMINI_CLI_TRUST_WORKSPACE") != "true":
        out("Do you trust the files in this folder?\r\n\u25cf 1. Trust folder\r\n  3. Don't trust\r\n")
        read_until(lambda b: b"\r" in b)
        sys.exit(7)  # trusting relaunches the real one: not a login
    out("? Get started\r\n\r\nHow would you like to authenticate for this project?\r\n\r\n"
        "\x1b[32m\u25cf 1. Sign in with Google\x1b[39m\r\n  2. Use Gemini API Key\r\n  3. Vertex AI\r\n")
    read_until(lambda b: b"\r" in b)
    stale = ""
    if os.environ.get("FAKE_CLI_STALE_FAILURE"):
        stale = "\x1b[2GFailed to sign in. Message: the earlier attempt timed out\r\n\r\n"
    out("\x1b[2J\x1b[H" + stale + "Opening authentication page in your browser. Do you want to continue?\r\n\r\n"
        "\x1b[32m\u25cf 1. Yes\x1b[39m\r\n  2. No\r\n")
    read_until(lambda b: b"\r" in b)
    assert open_url("xdg-open", url)
    shown = ("\u2139 Attempting to open authentication page in your browser.\r\n"
             "  \x1b[38;5;229mOtherwise navigate to:\x1b[39m\r\n" + wrapped(url) +
             "Waiting for authentication... (Press Esc or Ctrl+C to cancel)\r\n")
    late = ""
    if os.environ.get("FAKE_CLI_URL_WITH_FAILURE"):
        late = shown  # written together with what follows the callback
    else:
        out(shown)
    if stale:
        out("Do you want to continue?\r\n")
        read_until(lambda b: b"\r" in b)
    return late


def show_url(port, url):
    """The mode's way to the URL; returns output held until after the
    callback."""
    if MODE == "codex":
        show_codex(port, url)
    elif MODE == "claude":
        show_claude(url)
    elif MODE == "claude-auth":
        show_claude_auth(url)
    elif MODE == "gemini":
        return show_gemini(url)
    else:
        out("Waiting for authentication...\n")
        assert open_url(os.environ.get("FAKE_CLI_OPENER", "browser-split"), url)
    return ""


def serve_callback(srv, late):
    """Until the browser came back (Handler sets done); then as the mode's
    CLI ends a login."""
    # Signed in and nobody came for the success page: done all the same.
    srv.handle_timeout = lambda: setattr(srv, "done", True)
    while not srv.done:
        srv.handle_request()
    if srv.cancelled:
        srv.server_close()
        sys.exit(1)
    if srv.failed:
        # Back to its auth dialog, drawn with cursor moves, and waiting.
        out(late + "\x1b[2J\x1b[H\x1b[2GFailed\x1b[9Gto\x1b[12Gsign\x1b[17Gin.\x1b[21GMessage:\x1b[30G"
            + os.environ.get("FAKE_CLI_EXCHANGE_MESSAGE",
                             "Failed to exchange authorization code for tokens: invalid_grant (code=SECRET-CODE-x)")
            + "\r\n\r\n"
            "\x1b[32m\u25cf 1. Sign in with Google\x1b[39m\r\n  2. Use Gemini API Key\r\n")
        select.select([], [], [], 600)
    out("Login successful\r\n")
    if MODE == "gemini" and not os.environ.get("FAKE_CLI_PARTIAL"):
        # Signed in, and still running until someone stops it.
        out("You've successfully signed in with Google. Gemini CLI needs to be restarted.\r\n")
        select.select([], [], [], 600)


def fill_home(home, what):
    """FAKE_CLI_FILL: all the room (bytes or inodes) there is below home;
    ENOSPC ends it."""
    fill = os.path.join(home, ".fill")
    os.mkdir(fill)
    chunk = b"\0" * (1 << 16)
    try:
        if what == "inodes":
            for i in range(1 << 30):
                os.close(os.open(os.path.join(fill, str(i)), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with open(os.path.join(fill, "bytes"), "wb", buffering=0) as f:
            while True:
                f.write(chunk)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise


def burn_cpu(ms):
    """Busy until this process has used ms of CPU time: a known least
    amount, whatever else the machine runs (never a sleep)."""
    n = 0
    while time.clock_gettime(time.CLOCK_PROCESS_CPUTIME_ID) * 1000 < ms:
        for i in range(10000):
            n += i
    return n


def allocate(mb):
    """mb MiB of memory written to (not only reserved: each page is the
    process's), 16 MiB at a time, held for the process's life."""
    held = []
    for _ in range(0, mb, 16):
        held.append(b"\x01" * (16 << 20))
    return held


def main():
    home = os.environ["HOME"]
    held = allocate(int(os.environ["FAKE_CLI_ALLOC_MB"])) if os.environ.get("FAKE_CLI_ALLOC_MB") else []
    if os.environ.get("FAKE_CLI_BURN_MS"):
        burn_cpu(int(os.environ["FAKE_CLI_BURN_MS"]))
    if os.environ.get("FAKE_CLI_FORKS"):
        fork_children(home, int(os.environ["FAKE_CLI_FORKS"]))
    if os.environ.get("FAKE_CLI_HELPER"):
        start_helper(os.environ["FAKE_CLI_HELPER"])
    record_env(home)
    if os.environ.get("FAKE_CLI_LEAVE"):
        leave_files(home, os.environ["FAKE_CLI_LEAVE"])
    if os.environ.get("FAKE_CLI_LINKS"):
        plant_links(home, os.environ["FAKE_CLI_LINKS"])
    srv = listen()
    port = srv.server_address[1]
    url = authorize_url(port)
    fail_before_url()
    late = show_url(port, url)
    fill = os.environ.get("FAKE_CLI_FILL", "").split(":")
    if fill[0] == MODE:
        fill_home(home, fill[1] if len(fill) > 1 else "bytes")
    if os.environ.get("FAKE_CLI_FAIL"):
        sys.exit(3)
    if os.environ.get("FAKE_CLI_DROP_LISTENER"):
        if os.environ["FAKE_CLI_DROP_LISTENER"] == "gate":
            wait_gate(".drop-gate")
        srv.server_close()
        select.select([], [], [], 600)
    serve_callback(srv, late)
    del held


main()
