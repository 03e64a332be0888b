"""The vm tier: the golden image booted under qemu, probed from the host.

The image is built (or reused from $VMBA_CACHE, default /var/cache/vm-browser-agent, by content hash) by
packaging/mkimage with the agent under test (the `image` fixture in
conftest.py, shared with test_microvm.py).  Each boot mode gets one VM
for the module: `pid1` (init=/usr/sbin/vm-browser-agent) and `systemd`
(init=/lib/systemd/systemd with the unit enabled).  The kernel command line
carries an ip= for qemu's user network; the guest's 8080, 5901 and 6080 are
forwarded to free ports on 127.0.0.1 only.  The last test of each mode
shuts the VM down through POST /shutdown and expects qemu to exit.

Skipped only when qemu or the Debian cloud kernel is absent.
"""
import concurrent.futures
import json
import os
import pathlib
import re
import socket
import subprocess

import pytest

import qemu
from desktop import http_raw, http_status, ws_upgrade

BOOT_TIMEOUT = 180   # qemu start -> first /health 200 (TCG, 2 shared cores)
READY_TIMEOUT = 240  # -> /health/ready 200 (Xvfb, openbox, x11vnc, websockify)
STOP_TIMEOUT = 90    # POST /shutdown -> qemu exited

EXPECTED_NETWORK = {
    "status": "applied", "device": "eth0", "method": "static",
    "address": qemu.GUEST_IP, "prefix": 24, "gateway": qemu.GATEWAY,
    "dns": [], "mtu": None, "error": None,
    # The agent raised the port floor above Codex's callback ports.
    "unprivileged_port_start": 1458,
}
BUILD_ID_RE = re.compile(r"^vmba-\S+\+\S+\.\d{8}T\d{6}Z\.pkgs-[0-9a-f]{12}\.clis-[0-9a-f]{12}$")


@pytest.fixture(scope="module", params=["pid1", "systemd"])
def vm(request, image):
    if request.param == "systemd" and not (qemu.TOP / "packaging/systemd/vm-browser-agent.service").exists():
        pytest.fail("packaging/systemd/vm-browser-agent.service missing: no systemd boot mode")
    v = qemu.Vm(image, mode=request.param)
    v.start()
    try:
        v.first_200_s, _ = v.wait_http_200("/health", BOOT_TIMEOUT)
    except Exception as e:
        tail = v.console_text()[-3000:]
        v.close(keep=True)
        pytest.fail(f"{request.param}: {e}\n--- console ({v.console}) ---\n{tail}")
    yield v
    v.close()


def test_build_id_file_format(image):
    build_id = (image / "build-id").read_text().strip()
    assert BUILD_ID_RE.match(build_id), build_id


def wait_ready(vm):
    """The body of /health/ready's 200: every service of the display chain
    started and ready.  The fixture waits for the first /health 200 only,
    when the services are still starting: a test that needs them waits
    itself, as it may run alone or first (-k, a failed test run again)."""
    def ready():
        r = vm.try_http("/health/ready")
        return r if r and r[0] == 200 else None
    return qemu.wait_until(ready, READY_TIMEOUT, "/health/ready 200", vm.proc)[1]


