#!/usr/bin/python3
"""The demo: the golden image booted under qemu, its desktop in your browser.

Builds the agent if no binary exists, builds (or reuses from
$VMBA_CACHE) the image with packaging/mkimage, boots it with the agent
as PID 1 (or under systemd with --systemd) and an ip= for qemu's user
network, waits for /health, and prints the health URL and the noVNC URL on
127.0.0.1 (nothing listens on other addresses).

Then a login round trip through the host's tool, `vm-browser-agent ctl`
(the binary the image carries): `wait-ready`, then `login demo` with a
fake provider CLI that exists in this VM only (tests/vm/demo.py: it is
written into the VM's own copy of the rootfs, never into the image).  The
agent runs the CLI, opens its sign-in page in the VM's Firefox (watch it
through the noVNC URL; the browser closes once the agent has the
credentials), and ctl writes the credentials, 0600, into the demo's
working directory.  --no-login skips it; a failed login is reported and
the VM stays up for a look.

Ctrl-C asks the agent to shut the VM down (POST /shutdown) and waits for
qemu to exit; if the guest does not stop in time qemu is told to quit.

    packaging/demo-vm [--systemd] [--memory MiB] [--no-login]   (as root)
"""
import argparse
import os
import pathlib
import signal
import subprocess
import sys

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "vm"))
import demo  # noqa: E402
import qemu  # noqa: E402

STOP_TIMEOUT = 60
LOGIN_TIMEOUT = 600   # ctl's --timeout: Firefox's first start under TCG is slow


def say(msg):
    print(f"demo-vm: {msg}", file=sys.stderr, flush=True)


def revision(binary):
    """The source revision a binary was built from (its --version)."""
    r = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    return next((l.split()[1] for l in r.stdout.splitlines() if l.startswith("revision ")), None)


