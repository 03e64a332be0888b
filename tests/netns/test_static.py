"""The static binary from packaging/static-build: that it really is static
(no ELF interpreter, `file` and `ldd` agree) and that it does its job with
nothing else on the filesystem, in a chroot holding only the binary: the
dry-run parser, and netinit applying a plan over netlink inside a network
namespace this test creates (with /proc mounted, as PID 1 would).  And
that the static X stack under libxdo works against a real Xvfb, and the
static sd-bus against a real dbus-daemon, through packaging/static/*-smoke.c
linked the same way.  That is the situation of a fresh image or an
initramfs, where no shared library or /etc file can be counted on.

Skipped, saying why, when the static binary was not built:
`packaging/static-build` (or `VMBA_TIERS=static tests/run`) builds it.
$VMBA_STATIC_BIN overrides its path."""
import json
import os
import pathlib
import re
import signal
import shutil
import socket
import subprocess

import pytest

from elf import PT_DYNAMIC, PT_INTERP, program_header_types
from netns import DEADLINE_SCALE, Lan, Netns, read_line
from svagent import XView, x11_unix_mount_point

TOP = pathlib.Path(__file__).resolve().parents[2]
STATIC_BIN = os.environ.get("VMBA_STATIC_BIN") or str(TOP / "build-static/agent/vm-browser-agent")
CMDLINE = "ip=10.77.0.2::10.77.0.1:255.255.255.0:demo-vm.example.test:eth0:off:10.77.0.1"


@pytest.fixture(scope="module")
def static_bin():
    if not os.access(STATIC_BIN, os.X_OK):
        pytest.skip(f"static binary {STATIC_BIN} not built: run packaging/static-build "
                    "(or VMBA_TIERS=static tests/run)")
    return STATIC_BIN


@pytest.fixture
def empty_root(static_bin, tmp_path):
    """A root directory holding the static binary and nothing else."""
    if os.geteuid() != 0:
        pytest.skip("chroot needs root")
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy2(static_bin, root / "vm-browser-agent")
    return root


def project_version():
    m = re.search(r"version\s*:\s*'([^']+)'", (TOP / "meson.build").read_text())
    return m.group(1)


def test_no_interpreter_and_no_dynamic_section(static_bin):
    types = program_header_types(static_bin)
    assert PT_INTERP not in types
    assert PT_DYNAMIC not in types


def test_file_and_ldd_say_static(static_bin):
    out = subprocess.run(["file", "-L", static_bin], capture_output=True, text=True, check=True).stdout
    assert "statically linked" in out
    r = subprocess.run(["ldd", static_bin], capture_output=True, text=True)
    assert r.returncode != 0
    assert (r.stdout + r.stderr).strip() == "not a dynamic executable"


