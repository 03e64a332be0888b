"""Boots VM images under qemu for the vm tier, the boot benchmark and the demo.

`Vm` starts qemu-system-x86_64 with a kernel, an initramfs, optionally the
golden image's ext4 root, virtio-net on qemu's user-mode network with the
guest's 8080/5901/6080 forwarded to ports on 127.0.0.1 only (see
`use_private_loopback()`), the
serial console in a file and a QMP monitor on a unix socket (Ctrl-Alt-Del,
or a hard `quit`).  Two machines:

- `q35`: PCI, the bzImage (`vmlinuz`), virtio-*-pci, the root read-only to
  qemu (`snapshot=on`: writes go to a throw-away overlay), the secrets as
  `vmba.*` words on a command line of our own;
- `microvm`: the Firecracker shape — `-M microvm,acpi=on`, no PCI, the
  ELF `vmlinux`, virtio-*-device (MMIO, found through ACPI), an i8042 for
  Ctrl-Alt-Del and the `reboot=k` exit, the host's boot arguments from the
  image's firecracker.json (ip= turned to qemu's user network; under TCG
  plus the guest's TSC rate), and the secrets as a host hands them over:
  files written into the VM's own sparse copy of rootfs.ext4
  (packaging/vm-secrets).

`overlay` (q35) boots a qcow2 overlay of the image's rootfs instead of
`snapshot=on`, which `savevm`/`loadvm` need (their state lives in the
qcow2 file); `cmdline_secrets=False` leaves the secrets off the command
line (the guest takes them from MMDS); `netdev_extra` adds options to the
user network (guestfwd=) and `extra_args` to qemu's (a device, -loadvm);
`forwards_extra` ({name: "guestaddr:port"}) forwards more guest ports,
their host ports picked with the others at each start (`ports[name]`).

`files` (either machine) adds files to the VM's own copy of the rootfs
(vm-secrets --add-file): the demo's fake provider.  On q35 such a VM then
boots its copy instead of the golden image under `snapshot=on`, its
secrets in that copy and not on the command line; `rootfs_copy=True`
does the same without files (the demo's --no-login).

`accelerator()` decides KVM or TCG once: /dev/kvm exists on these machines
but a nested KVM guest may hang early in boot, so a tiny probe guest must
print its marker within a deadline under KVM, else TCG is used.
`accel_option()` is the -accel value: TCG runs all vCPUs on one host
thread (see there).

Readiness is waited for by polling the forwarded port with a deadline
(`wait_until`), never by sleeping a fixed time.  Every deadline here is
multiplied by $VMBA_DEADLINE_SCALE (default 3, as the netns tier's): an
emulated guest on a loaded host gets a fraction of a core.
"""
import fcntl
import itertools
import json
import os
import pathlib
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

TOP = pathlib.Path(__file__).resolve().parents[2]
MKIMAGE = TOP / "packaging" / "mkimage"
MKINITRAMFS = TOP / "packaging" / "mkinitramfs"
VM_SECRETS = TOP / "packaging" / "vm-secrets"
QEMU = "qemu-system-x86_64"
GUEST_IP = "10.0.2.15"
DEADLINE_SCALE = float(os.environ.get("VMBA_DEADLINE_SCALE", "3"))
GATEWAY = "10.0.2.2"
NETMASK = "255.255.255.0"
HOSTNAME = "vm1"
IP_ARG = f"ip={GUEST_IP}::{GATEWAY}:{NETMASK}:{HOSTNAME}:eth0:off"
# The host's ip= (no hostname) on qemu's user network.
MICROVM_IP_ARG = f"ip={GUEST_IP}::{GATEWAY}:{NETMASK}::eth0:off"
MACHINES = ("q35", "microvm")
FORWARDS = {"http": 8080, "vnc": 5901, "novnc": 6080}
# qemu's exit message when a forwarded port was taken after free_port().
PORT_TAKEN = "Could not set up host forwarding rule"
# The forwarded ports' numbers in a private loopback (use_private_loopback()).
PRIVATE_PORTS_FIRST = 20000
PROBE_MARKER = "VMBA-PROBE-OK"

