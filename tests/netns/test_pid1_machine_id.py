"""The agent's machine id as PID 1 (tests/lib/pid1run.py), at boot and
at a restore:

- systemd.machine_id= on its command line is the machine id its services
  read (machine_id_file, the test's stand-in for /etc/machine-id): written
  in place, or bound over it from runtime_dir when its directory is
  read-only; a malformed value is logged and the image's id stays.  A
  symlink there (root's) is followed: the id goes where it leads.
- A restore's handover's machine id replaces the agent's bind: one of its
  own is left, over a foreign bind that was there before it (untouched),
  and a reader finds the id before or the new one, never another; where
  the agent's bind cannot be unmounted, the new one goes over it.  One
  whose machine_id_file is another user's symlink is refused up front.
"""
import contextlib
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from mountwatch import mount_stack, read_at_each_syscall
from netns import DEADLINE_SCALE, Netns, read_line, wait_until
from pid1run import health, pid1_workdir, restore_poke, service, start_pid1, stop_pid1, write
from seccompwrap import refusing
from svagent import MMDS_SERVER


@pytest.fixture
def workdir():
    with pid1_workdir() as d:
        yield d


IMAGE_ID = "0123456789abcdef0123456789abcdef"


def machine_id_run(agent_bin, workdir, cmdline, prelude=None):
    """Boots the agent with cmdline and an image id in machine_id_file;
    returns (what a service read there, the agent's log up to then)."""
    etc = os.path.join(workdir, "etc")
    os.mkdir(etc)
    write(os.path.join(etc, "machine-id"), IMAGE_ID + "\n")
    os.chmod(os.path.join(etc, "machine-id"), 0o444)
    seen = os.path.join(workdir, "seen")
    services = [service("reader", f"cat {etc}/machine-id > {seen}.tmp; mv {seen}.tmp {seen}; exec sleep 1000")]
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, services, "--no-reboot", cmdline=cmdline,
                                    prelude=prelude, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: os.path.exists(seen), 20, "the reader service's copy")
        os.kill(agent, signal.SIGTERM)
        log = unshare.communicate(timeout=30 * DEADLINE_SCALE)[1]
        assert unshare.returncode == 0 and "Stopped; exiting." in log, log
    with open(seen) as f:
        return f.read(), log


def test_machine_id_from_boot_argument(agent_bin, workdir):
    # A UUID in upper case, as systemd takes it: written as machine-id(5)'s form.
    new = "fedcba98-7654-3210-FEDC-BA9876543210"
    seen, log = machine_id_run(agent_bin, workdir, f"console=ttyS0 systemd.machine_id={new} quiet")
    assert seen == "fedcba9876543210fedcba9876543210\n"
    path = os.path.join(workdir, "etc", "machine-id")
    st = os.stat(path)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o444, 0, 0)
    with open(path) as f:
        assert f.read() == seen  # written in place: the root is writable
    assert f"Machine id from systemd.machine_id= written to {path}." in log


def test_machine_id_read_only_root(agent_bin, workdir):
    # The image's directory read-only in the agent's mount namespace only:
    # the id is bound over the file from runtime_dir there, and the file
    # itself (seen from outside) is untouched.
    etc = os.path.join(workdir, "etc")
    new = "fedcba9876543210fedcba9876543210"
    seen, log = machine_id_run(agent_bin, workdir, f"systemd.machine_id={new}",
                               prelude=f"mount --bind {etc} {etc} && mount -o remount,bind,ro {etc}")
    assert seen == new + "\n"
    with open(os.path.join(etc, "machine-id")) as f:
        assert f.read() == IMAGE_ID + "\n"
    with open(os.path.join(workdir, "run", "machine-id")) as f:
        assert f.read() == new + "\n"
    assert f"Machine id from systemd.machine_id= bound over (read-only root) {etc}/machine-id." in log