def tree_revision():
    """The source tree's revision, as meson stamps it (packaging/tree-revision);
    None when git cannot tell (no checkout)."""
    r = subprocess.run([str(TOP / "packaging" / "tree-revision")], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def stale(binary):
    """Whether binary was built from another source tree (unknown: no)."""
    tree = tree_revision()
    return tree is not None and revision(binary) != tree


def ensure_agent():
    """The binary mkimage takes (the static build when present), else the
    test command's build, built now; the image and the host's ctl use it.
    A build of an older source tree is built again first: an image older
    than its agent is what this replaces.  A binary named by $VMBA_AGENT or
    $VMBA_BIN is taken as it is."""
    found = demo.agent_binary()
    static = TOP / "build-static"
    if found and found.parent.parent == static and stale(found):
        say(f"{found} is of another source tree: packaging/static-build {static}")
        subprocess.run([str(TOP / "packaging/static-build"), str(static)], check=True, stdout=subprocess.DEVNULL)
        return found
    build = TOP / "build-tests/plain"
    if found and found.parent.parent != build:
        return found
    if not found or stale(found):
        say(f"building the agent in {build}")
        if not (build / "build.ninja").exists():
            subprocess.run(["meson", "setup", str(build), "-Dwerror_project=true"], cwd=TOP,
                           check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["ninja", "-C", str(build)], check=True, stdout=subprocess.DEVNULL)
    return demo.agent_binary()


def demo_login(agent, vm):
    """ctl wait-ready, then ctl login demo; True when the credentials were
    written.  ctl's own lines are shown as they come; never the
    credentials, only where they went."""
    out = vm.workdir / "demo-credentials.json"
    say("waiting for the display chain: vm-browser-agent ctl wait-ready")
    rc, text = demo.wait_ready(agent, vm, timeout=LOGIN_TIMEOUT, echo=sys.stdout)
    if rc == 0:
        say("login round trip: vm-browser-agent ctl login demo (the VM's Firefox shows the sign-in)")
        rc, text = demo.login(agent, vm, out, timeout=LOGIN_TIMEOUT, echo=sys.stdout)
    demo.remove_secret_files(vm)
    if rc != 0:
        reason = text.strip().splitlines()[-1] if text.strip() else f"exit status {rc}"
        print(f"\n  login: FAILED: {reason}\n  The VM stays up for a look (noVNC above; console: {vm.console}).\n",
              flush=True)
        return False
    print(f"\n  login: signed in; the credentials are in {out} (mode 0600; not shown here).\n"
          f"  On noVNC, the VM's Firefox opened the demo provider's page, which signed in on its\n"
          f"  own; the agent closed the browser once it had captured the credentials, and\n"
          f"  handed them to ctl once (a second /credentials/get is 404).\n", flush=True)
    return True


def stop(vm):
    say("stopping: POST /shutdown")
    try:
        vm.http("/shutdown", method="POST", data=b"", timeout=5)
    except OSError as e:
        say(f"/shutdown failed ({e}); pressing Ctrl-Alt-Del (SIGINT for PID 1)")
        try:
            vm.ctrl_alt_del()
        except OSError:
            pass
    if vm.wait_exit(STOP_TIMEOUT) is None:
        say(f"the guest did not stop within {STOP_TIMEOUT}s; telling qemu to quit")
    vm.close(keep=True)
    say(f"stopped (console log: {vm.console})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--systemd", action="store_true", help="boot under systemd instead of the agent as PID 1")
    ap.add_argument("--memory", type=int, default=1536)
    ap.add_argument("--no-login", action="store_true", help="skip the login round trip with the demo provider")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("demo-vm: run as root (debootstrap builds the image)")
    subprocess.run([str(TOP / "tests/install-deps")], check=True)
    if not qemu.kernel_path():
        sys.exit("demo-vm: no /boot/vmlinuz-*-cloud-amd64 (apt-get install linux-image-cloud-amd64)")
    agent = ensure_agent()
    say("building or reusing the image (the first build takes minutes)")
    image = qemu.build_image(agent=agent, log=sys.stderr)
    with qemu.hold_image(image):  # until exit: no other build prunes it
        return demo_vm(args, agent, image)


def demo_vm(args, agent, image):
    """The demo's VM from image: health, desktop, the login; exit status."""
    say(f"image {image}, build id {(image / 'build-id').read_text().strip()}")
    say(f"accelerator: {qemu.accelerator()}")

    workdir = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"vmba-demo-{os.getpid()}"
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)   # the credentials land here
    mode = "systemd" if args.systemd else "pid1"
    if args.no_login:
        # Its own rootfs copy with the secrets in it, as with the login:
        # never on the kernel command line, which anyone in the VM reads.
        vm = qemu.Vm(image, mode=mode, memory=args.memory, workdir=workdir, rootfs_copy=True)
    else:
        say("copying the image's rootfs for this VM, with the demo provider in it")
        vm = demo.new_vm(image, workdir, mode=mode, memory=args.memory)
    vm.start()
    say(f"booting ({vm.cmdline()}); console: {vm.console}")
    try:
        t, _ = vm.wait_http_200("/health", 180)
    except (TimeoutError, RuntimeError, KeyboardInterrupt) as e:
        say(f"{e!r}\n{vm.console_text()[-3000:]}")
        vm.close(keep=True)
        return 1
    print(f"\n  health: {vm.url('/health')}   (first 200 after {t:.1f}s)\n"
          f"  ready:  {vm.url('/health/ready')}\n"
          # The secrets go in the fragment: noVNC reads it, no server sees it.
          f"  noVNC:  {vm.url('/vnc.html', 'novnc')}#autoconnect=1&resize=scale"
          # RFB itself is on a unix socket in the guest (vnc_listen): noVNC only.
          f"&path=websockify%3Ftoken%3D{vm.desktop_secret}&password={vm.desktop_secret[:8]}\n\n"
          f"  Ctrl-C stops the VM.\n", flush=True)
    if not args.no_login:
        try:
            demo_login(agent, vm)
        except KeyboardInterrupt:
            demo.remove_secret_files(vm)
            stop(vm)
            return 0
    # Wait for Ctrl-C, SIGTERM or qemu's exit (SIGCHLD), whichever first.
    sigs = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    if vm.proc.poll() is None:
        signal.sigwait(sigs)
    if vm.proc.poll() is not None:
        say(f"qemu exited ({vm.proc.returncode}); console: {vm.console}")
        vm.close(keep=True)
        return 1
    stop(vm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
