"""The seccomp wrappers of tests/lib/seccompwrap.py, which this tier's
tests put around the agent: what each refuses and lets through, exactly
(system calls made by a python3 -c under the wrapper, each on a path or
fd that does not exist, so that what is let through fails harmlessly), the
guard that keeps an agent as PID 1 from remounting this machine's root
among them; and notifying()'s listener, which answers the calls sent to it
and is gone once the command is."""
import errno
import json
import os
import signal
import subprocess

import pytest

from netns import DEADLINE_SCALE, require_root
from seccompwrap import (SECCOMP_USER_NOTIF, filter_of, notifying, refusing, refusing_calls, refusing_superblock_remount,
                         refusing_where)

MOUNT, FCHMOD, FCHOWN, FCHOWNAT = 165, 91, 93, 260  # x86-64's
MS_RDONLY, MS_REMOUNT, MS_BIND = 0x1, 0x20, 0x1000
MISSING = "/nonexistent"

# argv: a JSON list of calls, [nr, arg...] (a string argument is passed as
# its address, null as NULL); prints the errno of each (0: it succeeded).
CALLS = """if True:
    import ctypes, json, sys
    libc = ctypes.CDLL(None, use_errno=True)
    out = []
    for nr, *args in json.loads(sys.argv[1]):
        ctypes.set_errno(0)
        args = [a.encode() if isinstance(a, str) else a for a in args]
        r = libc.syscall(ctypes.c_long(nr), *(ctypes.c_char_p(a) if isinstance(a, bytes) or a is None
                                               else ctypes.c_long(a) for a in args))
        out.append(ctypes.get_errno() if r < 0 else 0)
    print(json.dumps(out))
"""


@pytest.fixture(autouse=True)
def x86_64_root():
    require_root()
    if os.uname().machine != "x86_64":
        pytest.skip("the filters have x86-64's numbers")
    # Every call below names it: were it there, a call let through could act.
    assert not os.path.lexists(MISSING)


def run(argv):
    """argv's stdout, read to its end: once argv and the listener a
    wrapper in it may have started (which holds stdout too) are gone.  In
    a session of its own, so that what is still there when that takes
    too long is stopped: the test fails, and leaves nothing running."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=30 * DEADLINE_SCALE)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # p not yet waited for: its group is still its own
        p.communicate()
        pytest.fail("still running, or a process it started (a listener) still holds its stdout")
    return p.returncode, out.decode(), err.decode()


def errnos(wrap, calls):
    status, out, err = run([*wrap, "/usr/bin/python3", "-c", CALLS, json.dumps(calls)])
    assert status == 0, err
    return json.loads(out)


def remount(flags):
    return [MOUNT, None, MISSING, None, flags, None]


def chmod(mode):
    return [FCHMOD, -1, mode]


def chown(uid):
    return [FCHOWN, -1, uid, 0]


def chown_at(path, flags):
    return [FCHOWNAT, -1, path, 0, 0, flags]


@pytest.mark.parametrize("wrap, calls", [
    # pid1run.py's guard: a remount of a superblock ("/" read-only would
    # be this machine's), never a bind's remount, nor a mount that is no
    # remount.
    (refusing_superblock_remount(errno.ENOTRECOVERABLE),
     [(remount(MS_REMOUNT), errno.ENOTRECOVERABLE), (remount(MS_REMOUNT | MS_RDONLY), errno.ENOTRECOVERABLE),
      (remount(MS_REMOUNT | MS_BIND), errno.ENOENT), (remount(MS_BIND), errno.ENOENT), (remount(0), errno.ENOENT)]),
    # Mask 0, value 0: every call of that number, and no other.
    (refusing(FCHMOD, errno.E2BIG),
     [(chmod(0o755), errno.E2BIG), (chmod(0), errno.E2BIG), (chown(0), errno.EBADF)]),
    # The argument's bits outside the mask do not count.
    (refusing_where(FCHMOD, errno.E2BIG, 1, 0o7000, 0o4000),
     [(chmod(0o4755), errno.E2BIG), (chmod(0o4000), errno.E2BIG), (chmod(0o755), errno.EBADF),
      (chmod(0o6755), errno.EBADF)]),
    # A flag: refused with every bit of it set in args[4].
    (refusing(FCHOWNAT, errno.E2BIG, 0x1100),
     [(chown_at(MISSING, 0x1100), errno.E2BIG), (chown_at(MISSING, 0x1101), errno.E2BIG),
      (chown_at(MISSING, 0x100), errno.ENOENT), (chown_at(MISSING, 0), errno.ENOENT)]),
    # Rules of their own, each check (equal or not) of a rule to pass.
    (refusing_calls(errno.EPERM, (FCHMOD, ((1, 0o700, False),)), (FCHOWN, ((1, 0, False), (2, 0, True)))),
     [(chmod(0o700), errno.EBADF), (chmod(0o755), errno.EPERM), (chown(0), errno.EBADF), (chown(5), errno.EPERM),
      ([FCHOWN, -1, 5, 5], errno.EBADF), (chown_at(MISSING, 0), errno.ENOENT)]),
], ids=["superblock-remount", "every-call", "masked", "flag", "rules"])
def test_what_a_filter_refuses(wrap, calls):
    assert errnos(wrap, [c for c, _ in calls]) == [e for _, e in calls]


# Each fchownat sent to the listener; the answer reads its path.
CHOWNS_AT = filter_of(SECCOMP_USER_NOTIF, (FCHOWNAT, ()))
REFUSED_BY_NAME = f"""
import errno
def answer(pid, nr, args):
    return errno.E2BIG if nr == {FCHOWNAT} and string_at(pid, args[1]) == b"{MISSING}/refused" else 0
"""


def test_a_listener_answers():
    """Its answer is the call's errno; 0 lets the call go on."""
    calls = [chown_at(f"{MISSING}/refused", 0), chown_at(f"{MISSING}/other", 0), chmod(0)]
    assert errnos(notifying(CHOWNS_AT, REFUSED_BY_NAME), calls) == [errno.E2BIG, errno.ENOENT, errno.EBADF]


@pytest.mark.parametrize("command", [["/bin/true"], ["/bin/false"], ["/nonexistent/program"]])
def test_a_listener_goes_with_the_command(command):
    """The listener, which has the wrapper's stdout (a pipe here), exits
    by itself once the command it answered for exits, so the pipe's read
    end sees EOF (run() waits for that): a listener that carried the
    filter itself would wait for its own calls for ever.  Also when exec
    fails, the filter already on."""
    status, out, _ = run([*notifying(CHOWNS_AT, REFUSED_BY_NAME), *command])
    assert (status, out) == (0 if command == ["/bin/true"] else 1, "")