def test_machine_id_bound_over_where_a_symlink_leads(agent_bin, workdir):
    """machine_id_file a symlink to the image's id (as the image's
    /var/lib/dbus/machine-id is to /etc/machine-id) on a read-only root:
    the id is bound over the file the symlink leads to, as mount(2) and
    systemd bind one, so a reader of either name finds it, whichever way
    the kernel lets the agent bind (mount(2) before 5.12)."""
    etc, image = os.path.join(workdir, "etc"), os.path.join(workdir, "image")
    new = "fedcba9876543210fedcba9876543210"
    os.mkdir(etc)
    os.mkdir(image)
    target = write(os.path.join(image, "machine-id"), IMAGE_ID + "\n")
    os.chmod(target, 0o444)
    os.symlink(target, os.path.join(etc, "machine-id"))
    seen = os.path.join(workdir, "seen")
    services = [service("reader", f"cat {etc}/machine-id {target} > {seen}.tmp; mv {seen}.tmp {seen}; "
                                  "exec sleep 1000")]
    read_only = " && ".join(f"mount --bind {d} {d} && mount -o remount,bind,ro {d}" for d in (etc, image))
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, services, "--no-reboot",
                                    cmdline=f"systemd.machine_id={new}", prelude=read_only,
                                    stderr=subprocess.PIPE, text=True)
        wait_until(lambda: os.path.exists(seen), 20, "the reader service's copy")
        os.kill(agent, signal.SIGTERM)
        log = unshare.communicate(timeout=30 * DEADLINE_SCALE)[1]
        assert unshare.returncode == 0 and "Stopped; exiting." in log, log
    with open(seen) as f:
        assert f.read() == (new + "\n") * 2, log
    assert os.readlink(os.path.join(etc, "machine-id")) == target
    with open(target) as f:
        assert f.read() == IMAGE_ID + "\n"
    assert f"Machine id from systemd.machine_id= bound over (read-only root) {etc}/machine-id." in log


@pytest.mark.parametrize("links", ["absolute", "chain", "to nothing", "another user's"])
def test_machine_id_written_where_a_symlink_leads(agent_bin, workdir, links):
    """machine_id_file a symlink on a writable root (the image's
    /var/lib/dbus/machine-id -> /etc/machine-id, packaging/mkimage): the
    id is written to the file the link leads to, through a chain of links
    (a relative one read from its own directory), or made where a link to
    nothing leads, and the links stay, so that a reader of either name (a
    service opens it following the link) finds it.  A link another user
    owns is not followed: nothing is written, the link and the image's id
    stay."""
    etc, dbus = os.path.join(workdir, "etc"), os.path.join(workdir, "dbus")
    target, link = os.path.join(etc, "machine-id"), os.path.join(dbus, "machine-id")
    new = "fedcba9876543210fedcba9876543210"
    os.mkdir(etc)
    os.mkdir(dbus)
    if links != "to nothing":
        os.chmod(write(target, IMAGE_ID + "\n"), 0o444)
    if links == "chain":
        os.symlink("../etc/machine-id", os.path.join(dbus, "id"))
        os.symlink(os.path.join(dbus, "id"), link)
    else:
        os.symlink(target, link)
    if links == "another user's":
        os.lchown(link, 65534, 65534)
    seen = os.path.join(workdir, "seen")
    services = [service("reader", f"cat {link} {target} > {seen}.tmp; mv {seen}.tmp {seen}; exec sleep 1000")]
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, services, "--no-reboot", "--set",
                                    f"machine_id_file={link}", cmdline=f"systemd.machine_id={new}",
                                    stderr=subprocess.PIPE, text=True)
        wait_until(lambda: os.path.exists(seen), 20, "the reader service's copy")
        os.kill(agent, signal.SIGTERM)
        log = unshare.communicate(timeout=30 * DEADLINE_SCALE)[1]
        assert unshare.returncode == 0 and "Stopped; exiting." in log, log
    assert os.path.islink(link)
    expected = IMAGE_ID if links == "another user's" else new
    with open(seen) as f:
        assert f.read() == (expected + "\n") * 2, log
    if links == "another user's":
        assert (f"Failed to set the machine id from systemd.machine_id= in {link}, it stays the image's: "
                "Operation not permitted") in log, log
        return
    st = os.stat(target)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o444, 0, 0)
    assert f"Machine id from systemd.machine_id= written to {link}." in log, log


