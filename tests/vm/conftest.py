"""Fixtures shared by the vm tier's modules: one image for the whole run."""
import contextlib
import os

import pytest

import qemu
from netns import Netns


def need_vm_tools():
    if not qemu.have_qemu():
        pytest.skip("qemu-system-x86_64 not installed")
    if not qemu.kernel_path():
        pytest.skip("no /boot/vmlinuz-*-cloud-amd64 (linux-image-cloud-amd64)")
    if os.geteuid() != 0:
        pytest.fail("the vm tier builds the image with debootstrap: run as root")


@pytest.fixture(scope="session")
def image(agent_bin):
    """The image with the binary under test: $VMBA_AGENT (e.g. the static
    build) when set, else $VMBA_BIN — never a stale build lying around.
    Built once per run (packaging/mkimage; cached across runs), held so
    that another run's builds do not prune it meanwhile; then the run goes
    on in a network namespace of its own (private_loopback())."""
    need_vm_tools()
    img = qemu.build_image(agent=os.environ.get("VMBA_AGENT") or agent_bin)
    with qemu.hold_image(img), private_loopback():
        yield img


@contextlib.contextmanager
def private_loopback():
    """The rest of the run in a network namespace of its own, entered once
    the image is built (debootstrap needs the machine's network): qemu's
    forwarded ports, every connection to them and every program the tests
    start (ctl) are on its loopback, where no other process on the machine
    can take a port between its pick and qemu's bind."""
    with Netns("vmbavm") as ns, ns.entered():
        qemu.use_private_loopback()
        yield
