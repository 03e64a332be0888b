#!/usr/bin/python3
"""packaging/firecracker-config: the config it writes passes the field check
of tests/lib/firecracker_schema.py (Firecracker's API without a binary),
carries the host's boot arguments verbatim, and refuses bad arguments;
the check itself is shown to catch each kind of mistake.  The image's own
firecracker.json is checked by the vm tier (tests/vm/test_microvm.py).

    test-firecracker-config.py      exit 0 passed, 1 failed
"""
import copy
import json
import pathlib
import subprocess
import sys
import tempfile
import unittest

TOP = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "tests" / "lib"))
import firecracker_schema  # noqa: E402
from firecracker_default import HOST_BOOT_ARGS, default_config  # noqa: E402

import meson_exit

SCRIPT = TOP / "packaging" / "firecracker-config"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


class Generated(unittest.TestCase):
    def test_defaults(self):
        r = run("--image", "/srv/vmba/image")
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = json.loads(r.stdout)
        self.assertEqual(firecracker_schema.errors(cfg), [])
        self.assertEqual(cfg, default_config("/srv/vmba/image"))

    def test_per_vm_values(self):
        r = run("--image", "/srv/img", "--rootfs", "/srv/vm7/rootfs.ext4", "--vm-ip", "172.16.0.7",
                "--gateway", "172.16.0.1", "--tap", "vmtap7", "--vsock-uds", "/run/vm7.sock",
                "--vcpus", "1", "--mem-mib", "1536")
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = json.loads(r.stdout)
        self.assertEqual(firecracker_schema.errors(cfg), [])
        self.assertEqual(cfg["boot-source"]["boot_args"],
                         HOST_BOOT_ARGS.replace("192.168.100.2::192.168.100.1", "172.16.0.7::172.16.0.1"))
        self.assertEqual(cfg["drives"][0]["path_on_host"], "/srv/vm7/rootfs.ext4")
        self.assertEqual(cfg["network-interfaces"][0],
                         {"iface_id": "eth0", "host_dev_name": "vmtap7", "guest_mac": "06:00:ac:10:00:07"})
        self.assertEqual(cfg["vsock"]["uds_path"], "/run/vm7.sock")
        self.assertEqual(cfg["machine-config"], {"vcpu_count": 1, "mem_size_mib": 1536})

    def test_out_file(self):
        with tempfile.TemporaryDirectory() as d:
            out = pathlib.Path(d, "firecracker.json")
            r = run("--image", d, "--out", str(out))
            self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
            self.assertEqual(json.loads(out.read_text())["boot-source"]["kernel_image_path"], f"{d}/vmlinux")
            self.assertEqual(sorted(p.name for p in pathlib.Path(d).iterdir()), ["firecracker.json"])

    def test_bad_arguments(self):
        for args, message in (
                (["--vm-ip", "10.0.0.256"], "not an IPv4 address: '10.0.0.256'"),
                (["--vcpus", "3"], "Firecracker takes 1 or an even number up to 32, not 3"),
                (["--vcpus", "34"], "Firecracker takes 1 or an even number up to 32, not 34"),
                (["--mem-mib", "0"], "must be positive, not 0"),
                (["--vm-ip", "10.1.0.2"], "--vm-ip 10.1.0.2 and --gateway 192.168.100.1 must differ, in one /24"),
                (["--vm-ip", "192.168.100.1"], "must differ, in one /24"),
                # The golden image, booted read-write, would collect every
                # VM's profile and secrets.
                (["--rootfs", "/i/rootfs.ext4"], "--rootfs /i/rootfs.ext4 is the image's own root filesystem"),
                (["--rootfs", "/i/../i/rootfs.ext4"], "is the image's own root filesystem")):
            with self.subTest(args=args):
                r = run("--image", "/i", *args)
                self.assertEqual(r.returncode, 2)
                self.assertEqual(r.stdout, "")
                self.assertIn(message, r.stderr)


class SchemaCatches(unittest.TestCase):
    """Every kind of mistake the check exists for is reported, by name."""
    def setUp(self):
        self.good = json.loads(run("--image", "/i").stdout)

    def mutated(self, change):
        cfg = copy.deepcopy(self.good)
        change(cfg)
        return firecracker_schema.errors(cfg)

    def test_each_mistake(self):
        cases = [
            (lambda c: c["boot-source"].pop("kernel_image_path"), "boot-source: missing required kernel_image_path"),
            (lambda c: c["boot-source"].update(init_path="/x"), "boot-source.init_path: unknown field"),
            (lambda c: c["drives"][0].pop("is_root_device"), "drives[0]: missing required is_root_device"),
            (lambda c: c["drives"][0].update(is_read_only="no"), "drives[0].is_read_only: expected boolean"),
            (lambda c: c["drives"][0].update(cache_type="None"), "drives[0].cache_type: expected one of Unsafe, Writeback, got 'None'"),
            (lambda c: c["drives"].append(dict(c["drives"][0], drive_id="b")), "drives: more than one root device"),
            (lambda c: c.update(drives={}), "drives: expected an array"),
            (lambda c: c["network-interfaces"][0].pop("host_dev_name"), "network-interfaces[0]: missing required host_dev_name"),
            (lambda c: c["network-interfaces"][0].update(mtu=20), "network-interfaces[0].mtu: expected at least 68 and at most 65535, got 20"),
            (lambda c: c["vsock"].update(guest_cid=2), "vsock.guest_cid: expected at least 3, got 2"),
            (lambda c: c["vsock"].update(guest_cid=True), "vsock.guest_cid: expected integer"),
            (lambda c: c["vsock"].pop("uds_path"), "vsock: missing required uds_path"),
            (lambda c: c["machine-config"].update(vcpu_count=3), "machine-config.vcpu_count: expected 1 or an even number up to 32, got 3"),
            (lambda c: c["machine-config"].update(mem_size_mib="2048"), "machine-config.mem_size_mib: expected integer"),
            (lambda c: c.update(machine_config={}), "machine_config: unknown section"),
            (lambda c: c.pop("boot-source"), "boot-source: missing (Firecracker boots nothing without it)"),
            (lambda c: c.update(entropy={}), "entropy: a section this check does not describe"),
        ]
        for change, message in cases:
            with self.subTest(message=message):
                self.assertEqual(self.mutated(change), [message])


if __name__ == "__main__":
    meson_exit.main()
