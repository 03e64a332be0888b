"""Snapshot restore under qemu (q35, TCG is enough): the golden image boots
with the agent as PID 1 taking its secrets from an MMDS stand-in, is saved
with `savevm`, and a second qemu resumes it with `-loadvm` and a new VM
generation ID while the stand-in holds the host's handover for the clone:
a new generation, token, desktop secret, address and the host's time.
The host then pokes the clone (POST /restore-check) and the test checks
that the agent noticed, /health shows the new address and
generation, the old token is refused and the new one accepted, x11vnc and
websockify were restarted and Xvfb was not, and the clone's wall clock
(the snapshot's, behind the host's) was stepped to the host's, which the
agent's clock watch (TFD_TIMER_CANCEL_ON_SET) then saw; a login started
before the snapshot is failed with reason "restored" and a login started
after it signs in.

Logins: the VM boots a copy of the image's rootfs (packaging/vm-secrets
--add-file) under its qcow2 overlay, holding the demo's fake provider
(tests/vm/demo.py: signs in by itself in the VM's Firefox) and `held`, a
CLI that prints its authorize URL (to a closed port) and waits: the login
in flight at the snapshot.

The MMDS stand-in (mmds_standin.py) answers at 10.0.2.100 inside qemu's
user network, not 169.254.169.254 (slirp refuses a guestfwd outside its
own network), and the agent is told so (vmba.mmds_address=).

Addresses: the snapshot's guest is 10.0.2.15 (the forward qemu gives by
default); the clone's handover says 10.0.2.16.  The second qemu forwards
one port to each: the poke goes to the old address (the clone still has
it), everything after it to the new one, which proves the address moved.

qemu's -device vmgenid is given (a new GUID for the clone) although the
image's 6.1 kernel has no vmgenid driver and userspace is told nothing of
it (README, Snapshot restore): the poke and the clock are the triggers.
A second, shorter test restores a VM whose only service steps its clock
on the test's word, and pokes nothing: the clock step alone is noticed.
"""
import email.utils
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pytest

import demo
import mmds_standin
import qemu
from mmds_standin import Mmds

BOOT_TIMEOUT = 180
READY_TIMEOUT = 240
SAVEVM_TIMEOUT = 300
RESTORE_TIMEOUT = 120
NEW_IP = "10.0.2.16"
# How far behind the host the clone's clock is made to be at least: the
# time between savevm and the clone running, so that a step is visible.
CLOCK_GAP_S = 15
# How far an emulated guest clock may lag the host's and still count as
# right: 2.07 s was seen under load; the snapshot's clock, never stepped,
# would be CLOCK_GAP_S or more behind.
CLOCK_BEHIND_MAX_S = 10
STATUS_PATH = "/credentials/status?sessionId=00000000-0000-4000-8000-000000000000"
LOGIN_TIMEOUT = 600   # the demo's sign-in through Firefox, emulated
MEMORY = 1536         # Firefox, as the demo VM
HELD_CLI = "/usr/local/lib/vm-browser-agent-test/held-cli"
HELD_SCRIPT = """#!/usr/bin/python3
# A provider CLI whose sign-in never comes: prints its URL and waits.
import time
print("Open http://127.0.0.1:9/held/authorize?state=held-state to sign in.", flush=True)
time.sleep(900)
"""
HELD = {"id": "held", "argv": [HELD_CLI], "url_patterns": ["http://127.0.0.1:9/held/"],
        "credential_file": ".held/credentials.json"}
# The clock trigger's VM: instead of the display stack, one service that
# stands in for whatever steps a restored guest's clock (an NTP client, a
# host's guest tool): root, on a port of its own, it sets CLOCK_REALTIME
# to the seconds each connection sends.
TEST_DIR = "/usr/local/lib/vm-browser-agent-test"
STEPPER = f"{TEST_DIR}/clock-stepper"
STEPPER_PORT = 7123
STEPPER_SCRIPT = f"""#!/usr/bin/python3
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", {STEPPER_PORT}))
s.listen()
while True:
    c, _ = s.accept()
    try:
        with c:
            c.sendall(b"stepper\\n")
            line = c.makefile().readline().strip()
            if line:  # the agent's probe sends nothing
                time.clock_settime(time.CLOCK_REALTIME, float(line))
                c.sendall(b"set\\n")
    except OSError:  # the probe hung up first
        pass
"""
STEPPER_SERVICES = {"services": [
    {"name": "clock-stepper", "argv": ["/usr/bin/python3", STEPPER],
     "probe": {"type": "tcp-banner", "host": "127.0.0.1", "port": STEPPER_PORT, "expect": "stepper"}}]}

