"""The logins' HOMEs, in a test network namespace with fake provider
CLIs (tests/lib/loginenv.py): login_home is a tmpfs of its own in the
agent's mount namespace (emptied of what an earlier run left, put back
when lost from outside, or none when it cannot be had), and so is each
login's HOME (a CLI filling it takes no room from another login's); a
login's HOME goes when its session expires, symlinks in it never followed; what a CLI
left running, out of its process group too, goes once no CLI runs, and
with cgroups (cgroup_root) runs in its login's cgroup and goes with its
CLI, whose CPU time (the cgroup's) its end's log line and /metrics give,
or call unknown without cgroups; what it wrote to /tmp by name goes with it; HOMEs no login has are
removed.  The tests end by searching everything the run
wrote for the secrets."""
import contextlib
import ctypes
import errno
import json
import os
import re
import select
import shutil
import subprocess
import tempfile

import pytest

from cgroups import cgroup_procs, cgroup_view
from loginenv import as_cli_user, cli_pids, home_gone, sid
from netns import DEADLINE_SCALE, wait_until, workdir
from seccompwrap import (AUDIT_ARCH_X86_64, BPF_JEQ, BPF_LD, BPF_RET, SECCOMP_ALLOW, SECCOMP_ERRNO, SECCOMP_USER_NOTIF,
                         bpf, filter_of, notifying, refusing_calls, seccomp_wrap)
from svagent import CLI_GID, CLI_POOL_UIDS, mounts_at


def stale_home(parent):
    """A HOME an earlier run left, its credential file in it."""
    os.makedirs(os.path.join(parent, "login-old", ".codex"))
    with open(os.path.join(parent, "login-old", ".codex", "auth.json"), "w") as f:
        f.write('{"tokens": {"access_token": "OLD"}}')


def test_login_home_is_a_tmpfs_of_its_own(make_env):
    """login_home is a tmpfs of login_home_size_mb in the agent's mount
    namespace (nosuid, nodev, noexec; root's, 0710, the CLI user's group;
    an inode per 4 KiB): a login's credential file is never written to the
    disk, and the disk's directory, rid first of the HOMEs an earlier run
    left there (the tmpfs would hide them there for ever), gets none."""
    def earlier_run(env):
        stale_home(env.home_path)
        os.makedirs(os.path.join(env.home_path, ".removing-3", "x"))
        os.mkdir(os.path.join(env.home_path, "lost+found"))
    e = make_env(sets=("login_home_size_mb=2",), before_start=earlier_run)
    assert os.listdir(e.home_path) == ["lost+found"]
    (fstype, flags, options), = mounts_at(e.agent.pid, e.home_path)
    assert fstype == "tmpfs" and {"nosuid", "nodev", "noexec"} <= flags, flags
    assert {"size=2048k", "nr_inodes=512", "mode=710", f"gid={CLI_GID}"} <= options, options
    st, vfs = os.stat(e.home), os.statvfs(e.home)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o710, 0, CLI_GID)
    assert (vfs.f_blocks * vfs.f_frsize, vfs.f_files) == (2 << 20, 512)
    assert f"login_home {e.home_path}: a tmpfs of 2 MiB, the logins' files off the disk (2 HOMEs an earlier run " \
        "left removed first)" in e.agent.log_text()
    s = sid()
    status, started = e.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200, started
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    assert os.path.isfile(os.path.join(e.home_of(s), ".codex", "auth.json"))
    assert os.listdir(e.home_path) == ["lost+found"]
    status, got = e.json("GET", f"/credentials/get?sessionId={s}")
    assert status == 200 and got["credentials"]["tokens"]["access_token"] == "SECRET-ACCESS-codex", got
    wait_until(lambda: home_gone(e.home_of(s)), 10, "the HOME removed after delivery")
    e.assert_no_secrets()


@pytest.mark.parametrize("home_mounted", [False, True])
def test_login_home_tmpfs_of_an_earlier_run_is_emptied_below(make_env, home_mounted):
    """An agent restarted in its earlier run's mount namespace (a unit
    without one of its own, a run by hand) finds that run's tmpfs on
    login_home: the HOMEs in it go (with home_mounted, as that run left
    them: each still with its own tmpfs, which is detached first), and a
    new tmpfs of the configured size goes on top (a remount would resize
    whatever tmpfs that is, a bind mount of /run's included)."""
    home = 'mkdir "$0/login-old" && mount -t tmpfs -o size=1m tmpfs "$0/login-old" && ' if home_mounted else ""
    earlier = ('mkdir -p "$0" && mount -t tmpfs -o size=1m,mode=0755 tmpfs "$0" && ' + home +
               'mkdir -p "$0/login-old/.codex" && echo OLD > "$0/login-old/.codex/auth.json" && exec "$@"')
    e = make_env(sets=("login_home_size_mb=3",),
                 wrap=lambda env: ("sh", "-c", earlier, env.home_path))
    assert mounts_at(e.agent.pid, os.path.join(e.home_path, "login-old")) == []
    (below, _, old), (fstype, flags, options) = mounts_at(e.agent.pid, e.home_path)
    assert below == fstype == "tmpfs" and "size=1024k" in old and "size=3072k" in options, options
    assert {"nosuid", "nodev", "noexec"} <= flags, flags
    st = os.stat(e.home)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o710, 0, CLI_GID) and os.listdir(e.home) == []
    assert f"login_home {e.home_path}: a tmpfs of 3 MiB, the logins' files off the disk (1 HOMEs an earlier run " \
        "left removed first)" in e.agent.log_text()


