"""A process stepped from one system call to the next, the test its
tracer (ptrace): what the test looks at or does at a stop happens at that
point of the process's, however the machine schedules the two.  Needs
root (the agent makes itself non-dumpable)."""
import contextlib
import ctypes
import os
import platform
import signal
import socket
import sys
import threading

from netns import DEADLINE_SCALE

PTRACE_SYSCALL, PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 24, 0x11, 0x4206, 0x4207
PTRACE_O_TRACESYSGOOD = 1
WALL = 0x40000000  # waitpid()'s __WALL
CONNECT = {"x86_64": 42, "aarch64": 203}[platform.machine()]


def step_syscalls(pid, at_stop, let_go):
    """Traces pid (its main thread) from the calling thread: stops it at
    once, then at each system call's entry and exit, and calls at_stop()
    at each stop (pid stays there until it returns); at a stop where
    let_go() is true pid goes on, traced no more.  Returns then, or when
    pid ended; OSError when pid cannot be traced."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(PTRACE_SEIZE, pid, None, ctypes.c_void_p(PTRACE_O_TRACESYSGOOD)) != 0:
        raise OSError(ctypes.get_errno(), "PTRACE_SEIZE")
    libc.ptrace(PTRACE_INTERRUPT, pid, None, None)
    while True:
        _, status = os.waitpid(pid, WALL)
        if not os.WIFSTOPPED(status):
            return
        # A signal on its way to pid goes on; a system call's stop
        # (SIGTRAP | 0x80) or an event's (status >> 16) has none.
        sig = os.WSTOPSIG(status)
        sig = 0 if status >> 16 or sig == signal.SIGTRAP | 0x80 else sig
        at_stop()
        if let_go():
            libc.ptrace(PTRACE_DETACH, pid, None, ctypes.c_void_p(sig))
            return
        libc.ptrace(PTRACE_SYSCALL, pid, None, ctypes.c_void_p(sig))


def connect_target(pid):
    """(address, port) of the IPv4 connect() pid is stopped in, else None
    (another call, or none)."""
    with open(f"/proc/{pid}/syscall") as f:
        fields = f.read().split()
    if fields[0] != str(CONNECT):
        return None
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        mem.seek(int(fields[2], 16))
        sa = mem.read(8)
    if int.from_bytes(sa[:2], sys.byteorder) != socket.AF_INET:
        return None
    return socket.inet_ntoa(sa[4:8]), int.from_bytes(sa[2:4], "big")


@contextlib.contextmanager
def stepping(pid, at_stop, wake, on_end=lambda: None):
    """step_syscalls() with at_stop() on a thread of this process, pid's
    tracer while the block runs; the block starts once pid's first stop
    was handled (or the tracer failed: raised here).  At the block's end
    wake() makes pid call again (it may be waiting for an event), and the
    tracer lets go of it there; on_end() runs when the tracer ends, so
    that an at_stop() waiting for the block can go on.  Yields the event
    set at that end (the one at_stop() may wait for)."""
    attached, release, failed = threading.Event(), threading.Event(), []

    def stop():
        try:
            at_stop()
        finally:
            attached.set()

    def trace():
        try:
            step_syscalls(pid, stop, release.is_set)
        except BaseException as e:  # for the block's thread to raise
            failed.append(e)
        finally:
            attached.set()  # a tracer that ended lets go of pid too
            on_end()

    tracer = threading.Thread(target=trace)
    tracer.start()
    try:
        attached.wait()
        if failed:
            raise failed[0]
        yield release
    finally:
        release.set()
        if tracer.is_alive() and not failed:
            wake()
        tracer.join(30 * DEADLINE_SCALE)
        assert not tracer.is_alive(), "the tracer never let go"
    if failed:
        raise failed[0]


@contextlib.contextmanager
def held_at_connect(pid, address, port, wake):
    """Yields, once pid (its main thread) is traced (stepping()), an event
    set once pid is stopped at the entry of a connect() to address:port;
    pid stays there until the block ends, when it goes on, traced no
    more."""
    held, release = threading.Event(), []

    def at_stop():
        # The first stop at the call is its entry (its exit comes next).
        if not held.is_set() and release and connect_target(pid) == (address, port):
            held.set()
            release[0].wait()

    with stepping(pid, at_stop, wake, on_end=held.set) as r:
        release.append(r)
        yield held