def request(port, path, method="GET", token=None, timeout=5):
    """(status, body, headers) from the guest's 8080 through `port`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=b"" if method == "POST" else None, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def request_json(port, path, body=None, token=None):
    """(status, parsed body): POST with a JSON body, else GET."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers,
                                 method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def try_request(port, path, **kw):
    try:
        return request(port, path, **kw)
    except (OSError, ValueError):
        return None


def guest_clock(port):
    """(host time before the request, the guest's time in its HTTP Date
    header (whole seconds, truncated), host time after the answer)."""
    t0 = time.time()
    r = request(port, "/health")
    t1 = time.time()
    return t0, email.utils.parsedate_to_datetime(r[2]["Date"]).timestamp(), t1


def assert_clock_right(port, behind_s):
    """The guest's clock is the host's: its Date is between the host's time
    before the request, less behind_s (the Date's truncation and any of its
    source), and after the answer (plus rounding)."""
    t0, d, t1 = guest_clock(port)
    assert t0 - behind_s <= d <= t1 + 1, f"guest {d:.0f}, host {t0:.1f}..{t1:.1f}"


def services(port):
    return json.loads(request(port, "/health")[1])["services"]


@pytest.fixture
def workdir():
    d = pathlib.Path(tempfile.mkdtemp(prefix="vmba-restore-vm-", dir="/var/tmp"))
    yield d
    if not os.environ.get("VMBA_KEEP_LOGS"):
        shutil.rmtree(d, ignore_errors=True)


def make_rootfs(image, workdir):
    """rootfs.ext4 with the demo provider and `held` (and providers.json
    naming both), the qcow2 overlay's backing file."""
    held = workdir / "held-cli"
    held.write_text(HELD_SCRIPT)
    providers = workdir / "providers-with-held.json"  # demo.rootfs_files() writes providers.json
    with_demo = demo.providers_with_demo()
    providers.write_text(json.dumps({**with_demo, "providers": with_demo["providers"] + [HELD]}))
    rootfs_with(image, workdir, [*demo.rootfs_files(workdir)[:1], (providers, demo.GUEST_PROVIDERS, "0644"),
                                 (held, HELD_CLI, "0755")])


def rootfs_with(image, workdir, files):
    """rootfs.ext4: the image's with files ((source, guest path, mode)...),
    and its qcow2 overlay."""
    rootfs = workdir / "rootfs.ext4"
    subprocess.run([str(qemu.VM_SECRETS), "--copy-from", str(image / "rootfs.ext4"),
                    *[a for src, dest, mode in files for a in ("--add-file", f"{src}:{dest}:{mode}")],
                    str(rootfs)], check=True, capture_output=True, text=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(rootfs), "-F", "raw",
                    str(workdir / "overlay.qcow2")], check=True)


def make_vm(image, workdir, name, mmds, forwards_extra=None, extra_args=(), extra_cmdline="", memory=MEMORY):
    vm_dir = workdir / name
    vm_dir.mkdir()
    return qemu.Vm(image, mode="pid1", workdir=vm_dir, overlay=workdir / "overlay.qcow2", memory=memory,
                   cmdline_secrets=False, netdev_extra=[mmds.guestfwd()], forwards_extra=forwards_extra,
                   extra_args=list(extra_args),
                   extra_cmdline=f"{mmds_standin.CMDLINE} {extra_cmdline}".strip())


def start_clone(clone):
    """Starts the clone and waits for its first answer at the snapshot's
    address: (time.time() at its start, that answer)."""
    started = time.time()
    clone.start()
    return started, qemu.wait_until(lambda: try_request(clone.ports["http"], "/health", timeout=2),
                                    BOOT_TIMEOUT, "the clone's /health at the old address", clone.proc)


def boot_ready(vm):
    """Starts vm and waits for /health, then /health/ready."""
    vm.start()
    vm.wait_http_200("/health", BOOT_TIMEOUT)
    qemu.wait_until(lambda: (vm.try_http("/health/ready") or [0])[0] == 200, READY_TIMEOUT, "/health/ready 200",
                    vm.proc)


def fail_with_console(vm, e):
    pytest.fail(f"{e}\n--- console ({vm.console}) ---\n{vm.console_text()[-4000:]}\n"
                f"--- qemu ---\n{vm.qemu_log_text()[-1000:]}")


