#!/usr/bin/python3
"""packaging/extract-vmlinux on synthetic bzImages: each compressor the
Debian kernels use, the LZ4 legacy frame as the kernel's build writes it
(`lz4 -l`, then the le32 size), and every way the result is refused (no
setup header, an old boot protocol, a payload that is not an ELF, an ELF
without the PVH note).  The real cloud kernel is extracted and booted by
the vm tier (tests/vm/test_microvm.py).

    test-extract-vmlinux.py      exit 0 passed, 1 failed, 77 skipped
"""
import bz2
import gzip
import importlib.machinery
import importlib.util
import lzma
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import meson_exit

TOP = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = TOP / "packaging" / "extract-vmlinux"
loader = importlib.machinery.SourceFileLoader("extract_vmlinux", str(SCRIPT))
spec = importlib.util.spec_from_loader("extract_vmlinux", loader)
xv = importlib.util.module_from_spec(spec)
loader.exec_module(xv)

PVH_ENTRY = 0x1000850


def note(owner, ntype, desc):
    name = owner + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def elf64(notes, machine=62, filler=b"kernel text " * 300):
    """A minimal x86-64 ELF64: header, one PT_LOAD and one PT_NOTE holding
    `notes`, then `filler` (so that compressors find matches)."""
    ehsize, phentsize, phnum = 64, 56, 2
    notes_at = ehsize + phentsize * phnum
    body = notes + filler
    hdr = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    hdr += struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0x1000000, ehsize, 0, 0,
                       ehsize, phentsize, phnum, 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, notes_at, 0x1000000, 0x1000000, len(body), len(body), 4096)
    pnote = struct.pack("<IIQQQQQQ", 4, 4, notes_at, 0, 0, len(notes), len(notes), 4)
    return hdr + load + pnote + body


def pvh_notes(entry=PVH_ENTRY):
    return (note(b"Xen", 6, b"linux\0") + note(b"GNU", 3, bytes(20)) +
            note(b"Xen", 18, struct.pack("<Q", entry)))


def bzimage(payload, setup_sects=3, version=0x20F, payload_offset=0x2CC):
    """Setup sectors with the header fields extract-vmlinux reads, then the
    protected-mode code: `payload_offset` bytes of stub, the payload, and
    the trailing le32 size the kernel's build appends."""
    setup = bytearray((setup_sects + 1) * 512)
    setup[0x1F1] = setup_sects
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, version)
    struct.pack_into("<II", setup, 0x248, payload_offset, len(payload))
    return bytes(setup) + b"\x90" * payload_offset + payload + struct.pack("<I", 12345678)


class Extract(unittest.TestCase):
    def check(self, compressed, name, elf):
        got_name, got_elf, entry = xv.extract(bzimage(compressed))
        self.assertEqual(got_name, name)
        self.assertEqual(got_elf, elf)
        self.assertEqual(entry, PVH_ENTRY)

    def test_stdlib_compressors(self):
        elf = elf64(pvh_notes())
        self.check(gzip.compress(elf), "gzip", elf)
        self.check(lzma.compress(elf, format=lzma.FORMAT_XZ), "xz", elf)
        self.check(lzma.compress(elf, format=lzma.FORMAT_ALONE), "lzma", elf)
        self.check(bz2.compress(elf), "bzip2", elf)

    def test_setup_sects_zero_means_four(self):
        elf = elf64(pvh_notes())
        img = bytearray(bzimage(gzip.compress(elf), setup_sects=4))
        img[0x1F1] = 0  # the boot protocol's "0 means 4"
        self.assertEqual(xv.extract(bytes(img))[1], elf)

    @unittest.skipUnless(shutil.which("lz4"), "lz4 not installed")
    def test_lz4_legacy_frame_as_the_kernel_writes_it(self):
        # Long runs give overlapping matches (offset < length), incompressible
        # bytes literal runs over 15 + 255; 20 MB spans several 8 MiB blocks.
        elf = elf64(pvh_notes(), filler=b"a" * 70000 + os.urandom(70000) + b"ab" * 9_000_000 +
                    bytes(range(256)) * 4000 + b"xyz" * 500_000)
        packed = subprocess.run(["lz4", "-l", "-9", "-c"], input=elf, stdout=subprocess.PIPE,
                                check=True).stdout
        self.assertTrue(packed.startswith(xv.LZ4_LEGACY_MAGIC))
        self.assertGreater(len(elf), 8 << 20)
        self.check(packed, "lz4", elf)

    @unittest.skipUnless(shutil.which("zstd"), "zstd not installed")
    def test_zstd_through_its_tool(self):
        elf = elf64(pvh_notes())
        packed = subprocess.run(["zstd", "-q", "-c"], input=elf, stdout=subprocess.PIPE, check=True).stdout
        self.check(packed, "zstd", elf)


