"""What a client of the VM's desktop does, for the netns and bridge tiers:
the RFB handshake with VNC authentication (DES, computed here with
Debian's python3-cryptography: TripleDES with an 8-byte key is single
DES), a viewer's click, the noVNC WebSocket upgrade, the listening sockets of a namespace,
and the X windows of a display.  Each connects from the namespace it is
given and never waits by sleeping: a socket timeout only bounds a hang."""
import base64
import os
import select
import socket
import struct
import threading

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from netns import DEADLINE_SCALE, wait_until

TIMEOUT = 10 * DEADLINE_SCALE


def vnc_des_response(password, challenge):
    """RFC 6143 7.2.2: the challenge DES-encrypted with the password (first
    8 bytes, NUL-padded), each key byte's bits reversed (VNC's quirk)."""
    key = bytes(int(f"{b:08b}"[::-1], 2) for b in password.encode()[:8].ljust(8, b"\0"))
    enc = Cipher(algorithms.TripleDES(key), modes.ECB()).encryptor()
    return enc.update(challenge) + enc.finalize()


def _recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError(f"closed after {data!r}")
        data += chunk
    return data


def _rfb_connect(host, port, family=None):
    """A socket connected to x11vnc: at host:port, or at the unix socket
    host names when it is a path (port unused)."""
    if host.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.connect(host)
        return s
    fam = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(socket.getaddrinfo(host, port, fam, socket.SOCK_STREAM)[0][4])
    return s


def rfb(host, port, password=None, family=None):
    """Connects (host: an address, or a unix socket's path), answers RFB
    003.008.  Returns (banner, security types offered, SecurityResult or
    None when no password was tried)."""
    with _rfb_connect(host, port, family) as s:
        banner = _recv_exact(s, 12)
        s.sendall(b"RFB 003.008\n")
        n = _recv_exact(s, 1)[0]
        if n == 0:
            return banner, [], None
        types = list(_recv_exact(s, n))
        if password is None or 2 not in types:
            return banner, types, None
        s.sendall(bytes([2]))
        s.sendall(vnc_des_response(password, _recv_exact(s, 16)))
        return banner, types, struct.unpack(">I", _recv_exact(s, 4))[0]