def check_mmds_asked(first, mmds):
    """MMDS asked once at boot: the secrets' answer carries the generation.
    Once more for each attempt the agent gave up on (no answer within its
    2 s: qemu starts the stand-in per connection, under TCG): the stand-in
    logs a request before it answers."""
    boot = mmds.log.read_text().splitlines()
    unsent = ("Connection refused", "Network is unreachable", "No route to host")
    asked = 1 + len([l for l in first.console_text().splitlines()
                     if "MMDS attempt " in l and not any(u in l for u in unsent)])
    assert set(boot) <= {"PUT /latest/api/token 200", "GET /vm-browser-agent 200"}, boot
    assert boot.count("PUT /latest/api/token 200") == asked and \
        1 <= boot.count("GET /vm-browser-agent 200") <= asked, boot
    # The real kernel took the rule that keeps MMDS root's (before it asked).
    boot_console = first.console_text()
    assert "Control token received from MMDS." in boot_console
    assert "every local user can read" not in boot_console


def save_template(first, mmds):
    """The booted VM checked, a login left in flight, then `savevm`:
    (its services before, the host's time at the save)."""
    port = first.ports["http"]
    h = json.loads(request(port, "/health")[1])
    assert (h["auth"], h["desktop"]) == ("token", "secret")
    assert h["restore"] == {"generation": "gen-1", "restores": 0, "last_restore_ms": None, "restoring": False}
    assert request(port, STATUS_PATH, token=first.token)[0] == 404  # through the gate
    check_mmds_asked(first, mmds)
    status, started = request_json(port, "/auth/held", {"sessionId": "held-1"}, first.token)
    assert status == 200 and started["message"] == "OAuth URL captured", started
    before = services(port)
    # Set from the RTC at boot (whole seconds), reported in whole seconds,
    # and kept by an emulated clock that falls behind a little on a loaded
    # host (2.07 s behind in all once, with both fresh-clone runs at once):
    # within what the clone's step is held to below.
    assert_clock_right(port, CLOCK_BEHIND_MAX_S)
    assert first.hmp("savevm snap1", timeout=SAVEVM_TIMEOUT) == ""
    return before, time.time()


def check_restored(clone, first, new_token, saved_at):
    """From the clone's start to its restore done, poked at the old
    address and seen at the new one: (its /health then, first /health 200
    in s from qemu's start, its clock's lag before the restore in s)."""
    clone_started, loaded = start_clone(clone)
    old_port, new_port = clone.ports["http"], clone.ports["new_http"]
    first_200_s = time.monotonic() - clone.started_at
    assert loaded[0] == 200
    # Still the snapshot's clock: stopped at savevm (before saved_at),
    # running again no earlier than the clone's start.
    _, d, t1 = guest_clock(old_port)
    lag = t1 - d
    assert d <= saved_at + (t1 - clone_started) + 1, f"the clone's clock is only {lag:.1f} s behind"
    # The clone still is the snapshot: the old token works until the poke.
    assert request(old_port, STATUS_PATH, token=first.token)[0] == 404
    assert request(old_port, "/restore-check", method="POST")[:2] == (202, b'{"status":"checking"}')
    done = qemu.wait_until(lambda: (lambda r: r if r and r[0] == 200 and
                                    json.loads(r[1])["restore"]["restores"] == 1 else None)(
                                        try_request(new_port, "/health", timeout=2)),
                           RESTORE_TIMEOUT, "/health at the new address after the restore", clone.proc)
    h = json.loads(done[1])
    assert h["restore"]["generation"] == "gen-2" and h["restore"]["restoring"] is False
    assert isinstance(h["restore"]["last_restore_ms"], int)
    assert h["network"]["address"] == NEW_IP
    assert request(new_port, STATUS_PATH, token=first.token)[0] == 401
    assert request(new_port, STATUS_PATH, token=new_token)[0] == 404
    # Stepped to the host's time as MMDS answered it (milliseconds), which
    # reached the guest through slirp and a process the stand-in starts:
    # seconds behind at most, not the 15 of the snapshot.
    assert_clock_right(new_port, CLOCK_BEHIND_MAX_S)
    return h, first_200_s, lag