def test_login_home_tmpfs_lost_from_outside(make_env):
    """Root outside the agent's mount namespace can remove login_home's
    directory below the tmpfs, which detaches the tmpfs in the agent's
    namespace.  The next login's HOME does not go to the disk: a new tmpfs
    goes on first, and the log says so."""
    e = make_env(sets=("login_home_size_mb=2",))
    assert len(mounts_at(e.agent.pid, e.home_path)) == 1
    os.rmdir(e.home_path)
    assert mounts_at(e.agent.pid, e.home_path) == []
    s = sid()
    status, started = e.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200, started
    lost = f"login_home {e.home_path} has lost its tmpfs (unmounted from outside the agent): a new one goes on."
    assert lost in e.agent.log_text()
    (fstype, flags, options), = mounts_at(e.agent.pid, e.home_path)
    assert fstype == "tmpfs" and "size=2048k" in options, options
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    assert os.path.isfile(os.path.join(e.home_of(s), ".codex", "auth.json"))
    assert os.listdir(e.home_path) == []
    # The new tmpfs is kept: the next login's HOME goes beside the first,
    # which stays (a second mount would first have emptied this one).
    s2 = sid()
    assert e.json("POST", "/auth/gemini_cli", {"sessionId": s2})[0] == 200
    assert len(mounts_at(e.agent.pid, e.home_path)) == 1 and e.agent.log_text().count(lost) == 1
    assert os.path.isfile(os.path.join(e.home_of(s), ".codex", "auth.json")) and os.path.isdir(e.home_of(s2))
    assert e.json("GET", f"/credentials/get?sessionId={s}")[0] == 200
    e.assert_no_secrets()


@pytest.mark.parametrize("size, why", [
    ("0", None),
    # A HOME that cannot go (another file system mounted in it: a HOME's
    # own tmpfs is detached) would be hidden for ever.
    ("64", "removing the HOMEs an earlier run left in it failed: Invalid cross-device link")])
def test_login_home_without_a_tmpfs(make_env, size, why):
    """login_home_size_mb=0 leaves login_home a directory of its file
    system, and the HOMEs too; a HOME left there that cannot be removed
    leaves login_home so, and the log says why and that each HOME is
    still a tmpfs of its own, which it is.  Logins work in both cases.  (A size out of range is the
    config's error: tests/unit/agent/config.)"""
    busy = 'mkdir -p "$0/login-old/mnt" && mount -t tmpfs tmpfs "$0/login-old/mnt" && exec "$@"'
    e = make_env(sets=(f"login_home_size_mb={size}",),
                 wrap=lambda env: ("sh", "-c", busy, env.home_path) if size == "64" else ())
    assert [m[0] for m in mounts_at(e.agent.pid, e.home_path)] == []
    log = e.agent.log_text()
    failed = f"login_home {e.home_path} gets no tmpfs of its own, so the HOMEs' directories go to the file " \
        f"system that holds it (the logins' files still go to each HOME's own tmpfs of {size} MiB): {why}."
    assert (failed in log) == bool(why) and (why or "gets no tmpfs" not in log), log
    s = sid()
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
    assert status == 200, started
    assert os.path.isdir(os.path.join(e.home_path, f"login-{s}"))
    # As the log says: the HOME is a tmpfs of its own all the same.
    home_mounts = mounts_at(e.agent.pid, os.path.join(e.home_path, f"login-{s}"))
    assert [(m[0], "size=65536k" in m[2]) for m in home_mounts] == ([("tmpfs", True)] if why else []), home_mounts
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    assert e.json("GET", f"/credentials/get?sessionId={s}")[0] == 200


# Every tmpfs mount of the agent's own (mount(2) with exactly
# MS_NOSUID|MS_NODEV|MS_NOEXEC in its flags, args[3], and options,
# args[4]: login_home's, each HOME's, the browser's Downloads; not the
# CLIs' mqueue, which has none) refused with EPERM, as a mount that is
# not allowed is (mount is 165).
REFUSE_TMPFS_MOUNTS = seccomp_wrap(
    bpf(BPF_LD, 4), bpf(BPF_JEQ, AUDIT_ARCH_X86_64, 0, 8),   # arch: x86-64, else allowed
    bpf(BPF_LD, 0), bpf(BPF_JEQ, 165, 0, 6),                # nr: mount
    bpf(BPF_LD, 40), bpf(BPF_JEQ, 0xe, 0, 4),               # args[3] (flags), low half
    bpf(BPF_LD, 48), bpf(BPF_JEQ, 0, 0, 3),                 # args[4] (options), low half
    bpf(BPF_LD, 52), bpf(BPF_JEQ, 0, 0, 1),                 # and high half: NULL, allowed
    bpf(BPF_RET, SECCOMP_ALLOW), bpf(BPF_RET, SECCOMP_ERRNO | errno.EPERM))