class Refused(unittest.TestCase):
    def refused(self, img, message):
        with self.assertRaises(xv.Error) as e:
            xv.extract(img)
        self.assertIn(message, str(e.exception))

    def test_no_setup_header(self):
        self.refused(bytes(4096), "not a bzImage: no HdrS setup header at 0x202")

    def test_old_boot_protocol(self):
        self.refused(bzimage(gzip.compress(elf64(pvh_notes())), version=0x206),
                     "boot protocol 2.06 has no payload fields (needs 2.08)")

    def test_payload_past_the_end(self):
        img = bytearray(bzimage(gzip.compress(elf64(pvh_notes()))))
        struct.pack_into("<I", img, 0x24C, len(img))
        self.refused(bytes(img), "lies outside the")

    def test_unknown_compression(self):
        self.refused(bzimage(b"\x00\x01\x02\x03" * 64), "unknown compression, payload starts with 00010203")

    def test_not_an_elf(self):
        self.refused(bzimage(gzip.compress(b"MZ" + bytes(4000))), "that are not an ELF (4d5a0000)")

    def test_corrupt_payload(self):
        self.refused(bzimage(gzip.compress(elf64(pvh_notes()))[:40] + bytes(100)), "gzip payload does not decompress")

    def test_elf_for_another_machine(self):
        self.refused(bzimage(gzip.compress(elf64(pvh_notes(), machine=183))), "not x86-64")

    def test_no_pvh_note(self):
        notes = note(b"Xen", 6, b"linux\0") + note(b"Linux", 18, struct.pack("<Q", PVH_ENTRY))
        self.refused(bzimage(gzip.compress(elf64(notes))), "the ELF has no PVH note")


class Cli(unittest.TestCase):
    def run_cli(self, img):
        with tempfile.TemporaryDirectory() as d:
            src, out = pathlib.Path(d, "vmlinuz"), pathlib.Path(d, "vmlinux")
            src.write_bytes(img)
            r = subprocess.run([sys.executable, str(SCRIPT), str(src), str(out)],
                               capture_output=True, text=True)
            return r, (out.read_bytes() if out.exists() else None), sorted(os.listdir(d))

    def test_writes_the_elf(self):
        elf = elf64(pvh_notes())
        r, out, files = self.run_cli(bzimage(gzip.compress(elf)))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(out, elf)
        self.assertIn("gzip payload", r.stderr)
        self.assertIn("ELF x86-64 with PVH entry 0x1000850", r.stderr)
        self.assertEqual(files, ["vmlinux", "vmlinuz"])

    def test_refusal_writes_nothing(self):
        r, out, files = self.run_cli(bzimage(gzip.compress(elf64(note(b"GNU", 3, bytes(20))))))
        self.assertEqual(r.returncode, 1)
        self.assertIsNone(out)
        self.assertEqual(files, ["vmlinuz"])
        self.assertTrue(r.stderr.startswith("extract-vmlinux: "), r.stderr)
        self.assertIn("no PVH note", r.stderr)


if __name__ == "__main__":
    meson_exit.main()