def check_chain_restarted(clone, before):
    """x11vnc and websockify came back as new processes, Xvfb stayed."""
    new_port = clone.ports["new_http"]

    def chain_back():
        h = try_request(new_port, "/health", timeout=10)
        if not h or h[0] != 200:
            return False
        pid = json.loads(h[1])["services"]["websockify"]["pid"]
        if pid is None or pid == before["websockify"]["pid"]:
            return False
        # The new websockify, then the chain with it.
        return (try_request(new_port, "/health/ready", timeout=10) or (None,))[0] == 200
    qemu.wait_until(chain_back, READY_TIMEOUT, "x11vnc and websockify back", clone.proc)
    after = services(new_port)
    assert after["x11vnc"]["pid"] not in (None, before["x11vnc"]["pid"])
    assert after["Xvfb"]["pid"] == before["Xvfb"]["pid"]


def check_logins_after(clone, new_token):
    """The login in flight at the snapshot: failed.  One after it: signed in."""
    new_port = clone.ports["new_http"]
    assert request_json(new_port, "/credentials/status?sessionId=held-1", token=new_token) == \
        (200, {"authenticated": False, "failed": True, "error": "restored"})
    status, started = request_json(new_port, "/auth/demo", {"sessionId": "demo-1"}, new_token)
    assert status == 200 and started["message"] == "OAuth URL captured", started
    qemu.wait_until(lambda: request_json(new_port, "/credentials/status?sessionId=demo-1", token=new_token)[1]
                    .get("authenticated"), LOGIN_TIMEOUT, "the demo login after the restore", clone.proc)
    status, got = request_json(new_port, "/credentials/get?sessionId=demo-1", token=new_token)
    assert status == 200 and got["provider"] == "demo", got
    assert got["credentials"]["access_token"].startswith("demo-")


def check_restore_told(clone, secrets):
    """/metrics counts the restore; the console says what was redone, and
    none of the secrets."""
    assert b"\nvmba_restores_total 1\n" in request(clone.ports["new_http"], "/metrics")[1]
    console = clone.console_text()
    # After the poke; or after the retry of its question, when that got no
    # answer in 2 s (under TCG); or asked again after it.
    assert any(f"Restored from a snapshot (generation gen-2, noticed after {why})" in console
               for why in ("POST /restore-check", "retry", "a trigger while asking")), console[-3000:]
    for line in ("Restore: network re-applied on eth0.", "Restore: clock set from the host's time.",
                 "Restore: new control token and desktop secret installed",
                 "Restore: 1 login(s) in flight failed, 0 signed in closed with their credentials wiped "
                 "(reason \"restored\").",
                 "Restore: x11vnc starting again", "Restore done: generation gen-2",
                 # The agent's own step, seen by its clock watch (TFD_TIMER_CANCEL_ON_SET).
                 "The wall clock was set: asking MMDS whether this is a restored clone."):
        assert line in console, line
    for secret in secrets:
        assert secret not in console


def test_restore_from_a_qemu_snapshot(image, workdir):
    if not shutil.which("qemu-img"):
        pytest.skip("qemu-img not installed (qemu-utils)")
    make_rootfs(image, workdir)
    mmds = Mmds(workdir)
    first = make_vm(image, workdir, "first", mmds, extra_args=["-device", f"vmgenid,guid={uuid.uuid4()}"])
    mmds.put({"generation": "gen-1", "token": first.token, "desktop_secret": first.desktop_secret})
    try:
        boot_ready(first)
    except Exception as e:
        first.close(keep=True)
        fail_with_console(first, e)
    try:
        before, saved_at = save_template(first, mmds)
    except Exception:
        first.close(keep=True)
        raise
    first.stop()
    assert "snap1" in subprocess.run(["qemu-img", "snapshot", "-l", str(workdir / "overlay.qcow2")],
                                     capture_output=True, text=True, check=True).stdout

    # The host's handover for the clone, then the clone.
    new_token, new_desktop = uuid.uuid4().hex, uuid.uuid4().hex
    mmds.put({"generation": "gen-2", "network": f"ip={NEW_IP}::{qemu.GATEWAY}:{qemu.NETMASK}::eth0:off",
              "time": 0, "token": new_token, "desktop_secret": new_desktop})
    # The clone's clock stays at savevm time until it runs: let the host's
    # move on enough for the step to be unmistakable.
    time.sleep(max(0.0, saved_at + CLOCK_GAP_S - time.time()))
    clone = make_vm(image, workdir, "clone", mmds, forwards_extra={"new_http": f"{NEW_IP}:8080"},
                    extra_args=["-device", f"vmgenid,guid={uuid.uuid4()}", "-loadvm", "snap1"])
    clone.token = new_token
    try:
        h, first_200_s, lag = check_restored(clone, first, new_token, saved_at)
        check_chain_restarted(clone, before)
        check_logins_after(clone, new_token)
        check_restore_told(clone, (first.token, first.desktop_secret, new_token, new_desktop))
        print(f"restore: first /health {first_200_s:.1f} s after qemu start (loadvm), "
              f"restore {h['restore']['last_restore_ms']} ms, clock lag before {lag:.1f} s")
    except Exception as e:
        clone.close(keep=True)
        fail_with_console(clone, e)
    clone.close()