# A HOME's open below login_home (openat, 257, with a dirfd, not
# AT_FDCWD, and exactly O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC: no
# other of the agent's before its CLI starts) failing as it does when the
# agent has run out of fds.
REFUSE_OPENING_AT = refusing_calls(errno.EMFILE, (257, ((0, 0xffffff9c, False),
                                                        (2, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                                         True))))
# Every chown to another uid than root's (fchown, 93, and fchownat, 260)
# refused, as it is where that uid is not mapped or CAP_CHOWN is missing.
REFUSE_CHOWNS = refusing_calls(errno.EPERM, (93, ((1, 0, False),)), (260, ((2, 0, False),)))
# Only fchownat's, which is the TMPDIR's, made after the HOME is its
# user's (a tmpfs on it, or the directory handed over by fchown).
REFUSE_CHOWNS_AT = refusing_calls(errno.EPERM, (260, ((2, 0, False),)))


def login_home_of_inodes(n):
    """A wrap making login_home a tmpfs of n inodes (its root one), in the
    agent's mount namespace: room for no more than n - 1 directories."""
    return lambda env: ("sh", "-c", f'mkdir -p "$0" && mount -t tmpfs -o nr_inodes={n} tmpfs "$0" && exec "$@"',
                        env.home_path)


# The agent's opens of a directory by path (openat, 257, at AT_FDCWD
# with exactly O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC): each waits for
# the answer of once_mounted_open_refused()'s listener.
OPENS_OF_A_DIRECTORY = filter_of(SECCOMP_USER_NOTIF, (257, ((0, 0xffffff9c, True),
                                                            (2, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW |
                                                             os.O_CLOEXEC, True))))
# The listener's answer: EMFILE, as when the agent has run out of fds, to
# the first open naming PATH once a mount is on it in the opener's mount
# namespace; every other open goes on.
FIRST_OPEN_ONCE_MOUNTED = """
import errno
refused = []
def answer(pid, nr, args):
    if refused or string_at(pid, args[1]) != PATH:
        return 0
    with open(f"/proc/{pid}/mountinfo", "rb") as f:
        if not any(line.split()[4] == PATH for line in f):
            return 0
    refused.append(pid)
    return errno.EMFILE
"""


def once_mounted_open_refused(path):
    """A wrap failing the agent's first open of path once a mount is on it."""
    return notifying(OPENS_OF_A_DIRECTORY, f"PATH = {os.fsencode(path)!r}\n" + FIRST_OPEN_ONCE_MOUNTED)


def test_login_home_tmpfs_that_cannot_be_opened_is_detached(make_env):
    """login_home's tmpfs, mounted but then not to be opened (the agent
    out of fds: once_mounted_open_refused()), is detached: the log says
    login_home gets none, and none is left on it, so the HOMEs'
    directories go where the log says.  A login's HOME is still a tmpfs
    of its own, and the login works."""
    if os.uname().machine != "x86_64":
        pytest.skip("the seccomp filter has x86-64's numbers")
    e = make_env(sets=("login_home_size_mb=2",), wrap=lambda env: once_mounted_open_refused(env.home_path))
    assert f"login_home {e.home_path} gets no tmpfs of its own, so the HOMEs' directories go to the file system " \
        "that holds it (the logins' files still go to each HOME's own tmpfs of 2 MiB): the tmpfs mounted on it " \
        "cannot be opened: Too many open files." in e.agent.log_text()
    assert mounts_at(e.agent.pid, e.home_path) == []
    s = sid()
    status, started = e.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200, started
    (fstype, _, options), = mounts_at(e.agent.pid, os.path.join(e.home_path, f"login-{s}"))
    assert fstype == "tmpfs" and "size=2048k" in options, options
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(s, lambda code, b: b.get("authenticated"))
    assert e.json("GET", f"/credentials/get?sessionId={s}")[0] == 200
    e.assert_no_secrets()


def test_home_tmpfs_refused(make_env):
    """A HOME whose tmpfs cannot be mounted (REFUSE_TMPFS_MOUNTS) fails
    its login's start at once: the answer (500) and the log name the
    HOME, the mount and the errno's text, and so does the login's
    status; no CLI runs, and the HOME's directory, made for the tmpfs,
    is gone.  login_home's own tmpfs is refused too, and the log says
    each HOME would still get its own."""
    if os.uname().machine != "x86_64":
        pytest.skip("REFUSE_TMPFS_MOUNTS has x86-64's numbers")
    e = make_env(sets=("login_home_size_mb=2",), wrap=REFUSE_TMPFS_MOUNTS)
    assert f"login_home {e.home_path} gets no tmpfs of its own, so the HOMEs' directories go to the file system " \
        "that holds it (the logins' files still go to each HOME's own tmpfs of 2 MiB): mounting a tmpfs of 2 MiB " \
        "(login_home_size_mb) failed: Operation not permitted." in e.agent.log_text()
    s = sid()
    status, got = e.json("POST", "/auth/codex", {"sessionId": s})
    home = os.path.join(e.home_path, f"login-{s}")
    why = f"Failed to start the CLI: cannot make its HOME {home}: mounting a tmpfs of 2 MiB (login_home_size_mb) " \
        "on it failed: Operation not permitted"
    assert (status, got.get("error")) == (500, why), got
    log = e.agent.log_text()
    assert f"Login {s} (codex): {why}" in log and f"Login {s}: started" not in log, log
    assert e.json("GET", f"/credentials/status?sessionId={s}") == \
        (200, {"authenticated": False, "failed": True, "error": why})
    assert mounts_at(e.agent.pid, home) == []
    # The directory made for the tmpfs goes with the failure, not at the
    # next sweep or retry of this id.
    assert not os.path.lexists(home), os.listdir(e.home_path)