def rfb_click(host, port, password, x, y, button):
    """A VNC viewer's click: authenticates, moves to (x, y), presses and
    releases button (1 left, 3 right).  Returns once x11vnc has answered a
    FramebufferUpdateRequest sent after the click: it handles a client's
    messages in order, so the click has reached the X server by then."""
    with _rfb_connect(host, port) as s:
        _recv_exact(s, 12)
        s.sendall(b"RFB 003.008\n")
        assert 2 in _recv_exact(s, _recv_exact(s, 1)[0])
        s.sendall(bytes([2]))
        s.sendall(vnc_des_response(password, _recv_exact(s, 16)))
        assert struct.unpack(">I", _recv_exact(s, 4))[0] == 0, "VNC authentication failed"
        s.sendall(b"\x01")  # ClientInit: shared
        _w, _h = struct.unpack(">HH", _recv_exact(s, 4))
        bpp = _recv_exact(s, 16)[0]
        _recv_exact(s, struct.unpack(">I", _recv_exact(s, 4))[0])  # the desktop's name
        s.sendall(struct.pack(">BxHi", 2, 1, 0))  # SetEncodings: Raw only
        mask = 1 << (button - 1)
        for m in (0, mask, 0):
            s.sendall(struct.pack(">BBHH", 5, m, x, y))  # PointerEvent
        s.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, 1, 1))  # FramebufferUpdateRequest, 1x1
        while True:
            kind = _recv_exact(s, 1)[0]
            if kind == 0:  # FramebufferUpdate: the answer
                for _ in range(struct.unpack(">xH", _recv_exact(s, 3))[0]):
                    _x, _y, w, h, enc = struct.unpack(">HHHHi", _recv_exact(s, 12))
                    assert enc == 0, enc
                    _recv_exact(s, w * h * bpp // 8)
                return
            if kind == 2:  # Bell
                continue
            if kind == 3:  # ServerCutText
                _recv_exact(s, struct.unpack(">xxxI", _recv_exact(s, 7))[0])
                continue
            raise AssertionError(f"unexpected RFB message {kind}")


def wm_round_trip(ns, display, xauthority):
    """Returns once the window manager has handled every X event sent
    before this call: asks it (a _NET_NUMBER_OF_DESKTOPS client message,
    through libxdo) for one desktop more and waits until it has set it."""
    code = ("import ctypes, sys, time\n"
            "x = ctypes.CDLL('libxdo.so.3')\n"
            "x.xdo_new.restype = ctypes.c_void_p\n"
            "xdo = ctypes.c_void_p(x.xdo_new(sys.argv[1].encode()))\n"
            "n = ctypes.c_long()\n"
            "assert x.xdo_get_number_of_desktops(xdo, ctypes.byref(n)) == 0\n"
            "want = n.value + 1\n"
            "assert x.xdo_set_number_of_desktops(xdo, ctypes.c_long(want)) == 0\n"
            "while x.xdo_get_number_of_desktops(xdo, ctypes.byref(n)) == 0 and n.value != want:\n"
            "    time.sleep(0.01)\n"
            "print(n.value)\n")
    env = {"PATH": "/usr/bin:/bin", "XAUTHORITY": xauthority, "HOME": "/nonexistent"}
    r = ns.run("python3", "-c", code, f":{display}", env=env, timeout=TIMEOUT)
    return int(r.stdout)


def viewable_windows(ns, display, xauthority):
    """The ids of the root window's children that are mapped and viewable
    (a menu the window manager shows is one)."""
    env = {"PATH": "/usr/bin:/bin", "XAUTHORITY": xauthority, "HOME": "/nonexistent", "LC_ALL": "C.UTF-8"}
    out = ns.run("xwininfo", "-display", f":{display}", "-root", "-children", env=env).stdout
    ids = [l.split()[0] for l in out.splitlines() if l.strip().startswith("0x")]
    return sorted(i for i in ids
                  if "IsViewable" in ns.run("xwininfo", "-display", f":{display}", "-id", i, env=env,
                                            check=False).stdout)


def http_answer(s, request):
    """request sent as is on connection s; everything answered until the
    server closes (or resets) it."""
    s.sendall(request)
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def http_raw(port, request):
    """http_answer() on a new connection to 127.0.0.1:port."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        return http_answer(s, request)


def http_status(answer):
    """The status code of an HTTP answer (bytes); None for no answer."""
    return answer.split(b" ", 2)[1] if b"\r\n" in answer else None


def ws_request(path, host="127.0.0.1", port=None):
    """A WebSocket upgrade request as noVNC sends it."""
    key = base64.b64encode(os.urandom(16)).decode()
    h = host if ":" not in host else f"[{host.split('%')[0]}]"
    return (f"GET {path} HTTP/1.1\r\nHost: {h}{f':{port}' if port else ''}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: binary\r\n\r\n").encode()


def ws_answer(s):
    """The answer to a ws_request() sent on s: (status line or None when
    the server closed without answering, first frame's payload)."""
    s.settimeout(TIMEOUT)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    if b"\r\n\r\n" not in data:
        return None, b""
    head, _, rest = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].decode()
    if " 101 " not in status:
        return status, b""
    while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7f):
        chunk = s.recv(4096)
        if not chunk:
            break
        rest += chunk
    return status, rest[2:2 + (rest[1] & 0x7f)] if len(rest) >= 2 else b""


