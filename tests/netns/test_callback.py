"""GET /auth/callback, the OAuth redirect target that relays to a provider
CLI's own loopback listener: the CLI's answer comes back as it gave it
(status, Location, body); only a callback with a login's own state is
relayed, to that login's CLI at the port its redirect_uri names, and never
a HEAD or a raw query a request line cannot carry (a space, a control or
non-ASCII byte: 400); the host may send it too, with its token, from
allow_from; once the CLI's listener is gone after a sign-in, the page says
the sign-in is complete; a listener that never answers ends in a 504 after
callback_relay_s; a callback before the login has its URL is not relayed
(409), and a CLI header too long to pass on whole is a 502.  And HEAD
/oauth/callback does not use up a host state; a page's fetch, image or
frame reaches neither callback; a login fails at its 16th wrong-state
callback (a host-driven one at /oauth/callback, a CLI's at
/auth/callback); a host-driven login takes no state under 8 bytes, and
no state another waiting login has; an escaped NUL cuts no state or code
short; a callback with the login's state but no code fails the login; a
used callback again (a reload) gets its page again, and neither it nor a
callback without a state counts as a guess.  The connection the relay
made is checked before it sends the code: a port another user took
between the relay's check of the listener and its connect gets nothing,
and a CLI that accepts the connection only after that check gets its
callback."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse

import pytest

from desktop import listeners
from loginenv import LoginEnv, cli_pids, oauth_url, open_gate, sid
from netns import DEADLINE_SCALE, Lan, requests_received, squat, wait_until
from svagent import TOKEN
from syscallstep import held_at_connect


def get(ns, addr, port, path, headers=None):
    with ns.entered():
        c = http.client.HTTPConnection(addr, port, timeout=60)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            return r.status, r.getheader("Location"), r.read()
        finally:
            c.close()


def browse(e, path, headers=None):
    """GET path from the agent's loopback address, as the VM's browser."""
    return get(e.ns, "127.0.0.1", e.agent.http_port, path, headers)


def start_host(e, s, state):
    """A host-driven login (POST /auth/oauth) waiting for state."""
    return e.json("POST", "/auth/oauth", {"sessionId": s, "state": state,
                                          "authorizeUrl": f"{e.provider_url}/h/authorize"})


def start_codex(e):
    s = sid()
    status, started = e.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200, started
    state = urllib.parse.parse_qs(urllib.parse.urlparse(started["oauthUrl"]).query)["state"][0]
    return s, state


def test_relays_status_location_and_body(env):
    s, state = start_codex(env)
    status, location, body = browse(env, f"/auth/callback?code=SECRET-CODE-codex&state={state}")
    assert (status, location, body) == (302, "http://127.0.0.1:1455/success?needs_setup=false", b"")
    env.wait_status(s, lambda code, b: b.get("authenticated"))
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
    raw they would break the request line sent to the CLI's listener.  The
    gate refuses a target with a blank or a control byte before any route;
    the route refuses the rest (a byte that is not ASCII)."""
    s = sid()
    assert env.json("POST", "/auth/codex", {"sessionId": s})[0] == 200
    with env.ns.entered():
        for q, error in ((b"code=SECRET-CODE-sp ace", "invalid request target"),
                         (b"code=a\tb", "invalid request target"), (b"code=a\x01b", "invalid request target"),
                         (b"code=\xff", "Invalid callback query")):
            c = socket.create_connection(("127.0.0.1", env.agent.http_port), timeout=10)
            c.sendall(b"GET /auth/callback?" + q + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := c.recv(4096):
                data += chunk
            c.close()
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 ") and json.loads(body) == {"error": error}, data
    # The login goes on: the CLI's listener saw none of them.
    st = env.json("GET", f"/credentials/status?sessionId={s}")[1]
    assert st["authenticated"] is False and st["waiting"] is True
    env.assert_no_secrets()


def test_only_the_logins_own_state_is_relayed(env):
    """A web page in the VM's browser can send this route any code (a
    fetch, an image, a redirect): one without the state of the login's own
    authorize URL is refused before the CLI sees it, and the login still
    completes with the provider's code."""
    s, state = start_codex(env)
    for query in ("code=SECRET-CODE-page&state=STATE-guess", "code=SECRET-CODE-page",
                  f"code=SECRET-CODE-page&STATE={state}", f"code=SECRET-CODE-page&state={state}x",
                  f"code=SECRET-CODE-page&state={state}%00x"):
        assert env.json("GET", f"/auth/callback?{query}") == (400, {"error": "State does not match the login's"})
    assert env.json("GET", f"/oauth-url?sessionId={s}")[0] == 200  # still waiting, not failed
    # The right state first, another after it: a CLI may read the last.
    for query in (f"code=SECRET-CODE-page&state={state}&state=STATE-guess",
                  f"code=SECRET-CODE-page&state={state}&code=SECRET-CODE-page2"):
        assert env.json("GET", f"/auth/callback?{query}") == (400, {"error": "Invalid callback query"})
    status, location, _ = browse(env, f"/auth/callback?code=SECRET-CODE-codex&state={state}")
    assert (status, location) == (302, "http://127.0.0.1:1455/success?needs_setup=false")
    env.wait_status(s, lambda code, b: b.get("authenticated"))
    assert b"SECRET-CODE-page" not in env.agent.log_text().encode()
    env.assert_no_secrets()


def test_head_is_not_relayed(env):
    """HEAD would be relayed as a GET and spend the one-time code unseen."""
    s, state = start_codex(env)
    with env.ns.entered():
        c = http.client.HTTPConnection("127.0.0.1", env.agent.http_port, timeout=60)
        c.request("HEAD", f"/auth/callback?code=SECRET-CODE-codex&state={state}")
        assert c.getresponse().status == 405
        c.close()
    assert browse(env, f"/auth/callback?code=SECRET-CODE-codex&state={state}")[0] == 302
    env.wait_status(s, lambda code, b: b.get("authenticated"))


def test_complete_page_once_the_listener_is_gone(env):
    s, state = start_codex(env)
    assert browse(env, f"/auth/callback?code=SECRET-CODE-codex&state={state}")[0] == 302
    # The browser follows the redirect to the CLI's success page; the CLI
    # then exits.
    assert get(env.ns, "127.0.0.1", 1455, "/success?needs_setup=false")[0] == 200
    env.wait_status(s, lambda code, b: b.get("authenticated"))
    status, _, body = browse(env, f"/auth/callback?code=SECRET-CODE-codex&state={state}")
    assert status == 200 and b"Authentication Complete" in body
    # Delivered: no login any more.
    assert env.json("GET", f"/credentials/get?sessionId={s}")[0] == 200
    status, _, body = browse(env, "/auth/callback?code=x")
    assert status == 404 and b"No login in progress" in body
    env.assert_no_secrets()


def test_callback_before_the_url_is_not_relayed(make_env):
    """The CLI's listener is up but it has printed no URL yet: there is no
    state to check the callback against, so nothing is relayed (409), and
    the login goes on once the URL comes."""
    e = make_env(sets=("callback_relay_s=2",), provider_env={"FAKE_CLI_URL_GATE": "1"})
    s, answers = sid(), []
    start = threading.Thread(target=lambda: answers.append(e.json("POST", "/auth/codex", {"sessionId": s})))
    start.start()
    try:
        wait_until(lambda: os.path.exists(os.path.join(e.home_of(s), ".url-gate")), 20, "the CLI listening, no URL")
        assert e.json("GET", "/auth/callback?code=SECRET-CODE-codex&state=STATE-guess") == \
            (409, {"error": "The login has no authorize URL yet"})
    finally:
        if os.path.exists(os.path.join(e.home_of(s), ".url-gate")):
            open_gate(e, s, ".url-gate")  # else the wait above says what failed
        start.join(60)
    # Its answer has the URL, or (the gate opened after url_wait_s on a
    # loaded machine) says it is still coming.
    assert [status for status, _ in answers] == [200], answers
    url = wait_until(lambda: oauth_url(e, s), 20, "the login's URL")
    state = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["state"][0]
    assert browse(e, f"/auth/callback?code=SECRET-CODE-codex&state={state}")[0] == 302
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    e.assert_no_secrets()


# The relay's Location buffer: 8 KiB with its NUL.
LOCATION_MAX = 8191


def test_a_header_too_long_to_pass_on_is_a_bad_answer(make_env):
    """Codex's redirect to its /success page carries an id_token: a
    Location longer than the relay can pass on whole is a 502, never a
    Location cut short (which would send the browser to a broken page)."""
    e = make_env(provider_env={"FAKE_CLI_LONG_LOCATION": str(LOCATION_MAX + 1)})
    s, state = start_codex(e)
    assert e.json("GET", f"/auth/callback?code=SECRET-CODE-codex&state={state}") == \
        (502, {"error": "Bad response from the CLI's callback listener"})
    assert e.agent.alive()
    # The CLI took the code and wrote its credentials all the same.
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    e.assert_no_secrets()


def test_the_longest_header_passed_on_whole(make_env):
    """A Location of exactly the relay's limit is passed on as the CLI
    gave it: the limit refuses what does not fit, not what just does."""
    e = make_env(provider_env={"FAKE_CLI_LONG_LOCATION": str(LOCATION_MAX)})
    s, state = start_codex(e)
    status, location, _ = browse(e, f"/auth/callback?code=SECRET-CODE-codex&state={state}")
    assert status == 302
    assert len(location) == LOCATION_MAX
    assert location.startswith("http://127.0.0.1:1455/success?needs_setup=false&id_token=tttt")
    assert location.endswith("t")
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    e.assert_no_secrets()


def test_listener_that_never_answers(make_env):
    e = make_env(sets=("callback_relay_s=1",), provider_env={"FAKE_CLI_MUTE_LISTENER": "1"})
    s, state = start_codex(e)
    assert e.json("GET", f"/auth/callback?code=SECRET-CODE-codex&state={state}") == \
        (504, {"error": "CLI callback listener did not answer"})
    assert e.agent.alive()
    e.assert_no_secrets()


def test_from_the_host_with_its_token(agent_bin):
    lan = Lan()
    try:
        lan.guest.run("ip", "addr", "add", "10.77.0.2/24", "dev", "eth0")
        lan.guest.run("ip", "link", "set", "eth0", "up")
        e = LoginEnv(agent_bin, sets=("allow_from=127.0.0.1,10.77.0.1",), ns=lan.guest)
        try:
            s, state = start_codex(e)
            path = f"/auth/callback?code=SECRET-CODE-codex&state={state}"
            port = e.agent.http_port
            # Without the token, or from a page, the host is refused.
            assert get(lan.host, "10.77.0.2", port, path)[0] == 401
            assert get(lan.host, "10.77.0.2", port, path,
                       {"Authorization": f"Bearer {TOKEN}", "Origin": "http://page.example"})[0] == 403
            status, location, _ = get(lan.host, "10.77.0.2", port, path, {"Authorization": f"Bearer {TOKEN}"})
            assert (status, location) == (302, "http://127.0.0.1:1455/success?needs_setup=false")
            e.wait_status(s, lambda code, b: b.get("authenticated"))
            e.assert_no_secrets()
        finally:
            e.close()
        # Not in allow_from: refused even with the token.
        e = LoginEnv(agent_bin, sets=("allow_from=127.0.0.1,10.77.0.99",), ns=lan.guest)
        try:
            _, state = start_codex(e)
            assert get(lan.host, "10.77.0.2", e.agent.http_port,
                       f"/auth/callback?code=SECRET-CODE-codex&state={state}",
                       {"Authorization": f"Bearer {TOKEN}"})[0] == 403
        finally:
            e.close()
    finally:
        lan.close()


def test_head_does_not_use_up_a_host_state(env):
    """HEAD /oauth/callback with the right state would capture the login
    unseen (the state is used once)."""
    s = sid()
    assert start_host(env, s, "host-state-h")[0] == 200
    with env.ns.entered():
        c = http.client.HTTPConnection("127.0.0.1", env.agent.http_port, timeout=60)
        c.request("HEAD", "/oauth/callback?code=SECRET-CODE-h&state=host-state-h")
        assert c.getresponse().status == 405
        c.close()
    assert browse(env, "/oauth/callback?code=SECRET-CODE-h&state=host-state-h")[0] == 200
    env.wait_status(s, lambda code, b: b.get("authenticated"))


def test_an_escaped_nul_does_not_cut_a_host_state_short(env):
    """"state=<the state>%00x" is not the state: decoded, the value would
    end at the NUL and match.  Refused, and the state is not used up.  A
    code with one, under the right state, is not captured cut short: the
    login fails."""
    s, t = sid(), sid()
    assert start_host(env, s, "host-state-n")[0] == 200
    assert start_host(env, t, "host-state-t")[0] == 200
    assert browse(env, "/oauth/callback?code=SECRET-CODE-n&state=host-state-n%00x")[0] == 400
    st = env.json("GET", f"/credentials/status?sessionId={s}")
    assert st[0] == 200 and isinstance(st[1].pop("elapsedMs"), int)
    assert st[1] == {"authenticated": False, "waiting": True}
    assert browse(env, "/oauth/callback?code=SECRET-CODE-n&state=host-state-n")[0] == 200
    env.wait_status(s, lambda code, b: b.get("authenticated"))
    assert browse(env, "/oauth/callback?code=SECRET-CODE-t%00x&state=host-state-t")[0] == 400
    assert env.json("GET", f"/credentials/status?sessionId={t}")[1].get("error") == "Invalid callback query"


def test_a_pages_requests_are_refused_at_both_callbacks(env):
    """What a web page in the VM's browser sends without navigating (fetch
    in no-cors mode, an image, a frame) could try codes and states at the
    redirect targets thousands of times a second: refused (403) before
    any state is looked at; the provider's redirect is a navigation."""
    s, state = start_codex(env)
    assert start_host(env, sid(), "host-state-p")[0] == 200
    for mode, dest in (("no-cors", "empty"), ("no-cors", "image"), ("navigate", "iframe")):
        for path in (f"/auth/callback?code=SECRET-CODE-codex&state={state}",
                     "/oauth/callback?code=SECRET-CODE-p&state=host-state-p"):
            status, _, body = browse(env, path,
                                     {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": dest})
            assert (status, body) == (403, b'{"error":"only a navigation may reach a redirect target"}'), (mode, dest)
    status, _, _ = browse(env, f"/auth/callback?code=SECRET-CODE-codex&state={state}",
                          {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
    assert status == 302
    env.wait_status(s, lambda code, b: b.get("authenticated"))


def test_the_cli_on_another_port_gets_its_callback(make_env):
    """Another local user took 127.0.0.1:1455 first: Codex then listens on
    1457 and names it in its authorize URL's redirect_uri, where the
    provider sends the browser.  The relay goes there too: the login signs
    in, and the squatter gets no code (only the CLI's own GET /cancel)."""
    e = make_env()
    sq = squat(e.ns, "127.0.0.1", 1455)
    try:
        s, state = start_codex(e)
        started = e.json("GET", f"/oauth-url?sessionId={s}")[1]
        assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A1457%2Fauth%2Fcallback" in started["oauthUrl"], started
        status, location, _ = browse(e, f"/auth/callback?code=SECRET-CODE-codex&state={state}")
        assert (status, location) == (302, "http://127.0.0.1:1457/success?needs_setup=false")
        e.wait_status(s, lambda code, b: b.get("authenticated"))
        got = requests_received(sq)
        assert all(g.startswith(b"GET /cancel HTTP/1.1\r\n") for g in got), got
        e.assert_no_secrets()
    finally:
        sq.close()


def test_a_second_codex_login_ends_the_first(make_env):
    """As the real Codex: a second Codex login asks the first one's
    listener to stop (GET /cancel on 1455), and that CLI exits 1, failing
    its login; the second takes 1455, and its callback is relayed there."""
    e = make_env()
    opened = "open-url request from a CLI (its login named): session."
    first, _ = start_codex(e)
    # The fake serves once its opener returned (the real Codex from the
    # start): only then may the second ask it to stop.
    wait_until(lambda: e.agent.log_lines(opened), 20, "the first CLI's opener answered")
    second, state = start_codex(e)
    e.wait_status(first, lambda code, b: b.get("failed"))
    assert e.json("GET", f"/credentials/status?sessionId={first}")[1]["error"] == "CLI exited 1"
    status, location, _ = browse(e, f"/auth/callback?code=SECRET-CODE-codex&state={state}")
    assert (status, location) == (302, "http://127.0.0.1:1455/success?needs_setup=false")
    e.wait_status(second, lambda code, b: b.get("authenticated"))
    e.assert_no_secrets()


@pytest.mark.parametrize("squat_address", ["127.0.0.1", "0.0.0.0", "::", "::ffff:0.0.0.0", "::ffff:127.0.0.1"])
def test_a_port_another_user_holds_gets_no_code(make_env, squat_address):
    """The CLI let its port go (still running), and another local user
    took it: the relay must not hand that user the code.  Every listener a
    connection to 127.0.0.1 reaches counts, the IPv6 ones too (the
    kernel's own lookup, through its socket diagnostics)."""
    e = make_env(sets=("callback_relay_s=1",), provider_env={"FAKE_CLI_DROP_LISTENER": "1"})
    s, state = start_codex(e)
    # The CLI closes its listener once its URL is out: the port is free
    # then, and taken by another user.
    sq = wait_until(lambda: try_squat(e, squat_address), 20, "1455 let go by the CLI")
    try:
        assert e.json("GET", f"/auth/callback?code=SECRET-CODE-codex&state={state}") == \
            (502, {"error": "The callback port is not the CLI's"})
        assert requests_received(sq) == []  # nothing reached it
        assert e.agent.log_lines("127.0.0.1:1455 is held by uid 0, not the CLI's: the callback is not relayed.")
        e.assert_no_secrets()
    finally:
        sq.close()


# Takes 127.0.0.1:1455 as soon as it is free, then prints what one
# connection sends within argv[1] seconds ("nothing" when none comes).
SQUAT_AS_USER = r"""
import errno, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
deadline = time.monotonic() + 30
while True:
    try:
        s.bind(("127.0.0.1", 1455))
        break
    except OSError as err:
        if err.errno != errno.EADDRINUSE or time.monotonic() > deadline:
            raise
        time.sleep(0.05)
s.listen(8)
print("listening", flush=True)
s.settimeout(float(sys.argv[1]))
try:
    c, _ = s.accept()
    c.settimeout(2)
    print("got", len(c.recv(4096)), flush=True)
except OSError:
    print("nothing", flush=True)
"""


def test_a_port_another_logins_cli_holds_gets_no_code(make_env):
    """Two live logins: Codex's CLI let its port go, and a process of the
    other login's CLI user took it.  With a user of its own per login,
    that is another user than the Codex login's: the relay refuses (502)
    and names that uid, and the squatter gets no code."""
    e = make_env(sets=("callback_relay_s=1",), provider_env={"FAKE_CLI_DROP_LISTENER": "1"})
    other = sid()
    assert e.json("POST", "/auth/gemini_cli", {"sessionId": other})[0] == 200
    uid = os.stat(e.home_of(other)).st_uid
    s, state = start_codex(e)
    assert os.stat(e.home_of(s)).st_uid != uid
    sq = e.ns.popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable, "-c",
                     SQUAT_AS_USER, "5"], stdout=subprocess.PIPE, text=True)
    try:
        assert sq.stdout.readline().strip() == "listening"
        assert e.json("GET", f"/auth/callback?code=SECRET-CODE-codex&state={state}") == \
            (502, {"error": "The callback port is not the CLI's"})
        assert e.agent.log_lines(f"127.0.0.1:1455 is held by uid {uid}, not the CLI's: the callback is not "
                                 "relayed.")
        assert sq.stdout.readline().strip() == "nothing"
        e.assert_no_secrets()
    finally:
        sq.kill()
        sq.wait()


def test_a_port_taken_after_the_check_gets_no_code(make_env):
    """The relay checked the CLI's listener, then the CLI let its port go
    and another user took it before the relay's connect (the agent held
    at that connect() by the test, its tracer, meanwhile): the connection
    reaches that user's listener.  The relay checks the connection made,
    sends nothing on it (502) and names the uid it reached."""
    e = make_env(sets=("callback_relay_s=1",), provider_env={"FAKE_CLI_DROP_LISTENER": "gate"})
    s, state = start_codex(e)
    # Its opener done (it asks the agent, which is held below).
    wait_until(lambda: os.path.exists(os.path.join(e.home_of(s), ".drop-gate")), 20, "the CLI at its gate")
    answer, sq = [], None
    browser = threading.Thread(target=lambda: answer.append(
        e.json("GET", f"/auth/callback?code=SECRET-CODE-codex&state={state}")))
    try:
        with held_at_connect(e.agent.pid, "127.0.0.1", 1455, lambda: e.request("GET", "/health")) as held:
            browser.start()
            assert held.wait(30 * DEADLINE_SCALE), "the relay never connected"
            open_gate(e, s, ".drop-gate")
            wait_until(lambda: not [a for a in listeners(e.ns) if a.endswith(":1455")], 20, "1455 let go by the CLI")
            sq = squat(e.ns, "127.0.0.1", 1455)
        browser.join()
        assert requests_received(sq) == [b""]  # connected to, sent nothing
        assert answer == [(502, {"error": "The callback connection reached another user's process, not the CLI's"})]
        assert e.agent.log_lines(f"Login {s}: the connection to 127.0.0.1:1455 reached a process of uid 0, not the "
                                 "CLI's: the callback is not relayed.")
        e.assert_no_secrets()
    finally:
        if browser.ident:
            browser.join()
        if sq:
            sq.close()


def test_a_cli_that_accepts_after_the_check_gets_its_callback(env):
    """The relay's connection waits in the CLI's listener's queue while the
    relay checks it (the CLI stopped meanwhile, SIGSTOP): its listener's
    owner is the connection's, and the callback is relayed; the CLI
    answers once it runs again."""
    s, state = start_codex(env)
    [cli] = cli_pids(env)
    answer = []
    browser = threading.Thread(target=lambda: answer.append(
        browse(env, f"/auth/callback?code=SECRET-CODE-codex&state={state}")))
    os.kill(int(cli), signal.SIGSTOP)
    try:
        wait_until(lambda: proc_state(cli) == "T", 20, "the CLI stopped")
        browser.start()
        # Until the request is in the queued connection's socket, or the
        # relay gave up on it.
        wait_until(lambda: queued_bytes(env.ns, 1455) > 0 or not browser.is_alive(), 20, "the request sent")
    finally:
        os.kill(int(cli), signal.SIGCONT)
        browser.join()
    assert answer == [(302, "http://127.0.0.1:1455/success?needs_setup=false", b"")]
    env.wait_status(s, lambda code, b: b.get("authenticated"))
    env.assert_no_secrets()


def proc_state(pid):
    """The state letter of pid's /proc/PID/stat ("T": stopped)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def queued_bytes(ns, port):
    """What the connections to 127.0.0.1:port hold unread, in bytes."""
    out = ns.run("ss", "-tnH", "state", "established", f"( sport = :{port} )").stdout
    return sum(int(line.split()[0]) for line in out.splitlines() if line.strip())


def test_a_port_nobody_holds_is_not_connected_to(make_env):
    """The CLI let its port go and nobody holds it: the relay does not
    connect (another user could bind the port between the check and the
    connect, and get the code), and says so: 502, as for a refused
    connection."""
    e = make_env(sets=("callback_relay_s=1",), provider_env={"FAKE_CLI_DROP_LISTENER": "1"})
    s, state = start_codex(e)
    wait_until(lambda: not [a for a in listeners(e.ns) if a.endswith(":1455")], 20, "1455 let go by the CLI")
    assert e.json("GET", f"/auth/callback?code=SECRET-CODE-codex&state={state}") == \
        (502, {"error": "CLI callback listener not reachable"})
    assert e.agent.log_lines(f"Login {s}: nothing listens on 127.0.0.1:1455: the callback is not relayed.")
    e.assert_no_secrets()


def test_the_port_the_redirect_names_is_checked(make_env):
    """The CLI listens on 1457 (1455 was taken), names it in its
    redirect_uri, and lets it go; another user then takes 1457: the relay
    checks the port it would connect to (1455 is free again by then), and
    refuses."""
    e = make_env(sets=("callback_relay_s=1",), provider_env={"FAKE_CLI_DROP_LISTENER": "1"})
    first = squat(e.ns, "127.0.0.1", 1455)
    try:
        s, state = start_codex(e)
        assert "127.0.0.1%3A1457" in e.json("GET", f"/oauth-url?sessionId={s}")[1]["oauthUrl"]
        second = wait_until(lambda: try_squat(e, "127.0.0.1", 1457), 20, "1457 let go by the CLI")
        first.close()
        try:
            assert e.json("GET", f"/auth/callback?code=SECRET-CODE-codex&state={state}") == \
                (502, {"error": "The callback port is not the CLI's"})
            assert requests_received(second) == []
            assert e.agent.log_lines("127.0.0.1:1457 is held by uid 0, not the CLI's")
            e.assert_no_secrets()
        finally:
            second.close()
    finally:
        first.close()


def try_squat(e, address, port=1455):
    try:
        return squat(e.ns, address, port)
    except OSError:
        return None


def test_oauth_callback_reads_the_query_as_it_is_captured(env):
    """The state is looked up in the raw query, as the credentials are
    taken from it: "STATE=<the state>" is no state (the credentials would
    hold none), and a query with a value that is not UTF-8 fails the login
    instead of being captured without that value."""
    s = sid()
    assert start_host(env, s, "host-state-c")[0] == 200
    for query in ("code=SECRET-CODE-c&STATE=host-state-c", "next=%3F&x=?state=host-state-c&state=other"):
        assert browse(env, f"/oauth/callback?{query}")[0] == 400, query
    assert env.json("GET", f"/credentials/status?sessionId={s}")[1].get("waiting") is True
    assert browse(env, "/oauth/callback?code=%FF%FE&state=host-state-c")[0] == 400
    env.wait_status(s, lambda code, b: b.get("failed"))
    assert env.json("GET", f"/credentials/status?sessionId={s}")[1].get("error") == "Invalid callback query"


def test_a_callback_without_a_code_fails_the_login(env):
    """The login's state with neither a code nor an error (or an empty
    code): the provider did not sign the person in.  Nothing is captured,
    the login fails, its state used up, as at error=, and the page says
    so."""
    for tag, rest in (("k", ""), ("e", "&code=&scope=x")):
        s = sid()
        assert start_host(env, s, f"host-state-{tag}")[0] == 200
        status, _, page = browse(env, f"/oauth/callback?state=host-state-{tag}{rest}")
        assert status == 400 and b"Sign-in failed" in page, (tag, page)
        assert env.json("GET", f"/credentials/status?sessionId={s}") == \
            (200, {"authenticated": False, "failed": True, "error": "Callback without a code"}), tag
    env.assert_no_secrets()


def test_a_reloaded_callback_is_no_guess(env):
    """The same callback again after the login used its state (the person
    reloading the page, a browser restoring its tab), signed in or not,
    delivered or not: the page it got the first time, nothing captured,
    and no guess counted against a waiting login (more than 16 of them
    would have failed it).  Nor is a callback without a state: it guesses
    nothing."""
    s, failed, waiting = sid(), sid(), sid()
    assert start_host(env, s, "host-state-r")[0] == 200
    assert start_host(env, failed, "host-state-f")[0] == 200
    assert start_host(env, waiting, "host-state-w")[0] == 200
    signed_in = "/oauth/callback?code=SECRET-CODE-r&state=host-state-r"
    denied = "/oauth/callback?error=access_denied&state=host-state-f"
    assert browse(env, signed_in)[0] == 200
    assert browse(env, denied)[0] == 400
    env.wait_status(s, lambda code, b: b.get("authenticated"))
    for _ in range(10):
        status, _, page = browse(env, signed_in)
        assert status == 200 and b"Signed in &mdash; you can close this window." in page
        # Another code with that state is not captured either.
        assert browse(env, "/oauth/callback?code=SECRET-CODE-x&state=host-state-r")[0] == 200
        assert browse(env, denied)[0] == 400
        assert browse(env, "/oauth/callback?code=SECRET-CODE-x")[0] == 400
        assert browse(env, "/oauth/callback?code=SECRET-CODE-x&state=")[0] == 400
    got = env.json("GET", f"/credentials/get?sessionId={s}")
    assert got[0] == 200 and got[1]["credentials"] == {"code": "SECRET-CODE-r", "state": "host-state-r"}
    # Delivered, the session gone: still the same page.
    assert env.json("GET", f"/credentials/status?sessionId={s}")[0] == 404
    assert browse(env, signed_in)[0] == 200
    assert env.json("GET", f"/credentials/status?sessionId={failed}")[1].get("error") == "access_denied"
    st = env.json("GET", f"/credentials/status?sessionId={waiting}")[1]
    assert st.get("waiting") is True, st
    assert not env.agent.log_lines("OAuth callback with a wrong state refused")
    assert browse(env, "/oauth/callback?code=SECRET-CODE-w&state=host-state-w")[0] == 200
    env.wait_status(waiting, lambda code, b: b.get("authenticated"))
    env.assert_no_secrets()


def test_guessing_a_host_state_fails_the_login(env):
    """A local process can send /oauth/callback thousands of times a
    second: each waiting host-driven login lets 15 wrong states go by and
    fails at the 16th, its state then used up, instead of being guessed
    at forever.  A login started later counts its own.  The warnings are
    bounded the same way: with no login waiting, a wrong state is not
    warned about.  A state shorter than 8 bytes is not taken."""
    assert start_host(env, sid(), "1234567") == \
        (400, {"error": "state must be at least 8 bytes: a shorter one can be guessed"})
    s = sid()
    assert start_host(env, s, "host-state-g")[0] == 200

    def guess(i):
        return browse(env, f"/oauth/callback?code=SECRET-CODE-g&state=guess-{i}")[0]
    assert [guess(i) for i in range(15)] == [400] * 15
    assert env.json("GET", f"/credentials/status?sessionId={s}")[1].get("waiting") is True
    later = sid()
    assert start_host(env, later, "host-state-l")[0] == 200
    assert guess(15) == 400
    assert env.json("GET", f"/credentials/status?sessionId={s}") == \
        (200, {"authenticated": False, "failed": True, "error": "Too many callbacks with a wrong state"})
    assert browse(env, "/oauth/callback?code=SECRET-CODE-g&state=host-state-g")[0] == 400
    assert env.json("GET", f"/credentials/status?sessionId={s}")[1].get("failed") is True
    # The later login counted 2 (the 16th and the used state): it still waits and completes.
    assert browse(env, "/oauth/callback?code=SECRET-CODE-l&state=host-state-l")[0] == 200
    env.wait_status(later, lambda code, b: b.get("authenticated"))
    warned = len(env.agent.log_lines("OAuth callback with a wrong state refused"))
    assert warned == 17, env.agent.log_text()[-3000:]
    assert [guess(i) for i in range(16, 40)] == [400] * 24
    assert len(env.agent.log_lines("OAuth callback with a wrong state refused")) == warned
    assert env.agent.log_lines(f"Login {s}: 16 OAuth callbacks with a wrong state; failed")
    env.assert_no_secrets()


def test_guessing_a_cli_logins_state_fails_the_login(env):
    """/auth/callback counts as /oauth/callback does: a CLI login lets 15
    callbacks with another state go by, each refused before its CLI sees
    it, and fails at the 16th instead of being guessed at forever (a CLI
    chooses its own state's length).  The warnings end with the login."""
    s, state = start_codex(env)

    def guess(i):
        return browse(env, f"/auth/callback?code=SECRET-CODE-g&state=guess-{i}")[0]
    assert [guess(i) for i in range(15)] == [400] * 15
    assert env.json("GET", f"/oauth-url?sessionId={s}")[0] == 200  # still waiting, not failed
    assert guess(15) == 400
    assert env.json("GET", f"/credentials/status?sessionId={s}") == \
        (200, {"authenticated": False, "failed": True, "error": "Too many callbacks with a wrong state"})
    # The right state comes too late: no login waits for a callback.
    assert browse(env, f"/auth/callback?code=SECRET-CODE-codex&state={state}")[0] == 404
    assert [guess(i) for i in range(16, 24)] == [404] * 8
    assert len(env.agent.log_lines(f"Login {s}: a callback with another state than the login's refused")) == 15
    assert env.agent.log_lines(f"Login {s}: 16 callbacks with a wrong state; failed")
    assert b"SECRET-CODE" not in env.agent.log_text().encode()
    env.assert_no_secrets()


def test_one_state_one_waiting_login(env):
    """Two logins waiting for one state: the callback would go to the
    first and the second could never complete, so the second is refused;
    once the first is through, the state may be used again."""
    s, other = sid(), sid()
    assert start_host(env, s, "host-state-same")[0] == 200
    assert start_host(env, other, "host-state-same") == (409, {"error": "Another login waits for this state"})
    assert browse(env, "/oauth/callback?code=SECRET-CODE-s&state=host-state-same")[0] == 200
    env.wait_status(s, lambda code, b: b.get("authenticated"))
    assert start_host(env, other, "host-state-same")[0] == 200
