"""What a test needs to know of an ELF binary: its program header types,
which tell a static binary (no PT_INTERP, no PT_DYNAMIC) from one that
loads shared libraries."""
import struct

PT_INTERP = 3
PT_DYNAMIC = 2


def program_header_types(path):
    with open(path, "rb") as f:
        ident = f.read(64)
        assert ident[:4] == b"\x7fELF" and ident[4] == 2, "not a 64-bit ELF"
        phoff, = struct.unpack_from("<Q", ident, 32)
        phentsize, phnum = struct.unpack_from("<HH", ident, 54)
        types = []
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            types.append(struct.unpack("<I", f.read(4))[0])
        return types


def is_static(path):
    types = program_header_types(path)
    return PT_INTERP not in types and PT_DYNAMIC not in types