def test_version_in_an_empty_root(empty_root):
    r = subprocess.run(["chroot", str(empty_root), "/vm-browser-agent", "--version"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"vm-browser-agent {project_version()}"


def test_dry_run_in_an_empty_root(empty_root):
    r = subprocess.run(["chroot", str(empty_root), "/vm-browser-agent", "netinit", "--dry-run",
                        "--cmdline", CMDLINE], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"interfaces": [{
        "device": "eth0", "method": "static", "address": "10.77.0.2", "prefix": 24,
        "server": None, "gateway": "10.77.0.1", "hostname": "demo-vm",
        "domain": "example.test", "dns": ["10.77.0.1"], "ntp": [], "mtu": None, "mac": None}]}


def test_netinit_applies_from_an_empty_root(empty_root):
    """libnl linked statically talks to the kernel with no /etc and no
    /lib in sight: address, default route and resolv.conf land.  /proc is
    mounted (in a private mount namespace), as PID 1 does first thing:
    netinit reads it to refuse the initial network namespace."""
    (empty_root / "proc").mkdir()
    with Lan() as lan:
        r = lan.guest.run("unshare", f"--mount-proc={empty_root}/proc",
                          "chroot", str(empty_root), "/vm-browser-agent", "netinit", "--apply",
                          "--cmdline", CMDLINE, "--resolv-conf", "/resolv.conf",
                          "--hosts", "/hosts", "--hostname-file", "/hostname",
                          "--no-hostname", "--timeout", "3000", check=False)
        assert r.returncode == 0, r.stderr
        info = lan.guest.ip_json("addr", "show", "dev", "eth0")[0]["addr_info"]
        assert [(a["local"], a["prefixlen"]) for a in info if a["family"] == "inet"] == \
            [("10.77.0.2", 24)]
        routes = lan.guest.ip_json("route", "show", "default")
        assert [(x["gateway"], x["dev"]) for x in routes] == [("10.77.0.1", "eth0")]
        resolv = (empty_root / "resolv.conf").read_text()
        assert resolv.splitlines()[1:] == ["nameserver 10.77.0.1", "search example.test"]
        # The guest's kernel answers on the configured address (a RST for a
        # closed port): the plan is live, not only recorded.
        with lan.host.entered(), pytest.raises(ConnectionRefusedError):
            socket.create_connection(("10.77.0.2", 9), timeout=10).close()


def test_static_xdo_against_xvfb(static_bin, tmp_path):
    """libxdo + libX11/xcb/XTest/Xinerama/xkbcommon linked statically:
    connect over the unix socket, screen size, pointer move read back,
    typing text that needs a keysym remap (the libxkbcommon path)."""
    smoke = os.path.join(os.path.dirname(os.path.dirname(static_bin)), "xdo-smoke")
    if not os.access(smoke, os.X_OK):
        pytest.skip(f"{smoke} not built: run packaging/static-build")
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb not installed")
    x11_unix = tmp_path / "x11-unix"
    x11_unix.mkdir()
    x11_unix.chmod(0o1777)
    x11_unix_mount_point()
    with Netns() as ns:
        # Xvfb picks a free display and writes it to -displayfd once it
        # accepts connections: readiness without polling.  Its own netns
        # keeps the abstract socket away from the machine's X servers, its
        # own /tmp/.X11-unix (root's Xvfb makes it 1777) the socket file.
        x = XView(ns, str(x11_unix))
        rfd, wfd = os.pipe()
        try:
            x.popen(["Xvfb", "-displayfd", str(wfd), "-nolisten", "tcp",
                      "-screen", "0", "1280x800x24"], pass_fds=(wfd,),
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            os.close(wfd)
            wfd = -1
            # Xvfb writes the number and the newline separately and dies
            # of EPIPE if the pipe is closed after the first.
            display = ":" + read_line(rfd).strip()
        finally:
            os.close(rfd)
            if wfd >= 0:
                os.close(wfd)
        r = x.run(smoke, display, check=False)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "viewport 1280x800\nmouse 123,45 screen 0\ntext 0\n"


def test_static_sd_bus_against_dbus_daemon(static_bin, tmp_path):
    """The archive whose internal symbols static-build renamed still
    connects, calls a method, and maps an error name to its errno."""
    smoke = os.path.join(os.path.dirname(os.path.dirname(static_bin)), "sdbus-smoke")
    if not os.access(smoke, os.X_OK):
        pytest.skip(f"{smoke} not built: run packaging/static-build")
    if not shutil.which("dbus-daemon"):
        pytest.skip("dbus-daemon not installed")
    address = f"unix:path={tmp_path}/bus"
    rfd, wfd = os.pipe()
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                               f"--address={address}", f"--print-address={wfd}"],
                              pass_fds=(wfd,), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        os.close(wfd)
        wfd = -1
        # dbus-daemon prints its address once it listens.
        assert read_line(rfd).startswith(address)
        r = subprocess.run([smoke], env={"DBUS_SESSION_BUS_ADDRESS": address},
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout == ("GetId: 32 hex digits\n"
                            "NoSuchMethod: org.freedesktop.DBus.Error.UnknownMethod -> EBADR\n")
    finally:
        os.close(rfd)
        if wfd >= 0:
            os.close(wfd)
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=10 * DEADLINE_SCALE)