@pytest.mark.parametrize("size, wrap, failed", [
    ("2", REFUSE_OPENING_AT, "opening it failed: Too many open files"),
    ("0", REFUSE_CHOWNS, f"making it uid {CLI_POOL_UIDS[0]}'s failed: Operation not permitted"),
    # Its TMPDIR not made: after its tmpfs went on (which goes again),
    # or in the directory already handed over (the TMPDIR, when made,
    # goes too), or in a login_home out of inodes (the HOME took the last).
    ("2", REFUSE_CHOWNS_AT, "making its tmp failed: Operation not permitted"),
    ("0", REFUSE_CHOWNS_AT, "making its tmp failed: Operation not permitted"),
    ("0", login_home_of_inodes(2), "making its tmp failed: No space left on device"),
], ids=["open", "chown", "tmp-on-its-tmpfs", "tmp-chown", "tmp-no-inode"])
def test_a_home_that_cannot_be_made_is_gone(make_env, size, wrap, failed):
    """A HOME whose making fails after its directory was made fails its
    login's start at once, as a refused tmpfs does: the answer names the
    step and the errno's text, no CLI runs, and nothing of the HOME is
    left, mounted or not, until the next sweep or a retry of its id."""
    if os.uname().machine != "x86_64":
        pytest.skip("the seccomp filters have x86-64's numbers")
    e = make_env(sets=(f"login_home_size_mb={size}", "cli_users=1"), wrap=wrap)
    s = sid()
    status, got = e.json("POST", "/auth/codex", {"sessionId": s})
    home = os.path.join(e.home_path, f"login-{s}")
    why = f"Failed to start the CLI: cannot make its HOME {home}: {failed}"
    assert (status, got.get("error")) == (500, why), got
    assert f"Login {s}: started" not in e.agent.log_text()
    assert mounts_at(e.agent.pid, home) == []
    assert not os.path.lexists(e.home_of(s)), os.listdir(e.home)


@pytest.mark.parametrize("what", ["bytes", "inodes"])
def test_a_cli_filling_its_home_takes_no_room_from_another_login(make_env, what):
    """Each login's HOME is a tmpfs of its own of login_home_size_mb
    (nosuid, nodev, noexec; its CLI user's, 0700; an inode per 4 KiB): a
    CLI (npm code from the registry) that fills its HOME, with bytes or
    with empty files, leaves a concurrent login's CLI the room to write
    its credential file, which is delivered.  The full HOME's tmpfs goes
    with it when its login ends."""
    ttl = int(6 * DEADLINE_SCALE)  # long enough for a sign-in on a loaded machine
    e = make_env(sets=("login_home_size_mb=2", f"session_ttl_s={ttl}"),
                 provider_env={"FAKE_CLI_FILL": f"codex:{what}"})
    full, other = sid(), sid()
    assert e.json("POST", "/auth/codex", {"sessionId": full})[0] == 200
    room = "f_bavail" if what == "bytes" else "f_ffree"
    wait_until(lambda: getattr(os.statvfs(e.home_of(full)), room) == 0, 20, f"the first HOME full of {what}")
    uid = os.stat(e.home_of(full)).st_uid
    at = os.path.join(e.home_path, f"login-{full}")
    (fstype, flags, options), = mounts_at(e.agent.pid, at)
    assert fstype == "tmpfs" and {"nosuid", "nodev", "noexec"} <= flags, flags
    assert {"size=2048k", "nr_inodes=512", "mode=700", f"uid={uid}", f"gid={CLI_GID}"} <= options, options
    status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": other})
    assert status == 200, started
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(other, lambda code, b: b.get("authenticated"))
    status, got = e.json("GET", f"/credentials/get?sessionId={other}")
    assert status == 200 and got["credentials"]["access_token"] == "SECRET-ACCESS-gemini", got
    assert e.wait_status(full, lambda code, b: b.get("failed"), timeout=ttl + 20) == \
        {"authenticated": False, "failed": True, "error": "Session expired"}
    wait_until(lambda: home_gone(e.home_of(full)), 10, "the full HOME removed")
    assert mounts_at(e.agent.pid, at) == []
    e.assert_no_secrets()