@pytest.mark.parametrize("value, why", [
    ("00000000000000000000000000000000", "all zero, which means no id"),
    ("0123456789abcdef0123456789abcde", "not 32 hex digits or a UUID (8-4-4-4-12)"),
    ("firmware", '"firmware" (systemd\'s SMBIOS product UUID) is not read: pass the id itself'),
])
def test_machine_id_malformed(agent_bin, workdir, value, why):
    seen, log = machine_id_run(agent_bin, workdir, f"console=ttyS0 systemd.machine_id={value}")
    assert seen == IMAGE_ID + "\n"
    with open(os.path.join(workdir, "etc", "machine-id")) as f:
        assert f.read() == IMAGE_ID + "\n"
    assert f"Refused systemd.machine_id={value}: {why}; the machine id stays the image's." in log
    assert "Machine id from" not in log



NEW_TOKEN = "vmba-restored-token-fedcba9876543210"
NEW_DESKTOP = "Restored-desktop-secret-0123456789"


def hand_over(path, obj):
    """The MMDS stand-in's object replaced whole (never seen half-written)."""
    write(path + ".tmp", json.dumps(obj))
    os.replace(path + ".tmp", path)


def read_until(stream, seen, text):
    """Lines of stream added to seen up to one with text.  One deadline for
    all: a restore that fails over and over logs on and on."""
    deadline = time.monotonic() + 20 * DEADLINE_SCALE
    while not seen or text not in seen[-1]:
        assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(seen)
        seen.append(read_line(stream, timeout=20))


def restore_run(agent_bin, workdir, steps, cmdline="console=ttyS0", prelude=None, during=None, sets=(),
                wrapper=()):
    """PID 1 with restores on, an image id in machine_id_file and an MMDS
    stand-in whose object names generation g1 at boot; for each (handover,
    line) of steps, the handover put in place, a poke, and the agent's log
    read up to that line, inside during(ns, agent pid, step's index) when
    given (a context manager: what watches and checks each restore).
    sets: more config keys (key=value); wrapper: start_pid1()'s.
    Returns (the machine id the agent's processes read at the end, the
    log read)."""
    etc = os.path.join(workdir, "etc")
    os.mkdir(etc)
    write(os.path.join(etc, "machine-id"), IMAGE_ID + "\n")
    os.chmod(os.path.join(etc, "machine-id"), 0o444)
    obj, mmds_log = os.path.join(workdir, "mmds.json"), os.path.join(workdir, "mmds.log")
    hand_over(obj, {"generation": "g1"})
    seen = []
    with Netns() as ns:
        mmds = ns.popen([sys.executable, MMDS_SERVER, "127.0.0.1", obj, mmds_log])
        try:
            unshare, agent = start_pid1(ns, agent_bin, workdir, [], "--no-reboot", "--set", "restore=true",
                                        "--set", "mmds=false", "--set", "mmds_address=127.0.0.1",
                                        "--set", "restore_clock=false", "--set", "restore_check_interval_ms=1",
                                        *(a for kv in sets for a in ("--set", kv)), cmdline=cmdline,
                                        prelude=prelude, wrapper=wrapper, stderr=subprocess.PIPE, text=True)
            read_until(unshare.stderr, seen, "Generation g1.")
            for i, (handover, line) in enumerate(steps):
                with during(ns, agent, i) if during else contextlib.nullcontext():
                    hand_over(obj, handover)
                    assert restore_poke(ns) == "202"
                    read_until(unshare.stderr, seen, line)
            # Through the agent's mount namespace: what a CLI it starts reads.
            with open(f"/proc/{agent}/root{etc}/machine-id") as f:
                machine_id = f.read()
            stop_pid1(agent, unshare)
        finally:
            mmds.kill()
            mmds.wait()
    return machine_id, "".join(seen)


