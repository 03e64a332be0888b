"""The pinned provider CLIs in the image (packaging/image/install-clis, run
by packaging/mkimage): a VM booted from the image with the agent as PID 1,
offline (qemu's user network with restrict=on), reports every pin
installed in /health and starts the CLI's login to a caught authorize URL.
Nothing answers the CLIs' network requests: this is about the image's
Node.js, CLIs, links and provider definitions, not the sign-in (the
realcli tier does that).

One VM per login, as the host runs them.  Deadlines are long because
qemu emulates the CPU (TCG) where KVM does not work; they are not
expectations of speed.
"""
import json
import urllib.parse

import pytest

import qemu

BOOT_TIMEOUT = 300
URL_TIMEOUT = 900
PINS = json.loads((qemu.TOP / "packaging" / "clis.json").read_text())
PREFIXES = {
    "claude_code": "https://claude.com/cai/oauth/authorize?",
    "codex": "https://auth.openai.com/oauth/authorize?",
    "gemini_cli": "https://accounts.google.com/o/oauth2/v2/auth?",
}


@pytest.fixture
def vm(image):
    v = qemu.Vm(image, mode="pid1", memory=2048).boot(BOOT_TIMEOUT)
    yield v
    v.close()


def start(vm, provider, sid):
    status, body = vm.http(f"/auth/{provider}", method="POST", timeout=120,
                           data=json.dumps({"sessionId": sid}).encode(),
                           headers={"Content-Type": "application/json"})
    assert status == 200, body
    return json.loads(body)


@pytest.mark.parametrize("provider", list(PREFIXES))
def test_login_starts_to_a_caught_url(vm, provider):
    status, health = vm.health()
    assert status == 200
    assert health["clis"] == {c["provider"]: {"package": c["package"], "pinned": c["version"],
                                              "installed": c["version"], "status": "ok"}
                              for c in PINS["clis"]}
    sid = f"vm-{provider}"
    started = start(vm, provider, sid)

    def url():
        r = vm.try_http(f"/oauth-url?sessionId={sid}", timeout=10)
        if r and r[0] == 410:
            # The start's answer holds the CLI's output (redacted) when it
            # ended, or was still running without a URL, by then.
            pytest.fail(f"{provider}: the login ended without a URL: {r[1]!r}\n"
                        f"--- CLI output at the start's answer ---\n{started.get('cliOutput')}\n"
                        f"{vm.console_text()[-3000:]}")
        return json.loads(r[1])["oauthUrl"] if r and r[0] == 200 else None
    try:
        got = qemu.wait_until(url, URL_TIMEOUT, f"{provider}'s authorize URL", vm.proc)
    except TimeoutError as e:
        # A start repeated for the live session answers with the CLI's
        # output so far (redacted): what it was showing.
        pytest.fail(f"{e}\n--- CLI output ---\n{start(vm, provider, sid).get('cliOutput')}")
    assert got.startswith(PREFIXES[provider]), got
    # The CLI started, and writes, in login_home's own tmpfs, as shipped.
    assert "login_home /var/lib/vm-browser-agent/logins: a tmpfs of 64 MiB, the logins' files off the disk." in vm.console_text(), \
        vm.console_text()[-3000:]
    if provider == "codex":
        # The agent raised the port floor above Codex's callback port:
        # Codex (CAP_NET_BIND_SERVICE, kept for a CLI with a callback
        # port) listens there all the same, and no other user could have.
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(got).query))
        assert urllib.parse.urlsplit(q["redirect_uri"]).port == 1455, got
        console = vm.console_text()
        assert "Ports below 1458 are root's, and those of the provider CLIs with a callback port" in console, \
            console[-3000:]