def ws_upgrade(host, port, path):
    """A WebSocket upgrade as noVNC sends it.  Returns (status line or None
    when the server closed without answering, first frame's payload)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        s.connect(socket.getaddrinfo(host, port, fam, socket.SOCK_STREAM)[0][4])
        s.sendall(ws_request(path, host, port))
        return ws_answer(s)


def listeners(ns):
    """The TCP listening addresses in ns, as "addr:port" (ss's notation)."""
    out = ns.run("ss", "-ltnH").stdout
    return sorted(line.split()[3] for line in out.splitlines() if line.strip())


def x_windows(ns, display, xauthority):
    """xwininfo -root -tree lines of display that name a window:
    '0x400001 "title": ("res" "class")  WxH+X+Y ...'."""
    env = {"PATH": "/usr/bin:/bin", "XAUTHORITY": xauthority, "HOME": "/nonexistent", "LC_ALL": "C.UTF-8"}
    r = ns.run("xwininfo", "-display", f":{display}", "-root", "-tree", env=env, check=False)
    return [l.strip() for l in r.stdout.splitlines() if l.strip().startswith("0x") and '"' in l]


def as_user(uid, *argv, groups=(), gid=None):
    """argv as uid (with gid, else its own group; groups as its
    supplementary ones)."""
    extra = [f"--groups={','.join(map(str, groups))}"] if groups else ["--clear-groups"]
    return ["setpriv", f"--reuid={uid}", f"--regid={uid if gid is None else gid}", *extra, *argv]


# A request begun and never ended: its line, then header lines.
REQUEST_LINE = b"GET /vnc.html HTTP/1.0\r\n"


def begun(c, line=REQUEST_LINE):
    """Connection c with a request begun on it (its first line only), at
    once: websockify's process for it waits 3 s for a first byte."""
    try:
        c.sendall(line)
    except BaseException:
        c.close()
        raise
    return c


class HeldRequests:
    """Requests begun and never ended.  Each connection added (add()) has
    its request begun at once, then a header line every PERIOD_S from a
    thread of its own, which runs from the start of the with block, so
    no connection waits longer than that whenever it was added:
    websockify's 10 s request timeout restarts each time, for up to about
    300 s (its request handler takes 100 header lines, then answers 431
    and closes).  With closed_ok a connection the server closed is passed
    over; without, the thread ends there, and stop() (or leaving) raises
    what ended it.  On leaving, the lines stop and the connections
    close."""

    PERIOD_S = 3

    def __init__(self, closed_ok=False):
        self.socks, self.closed_ok = [], closed_ok
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, daemon=True)
        self._error = None

    def add(self, c):
        self.socks.append(begun(c))
        return c

    def _keep(self):
        while not self._stop.is_set():
            for c in list(self.socks):
                try:
                    c.sendall(b"X: y\r\n")
                except OSError as e:
                    if not self.closed_ok:
                        self._error = e
                        return
            self._stop.wait(self.PERIOD_S)

    def __enter__(self):
        self._thread.start()
        return self

    def stop(self):
        """No more header lines (the requests stay open)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._error is not None:
            raise AssertionError(f"a held request's connection failed: {self._error!r}")

    def __exit__(self, exc_type, *exc):
        try:
            self.stop()
        except AssertionError:
            if exc_type is None:  # else the body's failure is the one to see
                raise
        finally:
            for c in self.socks:
                c.close()


def children(pid):
    """The pids of pid's children (websockify forks one per connection)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return f.read().split()


def wait_no_connections(pid):
    """Until websockify (pid) holds no connection: the processes of answered
    requests may still be exiting, and they count against the limits."""
    wait_until(lambda: not children(pid), 30, "websockify without a connection")


def closed(c):
    """Whether the peer closed (or reset) connection c; it sends nothing
    else here."""
    if not select.select([c], [], [], 0)[0]:
        return False
    try:
        return c.recv(1, socket.MSG_PEEK) == b""
    except ConnectionResetError:
        return True


def connect_local(source, port, uid=0):
    """A connection to 127.0.0.1:port from the loopback address source,
    its socket made as uid (websockify counts a local peer as its user)."""
    os.seteuid(uid)
    try:
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    finally:
        os.seteuid(0)
    try:
        c.settimeout(60)
        c.bind((source, 0))
        c.connect(("127.0.0.1", port))
    except BaseException:
        c.close()
        raise
    return c