_accel = None
_private_ports = None  # an itertools.count once the caller's loopback is its own


def kernel_path():
    """The newest Debian cloud kernel on this machine, or None."""
    boot = pathlib.Path("/boot")
    found = sorted(boot.glob("vmlinuz-*-cloud-amd64"))
    return found[-1] if found else None


def have_qemu():
    return shutil.which(QEMU) is not None


def use_private_loopback():
    """Says that this process runs (from now on) in a network namespace of
    its own, with nothing but its own guests' forwards bound there (the vm
    tier, once its image is built): forwarded ports are then numbered in
    order from PRIVATE_PORTS_FIRST, each used once, and none can be taken
    between its pick and qemu's bind."""
    global _private_ports
    _private_ports = itertools.count(PRIVATE_PORTS_FIRST)


def free_port():
    """A port for a forward: the next private one, or one the machine's
    loopback has free now (the demo and the benchmarks: another process
    may take it before qemu binds it, see wait_http_200())."""
    if _private_ports is not None:
        return next(_private_ports)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, what, proc=None):
    """Calls pred() until it returns a true value; raises TimeoutError
    after `timeout` s, or RuntimeError when `proc` (qemu) exits first."""
    timeout *= DEADLINE_SCALE
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        v = pred()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"qemu exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def build_image(agent=None, log=None):
    """Runs packaging/mkimage (a no-op when cached); returns the image dir."""
    argv = [str(MKIMAGE)]
    if agent:
        argv += ["--agent", str(agent)]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=log or subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"mkimage failed: {(r.stderr or '')[-2000:]}")
    return pathlib.Path(r.stdout.strip().splitlines()[-1])


def hold_image(image_dir):
    """A shared lock on image_dir/.inuse for as long as the returned file
    is open: packaging/mkimage prunes no image held so (another run, or a
    demo, may build several meanwhile)."""
    f = open(pathlib.Path(image_dir) / ".inuse", "a")
    fcntl.flock(f, fcntl.LOCK_SH)
    return f


def make_initramfs(init_script, out, kver=None):
    """Builds an initramfs around `init_script` with packaging/mkinitramfs."""
    kernel = kernel_path()
    kver = kver or kernel.name[len("vmlinuz-"):]
    subprocess.run([str(MKINITRAMFS), "--kver", kver, "--init", str(init_script), str(out)],
                   check=True, capture_output=True, text=True)
    return out


def _probe(accel, timeout):
    """Boots the probe guest under `accel`; True when it printed its marker
    and powered off within `timeout` seconds."""
    with tempfile.TemporaryDirectory(prefix="vmba-probe-") as d:
        init = pathlib.Path(d) / "init"
        init.write_text("#!/bin/sh\necho " + PROBE_MARKER + " >/dev/console\n/bin/poweroff -f\n")
        initrd = make_initramfs(init, pathlib.Path(d) / "probe.img")
        console = pathlib.Path(d) / "console.log"
        argv = [QEMU, "-accel", accel, "-m", "256", "-display", "none", "-no-reboot",
                "-nodefaults", "-serial", f"file:{console}", "-kernel", str(kernel_path()),
                "-initrd", str(initrd), "-append", "console=ttyS0 panic=-1 quiet"]
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()
            return False
        return console.exists() and PROBE_MARKER in console.read_text(errors="replace")


def host_tsc_khz():
    """The host's TSC rate in kHz ($VMBA_TSC_KHZ overrides).  Under TCG the
    guest's TSC counts at the host's rate, and the guest's kernel cannot
    calibrate it on microvm (no PIT reference, no HPET): without
    tsc_early_khz it hangs, with a wrong one its clock runs fast or slow.
    /proc/cpuinfo's "cpu MHz" is the TSC rate where the CPU has
    constant_tsc (every x86 of the last decade)."""
    forced = os.environ.get("VMBA_TSC_KHZ")
    if forced:
        return int(forced)
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return round(float(line.split(":")[1]) * 1000)
    raise RuntimeError("no 'cpu MHz' in /proc/cpuinfo: set VMBA_TSC_KHZ")


