"""Wrappers that run a command under a seccomp filter, inherited by
everything the command starts: system calls refused as a kernel without a
feature or a security module's policy would refuse them (seccomp_wrap(),
refusing_calls(), refusing_where()), or handed to a listener process of the
wrapper's own that answers each (notifying()).  Each wrapper is an argv
prefix: a python3 -c program that installs the filter and execs the rest
in place, so the command keeps its pid.  x86-64's system call numbers;
elsewhere the filters let everything through."""
import struct

# The one copy of the code that installs a filter, prog (struct
# sock_filter's, packed): prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER), or
# with flags seccomp(SECCOMP_SET_MODE_FILTER, flags) (x86-64's number),
# whose result is then the listener's fd (SECCOMP_FILTER_FLAG_NEW_LISTENER).
# No NO_NEW_PRIVS: the tests run as root (CAP_SYS_ADMIN).
_INSTALL = """\
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_long, ctypes.c_void_p]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
def install(prog, flags=0):
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxQ", len(prog) // 8, ctypes.addressof(buf)))
    r = libc.syscall(317, 1, flags, fprog) if flags else libc.prctl(22, 2, fprog, 0, 0)
    if r < 0:
        sys.exit("seccomp: " + os.strerror(ctypes.get_errno()))
    return r
"""

# argv: the filter in hex, then the command.
_WRAP = _INSTALL + """\
install(bytes.fromhex(sys.argv[1]))
os.execvp(sys.argv[2], sys.argv[2:])
"""

BPF_LD, BPF_JEQ, BPF_AND, BPF_RET = 0x20, 0x15, 0x54, 0x06
SECCOMP_ALLOW, SECCOMP_ERRNO, SECCOMP_USER_NOTIF = 0x7fff0000, 0x00050000, 0x7fc00000
AUDIT_ARCH_X86_64 = 0xc000003e
# Offsets in struct seccomp_data: the call's number, its arch, args[0]'s
# low half (each argument takes 8 bytes, the high half 4 bytes on).
NR_AT, ARCH_AT, ARGS_AT = 0, 4, 16


def bpf(code, k, jt=0, jf=0):
    """One classic BPF instruction (struct sock_filter)."""
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_wrap(*prog):
    """The argv prefix that runs what follows it under the filter of the
    instructions prog (bpf()'s, or runs of them)."""
    return ["/usr/bin/python3", "-c", _WRAP, b"".join(prog).hex()]


def _rule(action, nr, checks):
    """The instructions of one rule: action (a SECCOMP_RET_* value) for a
    call of number nr passing every check, else on to the instruction
    after them (the next rule's first).  A check is (arg, value, equal)
    or (arg, value, equal, mask): args[arg]'s low half, masked with mask
    if given, is value (equal) or is not (not equal)."""
    steps = [([bpf(BPF_LD, NR_AT)], nr, True)]
    for arg, value, equal, *mask in checks:
        steps.append(([bpf(BPF_LD, ARGS_AT + 8 * arg)] + [bpf(BPF_AND, m) for m in mask], value, equal))
    left = sum(len(load) + 1 for load, _, _ in steps)
    prog = []
    for load, value, equal in steps:
        left -= len(load) + 1
        # Not passed: past the checks left and the action.
        skip = left + 1
        prog += load + [bpf(BPF_JEQ, value, *((0, skip) if equal else (skip, 0)))]
    return prog + [bpf(BPF_RET, action)]


