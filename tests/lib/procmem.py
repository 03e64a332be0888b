"""What a running process still holds in its memory, for tests that check a
secret is gone once used: its private writable mappings ([heap], anonymous
ones such as large malloc blocks and memory pools, .data and .bss,
[stack]), read through /proc/<pid>/mem.  Needs root (the agent makes
itself non-dumpable)."""
import contextlib


def writable_regions(pid):
    """(start, end, name) of each private writable mapping of pid."""
    regions = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split(maxsplit=5)
            perms = fields[1]
            if perms[0] != "r" or perms[1] != "w" or perms[3] != "p":
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            regions.append((start, end, fields[5].strip() if len(fields) > 5 else "[anon]"))
    return regions


def read_at(f, offset, size):
    f.seek(offset)
    data = b""
    while len(data) < size and (chunk := f.read(size - len(data))):
        data += chunk
    return data


def find(pid, needles):
    """Where any of needles (bytes) occurs in pid's private writable
    memory: a list of (needle, mapping name, address)."""
    hits = []
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for start, end, name in writable_regions(pid):
            # A mapping unmapped between the listing and the read is
            # passed over: it holds nothing any more.
            with contextlib.suppress(OSError, ValueError, OverflowError):
                data = read_at(mem, start, end - start)
                for n in needles:
                    at = data.find(n)
                    while at >= 0:
                        hits.append((n, name, hex(start + at)))
                        at = data.find(n, at + 1)
    return hits
