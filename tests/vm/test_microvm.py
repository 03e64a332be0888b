"""The vm tier on the Firecracker shape: the same image on qemu -M microvm.

What a Firecracker host runs, as far as this machine can show it without
KVM or a Firecracker binary: `qemu -M microvm,acpi=on` (no PCI; the
virtio-MMIO disk and NIC found through ACPI, as under Firecracker >= 1.8),
the ELF `vmlinux` mkimage extracted, the image's initramfs, an i8042 (as
Firecracker has), and the host's boot arguments from the image's
firecracker.json — ip= moved to qemu's user network, plus only what TCG
needs (the guest's TSC rate) and, in systemd mode, init=/lib/systemd/systemd.
No init= in PID-1 mode: the image's /sbin/init is the agent.  No vmba.*
words: the control token and the desktop secret are files written into
each VM's own copy of rootfs.ext4 (packaging/vm-secrets), as a host does.

The two modes boot together (one VM each, for the module), then two more
for Ctrl-Alt-Del.  The image comes from conftest.py (one build per run).
"""
import importlib.machinery
import importlib.util
import json
import pathlib
import re
import shutil
import subprocess

import firecracker_schema
from firecracker_default import HOST_BOOT_ARGS, default_config
import pytest

import qemu

BOOT_TIMEOUT = 180   # qemu start -> first /health 200 (TCG, 2 shared cores)
READY_TIMEOUT = 240  # -> /health/ready 200
STOP_TIMEOUT = 90    # POST /shutdown or Ctrl-Alt-Del -> qemu exited

MODES = ("pid1", "systemd")
# The host's boot arguments (firecracker.json) on qemu's user network.
QEMU_BOOT_ARGS = HOST_BOOT_ARGS.replace("ip=192.168.100.2::192.168.100.1:", "ip=10.0.2.15::10.0.2.2:")
EXPECTED_NETWORK = {
    "status": "applied", "device": "eth0", "method": "static",
    "address": qemu.GUEST_IP, "prefix": 24, "gateway": qemu.GATEWAY,
    "dns": [], "mtu": None, "error": None,
    # The agent raised the port floor above Codex's callback ports.
    "unprivileged_port_start": 1458,
}
# Modules the initramfs must load (built in counts too), for both machines.
REQUIRED_MODULES = ("virtio_ring", "virtio", "virtio_mmio", "virtio_pci", "virtio_blk", "failover",
                    "net_failover", "virtio_net", "vsock", "vmw_vsock_virtio_transport_common",
                    "vmw_vsock_virtio_transport", "inet_diag", "tcp_diag")
NO_SESSION = "/credentials/status?sessionId=00000000-0000-0000-0000-000000000000"


def _load_script(name):
    path = qemu.TOP / "packaging" / name
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def _kver():
    return qemu.kernel_path().name[len("vmlinuz-"):]


# ---- the artifacts, without booting ------------------------------------------

def test_firecracker_config(image):
    """firecracker.json passes Firecracker's field check and points at this
    image's ELF kernel and initramfs, and a VM's own copy of the root
    filesystem, never the image's (booted read-write, it would collect
    every VM's profile and secrets)."""
    cfg = json.loads((image / "firecracker.json").read_text())
    assert firecracker_schema.errors(cfg) == []
    assert cfg == default_config(image)


def test_vmlinux_is_the_elf_of_vmlinuz_with_a_pvh_note(image):
    xv = _load_script("extract-vmlinux")
    elf = (image / "vmlinux").read_bytes()
    assert xv.pvh_entry(elf) > 0
    name, extracted, _ = xv.extract((image / "vmlinuz").read_bytes())
    assert extracted == elf, f"vmlinux is not what {name} vmlinuz decompresses to"


def _initrd_file(image, tmp_path, name):
    out = tmp_path / "initrd"
    out.mkdir()
    with open(image / "initrd.img", "rb") as f:
        cpio = subprocess.run(["gzip", "-dc"], stdin=f, stdout=subprocess.PIPE, check=True).stdout
    subprocess.run(["cpio", "-i", "--quiet", "-d", name], input=cpio, cwd=out, check=True)
    return (out / name).read_text()