def test_restore_sets_the_machine_id(agent_bin, workdir):
    """A clone's handover with a machine_id (a UUID in upper case): written
    in place first, as systemd.machine_id= is at boot.  A later step that
    fails (a device the clone lacks) leaves the agent restoring; the host's
    fixed handover redoes what is left, and the id, found in place, is not
    written again."""
    path = os.path.join(workdir, "etc", "machine-id")
    g2 = {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP,
          "machine_id": "FEDCBA98-7654-3210-FEDC-BA9876543210"}
    seen, log = restore_run(agent_bin, workdir, [
        ({**g2, "network": "ip=10.77.0.9:::24::eth9:off"}, "Restore incomplete (generation g2)"),
        (g2, "Restore done: generation g2"),
    ])
    assert seen == "fedcba9876543210fedcba9876543210\n"
    st = os.stat(path)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o444, 0, 0)
    with open(path) as f:
        assert f.read() == seen
    # Written once; each later try (the agent's own retries of the failed
    # handover, however many came before the fix, then the fixed one)
    # finds it in place.
    lines = [l[l.index("Restore: "):] for l in log.splitlines()
             if "Restore: machine id" in l or "Restore: network" in l]
    written, already = (f"Restore: machine id from the handover {how} {path}." for how in ("written to", "already in"))
    assert lines[0] == written and lines[1].startswith("Restore: network from the handover failed: "), log
    assert lines[-1] == already and written not in lines[1:], log
    assert all(l == already for l in lines[2::2]) and all(l.startswith("Restore: network") for l in lines[1::2]), log


