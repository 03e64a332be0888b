"""Fixtures shared by the vm tier's modules: one image for the whole run."""
import os

import pytest

import qemu


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
    Built once per run (packaging/mkimage; cached across runs)."""
    need_vm_tools()
    img = qemu.build_image(agent=os.environ.get("VMBA_AGENT") or agent_bin)
    with qemu.hold_image(img):  # not pruned by another run's builds meanwhile
        yield img
