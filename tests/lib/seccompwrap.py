"""A wrapper that runs a command with one system call refused, as a kernel
without a feature or a security module's policy would refuse it: a seccomp
filter, inherited by everything the command starts.  x86-64's system call
numbers; elsewhere the filter lets everything through."""

_REFUSING = """if True:
    import ctypes, os, struct, sys
    nr, err, argi, mask, value = (int(a) for a in sys.argv[1:6])
    def op(code, k, jt=0, jf=0):
        return struct.pack("HBBI", code, jt, jf, k)
    LD, JEQ, AND, RET = 0x20, 0x15, 0x54, 0x06
    allow, refuse = op(RET, 0x7fff0000), op(RET, 0x00050000 | err)
    prog = [op(LD, 4), op(JEQ, 0xc000003e, 0, 5),       # arch: x86-64, else allowed
            op(LD, 0), op(JEQ, nr, 0, 3),               # nr
            op(LD, 16 + 8 * argi), op(AND, mask),       # args[argi], low half, masked
            op(JEQ, value, 1, 0),
            allow, refuse]
    buf = ctypes.create_string_buffer(b"".join(prog))
    fprog = struct.pack("HxxxxxxQ", len(prog), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        sys.exit("seccomp: " + os.strerror(ctypes.get_errno()))
    os.execvp(sys.argv[6], sys.argv[6:])
"""


def refusing_where(nr, err, argi, mask, value):
    """The argv prefix that runs what follows it with system call nr
    failing with errno err where its argument argi (its low half), masked
    with mask, is value; mask 0 and value 0: every call."""
    return ["/usr/bin/python3", "-c", _REFUSING, str(nr), str(err), str(argi), str(mask), str(value)]


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