def test_initramfs_loads_both_transports_in_dependency_order(image, tmp_path):
    order = [line.rsplit("/", 1)[-1].removesuffix(".ko")
             for line in _initrd_file(image, tmp_path, "modules.order").split()]
    kver = _kver()
    builtin = (pathlib.Path("/lib/modules") / kver / "modules.builtin").read_text()
    for m in REQUIRED_MODULES:
        assert m in order or f"/{m}.ko\n" in builtin, f"{m} neither in the initramfs nor built in: {order}"
    # Each module after everything it depends on (modinfo's depends=).
    for i, m in enumerate(order):
        deps = subprocess.run(["modinfo", "-k", kver, "-F", "depends", m.replace("-", "_")],
                              capture_output=True, text=True, check=True).stdout.strip()
        for d in filter(None, deps.split(",")):
            assert d in order[:i] or f"/{d}.ko\n" in builtin, f"{m} loads before its dependency {d}: {order}"


def _module_tree(root, kver, leave_out):
    """A copy of the kernel's module tree holding only the initramfs's
    modules, minus `leave_out`, indexed by depmod."""
    real = pathlib.Path("/lib/modules") / kver
    mods = root / "lib/modules" / kver
    mods.mkdir(parents=True)
    for f in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
        shutil.copy(real / f, mods / f)
    for m in REQUIRED_MODULES + ("virtio_rng",):
        deps = subprocess.run(["modprobe", "--show-depends", "-S", kver, m],
                              capture_output=True, text=True).stdout
        for line in deps.splitlines():
            verb, path = line.split()[:2]
            rel = pathlib.Path(path).relative_to(real)
            if verb == "insmod" and rel.name.removesuffix(".ko") != leave_out:
                (mods / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, mods / rel)
    subprocess.run(["depmod", "-b", str(root), kver], check=True, capture_output=True)


@pytest.mark.parametrize("missing", [None, "virtio_mmio", "net_failover", "vmw_vsock_virtio_transport", "tcp_diag"])
def test_missing_module_fails_the_initramfs_build(tmp_path, missing):
    """Each module a machine needs is required: without it mkinitramfs
    fails naming it (and writes nothing); with all of them it succeeds."""
    if not qemu.kernel_path():
        pytest.skip("no /boot/vmlinuz-*-cloud-amd64")
    kver = _kver()
    _module_tree(tmp_path / "root", kver, missing)
    init = tmp_path / "init"
    init.write_text("#!/bin/sh\n")
    out = tmp_path / "out.img"
    r = subprocess.run([str(qemu.MKINITRAMFS), "--kver", kver, "--root", str(tmp_path / "root"),
                        "--init", str(init), str(out)], capture_output=True, text=True)
    if missing is None:
        assert (r.returncode, out.exists()) == (0, True), r.stderr
    else:
        assert r.returncode == 1
        assert r.stderr == f"mkinitramfs: kernel {kver} has no module {missing} (and it is not built in)\n"
        assert not out.exists()


def _debugfs(fs, request):
    return subprocess.run(["debugfs", "-R", request, str(fs)], capture_output=True, text=True,
                          check=True).stdout


def test_sbin_init_is_the_agent(image):
    """No init= on the host's command line: /sbin/init runs, and it is the
    agent; systemd-sysv's link is diverted beside it."""
    rootfs = image / "rootfs.ext4"
    assert 'Fast link dest: "vm-browser-agent"' in _debugfs(rootfs, "stat /usr/sbin/init")
    assert 'Fast link dest: "/lib/systemd/systemd"' in _debugfs(rootfs, "stat /usr/sbin/init.systemd")
    assert "/sbin/init\n/sbin/init.systemd\n:\n" in _debugfs(rootfs, "cat /var/lib/dpkg/diversions")


