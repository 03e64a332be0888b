#!/usr/bin/python3
"""The demo: the golden image booted under qemu, its desktop in your browser.

Builds the agent if no binary exists, builds (or reuses from
$VMBA_CACHE) the image with packaging/mkimage, boots it with the agent
as PID 1 (or under systemd with --systemd) and an ip= for qemu's user
network, waits for /health, and prints the health URL and the noVNC URL on
127.0.0.1 (nothing listens on other addresses).  Ctrl-C asks the agent to
shut the VM down (POST /shutdown) and waits for qemu to exit; if the guest
does not stop in time qemu is told to quit.

    packaging/demo-vm [--systemd] [--memory MiB]      (as root)
"""
import argparse
import os
import pathlib
import signal
import subprocess
import sys

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "vm"))
import qemu  # noqa: E402

STOP_TIMEOUT = 60


def say(msg):
    print(f"demo-vm: {msg}", file=sys.stderr, flush=True)


def ensure_agent():
    """The binary mkimage will take (the static build when present), else
    the test command's build, built now."""
    for c in (TOP / "build-static/agent/vm-browser-agent", os.environ.get("VMBA_BIN"),
              TOP / "build-tests/plain/agent/vm-browser-agent"):
        if c and os.access(c, os.X_OK):
            return
    build = TOP / "build-tests/plain"
    say(f"building the agent in {build}")
    if not (build / "build.ninja").exists():
        subprocess.run(["meson", "setup", str(build), "-Dwerror_project=true"], cwd=TOP,
                       check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", str(build)], check=True, stdout=subprocess.DEVNULL)


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
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("demo-vm: run as root (debootstrap builds the image)")
    subprocess.run([str(TOP / "tests/install-deps")], check=True)
    if not qemu.kernel_path():
        sys.exit("demo-vm: no /boot/vmlinuz-*-cloud-amd64 (apt-get install linux-image-cloud-amd64)")
    ensure_agent()
    say("building or reusing the image (the first build takes minutes)")
    image = qemu.build_image(log=sys.stderr)
    say(f"image {image}, build id {(image / 'build-id').read_text().strip()}")
    say(f"accelerator: {qemu.accelerator()}")

    vm = qemu.Vm(image, mode="systemd" if args.systemd else "pid1", memory=args.memory,
                 workdir=pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"vmba-demo-{os.getpid()}")
    vm.workdir.mkdir(parents=True, exist_ok=True)
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
          f"&path=websockify%3Ftoken%3D{vm.desktop_secret}&password={vm.desktop_secret[:8]}\n"
          f"  VNC:    127.0.0.1:{vm.ports['vnc']} (password {vm.desktop_secret[:8]})\n\n"
          f"  Ctrl-C stops the VM.\n", flush=True)
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