def test_missing_virtio_module_is_a_build_error(tmp_path):
    kver = "0.0.0-empty"
    moddir = tmp_path / "lib/modules" / kver
    moddir.mkdir(parents=True)
    for name in ("modules.dep", "modules.builtin", "modules.order", "modules.alias"):
        (moddir / name).write_text("")
    init = tmp_path / "init"
    init.write_text("#!/bin/sh\n")
    r = subprocess.run([str(qemu.MKINITRAMFS), "--kver", kver, "--root", str(tmp_path),
                        "--init", str(init), str(tmp_path / "out.img")],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr == f"mkinitramfs: kernel {kver} has no module virtio_ring (and it is not built in)\n"
    assert not (tmp_path / "out.img").exists()


def test_health_reports_ip_and_build_id(vm, image):
    status, body = vm.health()
    assert status == 200
    assert body["network"] == EXPECTED_NETWORK
    assert body["build_id"] == (image / "build-id").read_text().strip()
    assert body["status"] in ("ok", "starting", "degraded")


def test_ready_and_health_ok(vm):
    assert json.loads(wait_ready(vm)) == {"ready": True}
    status, health = vm.health()
    assert health["status"] == "ok"
    # The image's CLIs can run in either flavour (a CLI user each, and a
    # /tmp, /var/tmp, /dev/shm and IPC namespace of its own).
    assert "cli_error" not in health, health


def test_boot_block_in_order(vm):
    wait_ready(vm)  # ready_ms is there from then on
    _, body = vm.health()
    boot = body["boot"]
    for phase in ("exec_ms", "network_ms", "http_ms", "ready_ms"):
        assert isinstance(boot[phase], int), f"{phase} missing: {boot}"
    # Milliseconds since kernel start: each phase after the one before.
    assert 0 < boot["exec_ms"] <= boot["network_ms"] <= boot["http_ms"]
    assert boot["ready_ms"] >= boot["exec_ms"]


def test_rfb_only_through_novnc(vm):
    """As shipped, x11vnc listens on a unix socket in the guest only: noVNC's
    WebSocket with the desktop secret reaches it, while the forwarded RFB
    port (qemu connects to the guest's 10.0.2.15:5901) gets no banner."""
    def through_novnc():
        status, frame = ws_upgrade("127.0.0.1", vm.ports["novnc"], f"/websockify?token={vm.desktop_secret}")
        return frame if status and " 101 " in status else None

    def rfb_banner():
        with socket.create_connection(("127.0.0.1", vm.ports["vnc"]), timeout=30) as s:
            try:
                return s.recv(12)
            except ConnectionResetError:
                return b""
    assert qemu.wait_until(through_novnc, 60, "RFB through noVNC", vm.proc) == b"RFB 003.008\n"
    assert rfb_banner() == b""
    # Under systemd, noVNC's port is systemd's socket (it stays taken while
    # the agent restarts), handed to websockify.
    held = "noVNC's port 6080 is held by socket activation: it stays taken while the agent restarts."
    if vm.mode == "systemd":
        vm.console_shows(re.escape(held))
    assert (held in vm.console_text()) == (vm.mode == "systemd"), vm.console_text()[-3000:]
    assert "Ignoring the 'novnc' socket" not in vm.console_text()


def test_novnc_page_on_forwarded_port(vm):
    status, body = vm.http("/vnc.html", service="novnc")
    assert status == 200
    assert b"<title>noVNC</title>" in body


def test_novnc_page_loads_whole_as_a_browser_fetches_it(vm):
    """Every file of the noVNC page the image serves, six connections at a
    time as a browser opens them, each a connection of its own (websockify
    answers HTTP/1.0), all from the one address qemu forwards from: the
    limit of connections per address must not refuse a page load, with
    the processes websockify forks for them exiting at emulated speed."""
    def status_of(path):
        """The status, the whole answer read as a browser reads it."""
        return path, http_status(http_raw(vm.ports["novnc"], f"GET /{path} HTTP/1.0\r\n\r\n".encode()))

    qemu.wait_until(lambda: (vm.try_http("/health/ready") or (None,))[0] == 200, READY_TIMEOUT,
                    "/health/ready 200 (websockify up)", vm.proc)
    web = pathlib.Path("/usr/share/novnc")  # the same Debian package as the image's
    paths = sorted(str(p.relative_to(web)) for p in web.rglob("*") if p.is_file())
    assert len(paths) > 50, paths
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        failed = [r for r in pool.map(status_of, paths) if r[1] != b"200"]
    assert failed == [], failed


def test_console_shows_agent_log(vm):
    vm.console_shows(r"vm-browser-agent(\[\d+\])?: ")


def test_xvfb_keeps_its_keymap_to_itself(vm):
    # /var/lib/xkb is vmba-x's alone (test_image_contents): the agent does
    # not warn that Xvfb's keymap goes to /tmp, where another user could
    # take its name first.
    text = vm.console_shows("Service Xvfb ready")
    assert "so Xvfb compiles its keymap into" not in text, text[-2000:]


def test_browser_downloads_off_the_disk(vm):
    # A page's downloads fill a tmpfs of their own, as shipped (the real
    # Firefox filling it: tests/netns/test_browser.py).
    vm.console_shows(re.escape("The browser's downloads go to a tmpfs of 32 MiB "
                                "(/var/lib/vm-browser-agent/browser/Downloads), not to the disk."))


def test_network_facing_servers_not_root(vm):
    # The image's users: Xvfb as vmba-x, x11vnc and websockify as vmba-vnc
    # (they reached ready, so they read their copies of the cookie and the
    # secret), the browser's bus as vmba-browser.
    vm.console_shows(*[rf"Service {name} started \(pid \d+, as {user}\)\."
                        for name, user in (("Xvfb", "vmba-x"), ("x11vnc", "vmba-vnc"), ("websockify", "vmba-vnc"),
                                           ("browser-bus", "vmba-browser"))])


def test_services_have_their_own_ipc_namespace(vm):
    # The guest kernel makes the agent an IPC namespace with
    # shm_rmid_forced (on failure it says so, naming which).
    text = vm.console_shows("Service x11vnc ready")
    assert "Shared memory goes with the services that leave it (their own IPC namespace" in text, text[-3000:]
    assert "Failed to create an IPC namespace" not in text, text[-3000:]


def test_proc_hides_other_users_processes(vm):
    # As PID 1 the agent mounts /proc with hidepid=invisible (every process
    # of the VM is its descendant); under systemd the unit's
    # ProtectProc=invisible gives the unit such a /proc: no service sees
    # another user's processes or command lines (Firefox's carries the
    # OAuth URL).  Everything above ran with it.
    text = vm.console_shows(r"The services see only their own user's processes in /proc \([^)]*hidepid=invisible")
    assert "/proc shows every process" not in text, text[-3000:]


def test_loopback_connections_counted_per_user(vm):
    # The kernel's TCP socket diagnostics (inet_diag, tcp_diag: modules the
    # initramfs loads) tell the agent who holds a loopback connection.
    text = vm.console_shows(re.escape("Loopback HTTP connections are counted per local user "
                                       "(TCP socket diagnostics)."))
    assert "share one client's limit" not in text, text[-3000:]


def test_services_get_cgroups_of_their_own(vm):
    # As PID 1 the agent mounts cgroup2 and puts each service in a cgroup
    # of its own beside its own leaf; under systemd the unit's Delegate=yes
    # hands it its cgroup for that.  A process a service left in a session
    # of its own then goes with the service (tests/netns/test_supervisor.py).
    where = "/sys/fs/cgroup" if vm.mode == "pid1" else "/sys/fs/cgroup/system.slice/vm-browser-agent.service"
    text = vm.console_shows(re.escape(f"Services get cgroups of their own in {where}."))
    assert "Services get no cgroups" not in text, text[-3000:]


def test_logins_get_a_memory_max(vm):
    # The memory controller is there in a real VM's cgroup2 (the agent's
    # own as PID 1; delegated with the rest under systemd): each login's
    # cgroup gets login_memory_max_mb (tests/netns/test_login_memory.py,
    # where this machine's cgroup2 has it).
    text = vm.console_shows(re.escape("Provider CLIs get memory.max 1024 MiB in their logins' cgroups."))
    assert "Provider CLIs get no memory.max" not in text, text[-3000:]


def test_the_browser_gets_a_memory_max(vm):
    # So does the browser's (firefox.service) with browser_memory_max_mb:
    # the memory controller enabled below the agent's cgroups, it is set at
    # each of its starts (tests/netns/test_login_memory.py checks the value
    # and an OOM kill's restart where this machine's cgroup2 has it).
    text = vm.console_shows(re.escape("The browser gets memory.max 1536 MiB in its cgroup."))
    assert "The browser gets no memory.max" not in text, text[-3000:]


def test_link_protections_on(vm):
    # The kernel leaves fs.protected_{symlinks,hardlinks,fifos,regular}
    # off; systemd turns them on at boot, and so does the agent as the
    # machine's own PID 1 (said once all four are written).
    if vm.mode == "pid1":
        vm.console_shows(re.escape("Link protections on (fs.protected_symlinks, _hardlinks, _fifos, _regular = 1)."))
    text = vm.console_text()
    assert "Failed to set fs.protected_" not in text, text[-3000:]


def test_shutdown_ends_vm(vm):
    status, _ = vm.http("/shutdown", method="POST", data=b"")
    assert status in (200, 202)
    assert vm.wait_exit(STOP_TIMEOUT) == 0, vm.console_text()[-2000:]


@pytest.mark.parametrize("mode", ["pid1", "systemd"])
def test_ctrl_alt_del_from_host_stops_vm(image, mode):
    """The host's clean stop without HTTP: Ctrl-Alt-Del over QMP becomes
    SIGINT for PID 1 (the agent stops its services; systemd reboots), and
    qemu (-no-reboot) exits."""
    with qemu.Vm(image, mode=mode) as v:
        try:
            v.wait_http_200("/health", BOOT_TIMEOUT)
        except Exception as e:
            pytest.fail(f"{mode}: {e}\n{v.console_text()[-3000:]}")
        assert v.ctrl_alt_del() == {"return": {}}
        assert v.wait_exit(STOP_TIMEOUT) == 0, v.console_text()[-2000:]
        # The agent remounts the root read-only as the VM's init only;
        # under systemd it is a service and systemd-shutdown does that.
        remounted = "vm-browser-agent: Remounted / read-only." in v.console_text()
        assert remounted == (mode == "pid1"), v.console_text()[-3000:]
        if mode == "pid1":
            assert "vm-browser-agent: Shutting down: SIGINT." in v.console_text()


def test_machine_id_from_boot_argument(image):
    """As PID 1 the agent makes systemd.machine_id= the machine id before
    the services start (the golden image's root is writable: written in
    place); a malformed later one is refused by name and the valid one
    stays.  Read back from the VM's own rootfs copy once it has stopped,
    which the agent's shutdown left clean (the root read-only before the
    reboot)."""
    want = "fedcba9876543210fedcba9876543210"
    with qemu.Vm(image, mode="pid1", rootfs_copy=True,
                 extra_cmdline=f"systemd.machine_id={want.upper()} systemd.machine_id=bogus") as v:
        try:
            v.wait_http_200("/health", BOOT_TIMEOUT)
        except Exception as e:
            pytest.fail(f"{e}\n{v.console_text()[-3000:]}")
        text = v.console_shows(re.escape("Machine id from systemd.machine_id= written to /etc/machine-id."),
                               re.escape("Refused systemd.machine_id=bogus: not 32 hex digits or a UUID "
                                         "(8-4-4-4-12); a valid one applies."))
        # Before any service: the line precedes the supervisor's first start.
        assert text.index("Machine id from systemd.machine_id=") < text.index("Service Xvfb started"), text[-3000:]
        status, _ = v.http("/shutdown", method="POST", data=b"")
        assert status in (200, 202)
        assert v.wait_exit(STOP_TIMEOUT) == 0, v.console_text()[-2000:]
        assert "vm-browser-agent: Remounted / read-only." in v.console_text(), v.console_text()[-3000:]
        # Left clean, as after any init's shutdown: ext4 wrote back what
        # its journal held, so debugfs, which replays no journal, reads
        # what the agent wrote (with the root left writable: an empty
        # file, under load).
        head = subprocess.run(["dumpe2fs", "-h", str(v.rootfs)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"^Filesystem state:\s+clean$", head, re.M), head
        features = re.search(r"^Filesystem features:(.*)$", head, re.M).group(1).split()
        assert "needs_recovery" not in features, head
        r = subprocess.run(["debugfs", "-R", "cat /etc/machine-id", str(v.rootfs)],
                           capture_output=True, text=True, check=True)
        assert r.stdout == want + "\n"


def _debugfs(image, *requests):
    r = subprocess.run(["debugfs", "-R", " ".join(requests), str(image / "rootfs.ext4")],
                       capture_output=True, text=True, check=True)
    return r.stdout


def test_image_contents(image, agent_bin, tmp_path):
    """What mkimage put into the ext4 image, read without booting it."""
    agent = pathlib.Path(os.environ.get("VMBA_AGENT") or agent_bin)
    dumped = tmp_path / "agent"
    _debugfs(image, "dump", "/usr/sbin/vm-browser-agent", str(dumped))
    assert dumped.read_bytes() == agent.read_bytes()
    assert _debugfs(image, "cat", "/etc/vm-browser-agent/build-id") == (image / "build-id").read_text()
    assert _debugfs(image, "cat", "/etc/resolv.conf") == ""
    assert json.loads(_debugfs(image, "cat", "/etc/vm-browser-agent/agent.json")) == {"netinit": True}
    wants = _debugfs(image, "ls", "-l", "/etc/systemd/system/multi-user.target.wants")
    assert "vm-browser-agent.service" in wants
    sockets = _debugfs(image, "ls", "/etc/systemd/system/sockets.target.wants")
    assert "vm-browser-agent.socket" in sockets and "vm-browser-agent-novnc.socket" in sockets, sockets
    assert _debugfs(image, "stat", "/etc/systemd/system/serial-getty@ttyS0.service").count("Fast link dest: \"/dev/null\"") == 1
    # Xvfb's compiled keymap goes into a directory of its user's own, not
    # to a name in /tmp that another user could take first.
    xkb = _debugfs(image, "stat", "/var/lib/xkb")
    uid = _debugfs(image, "cat", "/etc/passwd").split("vmba-x:x:")[1].split(":")[0]
    assert re.search(r"Mode:\s+0700\b", xkb) and re.search(rf"User:\s+{uid}\b", xkb), xkb
    # No account but root has a shell (novnc's postinst adds `nova` with
    # /bin/bash).
    passwd = _debugfs(image, "cat", "/etc/passwd")
    shells = {f[0]: f[6] for f in (line.split(":") for line in passwd.splitlines()) if len(f) == 7}
    assert "vmba-cli" in shells and "root" in shells, passwd
    # The CLIs' users, one per live login (cli_users, 8), with vmba-cli's
    # group for theirs.
    groups = {f[0]: f[3] for f in (line.split(":") for line in passwd.splitlines()) if len(f) == 7}
    assert {f"vmba-cli{n}" for n in range(1, 9)} <= shells.keys(), passwd
    assert {groups[f"vmba-cli{n}"] for n in range(1, 9)} == {groups["vmba-cli"]}, passwd
    assert {u: sh for u, sh in shells.items()
            if u != "root" and sh not in ("/usr/sbin/nologin", "/bin/false")} == {}
    # D-Bus reads the one machine id, not a second one of its own.
    assert 'Fast link dest: "/etc/machine-id"' in _debugfs(image, "stat", "/var/lib/dbus/machine-id")
    # Firefox's DNS goes to the resolver the host gave, never over HTTPS
    # around it (a regional rollout turns DoH on by itself).
    policies = json.loads(_debugfs(image, "cat", "/etc/firefox/policies/policies.json"))["policies"]
    assert policies["DNSOverHTTPS"] == {"Enabled": False, "Locked": True}
