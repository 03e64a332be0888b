"""What a process's mount namespace shows at one path: the mounts stacked
there (from /proc/<pid>/mountinfo), and what a reader of the path finds
while the process changes them, read at each of its system calls (ptrace:
the test its tracer), so that no state in between is missed however the
machine schedules the two.  Needs root."""
import contextlib

from syscallstep import stepping


def mount_stack(pid, path):
    """The mounts at path in pid's mount namespace, bottom first, each as
    (its root: the path of the file or directory it shows in its file
    system, its per-mount options: "ro,nosuid,...")."""
    at = {}
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            mount_id, parent, _, root, point, options = line.split()[:6]
            if point == path:
                at[mount_id] = (parent, (root, options))
    on = {parent: mount_id for mount_id, (parent, _) in at.items()}
    mount_id, stack = next((m for m, (parent, _) in at.items() if parent not in at), None), []
    while mount_id:
        stack.append(at[mount_id][1])
        mount_id = on.get(mount_id)
    assert len(stack) == len(at), at
    return stack


def _read(pid, path):
    try:
        with open(f"/proc/{pid}/root{path}") as f:
            return f.read()
    except OSError as e:
        return e.strerror


@contextlib.contextmanager
def read_at_each_syscall(pid, path, wake):
    """Yields the list of what path read in pid's mount namespace while
    the block ran, a repeat as one: at the start and at each stop of pid
    (its main thread) at a system call's entry and exit, the test its
    tracer meanwhile (syscallstep.stepping()).  A mount table changes only
    inside a call: these are all that path showed any reader meanwhile."""
    seen = []

    def at_stop():
        text = _read(pid, path)
        if not seen or seen[-1] != text:
            seen.append(text)

    with stepping(pid, at_stop, wake):
        yield seen