def host_boot_args(image_dir):
    """The boot arguments a host passes to Firecracker for this image."""
    cfg = json.loads((pathlib.Path(image_dir) / "firecracker.json").read_text())
    return cfg["boot-source"]["boot_args"]


def accelerator():
    """'kvm' when a KVM guest really boots here, else 'tcg'.  Decided once;
    $VMBA_ACCEL=kvm|tcg overrides."""
    global _accel
    if _accel is None:
        forced = os.environ.get("VMBA_ACCEL")
        if forced:
            _accel = forced
        elif os.access("/dev/kvm", os.R_OK | os.W_OK) and _probe("kvm", 10):
            _accel = "kvm"
        else:
            _accel = "tcg"
    return _accel


def accel_option():
    """qemu's -accel value.  Under TCG one host thread runs all vCPUs
    (thread=single; $VMBA_TCG_THREAD=multi for a thread per vCPU, to
    compare).  Why: with 2 vCPUs each on its own thread, the real Gemini
    CLI's Node.js was killed twice in about 25 runs (SIGILL in its JIT
    code, then SIGSEGV).  The suspect, not proven at that rate: qemu
    before 8.1 (Debian 12 has 7.2.22) can translate guest code on one vCPU
    while another rewrites that page, and run the stale translation
    (fixed upstream by "accel/tcg: Always lock pages before translation");
    V8 writes JIT code from background threads.  The guest keeps its
    vCPUs; only their interleaving is coarser."""
    if accelerator() == "kvm":
        return "kvm"
    thread = os.environ.get("VMBA_TCG_THREAD", "single")
    if thread not in ("single", "multi"):
        raise ValueError(f"VMBA_TCG_THREAD={thread!r}: single or multi")
    return f"tcg,thread={thread}"