def test_restore_binds_the_machine_id_on_a_read_only_root(agent_bin, workdir):
    """A read-only root whose id was bound over at boot (systemd.machine_id=
    on the snapshot's command line): the clone's is bound over it from
    runtime_dir, the image's file untouched."""
    etc = os.path.join(workdir, "etc")
    boot, clone = "fedcba9876543210fedcba9876543210", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    seen, log = restore_run(agent_bin, workdir, [
        ({"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP, "machine_id": clone},
         "Restore done: generation g2"),
    ], cmdline=f"systemd.machine_id={boot}", prelude=f"mount --bind {etc} {etc} && mount -o remount,bind,ro {etc}")
    assert seen == clone + "\n"
    with open(os.path.join(etc, "machine-id")) as f:
        assert f.read() == IMAGE_ID + "\n"
    with open(os.path.join(workdir, "run", "machine-id")) as f:
        assert f.read() == clone + "\n"
    assert f"Machine id from systemd.machine_id= bound over (read-only root) {etc}/machine-id." in log
    assert f"Restore: machine id from the handover bound over (read-only root) {etc}/machine-id." in log


FOREIGN_ID = "00112233445566778899aabbccddeeff"
CLONE_IDS = ("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "1e2d3c4b5a69788796a5b4c3d2e1f00f", "2d3c4b5a69788796a5b4c3d2e1f00f1e")


def clone_handovers(ids):
    """For each machine id, a clone's handover (g2, g3, ...; secrets of
    its own each: a reused one is refused) and the line its restore ends
    with."""
    return [({"generation": f"g{n}", "token": f"{NEW_TOKEN}-{n}", "desktop_secret": f"{NEW_DESKTOP}-{n}",
              "machine_id": machine_id}, f"Restore done: generation g{n}") for n, machine_id in enumerate(ids, 2)]


def stack_and_id_after(path, workdir, stacks, ids):
    """For restore_run()'s during: after each restore, the mounts at path
    (mount_stack(): each root below workdir, and whether it is read-only)
    and the id it shows, added to stacks and ids."""
    @contextlib.contextmanager
    def after(ns, agent, i):
        yield
        stacks.append([(root.split(os.path.basename(workdir) + "/", 1)[-1], options.startswith("ro,"))
                       for root, options in mount_stack(agent, path)])
        with open(f"/proc/{agent}/root{path}") as f:
            ids.append(f.read().strip())
    return after


@pytest.mark.parametrize("boot_id", [None, "fedcba9876543210fedcba9876543210"])
def test_restores_replace_the_agents_bind_over_a_foreign_one(agent_bin, workdir, boot_id):
    """machine_id_file under a bind someone else made before the agent
    started (here a file of the test's over the image's): the agent's own
    goes on top of it, at boot (systemd.machine_id=) or at the first
    restore, and each restore replaces the agent's: after each, one bind
    of the agent's over the foreign one, which is left as it was."""
    path = os.path.join(workdir, "etc", "machine-id")
    foreign = write(os.path.join(workdir, "foreign-id"), FOREIGN_ID + "\n")
    stacks, ids = [], []
    _, log = restore_run(agent_bin, workdir, clone_handovers(CLONE_IDS),
                         during=stack_and_id_after(path, workdir, stacks, ids),
                         cmdline=f"systemd.machine_id={boot_id}" if boot_id else "console=ttyS0",
                         prelude=f"mount --bind {foreign} {path}")
    assert stacks == [[("foreign-id", False), ("run/machine-id", True)]] * len(CLONE_IDS)
    assert ids == list(CLONE_IDS)
    with open(foreign) as f:
        assert f.read() == FOREIGN_ID + "\n"
    assert "Failed to rename" not in log, log


def test_restores_bind_over_where_a_symlink_leads(agent_bin, workdir):
    """machine_id_file a symlink to the image's id (as the image's
    /var/lib/dbus/machine-id is to /etc/machine-id) on a read-only root:
    each restore replaces the agent's bind over the file it leads to,
    and one bind of the agent's is left there."""
    etc, dbus = os.path.join(workdir, "etc"), os.path.join(workdir, "dbus")
    os.mkdir(dbus)
    os.symlink(os.path.join(etc, "machine-id"), os.path.join(dbus, "machine-id"))
    stacks, ids = [], []
    read_only = " && ".join(f"mount --bind {d} {d} && mount -o remount,bind,ro {d}" for d in (etc, dbus))
    seen, log = restore_run(agent_bin, workdir, clone_handovers(CLONE_IDS[:2]),
                            during=stack_and_id_after(os.path.join(etc, "machine-id"), workdir, stacks, ids),
                            cmdline=f"systemd.machine_id={FOREIGN_ID}", prelude=read_only,
                            sets=(f"machine_id_file={dbus}/machine-id",))
    assert f"Machine id from systemd.machine_id= bound over (read-only root) {dbus}/machine-id." in log, log
    assert stacks == [[("run/machine-id", True)]] * 2
    assert ids == list(CLONE_IDS[:2])
    assert seen == CLONE_IDS[1] + "\n"
    with open(os.path.join(etc, "machine-id")) as f:
        assert f.read() == IMAGE_ID + "\n"
    assert "Failed to rename" not in log, log


def test_restore_writes_where_a_symlink_leads(agent_bin, workdir):
    """machine_id_file a symlink to the image's id on a writable root (as
    the image's /var/lib/dbus/machine-id is to /etc/machine-id): the boot's
    id (systemd.machine_id=), then a restore's, is written to the file the
    link leads to, and the link stays."""
    etc, dbus = os.path.join(workdir, "etc"), os.path.join(workdir, "dbus")
    link = os.path.join(dbus, "machine-id")
    boot, clone = "fedcba9876543210fedcba9876543210", CLONE_IDS[0]
    os.mkdir(dbus)
    os.symlink(os.path.join(etc, "machine-id"), link)
    seen, log = restore_run(agent_bin, workdir, clone_handovers([clone]), cmdline=f"systemd.machine_id={boot}",
                            sets=(f"machine_id_file={link}",))
    assert f"Machine id from systemd.machine_id= written to {link}." in log, log
    assert f"Restore: machine id from the handover written to {link}." in log, log
    assert seen == clone + "\n"
    assert os.readlink(link) == os.path.join(etc, "machine-id")
    with open(link) as f:
        assert f.read() == clone + "\n"


def test_restore_refuses_a_machine_id_through_another_users_symlink(agent_bin, workdir):
    """machine_id_file a symlink another user owns (the agent follows
    root's only): a handover's machine id is refused up front, naming the
    file, rather than tried and failed (EPERM) at every retry; the host's
    handover without one is then done, and the image's id and the link
    stay."""
    etc, dbus = os.path.join(workdir, "etc"), os.path.join(workdir, "dbus")
    link = os.path.join(dbus, "machine-id")
    os.mkdir(dbus)
    os.symlink(os.path.join(etc, "machine-id"), link)
    os.lchown(link, 65534, 65534)
    (g2, done), = clone_handovers(CLONE_IDS[:1])
    refused = (f"Restore refused: the handover has a machine_id, and machine_id_file is, or leads through, a "
               f"symlink another user owns, which the agent does not follow (root's only): remove the link or "
               f"hand over no machine_id (generation g2, machine_id_file {link}); control routes answer 503")
    seen, log = restore_run(agent_bin, workdir, [(g2, "Restore refused"),
                                                 ({k: v for k, v in g2.items() if k != "machine_id"}, done)],
                            sets=(f"machine_id_file={link}",))
    assert refused in log, log
    assert "Restore incomplete" not in log and "Restore: failed" not in log, log
    assert seen == IMAGE_ID + "\n"
    assert os.readlink(link) == os.path.join(etc, "machine-id")
    with open(os.path.join(etc, "machine-id")) as f:
        assert f.read() == IMAGE_ID + "\n"


# move_mount() (429) refusing MOVE_MOUNT_BENEATH (0x200 in its flags) with
# EINVAL, as every kernel before 6.5 does (an unknown flag).
NO_MOUNT_BENEATH = refusing(429, errno.EINVAL, 0x200)
# umount2() (166) refused, as a security module may refuse it.
NO_UMOUNT = refusing(166, errno.EPERM)


def test_restores_where_the_kernel_binds_nothing_beneath(agent_bin, workdir):
    """A kernel before 6.5 (NO_MOUNT_BENEATH; 6.1 is Debian 12's) binds
    nothing beneath the agent's bind: the agent unmounts its bind before
    it binds the next one (path shows what is under it in between), and
    after each restore there is one bind of its own all the same, over
    the foreign one, which is left as it was."""
    if os.uname().machine != "x86_64":
        pytest.skip("NO_MOUNT_BENEATH has x86-64's numbers")
    path = os.path.join(workdir, "etc", "machine-id")
    foreign = write(os.path.join(workdir, "foreign-id"), FOREIGN_ID + "\n")
    stacks, ids = [], []
    _, log = restore_run(agent_bin, workdir, clone_handovers(CLONE_IDS),
                         during=stack_and_id_after(path, workdir, stacks, ids),
                         cmdline="systemd.machine_id=fedcba9876543210fedcba9876543210", sets=("log_level=debug",),
                         prelude=f"mount --bind {foreign} {path}", wrapper=NO_MOUNT_BENEATH)
    assert stacks == [[("foreign-id", False), ("run/machine-id", True)]] * len(CLONE_IDS)
    assert ids == list(CLONE_IDS)
    with open(foreign) as f:
        assert f.read() == FOREIGN_ID + "\n"
    assert log.count(f"Cannot bind the machine id beneath the one bound over {path}, unmounting that first: "
                     "Invalid argument") == len(CLONE_IDS), log
    assert "Failed to rename" not in log, log


@pytest.mark.parametrize("kernel", ["6.5+", "before 6.5"])
def test_restores_where_the_agents_bind_cannot_be_unmounted(agent_bin, workdir, kernel):
    """umount2() refused (NO_UMOUNT, as a security module may): the
    restore's id, bound beneath the agent's bind (6.5+), cannot come up by
    its unmounting, or (before 6.5, NO_MOUNT_BENEATH too) the agent's
    cannot go first; the new one is bound over it, so that after each
    restore the clone's id shows over the binds of the agent's that stay
    (said in a warning), rather than the id from before with an error
    that says otherwise."""
    if os.uname().machine != "x86_64":
        pytest.skip("NO_UMOUNT has x86-64's numbers")
    if kernel == "6.5+" and tuple(int(n) for n in re.findall(r"\d+", os.uname().release)[:2]) < (6, 5):
        pytest.skip("a kernel before 6.5 binds nothing beneath a mount")
    etc = os.path.join(workdir, "etc")
    path = os.path.join(etc, "machine-id")
    stacks, ids = [], []
    seen, log = restore_run(agent_bin, workdir, clone_handovers(CLONE_IDS[:2]),
                            during=stack_and_id_after(path, workdir, stacks, ids),
                            cmdline="systemd.machine_id=fedcba9876543210fedcba9876543210",
                            prelude=f"mount --bind {etc} {etc} && mount -o remount,bind,ro {etc}",
                            wrapper=NO_UMOUNT + (NO_MOUNT_BENEATH if kernel == "before 6.5" else []))
    assert ids == list(CLONE_IDS[:2])
    assert seen == CLONE_IDS[1] + "\n"
    # The boot's bind, the first restore's (beneath it too on 6.5+), then
    # the second's over them all: the first restore's copy could not take
    # runtime_dir/machine-id, a mount point now, so the second binds over
    # it as over a bind not of the agent's (no unmount tried).
    assert [len(stack) for stack in stacks] == ([3, 4] if kernel == "6.5+" else [2, 3]), stacks
    assert all(read_only for stack in stacks for _, read_only in stack), stacks
    why = "two binds of ours stay" if kernel == "6.5+" else "ours stays"
    assert log.count(f"Failed to unmount the machine id bound over {path}, binding the new one over it ({why} "
                     "under it): Operation not permitted") == 1, log
    assert "Restore: failed" not in log, log


@pytest.mark.parametrize("under", ["read-only root", "foreign bind"])
def test_a_reader_sees_the_old_id_then_the_new_one(agent_bin, workdir, under):
    """A reader of machine_id_file while restores replace the agent's bind
    (a read-only root, or a foreign bind under it; the boot's id bound at
    boot): read at each system call of the agent (read_at_each_syscall()),
    it finds the id from before each restore, then the clone's, and never
    one in between (the image's or the foreign bind's)."""
    if tuple(int(n) for n in re.findall(r"\d+", os.uname().release)[:2]) < (6, 5):
        pytest.skip("a kernel before 6.5 binds nothing beneath a mount (the agent unmounts its bind first: "
                    "test_restores_where_the_kernel_binds_nothing_beneath)")
    etc = os.path.join(workdir, "etc")
    path = os.path.join(etc, "machine-id")
    foreign = write(os.path.join(workdir, "foreign-id"), FOREIGN_ID + "\n")
    boot = "fedcba9876543210fedcba9876543210"
    reads = []

    @contextlib.contextmanager
    def watched(ns, agent, i):
        with read_at_each_syscall(agent, path, lambda: health(ns)) as seen:
            yield
        reads.append([text.strip() for text in seen])

    prelude = (f"mount --bind {etc} {etc} && mount -o remount,bind,ro {etc}" if under == "read-only root"
               else f"mount --bind {foreign} {path}")
    restore_run(agent_bin, workdir, clone_handovers(CLONE_IDS[:2]), during=watched,
                cmdline=f"systemd.machine_id={boot}", prelude=prelude)
    assert reads == [[boot, CLONE_IDS[0]], [CLONE_IDS[0], CLONE_IDS[1]]]
