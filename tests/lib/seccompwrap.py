"""A wrapper that runs a command with one system call refused, as a kernel
without a feature or a security module's policy would refuse it: a seccomp
filter, inherited by everything the command starts.  x86-64's system call
numbers; elsewhere the filter lets everything through."""

_REFUSING = """if True:
    import ctypes, os, struct, sys
    nr, err, flag = (int(a) for a in sys.argv[1:4])
    def op(code, k, jt=0, jf=0):
        return struct.pack("HBBI", code, jt, jf, k)
    LD, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
    allow, refuse = op(RET, 0x7fff0000), op(RET, 0x00050000 | err)
    if flag:
        prog = [op(LD, 4), op(JEQ, 0xc000003e, 0, 4),   # arch: x86-64, else allowed
                op(LD, 0), op(JEQ, nr, 0, 2),           # nr
                op(LD, 48), op(JSET, flag, 1, 0),       # args[4], low half
                allow, refuse]
    else:
        prog = [op(LD, 4), op(JEQ, 0xc000003e, 0, 2), op(LD, 0), op(JEQ, nr, 1, 0), allow, refuse]
    buf = ctypes.create_string_buffer(b"".join(prog))
    fprog = struct.pack("HxxxxxxQ", len(prog), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        sys.exit("seccomp: " + os.strerror(ctypes.get_errno()))
    os.execvp(sys.argv[4], sys.argv[4:])
"""


def refusing(nr, err, flag=0):
    """The argv prefix that runs what follows it with system call nr
    failing with errno err: every call, or with flag given only those with
    a bit of flag set in their fifth argument (args[4], its low half)."""
    return ["/usr/bin/python3", "-c", _REFUSING, str(nr), str(err), str(flag)]