# ---- packaging/vm-secrets on a small ext4 ------------------------------------

@pytest.fixture
def small_fs(tmp_path):
    (tmp_path / "tree/etc/vm-browser-agent").mkdir(parents=True)
    fs = tmp_path / "fs.ext4"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tmp_path / "tree"), str(fs), "8M"],
                   check=True, capture_output=True)
    return fs


def _secrets(*args):
    return subprocess.run([str(qemu.VM_SECRETS), *map(str, args)], capture_output=True, text=True)


def _secret_file(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    p.chmod(0o600)
    return p


def _stat_line(fs, path):
    s = _debugfs(fs, f"stat {path}")
    return (re.search(r"Type: (\w+) +Mode: +(\d+)", s).groups(),
            re.search(r"User: +(\d+) +Group: +(\d+)", s).groups())


def test_vm_secrets_writes_both_files_root_0600(tmp_path, small_fs):
    token = _secret_file(tmp_path, "t", "tok-1\n")
    desk = _secret_file(tmp_path, "d", "desk-1")
    small_fs.chmod(0o644)
    r = _secrets("--token-file", token, "--desktop-secret-file", desk, small_fs)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    # Any host user could read the secrets out of it (debugfs).
    assert small_fs.stat().st_mode & 0o077 == 0
    for name, text in (("token", "tok-1\n"), ("desktop-secret", "desk-1")):
        path = f"/etc/vm-browser-agent/{name}"
        assert _debugfs(small_fs, f"cat {path}") == text
        assert _stat_line(small_fs, path) == (("regular", "0600"), ("0", "0"))
    # A second run replaces what it is given and leaves the rest.
    r = _secrets("--token-file", _secret_file(tmp_path, "t2", "tok-2\n"), small_fs)
    assert r.returncode == 0, r.stderr
    assert _debugfs(small_fs, "cat /etc/vm-browser-agent/token") == "tok-2\n"
    assert _debugfs(small_fs, "cat /etc/vm-browser-agent/desktop-secret") == "desk-1"


def test_vm_secrets_copy_leaves_the_golden_image_alone(tmp_path, small_fs):
    copy = tmp_path / "vm1.ext4"
    small_fs.chmod(0o644)  # as mkimage leaves the golden one
    r = _secrets("--copy-from", small_fs, "--token-file", _secret_file(tmp_path, "t", "tok\n"), copy)
    assert r.returncode == 0, r.stderr
    assert copy.stat().st_mode & 0o777 == 0o600 and small_fs.stat().st_mode & 0o777 == 0o644
    assert _debugfs(copy, "cat /etc/vm-browser-agent/token") == "tok\n"
    assert "token" not in _debugfs(small_fs, "ls /etc/vm-browser-agent")


@pytest.mark.parametrize("content,message", [
    ("a\nb\n", "more than one line"),
    ("a\nb", "more than one line"),
    ("\n", "empty"),
    ("", "empty"),
    ("x" * 4097, "over 4096 bytes"),
    ("tab\there\n", "not printable ASCII"),
])
def test_vm_secrets_refuses_what_the_agent_would_misread(tmp_path, small_fs, content, message):
    bad = _secret_file(tmp_path, "bad", content)
    r = _secrets("--token-file", bad, small_fs)
    assert (r.returncode, r.stderr) == (1, f"vm-secrets: {bad}: {message}\n")
    assert "token" not in _debugfs(small_fs, "ls /etc/vm-browser-agent")


def test_vm_secrets_usage_and_foreign_images(tmp_path, small_fs):
    assert _secrets(small_fs).returncode == 2
    assert _secrets("--token", "x", small_fs).returncode == 2
    empty = tmp_path / "empty.ext4"
    subprocess.run(["mkfs.ext4", "-q", "-F", str(empty), "8M"], check=True, capture_output=True)
    r = _secrets("--token-file", _secret_file(tmp_path, "t", "tok\n"), empty)
    assert (r.returncode, r.stderr) == (1, f"vm-secrets: {empty}: no /etc/vm-browser-agent (not a vm-browser-agent image?)\n")



def test_vm_secrets_add_file_makes_parents_and_replaces(tmp_path, small_fs):
    cli = tmp_path / "cli"
    cli.write_text("#!/usr/bin/python3\n")
    prov = tmp_path / "p:1.json"  # a colon in SRC is fine: DEST and MODE end the spec
    prov.write_text('{"providers": []}\n')
    r = _secrets("--add-file", f"{cli}:/usr/local/lib/demo/cli:755",
                 "--add-file", f"{prov}:/etc/vm-browser-agent/providers.json:0644", small_fs)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert _debugfs(small_fs, "cat /usr/local/lib/demo/cli") == "#!/usr/bin/python3\n"
    assert _stat_line(small_fs, "/usr/local/lib/demo/cli") == (("regular", "0755"), ("0", "0"))
    assert _stat_line(small_fs, "/usr/local/lib/demo") == (("directory", "0755"), ("0", "0"))
    assert _stat_line(small_fs, "/etc/vm-browser-agent/providers.json") == (("regular", "0644"), ("0", "0"))
    # Nothing lands in the directory debugfs was in before (it once made
    # /etc/vm-browser-agent/usr).
    assert "usr" not in _debugfs(small_fs, "ls /etc/vm-browser-agent").split()
    prov.write_text('{"providers": [1]}\n')
    r = _secrets("--add-file", f"{prov}:/etc/vm-browser-agent/providers.json:0600", small_fs)
    assert r.returncode == 0, r.stderr
    assert _debugfs(small_fs, "cat /etc/vm-browser-agent/providers.json") == '{"providers": [1]}\n'
    assert _stat_line(small_fs, "/etc/vm-browser-agent/providers.json") == (("regular", "0600"), ("0", "0"))


@pytest.mark.parametrize("spec,message", [
    ("SRC", "want SRC:DEST:MODE"),
    ("SRC:/x", "want SRC:DEST:MODE"),
    ("SRC:/x:0999", "MODE must be octal like 0644"),
    ("SRC:relative/x:0644", "DEST must be an absolute path of plain names"),
    ("SRC:/usr/../etc/x:0644", "DEST must be an absolute path of plain names"),
    ("SRC:/a b:0644", "DEST must be an absolute path of plain names"),
    ("SRC:/x/:0644", "DEST must be an absolute path of plain names"),
])
def test_vm_secrets_add_file_refuses_bad_specs(tmp_path, small_fs, spec, message):
    src = tmp_path / "f"
    src.write_text("x")
    spec = spec.replace("SRC", str(src))
    r = _secrets("--add-file", spec, small_fs)
    assert (r.returncode, r.stderr) == (1, f"vm-secrets: --add-file {spec}: {message}\n")

# ---- booted: one VM per mode, started together --------------------------------

def _boot_pair(image):
    """(vms, errors): a microvm per mode, started at once, each waited for
    until /health answers 200; errors[mode] holds why one did not."""
    vms, errors = {}, {}
    try:
        for m in MODES:
            vms[m] = qemu.Vm(image, mode=m, machine="microvm").start()
    except Exception:
        for v in vms.values():
            v.close(keep=True)
        raise
    for m, v in vms.items():
        try:
            v.first_200_s, _ = v.wait_http_200("/health", BOOT_TIMEOUT)
        except Exception as e:
            errors[m] = f"{m}: {e}\n--- console ({v.console}) ---\n{v.console_text()[-3000:]}"
            v.stop()
    return vms, errors


@pytest.fixture(scope="module")
def pair(image):
    vms, errors = _boot_pair(image)
    yield vms, errors
    for m, v in vms.items():
        v.close(keep=m in errors)


@pytest.fixture(params=MODES)
def vm(request, pair):
    vms, errors = pair
    if request.param in errors:
        pytest.fail(errors[request.param])
    return vms[request.param]


def _expected_cmdline(mode):
    args = QEMU_BOOT_ARGS
    if qemu.accelerator() == "tcg":
        args += f" tsc_early_khz={qemu.host_tsc_khz()} tsc=reliable"
    if mode == "systemd":
        args += " init=/lib/systemd/systemd"
    return args


def test_kernel_got_the_host_boot_args(vm):
    m = re.search(r"Command line: (.*)", vm.console_text())
    assert m and m.group(1).strip() == _expected_cmdline(vm.mode)


def test_agent_is_pid1_through_sbin_init_or_a_service(vm):
    # Waited for: under systemd journald forwards the line some time
    # after the agent logged it.
    if vm.mode == "pid1":
        vm.console_shows(r"vm-browser-agent: vm-browser-agent \S+ starting as PID 1\.")
    else:
        vm.console_shows(r"vm-browser-agent\[\d+\]: vm-browser-agent: vm-browser-agent \S+ starting\.")


def test_health_network_and_secrets_from_rootfs_files(vm, image):
    status, body = vm.http("/health")
    assert status == 200
    health = json.loads(body)
    assert health["network"] == EXPECTED_NETWORK
    assert (health["auth"], health["desktop"]) == ("token", "secret")
    assert health["build_id"] == (image / "build-id").read_text().strip()
    assert vm.token.encode() not in body and vm.desktop_secret.encode() not in body


def test_control_routes_need_the_token_from_the_file(vm):
    assert vm.http(NO_SESSION, headers={"Authorization": ""})[0] == 401
    assert vm.http(NO_SESSION, headers={"Authorization": "Bearer " + "0" * 32})[0] == 401
    assert vm.http(NO_SESSION) == (404, b'{"error":"Session not found"}')


def test_ready(vm):
    def ready():
        r = vm.try_http("/health/ready")
        return r if r and r[0] == 200 else None
    _, body = qemu.wait_until(ready, READY_TIMEOUT, "/health/ready 200", vm.proc)
    assert json.loads(body) == {"ready": True}


def _assert_clean_reboot(vm):
    """qemu exited because the guest rebooted (reboot=k, -no-reboot) after
    its init stopped, not because the kernel panicked (panic=1 too ends
    qemu)."""
    text = vm.console_text()
    assert "Kernel panic" not in text, text[-2000:]
    assert "reboot: Restarting system" in text, text[-2000:]
    if vm.mode == "pid1":
        assert "vm-browser-agent: Stopped; reboot." in text, text[-2000:]
    else:
        assert "systemd-shutdown[1]: Rebooting." in text, text[-2000:]


def test_shutdown_ends_vm(vm):
    status, _ = vm.http("/shutdown", method="POST", data=b"")
    assert status in (200, 202)
    assert vm.wait_exit(STOP_TIMEOUT) == 0, vm.console_text()[-2000:]
    _assert_clean_reboot(vm)


# ---- Ctrl-Alt-Del: a second pair ---------------------------------------------

@pytest.fixture(scope="module")
def cad_pair(image):
    vms, errors = _boot_pair(image)
    yield vms, errors
    for m, v in vms.items():
        v.close(keep=m in errors)


@pytest.mark.parametrize("mode", MODES)
def test_ctrl_alt_del_stops_vm(cad_pair, mode):
    """The host's clean stop without HTTP (Firecracker's SendCtrlAltDel):
    the i8042 turns the keys into SIGINT for PID 1 (the agent stops its
    services; systemd starts ctrl-alt-del.target), and qemu exits."""
    vms, errors = cad_pair
    if mode in errors:
        pytest.fail(errors[mode])
    v = vms[mode]
    assert v.ctrl_alt_del() == {"return": {}}
    assert v.wait_exit(STOP_TIMEOUT) == 0, v.console_text()[-2000:]
    _assert_clean_reboot(v)
    if mode == "pid1":
        assert "vm-browser-agent: Shutting down: SIGINT." in v.console_text()