def test_homes_removed_when_sessions_expire(make_env):
    """Expiry removes a login's HOME, the credential file of one that was
    captured but never fetched included, once its CLI is stopped; symlinks
    the CLI put there are removed, never followed."""
    outside = tempfile.mkdtemp(prefix="vmba-outside-", dir="/var/tmp")
    try:
        with open(os.path.join(outside, "secret"), "w") as f:
            f.write("not the agent's to remove\n")
        # Long enough for a sign-in on a loaded machine, short for a test.
        ttl = int(6 * DEADLINE_SCALE)
        e = make_env(sets=(f"session_ttl_s={ttl}",), provider_env={"FAKE_CLI_LINKS": outside})
        signed_in, waiting = sid(), sid()
        status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": signed_in})
        assert status == 200 and "oauthUrl" in started, started
        assert e.json("POST", "/auth/gemini_cli", {"sessionId": waiting})[0] == 200
        # Each CLI planted its links before it printed the URL /auth waits for.
        homes = {s: e.home_of(s) for s in (signed_in, waiting)}
        for home in homes.values():
            assert os.path.islink(os.path.join(home, "linked-dir"))
        assert e.browse(started["oauthUrl"])[0] == 200
        e.wait_status(signed_in, lambda code, body: body.get("authenticated"))
        cred = os.path.join(homes[signed_in], ".gemini/oauth_creds.json")
        assert os.path.isfile(cred)
        for s, home in homes.items():
            assert e.wait_status(s, lambda code, body: body.get("failed"), timeout=ttl + 20) == \
                {"authenticated": False, "failed": True, "error": "Session expired"}
            wait_until(lambda: home_gone(home), 10, f"HOME of {s} removed after expiry")
        wait_until(lambda: not cli_pids(e), 10, "the CLIs stopped")
        assert os.listdir(outside) == ["secret"]
        e.assert_no_secrets()
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def helper_dir():
    """Where the fake CLIs' helpers write their pids: open to the CLIs'
    group (each login's CLI runs as a user of its own)."""
    d = workdir("vmba-helpers-")
    os.chown(d, 0, CLI_GID)
    os.chmod(d, 0o770)
    return d


def helper_of(e, helpers, s):
    """The pid the helper of login s wrote, once it has, as a pidfd; it
    runs as that login's CLI user."""
    path = os.path.join(helpers, f"helper-{s}")
    wait_until(lambda: os.path.exists(path), 20, f"the helper of {s} started")
    with open(path) as f:
        helper = int(f.read())
    pidfd = os.pidfd_open(helper)
    assert os.getsid(helper) == helper  # out of the CLI's group and session
    assert os.stat(f"/proc/{helper}").st_uid == os.stat(e.home_of(s)).st_uid
    return pidfd


def exited(pidfd, timeout=20):
    return bool(select.select([pidfd], [], [], timeout * DEADLINE_SCALE)[0])


def left_running(uid):
    return rf"Sent SIGKILL to 1 process\(es\) of CLI user uid {uid} left running after its login"


def end_login(e, s, started, end, ttl):
    """Login s ends: signed in, its CLI exiting by itself ("cli-exits"),
    or at its expiry (ttl), its CLI stopped; then no CLI runs."""
    if end == "cli-exits":
        assert e.browse(started["oauthUrl"])[0] == 200
        e.wait_status(s, lambda code, b: b.get("authenticated"))
    else:
        assert e.wait_status(s, lambda code, b: b.get("failed"), timeout=ttl + 20) == \
            {"authenticated": False, "failed": True, "error": "Session expired"}
    wait_until(lambda: not cli_pids(e), 20, "the CLI gone")


@pytest.mark.parametrize("end", ["cli-exits", "session-expires"])
def test_what_a_cli_left_outside_its_group_goes_with_the_login(make_env, end):
    """A helper the CLI started in a session of its own (setsid(), Node's
    detached spawn), ignoring SIGTERM, is not in the CLI's process group:
    it runs as the login's CLI user, and once that login's CLI is gone
    every process of that user below the agent is killed: after the CLI
    exits by itself after the sign-in, or is stopped at expiry.  A process
    of that user that is not the agent's (another agent's on this machine)
    is left alone."""
    helpers = helper_dir()
    # Short only where the login is to expire: the other signs in first.
    ttl = int(6 * DEADLINE_SCALE)
    sets = (f"session_ttl_s={ttl}",) if end == "session-expires" else ()
    e = make_env(sets=sets, provider_env={"FAKE_CLI_HELPER": helpers})
    s = sid()
    # The first user of a fresh pool: the one the login gets.
    bystander = subprocess.Popen(["/bin/sleep", "1000"], preexec_fn=lambda: as_cli_user(CLI_POOL_UIDS[0]))
    try:
        provider = "codex" if end == "cli-exits" else "gemini_cli"
        status, started = e.json("POST", f"/auth/{provider}", {"sessionId": s})
        assert status == 200 and "oauthUrl" in started, started
        pidfd = helper_of(e, helpers, s)
        uid = os.stat(e.home_of(s)).st_uid
        assert uid == CLI_POOL_UIDS[0]
        try:
            end_login(e, s, started, end, ttl)
            assert exited(pidfd), "the helper is still running"
        finally:
            os.close(pidfd)
        assert bystander.poll() is None
        # The agent logs the count once its sweep is over, which may be
        # after the helper's exit was seen here.
        wait_until(lambda: re.search(left_running(uid), e.agent.log_text()), 10, "the sweep logged")
        e.assert_no_secrets()
    finally:
        bystander.kill()
        bystander.wait()
        shutil.rmtree(helpers, ignore_errors=True)


