"""cgroup2 for the netns tier's tests of the agent's cgroups (cgroup_root):
where this machine's hierarchy is, a directory of a test's own below its
root (the `cgroup_root` fixture of tests/netns/conftest.py), and the view
of it the agent gets in its namespace."""
import contextlib
import itertools
import os

import pytest

from netns import wait_until


def cgroup2_mount():
    """Where this machine has cgroup2 mounted (/sys/fs/cgroup, or
    /sys/fs/cgroup/unified in a hybrid layout), or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    return None


def cgroup_procs(path):
    with open(os.path.join(path, "cgroup.procs")) as f:
        return [int(p) for p in f.read().split()]


def cgroup_remove(path):
    """path and the cgroups below it, what runs in them (the agent's
    children, which the test started) killed first."""
    for d in sorted((d for d, _, _ in os.walk(path)), key=len, reverse=True):
        with open(os.path.join(d, "cgroup.kill"), "w") as f:
            f.write("1")
        wait_until(lambda: not cgroup_procs(d), 10, f"{d} to be empty")
        os.rmdir(d)


_cgroups = itertools.count()


@contextlib.contextmanager
def cgroup_of_own():
    """A cgroup2 directory of this test's own, for the agent's cgroup_root,
    made below the root of this machine's cgroup2 hierarchy (wherever the
    test itself runs), removed afterwards with anything left in it.  Only
    this test's processes are ever moved into it.  Skips the test where
    there is none to be had."""
    mount = cgroup2_mount()
    if not mount:
        pytest.skip("cgroup2 not mounted")
    path = os.path.join(mount, f"vmba-test-{os.getpid()}-{next(_cgroups)}")
    try:
        os.mkdir(path)
    except OSError as e:
        pytest.skip(f"cannot make a cgroup in {mount}: {e}")
    try:
        if not os.path.exists(os.path.join(path, "cgroup.kill")):
            pytest.skip("no cgroup.kill (Linux 5.14+)")
        yield path
    finally:
        cgroup_remove(path)


def cgroup_view(tmp_path, cgroup_root):
    """The agent's namespace has a sysfs of its own (ip netns exec), where
    no cgroup2 is mounted: one mounted there, in its mount namespace only,
    shows the same hierarchy.  The Agent's wrap that mounts it, and
    cgroup_root as the agent sees it there."""
    view = tmp_path / "cgroup2"
    view.mkdir()
    wrap = ["sh", "-c", f'mount -t cgroup2 cgroup2 {view} && exec "$@"', "sh"]
    return wrap, os.path.join(view, os.path.relpath(cgroup_root, cgroup2_mount()))