def filter_of(action, *rules):
    """A filter (packed instructions) taking action for each x86-64 call
    that one of rules, (nr, checks) as _rule()'s, matches, and allowing
    every other call."""
    body = b"".join(b"".join(_rule(action, nr, checks)) for nr, checks in rules)
    return b"".join([bpf(BPF_LD, ARCH_AT), bpf(BPF_JEQ, AUDIT_ARCH_X86_64, 0, len(body) // 8),
                     body, bpf(BPF_RET, SECCOMP_ALLOW)])


def refusing_calls(err, *rules):
    """The argv prefix that runs what follows it with each call matching
    one of rules (filter_of()'s) failing with errno err."""
    return seccomp_wrap(filter_of(SECCOMP_ERRNO | err, *rules))


def refusing_where(nr, err, argi, mask, value):
    """The argv prefix that runs what follows it with system call nr
    failing with errno err where its argument argi (its low half), masked
    with mask, is value; mask 0 and value 0: every call."""
    return refusing_calls(err, (nr, ((argi, value, True, mask),)))


def refusing(nr, err, flag=0):
    """The argv prefix that runs what follows it with system call nr
    failing with errno err: every call, or with flag given only those with
    every bit of flag set in their fifth argument (args[4])."""
    return refusing_where(nr, err, 4, flag, flag)


MOUNT_NR, MS_REMOUNT, MS_BIND = 165, 0x20, 0x1000


def refusing_superblock_remount(err):
    """mount(2) with MS_REMOUNT and without MS_BIND refused: the remount
    of a file system itself (its superblock, which every mount namespace
    shares: "/" read-only there is the machine's), while a bind's own
    flags (`mount -o remount,bind,ro`) may still change."""
    return refusing_where(MOUNT_NR, err, 3, MS_REMOUNT | MS_BIND, MS_REMOUNT)


# argv: the filter in hex, the answer's Python source, then the command.
# The listener is forked before the filter goes on, so that it does not
# have the filter itself: once the last process that has it is gone, the
# listener's fd polls POLLHUP and the listener exits by itself (one with
# the filter would keep it in use, and wait for ever).  It gets the fd
# over a socketpair, and exits too when the wrapper fails before handing
# it over.  Forked twice: never a child of the command, which may reap
# or count its children.
_NOTIFY = _INSTALL + """\
import errno, select, socket
prog, source, argv = bytes.fromhex(sys.argv[1]), sys.argv[2], sys.argv[3:]
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
RECV, SEND, ID_VALID = 0xc0502100, 0xc0182101, 0x40082102  # SECCOMP_IOCTL_NOTIF_*

def string_at(pid, at, most=4096):
    with open(f"/proc/{pid}/mem", "rb") as m:
        m.seek(at)
        return m.read(most).split(b"\\0")[0]

def answered(listener, notif, answer):
    nid, pid = struct.unpack_from("QI", notif.raw)
    nr = struct.unpack_from("i", notif.raw, 16)[0]
    args = struct.unpack_from("6Q", notif.raw, 32)
    try:
        err = answer(pid, nr, args)
    except OSError:
        err = 0
    # pid is still the caller's (not gone and reused) only while its
    # notification is valid: else its answer read another's memory.
    if libc.ioctl(listener, ID_VALID, ctypes.byref(ctypes.c_uint64(nid))) != 0:
        return
    resp = struct.pack("QqiI", nid, 0, -err if err else 0, 0 if err else 1)  # 1: FLAG_CONTINUE
    libc.ioctl(listener, SEND, ctypes.create_string_buffer(resp))

def serve():
    ours.close()
    _, fds, _, _ = socket.recv_fds(theirs, 1, 1)
    if not fds:
        os._exit(0)
    scope = {"string_at": string_at, "os": os}
    exec(source, scope)
    notif, poller = ctypes.create_string_buffer(80), select.poll()
    poller.register(fds[0], select.POLLIN)
    while True:
        revents = poller.poll()[0][1]
        if not revents & select.POLLIN:
            os._exit(0)  # POLLHUP: nothing left that has the filter
        ctypes.memset(notif, 0, 80)
        if libc.ioctl(fds[0], RECV, notif) == 0:
            answered(fds[0], notif, scope["answer"])
        elif ctypes.get_errno() not in (errno.EINTR, errno.ENOENT):
            os._exit(1)

if os.fork() == 0:
    if os.fork() == 0:
        serve()
    os._exit(0)
os.wait()
theirs.close()
listener = install(prog, 8)  # SECCOMP_FILTER_FLAG_NEW_LISTENER
socket.send_fds(ours, [b"l"], [listener])
os.close(listener)
ours.close()
os.execvp(argv[0], argv)
"""


def notifying(prog, answer):
    """The argv prefix that runs what follows it under the filter prog
    (filter_of(SECCOMP_USER_NOTIF, ...)'s), each call it notifies waiting
    for the answer of a listener, a process of the wrapper's own that has
    no filter and exits once nothing that has it is left.  answer: Python
    source defining answer(pid, nr, args), the caller's pid, the call's
    number and its six arguments, which returns the errno the call fails
    with, or 0 to let it go on (so does an OSError it raises); it may use
    string_at(pid, address), the string the caller has there (bytes)."""
    return ["/usr/bin/python3", "-c", _NOTIFY, prog.hex(), answer]