@pytest.mark.parametrize("end", ["cli-exits", "session-expires"])
def test_a_cli_and_what_it_left_run_in_its_logins_cgroup(cgroup_root, make_env, tmp_path, end):
    """With cgroups (cgroup_root), a login's CLI runs in a cgroup of its
    own, login-<id>.scope beside the services' (created before the CLI
    runs: it cannot leave it), and so does everything it starts, a helper
    in a session of its own (out of the CLI's group, ignoring SIGTERM)
    included: once the CLI exits after the sign-in, or is stopped at the
    login's expiry, what is left in the cgroup is killed (cgroup.kill, all
    at once however it forks), the log counts what had left the CLI's
    process group, and the cgroup is removed."""
    helpers = helper_dir()
    wrap, agent_root = cgroup_view(tmp_path, cgroup_root)
    ttl = int(6 * DEADLINE_SCALE)
    sets = (f"cgroup_root={agent_root}",) + ((f"session_ttl_s={ttl}",) if end == "session-expires" else ())
    e = make_env(sets=sets, wrap=wrap, provider_env={"FAKE_CLI_HELPER": helpers})
    s = sid()
    cg = os.path.join(cgroup_root, f"login-{s}.scope")
    try:
        provider = "codex" if end == "cli-exits" else "gemini_cli"
        status, started = e.json("POST", f"/auth/{provider}", {"sessionId": s})
        assert status == 200 and "oauthUrl" in started, started
        pidfd = helper_of(e, helpers, s)
        try:
            with open(os.path.join(helpers, f"helper-{s}")) as f:
                helper = int(f.read())
            (cli,) = cli_pids(e)
            assert {helper, int(cli)} <= set(cgroup_procs(cg)), cgroup_procs(cg)
            assert e.agent.pid not in cgroup_procs(cg)
            end_login(e, s, started, end, ttl)
            assert exited(pidfd), "the helper is still running"
        finally:
            os.close(pidfd)
        wait_until(lambda: not os.path.exists(cg), 10, "the login's cgroup removed")
        killed = e.agent.log_lines("Killed ")
        assert len(killed) == 1 and killed[0].endswith(
            f"Killed 1 process(es) that pid {cli} left in its cgroup login-{s}.scope, outside its process group."), \
            killed
        e.assert_no_secrets()
    finally:
        shutil.rmtree(helpers, ignore_errors=True)


def metric(e, name):
    """The value of /metrics' name (no labels), as text."""
    status, body = e.request("GET", "/metrics")
    assert status == 200, body
    values = [l.split()[1] for l in body.decode().splitlines() if l.startswith(name + " ")]
    assert len(values) == 1, body
    return values[0]


BURN_MS = 200


@pytest.mark.parametrize("cgroups", [True, False])
def test_a_clis_cpu_time_is_logged_and_counted(request, tmp_path, cgroups):
    """A CLI busy for a known least CPU time (its own, 200 ms) before it
    shows its URL: once it exits after the sign-in, its end's log line
    gives the CPU time of its login's cgroup (the CLI and all it started),
    at least that, and /metrics adds it to the seconds of the CLIs that
    ended.  Without cgroups the time is unknown: said so in the line, and
    counted apart in /metrics, never as 0 seconds."""
    sets, wrap = (), ()
    if cgroups:
        # Before make_env: the agent goes before its cgroups.
        wrap, agent_root = cgroup_view(tmp_path, request.getfixturevalue("cgroup_root"))
        sets = (f"cgroup_root={agent_root}",)
    e = request.getfixturevalue("make_env")(sets=sets, wrap=wrap, provider_env={"FAKE_CLI_BURN_MS": str(BURN_MS)})
    assert (metric(e, "vmba_login_cli_cpu_seconds_total"), metric(e, "vmba_login_cli_cpu_unknown_total")) == \
        ("0.000000", "0")
    s = sid()
    status, started = e.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200 and "oauthUrl" in started, started
    (line,) = e.agent.log_lines(f"Login {s}: started ")
    cli = re.search(r"\(pid (\d+),", line).group(1)
    end_login(e, s, started, "cli-exits", 0)
    end = f"Login {s}: Provider CLI codex (pid {cli}) exited 0, CPU "
    wait_until(lambda: e.agent.log_lines(end), 20, "the CLI's end logged")
    (line,) = e.agent.log_lines(end)
    tail = line.split(end, 1)[1]
    if cgroups:
        m = re.fullmatch(r"(\d+) ms\.", tail)
        assert m and int(m.group(1)) >= BURN_MS, line
        seconds = metric(e, "vmba_login_cli_cpu_seconds_total")
        assert re.fullmatch(r"\d+\.\d{6}", seconds) and float(seconds) >= BURN_MS / 1000, seconds
        # The line's milliseconds are the counter's microseconds, cut.
        assert int(m.group(1)) == int(seconds.replace(".", "")) // 1000, (line, seconds)
        assert metric(e, "vmba_login_cli_cpu_unknown_total") == "0"
    else:
        assert tail == "unknown (no cgroup of its own).", line
        assert metric(e, "vmba_login_cli_cpu_seconds_total") == "0.000000"
        assert metric(e, "vmba_login_cli_cpu_unknown_total") == "1"
    e.assert_no_secrets()


PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_DETACH, PTRACE_O_TRACEEXIT = 0x4206, 0x4207, 0x11, 0x40
WALL = 0x40000000  # waitpid()'s __WALL


