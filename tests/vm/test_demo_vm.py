"""The README's demo (packaging/demo-vm) past its boot: the login round
trip through `vm-browser-agent ctl` with the fake provider `demo`, set up
by the same helpers the demo uses (demo.py): a q35 VM with the agent as
PID 1 on its own rootfs copy holding the fake CLI and a providers.json
with `demo` added; `ctl wait-ready`; `ctl login demo` (the agent runs the
CLI, opens its page in the VM's Firefox, which signs in by itself, and
captures the credential file); the credentials in the file named, 0600,
delivered once.  And, without booting: the image packaging/mkimage built
holds nothing of the demo.

Deadlines are long because qemu may emulate the CPU (TCG) and Firefox's
first start in the VM is slow there; they are not expectations of speed.
"""
import json
import os
import stat
import subprocess

import pytest

import demo

BOOT_TIMEOUT = 300    # qemu start -> first /health 200
CTL_TIMEOUT = 600     # ctl's --timeout for wait-ready and for the sign-in
SESSION = "demo-vm-test-1"


def _debugfs(fs, request):
    return subprocess.run(["debugfs", "-R", request, str(fs)], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def demo_vm(image, tmp_path_factory):
    """The demo VM, booted; `written`: what its rootfs copy held before it
    booted (read once the guest runs, debugfs could find a file the guest
    is updating: it read one empty)."""
    v = demo.new_vm(image, tmp_path_factory.mktemp("demo-vm")).prepare_rootfs()
    v.written = {"providers": _debugfs(v.rootfs, f"cat {demo.GUEST_PROVIDERS}"),
                 "cli": _debugfs(v.rootfs, f"stat {demo.PROVIDER['argv'][0]}"),
                 "token": _debugfs(v.rootfs, "cat /etc/vm-browser-agent/token")}
    v.boot(BOOT_TIMEOUT)
    yield v
    v.close()


def test_the_image_has_nothing_of_the_demo(image):
    rootfs = image / "rootfs.ext4"
    providers = json.loads(_debugfs(rootfs, f"cat {demo.GUEST_PROVIDERS}"))
    assert [p["id"] for p in providers["providers"]] == \
        [p["id"] for p in json.loads(demo.SHIPPED_PROVIDERS.read_text())["providers"]]
    assert "demo" not in [p["id"] for p in providers["providers"]]
    cli_dir = os.path.dirname(demo.PROVIDER["argv"][0])
    assert "File not found" in subprocess.run(["debugfs", "-R", f"stat {cli_dir}", str(rootfs)],
                                              capture_output=True, text=True).stderr


def test_demo_providers_file_is_the_shipped_one_plus_demo():
    got = demo.providers_with_demo()["providers"]
    assert got[:-1] == json.loads(demo.SHIPPED_PROVIDERS.read_text())["providers"]
    assert got[-1]["id"] == "demo"


def test_demo_vm_has_the_demo_provider(demo_vm):
    assert json.loads(demo_vm.written["providers"]) == demo.providers_with_demo()
    assert "Mode:  0755" in demo_vm.written["cli"]
    # Its secrets in its copy, as a host writes them; not on the kernel
    # command line, which every process in the VM can read.
    assert demo_vm.written["token"] == demo_vm.token + "\n"
    assert "vmba." not in demo_vm.cmdline() and demo_vm.token not in demo_vm.cmdline()


def test_login_round_trip_through_ctl(demo_vm, agent_bin, tmp_path):
    rc, text = demo.wait_ready(agent_bin, demo_vm, timeout=CTL_TIMEOUT)
    assert (rc, text) == (0, "ready\n")
    out = tmp_path / "demo-credentials.json"
    rc, text = demo.login(agent_bin, demo_vm, out, session=SESSION, timeout=CTL_TIMEOUT)
    assert rc == 0, f"{text}\n--- console ---\n{demo_vm.console_text()[-3000:]}"
    lines = text.splitlines()
    assert f"session: {SESSION}" in lines
    assert any(line.startswith("authorize: http://127.0.0.1:") and "/authorize?" in line for line in lines), text
    assert f"credentials: {out}" in lines
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    creds = json.loads(out.read_text())
    assert sorted(creds) == ["access_token", "expires_at", "provider", "token_type"]
    assert creds["provider"] == "demo" and creds["access_token"].startswith("demo-")
    assert creds["access_token"] not in text
    # Delivered once: the session is closed and its secret wiped.
    status, body = demo_vm.http(f"/credentials/get?sessionId={SESSION}")
    assert status == 404, body