def step_clock(port):
    """The stepper in the guest sets its wall clock to the host's."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
        f = c.makefile("rwb")
        assert f.readline() == b"stepper\n"
        f.write(f"{time.time():.3f}\n".encode())
        f.flush()
        return f.readline()


def test_restore_noticed_by_a_clock_step_alone(image, workdir):
    """A clone that nobody pokes and whose VM generation ID is the
    snapshot's (as qemu's vmgenid would tell the image's kernel nothing
    anyway): the restore is noticed the moment something in the guest
    steps the wall clock, here the stepper the test put in the image."""
    if not shutil.which("qemu-img"):
        pytest.skip("qemu-img not installed (qemu-utils)")
    stepper, services_json = workdir / "clock-stepper", workdir / "services.json"
    stepper.write_text(STEPPER_SCRIPT)
    services_json.write_text(json.dumps(STEPPER_SERVICES))
    rootfs_with(image, workdir, [(stepper, STEPPER, "0755"), (services_json, f"{TEST_DIR}/services.json", "0644")])
    mmds = Mmds(workdir)
    vmgenid = ["-device", f"vmgenid,guid={uuid.uuid4()}"]
    options = dict(extra_cmdline=f"vmba.services_file={TEST_DIR}/services.json", memory=1024)
    first = make_vm(image, workdir, "first", mmds, extra_args=vmgenid, **options)
    mmds.put({"generation": "gen-1", "token": first.token, "desktop_secret": first.desktop_secret})
    try:
        boot_ready(first)
        assert first.hmp("savevm snap1", timeout=SAVEVM_TIMEOUT) == ""
    except Exception as e:
        first.close(keep=True)
        fail_with_console(first, e)
    first.stop()

    new_token = uuid.uuid4().hex
    mmds.put({"generation": "gen-2", "network": f"ip={NEW_IP}::{qemu.GATEWAY}:{qemu.NETMASK}::eth0:off",
              "time": 0, "token": new_token, "desktop_secret": uuid.uuid4().hex})
    clone = make_vm(image, workdir, "clone", mmds,
                    forwards_extra={"new_http": f"{NEW_IP}:8080", "stepper": f":{STEPPER_PORT}"},
                    extra_args=[*vmgenid, "-loadvm", "snap1"], **options)
    try:
        _, loaded = start_clone(clone)
        assert loaded[0] == 200
        old_port, new_port, stepper_port = clone.ports["http"], clone.ports["new_http"], clone.ports["stepper"]
        # Running, unpoked, its generation ID unchanged: still the snapshot.
        h = json.loads(request(old_port, "/health")[1])
        assert (h["restore"]["generation"], h["restore"]["restores"]) == ("gen-1", 0), h["restore"]
        assert request(old_port, STATUS_PATH, token=first.token)[0] == 404
        assert step_clock(stepper_port) == b"set\n"
        done = qemu.wait_until(lambda: (lambda r: r if r and r[0] == 200 and
                                        json.loads(r[1])["restore"]["restores"] == 1 else None)(
                                            try_request(new_port, "/health", timeout=2)),
                               RESTORE_TIMEOUT, "/health at the new address after the clock step", clone.proc)
        h = json.loads(done[1])
        assert h["restore"]["generation"] == "gen-2" and h["network"]["address"] == NEW_IP, h
        assert request(new_port, STATUS_PATH, token=first.token)[0] == 401
        assert request(new_port, STATUS_PATH, token=new_token)[0] == 404
        console = clone.console_text()
        assert any(f"Restored from a snapshot (generation gen-2, noticed after {why})" in console
                   for why in ("the wall clock was set", "retry", "a trigger while asking")), console[-3000:]
        for line in ("The wall clock was set: asking MMDS whether this is a restored clone.",
                     "Restore done: generation gen-2"):
            assert line in console, line
        assert "noticed after POST /restore-check" not in console
    except Exception as e:
        clone.close(keep=True)
        fail_with_console(clone, e)
    clone.close()