@contextlib.contextmanager
def held_at_exit(pid):
    """pid, once killed, held at its exit (ptrace's PTRACE_EVENT_EXIT
    stop, this test its tracer) until release() (given to the block) or
    the block's end: a process a kill reached but that is not gone yet, as
    one is for a while on a loaded machine.  Skips the test where ptrace
    is not permitted."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(PTRACE_SEIZE, pid, None, ctypes.c_void_p(PTRACE_O_TRACEEXIT)) != 0:
        pytest.skip(f"cannot ptrace the helper: {os.strerror(ctypes.get_errno())}")
    held = [True]

    def release():
        """Stopped at its exit by now, or (a failure before the kill) made
        to stop: waited for, then let go."""
        if held[0]:
            held[0] = False
            libc.ptrace(PTRACE_INTERRUPT, pid, None, None)
            os.waitpid(pid, WALL)
            libc.ptrace(PTRACE_DETACH, pid, None, None)
    try:
        yield release
    finally:
        release()


@pytest.mark.parametrize("where", ["in-its-cgroup", "escaped"])
def test_the_sweep_counts_only_what_the_cgroup_did_not_kill(cgroup_root, make_env, tmp_path, where):
    """With cgroups, the sweep of the login's user right after its CLI
    exited finds what the cgroup's kill hit but that is not gone yet (held
    at its exit here): killed again and waited for, but not counted, as
    it was not left running.  A process that left the cgroup (moved by
    hand: the CLI's user cannot) is what only the sweep reaches: counted."""
    helpers = helper_dir()
    wrap, agent_root = cgroup_view(tmp_path, cgroup_root)
    e = make_env(sets=(f"cgroup_root={agent_root}",), wrap=wrap, provider_env={"FAKE_CLI_HELPER": helpers})
    s = sid()
    cg = os.path.join(cgroup_root, f"login-{s}.scope")
    try:
        status, started = e.json("POST", "/auth/codex", {"sessionId": s})
        assert status == 200 and "oauthUrl" in started, started
        pidfd = helper_of(e, helpers, s)
        uid = os.stat(e.home_of(s)).st_uid
        with open(os.path.join(helpers, f"helper-{s}")) as f:
            helper = int(f.read())
        try:
            if where == "escaped":
                os.mkdir(os.path.join(cgroup_root, "elsewhere"))
                with open(os.path.join(cgroup_root, "elsewhere", "cgroup.procs"), "w") as f:
                    f.write(str(helper))
                end_login(e, s, started, "cli-exits", 0)
                assert exited(pidfd), "the helper is still running"
                wait_until(lambda: re.search(left_running(uid), e.agent.log_text()), 10, "the sweep logged")
                return
            with held_at_exit(helper) as release:
                end_login(e, s, started, "cli-exits", 0)
                # The sweep waits for it (at most 2 s), then says so.
                wait_until(lambda: e.agent.log_lines("still not gone after"), 20, "the sweep over")
                release()
            assert exited(pidfd), "the helper is still running"
        finally:
            os.close(pidfd)
        # Removed once empty, on the event loop: after the sweep's log.
        wait_until(lambda: not os.path.exists(cg), 10, "the login's cgroup removed")
        assert not re.search(left_running(uid), e.agent.log_text())
        e.assert_no_secrets()
    finally:
        shutil.rmtree(helpers, ignore_errors=True)


def test_what_a_cli_left_goes_with_its_own_login(make_env):
    """Each live login's CLI runs as a user of its own, so what a CLI left
    running is told apart by its uid, without reading its memory: the
    first login's helper goes once its CLI has exited, while the second
    login's CLI and helper run on; the second's goes with its CLI."""
    helpers = helper_dir()
    e = make_env(provider_env={"FAKE_CLI_HELPER": helpers})
    first, second = sid(), sid()
    try:
        status, started = e.json("POST", "/auth/codex", {"sessionId": first})
        assert status == 200, started
        pidfd_first = helper_of(e, helpers, first)
        status, other = e.json("POST", "/auth/gemini_cli", {"sessionId": second})
        assert status == 200, other
        pidfd_second = helper_of(e, helpers, second)
        uids = (os.stat(e.home_of(first)).st_uid, os.stat(e.home_of(second)).st_uid)
        assert uids[0] != uids[1] and set(uids) <= set(CLI_POOL_UIDS), uids
        try:
            assert e.browse(started["oauthUrl"])[0] == 200
            e.wait_status(first, lambda code, b: b.get("authenticated"))
            wait_until(lambda: len(cli_pids(e)) == 1, 20, "the first CLI gone")
            assert exited(pidfd_first), "the first login's helper is still running"
            assert not exited(pidfd_second, 0)
            wait_until(lambda: re.search(left_running(uids[0]), e.agent.log_text()), 10, "the first sweep logged")
            assert e.browse(other["oauthUrl"])[0] == 200
            e.wait_status(second, lambda code, b: b.get("authenticated"))
            assert exited(pidfd_second)
        finally:
            os.close(pidfd_first)
            os.close(pidfd_second)
        wait_until(lambda: re.search(left_running(uids[1]), e.agent.log_text()), 10, "the second sweep logged")
        e.assert_no_secrets()
    finally:
        shutil.rmtree(helpers, ignore_errors=True)


def test_a_cli_user_is_reused_only_once_its_login_is_over(make_env):
    """With one CLI user (cli_users=1): a second login while the first is
    live fails at once with 503 and why, and so while the first, signed
    in, waits for delivery (its HOME, the credential file in it, is that
    user's).  Once delivered, the next login gets the same user, and what
    the first login's CLI left running (a helper in a session of its own)
    was gone before."""
    helpers = helper_dir()
    e = make_env(sets=("cli_users=1",), provider_env={"FAKE_CLI_HELPER": helpers})
    first, second = sid(), sid()
    busy = (503, {"error": "All 1 CLI users are in use"})
    try:
        status, started = e.json("POST", "/auth/codex", {"sessionId": first})
        assert status == 200, started
        pidfd = helper_of(e, helpers, first)
        try:
            assert os.stat(e.home_of(first)).st_uid == CLI_POOL_UIDS[0]
            assert e.json("POST", "/auth/codex", {"sessionId": second}) == busy
            assert e.json("GET", f"/credentials/status?sessionId={second}") == \
                (200, {"authenticated": False, "failed": True, "error": "All 1 CLI users are in use"})
            assert not os.path.exists(e.home_of(second))
            assert e.browse(started["oauthUrl"])[0] == 200
            e.wait_status(first, lambda code, b: b.get("authenticated"))
            wait_until(lambda: not cli_pids(e), 20, "the first CLI gone")
            assert exited(pidfd), "the first login's helper is still running"
            assert e.json("POST", "/auth/codex", {"sessionId": second}) == busy
            assert e.json("GET", f"/credentials/get?sessionId={first}")[0] == 200
            status, again = e.json("POST", "/auth/codex", {"sessionId": second})
            assert status == 200 and "oauthUrl" in again, again
            assert os.stat(e.home_of(second)).st_uid == CLI_POOL_UIDS[0]
        finally:
            os.close(pidfd)
        e.assert_no_secrets()
    finally:
        shutil.rmtree(helpers, ignore_errors=True)


def test_what_a_cli_leaves_in_tmp_goes_with_it(make_env):
    """A CLI that writes to /tmp, /var/tmp, /dev/shm and /run/lock (1777
    under Debian's systemd, as on the machines this runs on) by name (not
    its TMPDIR) leaves nothing there for the next login that gets its user
    (cli_users=1), nor for the agent and its services: each CLI has them
    empty, tmpfs in a mount namespace of its own, and SysV IPC in an IPC
    namespace of its own."""
    name = f"vmba-left-{os.getpid()}"
    ours = [os.path.join(d, name) for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")]
    e = make_env(sets=("cli_users=1",), provider_env={"FAKE_CLI_LEAVE": name})
    first, second = sid(), sid()
    try:
        status, started = e.json("POST", "/auth/codex", {"sessionId": first})
        assert status == 200, started
        # It wrote them before its URL, which the start waited for.
        with open(os.path.join(e.home_of(first), ".left")) as f:
            assert json.load(f) == {"found": [], "wrote": ours}
        [cli] = cli_pids(e)
        for p in ours:
            assert os.path.exists(f"/proc/{cli}/root{p}"), p
            assert not os.path.lexists(e.view(p)), f"{p}, the CLI's, is in the agent's namespace"
        for ns in ("mnt", "ipc"):
            assert os.readlink(f"/proc/{cli}/ns/{ns}") != os.readlink(f"/proc/{e.agent.pid}/ns/{ns}"), ns
        assert e.browse(started["oauthUrl"])[0] == 200
        e.wait_status(first, lambda code, b: b.get("authenticated"))
        assert e.json("GET", f"/credentials/get?sessionId={first}")[0] == 200
        wait_until(lambda: home_gone(e.home_of(first)) and not cli_pids(e), 20, "the first login over")
        status, again = e.json("POST", "/auth/codex", {"sessionId": second})
        assert status == 200, again
        assert os.stat(e.home_of(second)).st_uid == CLI_POOL_UIDS[0]
        with open(os.path.join(e.home_of(second), ".left")) as f:
            assert json.load(f) == {"found": [], "wrote": ours}
        e.assert_no_secrets()
    finally:
        # Only where they would be without the namespaces: the test's /tmp.
        for p in ours:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)


def test_homes_nobody_has_are_removed(env):
    """A HOME below login_home that no login has (one an earlier run of
    the agent left, a credential file in it) is removed once no CLI runs:
    here when the next login starts.  A signed-in login's HOME, waiting
    for delivery, is kept through the sweep after its CLI exits."""
    stale = os.path.join(env.home, "login-stale")
    os.makedirs(os.path.join(stale, ".codex"))
    with open(os.path.join(stale, ".codex", "auth.json"), "w") as f:
        f.write('{"tokens": {"access_token": "OLD"}}')
    s = sid()
    status, started = env.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200, started
    assert not os.path.lexists(stale)
    wait_until(lambda: home_gone(stale), 10, "the stale HOME's tree removed")
    assert env.browse(started["oauthUrl"])[0] == 200
    env.wait_status(s, lambda code, b: b.get("authenticated"))
    wait_until(lambda: not cli_pids(env), 20, "the CLI gone")
    home = env.home_of(s)
    assert os.path.isfile(os.path.join(home, ".codex", "auth.json"))
    status, got = env.json("GET", f"/credentials/get?sessionId={s}")
    assert status == 200 and got["credentials"]["tokens"]["access_token"] == "SECRET-ACCESS-codex", got
    wait_until(lambda: home_gone(home), 10, "the HOME removed after delivery")
    env.assert_no_secrets()
