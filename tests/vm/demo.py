"""The demo VM's login, shared by packaging/demo-vm.py and the vm tier's
test_demo_vm.py, so the test runs what the demo runs.

The demo VM boots its own copy of the image's rootfs (qemu.Vm `files`)
holding the fake provider `demo` (packaging/demo-login/: `demo-cli`, a
self-contained python3 script that signs in against itself inside the VM,
and `provider.json`, its entry) and a providers.json that is the shipped
packaging/providers.json plus that entry.  Neither ever goes into the image
packaging/mkimage builds.  The host's side of the login is the agent's own
`vm-browser-agent ctl` (agent/ctl/ctl.c): `wait-ready`, then `login demo`,
which prints the authorize URL, waits for the sign-in and writes the
credentials 0600 to the file named; the agent delivers them once.
"""
import json
import os
import pathlib
import subprocess

import qemu

DEMO_DIR = qemu.TOP / "packaging" / "demo-login"
CLI = DEMO_DIR / "demo-cli"
PROVIDER = json.loads((DEMO_DIR / "provider.json").read_text())
SHIPPED_PROVIDERS = qemu.TOP / "packaging" / "providers.json"
GUEST_PROVIDERS = "/etc/vm-browser-agent/providers.json"   # the agent's providers_file


def agent_binary():
    """The binary packaging/mkimage puts into the image, in its order
    ($VMBA_AGENT, the static build, $VMBA_BIN, the test build), or None:
    the host runs the same one as `ctl`."""
    for c in (os.environ.get("VMBA_AGENT"), qemu.TOP / "build-static/agent/vm-browser-agent",
              os.environ.get("VMBA_BIN"), qemu.TOP / "build-tests/plain/agent/vm-browser-agent"):
        if c and os.access(c, os.X_OK):
            return pathlib.Path(c)
    return None


def providers_with_demo():
    """The shipped providers.json's providers plus `demo`."""
    shipped = json.loads(SHIPPED_PROVIDERS.read_text())
    return {**shipped, "providers": shipped["providers"] + [PROVIDER]}


def rootfs_files(workdir):
    """The demo's (host path, guest path, mode) triples for qemu.Vm(files=):
    the fake CLI where provider.json's argv names it, and the providers file."""
    providers = pathlib.Path(workdir) / "providers.json"
    providers.write_text(json.dumps(providers_with_demo(), indent=2) + "\n")
    return [(CLI, PROVIDER["argv"][0], "0755"), (providers, GUEST_PROVIDERS, "0644")]


def new_vm(image, workdir, mode="pid1", memory=1536):
    """A q35 qemu.Vm (not started) booting its own rootfs copy with the demo
    provider in it."""
    return qemu.Vm(image, mode=mode, memory=memory, workdir=workdir, files=rootfs_files(workdir))


def secret_files(vm):
    """The VM's token and desktop secret as files for ctl (0600, in its
    workdir): ctl reads secrets from files, never from arguments."""
    paths = {}
    for name, value in (("token", vm.token), ("desktop-secret", vm.desktop_secret)):
        p = vm.workdir / f"{name}.ctl"
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        paths[name] = p
    return paths


def remove_secret_files(vm):
    for name in ("token", "desktop-secret"):
        (vm.workdir / f"{name}.ctl").unlink(missing_ok=True)


def ctl_argv(agent, vm, *command, timeout=600):
    files = secret_files(vm)
    return [str(agent), "ctl", "--agent", vm.url(""), "--token-file", str(files["token"]),
            "--desktop-secret-file", str(files["desktop-secret"]),
            "--novnc", f"http://127.0.0.1:{vm.ports['novnc']}", "--timeout", str(timeout), *command]


def run_ctl(agent, vm, *command, timeout=600, echo=None):
    """Runs `vm-browser-agent ctl ... COMMAND` against the VM; returns (exit
    status, its output, stdout and stderr together).  Each line is also
    written to `echo` (a text file) as it comes: the demo shows it live.
    Waiting is ctl's own (long polls); `timeout` is ctl's --timeout."""
    p = subprocess.Popen(ctl_argv(agent, vm, *command, timeout=timeout), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    with p:
        for line in p.stdout:
            lines.append(line)
            if echo:
                echo.write(f"  ctl: {line}")
                echo.flush()
    return p.returncode, "".join(lines)


def wait_ready(agent, vm, timeout=600, echo=None):
    return run_ctl(agent, vm, "wait-ready", timeout=timeout, echo=echo)


def login(agent, vm, out, session=None, timeout=600, echo=None):
    """The login round trip through ctl: the credentials end in `out`."""
    extra = ["--session", session] if session else []
    return run_ctl(agent, vm, *extra, "--out", str(out), "login", PROVIDER["id"],
                   timeout=timeout, echo=echo)