class Vm:
    """One qemu guest.  mode: 'pid1' (the agent as init: on q35 named by
    init=/usr/sbin/vm-browser-agent, on microvm the image's /sbin/init as
    the host's arguments name no init=), 'systemd' (init=/lib/systemd/systemd)
    or 'initramfs' (no disk: the initramfs is the whole guest, as the
    reference guest).  machine: 'q35' or 'microvm' (see the module's
    docstring); microvm takes its kernel and boot arguments from image_dir."""

    def __init__(self, image_dir=None, mode="pid1", workdir=None, initrd=None,
                 kernel=None, memory=1024, cpus=None, extra_cmdline="", ip_arg=IP_ARG,
                 machine="q35", files=(), overlay=None, cmdline_secrets=True, netdev_extra=(),
                 extra_args=(), forwards_extra=None, rootfs_copy=None):
        if machine not in MACHINES:
            raise ValueError(f"machine {machine!r} is not one of {MACHINES}")
        self.image = pathlib.Path(image_dir) if image_dir else None
        self.mode = mode
        self.machine = machine
        if machine == "microvm" and not self.image:
            raise ValueError("microvm boots the image's vmlinux and firecracker.json: give image_dir")
        self.kernel = pathlib.Path(kernel) if kernel else (
            self.image / ("vmlinux" if machine == "microvm" else "vmlinuz") if self.image else kernel_path())
        self.initrd = pathlib.Path(initrd) if initrd else self.image / "initrd.img"
        self.memory = memory
        # microvm: one vCPU.  Under TCG with two, about 1 boot in 60 hung in
        # the kernel on this 2-core host (4 of 245: a secondary CPU spinning
        # in calibrate_delay() for a jiffy that never came, or both CPUs
        # stuck re-entering the scheduler tick; microvm has no HPET), none
        # in 310 with one.  KVM (and the Firecracker config) keep 2.
        self.cpus = cpus or (1 if machine == "microvm" and accelerator() == "tcg" else 2)
        self.ip_arg = ip_arg
        self.extra_cmdline = extra_cmdline
        # Per-VM secrets.  In the VM's own copy of the rootfs, as a host
        # writes them (start()): microvm, a VM given files, or rootfs_copy.
        # Else (q35 on the golden image under snapshot=on) on the kernel
        # command line, which every process in the guest can read (the
        # agent warns), unless cmdline_secrets is False (MMDS gives them).
        self.token = secrets.token_hex(16)
        self.desktop_secret = secrets.token_hex(16)
        self.rootfs = None
        self.overlay = pathlib.Path(overlay) if overlay else None
        self.rootfs_copy = bool(files) or machine == "microvm" if rootfs_copy is None else rootfs_copy
        self.cmdline_secrets = cmdline_secrets and not self.rootfs_copy
        self.netdev_extra = list(netdev_extra)
        self.forwards_extra = dict(forwards_extra or {})
        self.extra_args = list(extra_args)
        # (host path, guest path, octal mode) for this VM's rootfs copy.
        self.files = list(files)
        self._own_workdir = workdir is None
        self.workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="vmba-vm-"))
        self.console = self.workdir / "console.log"
        self.qmp_path = self.workdir / "qmp.sock"
        self.ports = {}
        self.proc = None
        self.started_at = None

    def cmdline(self):
        if self.machine == "microvm":
            return self._microvm_cmdline()
        args = ["console=ttyS0", "panic=-1", self.ip_arg]
        if self.cmdline_secrets:
            args += [f"vmba.token={self.token}", f"vmba.desktop_secret={self.desktop_secret}"]
        if self.mode == "pid1":
            args += ["root=/dev/vda", "rw", "init=/usr/sbin/vm-browser-agent"]
        elif self.mode == "systemd":
            args += ["root=/dev/vda", "rw", "init=/lib/systemd/systemd",
                     "systemd.show_status=false"]
        if self.extra_cmdline:
            args.append(self.extra_cmdline)
        return " ".join(args)

    def _microvm_cmdline(self):
        """The host's boot arguments, verbatim but for ip= (qemu's user
        network), plus only what TCG needs and the systemd mode's init=."""
        args = [MICROVM_IP_ARG if a.startswith("ip=") else a for a in host_boot_args(self.image).split()]
        if accelerator() == "tcg":
            args += [f"tsc_early_khz={host_tsc_khz()}", "tsc=reliable"]
        if self.mode == "systemd":
            args.append("init=/lib/systemd/systemd")
        if self.extra_cmdline:
            args.append(self.extra_cmdline)
        return " ".join(args)

    def _microvm_argv(self, fwd):
        argv = [QEMU, "-M", "microvm,acpi=on", "-accel", accel_option(),
                "-cpu", "host" if accelerator() == "kvm" else "max",
                "-m", str(self.memory), "-smp", str(self.cpus),
                "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none",
                "-serial", f"file:{self.console}",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
                "-kernel", str(self.kernel), "-initrd", str(self.initrd),
                "-append", self.cmdline()]
        if self.mode != "initramfs":
            argv += ["-drive", f"id=root,file={self.rootfs},format=raw,if=none",
                     "-device", "virtio-blk-device,drive=root"]
        # i8042: Ctrl-Alt-Del reaches the guest, and reboot=k's keyboard
        # controller reset ends qemu at once (without it, ~3 s later).
        return argv + ["-netdev", f"user,id=n0,restrict=on,{fwd}",
                       "-device", "virtio-net-device,netdev=n0", "-device", "i8042"]

    def _write_rootfs_secrets(self):
        """This VM's rootfs: a sparse copy of the image's with the token and
        the desktop secret as files, as a host writes them, and `files`."""
        self.rootfs = self.workdir / "rootfs.ext4"
        files = {"token": self.token, "desktop-secret": self.desktop_secret}
        for name, value in files.items():
            fd = os.open(self.workdir / f"{name}.host", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(value + "\n")
        r = subprocess.run([str(VM_SECRETS), "--copy-from", str(self.image / "rootfs.ext4"),
                            "--token-file", str(self.workdir / "token.host"),
                            "--desktop-secret-file", str(self.workdir / "desktop-secret.host"),
                            *[a for src, dest, mode in self.files for a in ("--add-file", f"{src}:{dest}:{mode}")],
                            str(self.rootfs)], capture_output=True, text=True)
        for name in files:
            os.unlink(self.workdir / f"{name}.host")
        if r.returncode != 0:
            raise RuntimeError(f"vm-secrets failed: {r.stderr.strip()}")

    def argv(self):
        fwd = ",".join([f"hostfwd=tcp:127.0.0.1:{self.ports[k]}-:{v}" for k, v in FORWARDS.items()] +
                       [f"hostfwd=tcp:127.0.0.1:{self.ports[k]}-{v}" for k, v in self.forwards_extra.items()] +
                       self.netdev_extra)
        if self.machine == "microvm":
            return self._microvm_argv(fwd)
        argv = [QEMU, "-accel", accel_option(), "-m", str(self.memory), "-smp", str(self.cpus),
                "-display", "none", "-nodefaults", "-no-reboot",
                "-serial", f"file:{self.console}",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
                "-kernel", str(self.kernel), "-initrd", str(self.initrd),
                "-append", self.cmdline(),
                "-netdev", f"user,id=n0,restrict=on,{fwd}",
                "-device", "virtio-net-pci,netdev=n0",
                "-device", "virtio-rng-pci"]
        # TCG's "max" model: every instruction set extension it emulates
        # (the default qemu64 lacks SSSE3/SSE4 that browsers' libraries use).
        argv += ["-cpu", "host" if accelerator() == "kvm" else "max"]
        if self.mode != "initramfs" and self.overlay:
            argv += ["-drive", f"file={self.overlay},format=qcow2,if=virtio"]
        elif self.mode != "initramfs" and self.rootfs:
            argv += ["-drive", f"file={self.rootfs},format=raw,if=virtio"]
        elif self.mode != "initramfs":
            argv += ["-drive", f"file={self.image / 'rootfs.ext4'},format=raw,if=virtio,snapshot=on"]
        return argv + self.extra_args

    def prepare_rootfs(self):
        """Writes this VM's rootfs copy now, if it boots one (start() does
        otherwise): a test may read it before the guest writes to it (read
        while the guest runs, debugfs can find a file half-updated)."""
        if self.rootfs_copy and self.mode != "initramfs" and self.rootfs is None:
            self._write_rootfs_secrets()
        return self

    def start(self):
        self.prepare_rootfs()
        self.ports = {k: free_port() for k in [*FORWARDS, *self.forwards_extra]}
        self.qemu_log = open(self.workdir / "qemu.log", "w")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self.qemu_log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def url(self, path="/", service="http"):
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def http(self, path, method="GET", timeout=5, data=None, headers=None, service="http"):
        """(status, body bytes); connection errors raise OSError."""
        req = urllib.request.Request(self.url(path, service), method=method, data=data,
                                     headers={"Authorization": f"Bearer {self.token}", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout * DEADLINE_SCALE) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def try_http(self, path, timeout=2, service="http"):
        try:
            return self.http(path, timeout=timeout, service=service)
        except (OSError, ValueError):
            return None

    def qemu_log_text(self):
        p = self.workdir / "qemu.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def boot(self, timeout):
        """Starts the VM and waits for /health 200.  On failure the VM is
        closed with its files kept and the error carries the console's
        tail, for a fixture's report."""
        self.start()
        try:
            self.wait_http_200("/health", timeout)
        except Exception as e:
            self.close(keep=True)
            raise RuntimeError(f"{e}\n--- console ({self.console}) ---\n{self.console_text()[-3000:]}") from None
        return self

    def port_taken(self):
        """Whether qemu exited because a forwarded port was taken after
        free_port() picked it (start() again picks new ones)."""
        return self.proc is not None and self.proc.poll() is not None and PORT_TAKEN in self.qemu_log_text()

    def wait_http_200(self, path="/health", timeout=120, attempt_timeout=2):
        """Polls the forwarded port until `path` answers 200; returns
        (seconds since qemu start, body).  qemu's forwarder accepts the TCP
        connection before the guest listens, so only a 200 counts; until
        the guest's address is up, an attempt hangs for `attempt_timeout`
        (the forwarded SYN gets no answer), which is the resolution of the
        time returned.
        On the machine's own loopback (the demo, the benchmarks),
        free_port() can only pick ports that are free when asked: when
        another process took one before qemu bound it, qemu exits at once
        and is started again on new ports (up to 3 times).  A private
        loopback (the tests) has no such race, and no second start."""
        def ok():
            r = self.try_http(path, timeout=attempt_timeout)
            return r if r and r[0] == 200 else None
        for attempt in range(3):
            try:
                _, body = wait_until(ok, timeout, f"{path} 200", self.proc)
                return time.monotonic() - self.started_at, body
            except RuntimeError as e:
                if attempt == 2 or _private_ports is not None or not self.port_taken():
                    raise RuntimeError(f"{e}: {self.qemu_log_text().strip()[-1000:]}") from None
                self.stop()
                self.start()

    def health(self):
        status, body = self.http("/health")
        return status, json.loads(body)

    def console_text(self):
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def console_shows(self, *patterns, timeout=240):
        """The console's text once each regular expression of patterns
        matches in it.  A line is there only some time after the agent
        logged it: under systemd journald forwards it; and the display
        chain's services log theirs only as each starts, after /health's
        first 200.  An AssertionError with the console's tail when not."""
        what = ", ".join(patterns)
        try:
            wait_until(lambda: all(re.search(p, self.console_text()) for p in patterns), timeout,
                       f"{what} on the console", self.proc)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n--- console ({self.console}) ---\n{self.console_text()[-3000:]}") from None
        return self.console_text()

    def qmp(self, command, qmp_timeout=5, **arguments):
        """Runs one QMP command; returns its reply (events are skipped)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(qmp_timeout * DEADLINE_SCALE)
            s.connect(str(self.qmp_path))
            f = s.makefile("rw")
            f.readline()
            reply = None
            for cmd, args in (("qmp_capabilities", {}), (command, arguments)):
                f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
                f.flush()
                while True:
                    line = f.readline()
                    if not line:
                        return reply
                    reply = json.loads(line)
                    if "event" not in reply:
                        break
            return reply

    def hmp(self, command_line, timeout=5):
        """Runs one human-monitor command (savevm, loadvm, info ...) over
        QMP; returns its text output, which is where HMP reports errors."""
        reply = self.qmp("human-monitor-command", qmp_timeout=timeout, **{"command-line": command_line})
        if not reply or "return" not in reply:
            raise RuntimeError(f"{command_line}: {reply}")
        return reply["return"]

    def ctrl_alt_del(self):
        """Presses Ctrl-Alt-Del on the guest's keyboard: the kernel turns it
        into SIGINT for PID 1 once init disabled the reboot shortcut (the
        agent as PID 1 and systemd both do), i.e. a clean stop from the host."""
        keys = [{"type": "qcode", "data": k} for k in ("ctrl", "alt", "delete")]
        return self.qmp("send-key", keys=keys)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Ends qemu: quit over QMP, then SIGKILL to its process group."""
        if self.proc and self.proc.poll() is None:
            try:
                self.qmp("quit")
            except OSError:
                pass
            if self.wait_exit(5) is None:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        if getattr(self, "qemu_log", None):
            self.qemu_log.close()
            self.qemu_log = None

    def close(self, keep=False):
        """Stops qemu and removes the workdir unless `keep` (its logs for a
        failure report); the rootfs copy goes in any case (1 GB, secrets)."""
        self.stop()
        if self.rootfs:
            self.rootfs.unlink(missing_ok=True)
        if self._own_workdir and not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
