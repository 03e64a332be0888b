#!/usr/bin/python3
"""vnc/websockify-main.py's pure parts, imported as a module (nothing is
patched then): /proc/net/tcp* addresses, who a connection counts as (a
real loopback connection of this process is its local user), the host's
addresses as the agent passes them, which sources share the others'
limit, the per-source limit and the others' with one warning each, the
numbers against the VNC user's tasks, the request handler closed down,
one log record per line; its main() run as the agent runs it (python3 -c)
against a stand-in websockify that reports what was patched before it
started; and vnc/embed-text.py's C literals read back.  The whole
program runs against the real websockify in the netns tier
(tests/netns/test_desktop_novnc.py, test_desktop.py, test_display.py).

    test-websockify-main.py      exit 0 passed, 1 failed
"""
import ast
import http.server
import importlib.util
import json
import logging
import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

TOP = pathlib.Path(__file__).resolve().parents[3]


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wm = load("websockify_main", TOP / "vnc" / "websockify-main.py")
embed = load("embed_text", TOP / "vnc" / "embed-text.py")


class Addresses(unittest.TestCase):
    def test_proc_addr(self):
        cases = {
            "0100007F:1F90": ("127.0.0.1", 8080),
            "0202000A:0050": ("10.0.2.2", 80),
            "00000000000000000000000001000000:0016": ("::1", 22),
            "0000000000000000FFFF00000100007F:1F90": ("127.0.0.1", 8080),
            "000080FE00000000FF005452120056FE:C350": ("fe80::5254:ff:fe56:12", 50000),
        }
        for text, want in cases.items():
            self.assertEqual(wm.proc_addr(text), want, text)
        for bad in ("0100007F", "01007F:1F90", "zz00007F:1F90"):
            with self.assertRaises(ValueError, msg=bad):
                wm.proc_addr(bad)

    def test_plain(self):
        self.assertEqual(wm.plain(("::ffff:10.0.0.1", 5, 0, 0)), ("10.0.0.1", 5))
        self.assertEqual(wm.plain(("fe80::1%eth0", 5, 0, 2)), ("fe80::1", 5))
        self.assertEqual(wm.plain(("10.0.0.1", 5)), ("10.0.0.1", 5))


class Sources(unittest.TestCase):
    def connection(self):
        """A real loopback connection from 127.0.0.3: (accepted socket,
        peer address, client socket)."""
        srv = socket.socket()
        self.addCleanup(srv.close)
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        cli = socket.socket()
        self.addCleanup(cli.close)
        cli.bind(("127.0.0.3", 0))
        cli.connect(srv.getsockname())
        c, a = srv.accept()
        self.addCleanup(c.close)
        return c, a, cli

    def test_a_local_peer_is_its_user(self):
        c, a, _ = self.connection()
        self.assertEqual(wm.source_of(c, a), f"local user {os.getuid()}")

    def test_a_remote_peer_is_its_address(self):
        # An address this machine cannot bind (TEST-NET-1): no /proc scan.
        self.assertEqual(wm.source_of(None, ("192.0.2.1", 4242), tables=("/nonexistent",)), "192.0.2.1")

    def test_a_local_address_nobody_holds_is_itself(self):
        # Bindable, but no socket in the table matches (or the table is
        # unreadable, or a line is malformed): the address.
        c, a, _ = self.connection()
        with tempfile.NamedTemporaryFile("w") as f:
            f.write("  sl  local_address rem_address   st ...\n")
            f.write("   0: 0300007F:0001 0100007F:0002 01 0:0 0:0 0 1000 0 12345\n")
            f.write("   1: garbage\n")
            f.flush()
            self.assertEqual(wm.source_of(c, a, tables=(f.name,)), "127.0.0.3")
        self.assertEqual(wm.source_of(c, a, tables=("/nonexistent",)), "127.0.0.3")


class Limit(unittest.TestCase):
    def test_per_source_and_one_warning(self):
        with self.assertLogs("vmba-test", level="WARNING") as logs:
            lim = wm.SourceLimit(limit=2, log=logging.getLogger("vmba-test"))
            self.assertTrue(lim.admit("a", []))
            self.assertTrue(lim.admit("a", ["a"]))
            self.assertFalse(lim.admit("a", ["a", "a"]))
            self.assertFalse(lim.admit("a", ["a", "a", "a"]))   # logged once
            self.assertTrue(lim.admit("b", ["a", "a", "b"]))    # another source: its own share
            self.assertTrue(lim.admit("a", ["a"]))              # one ended: admitted, still "full"
            self.assertFalse(lim.admit("a", ["a", "a"]))        # not logged again
            self.assertTrue(lim.admit("a", ["b"]))              # it held none: forgotten
            self.assertFalse(lim.admit("a", ["a", "a"]))        # logged again
        self.assertEqual(logs.output, [
            "WARNING:vmba-test:a: 2 connections held already; closing the next ones until one ends"] * 2)

    def test_default(self):
        lim = wm.SourceLimit()
        self.assertEqual((lim.limit, lim.others, lim.hosts), (wm.PER_SOURCE, wm.OTHERS_MAX, ()))

    def test_host_networks(self):
        # As agent/host/host-addresses.c writes them (its tests' texts).
        cases = {
            "10.0.0.1/32 fe80::1/128": ["10.0.0.1/32", "fe80::1/128"],
            # Host bits are ignored, as the agent's cidr_match() does.
            "10.0.0.1/32 192.168.1.7/24 fd00::1/128": ["10.0.0.1/32", "192.168.1.0/24", "fd00::1/128"],
            "0.0.0.0/0 ::/0": ["0.0.0.0/0", "::/0"],
            "": [],
            "  10.0.0.1/32\t": ["10.0.0.1/32"],
        }
        for text, want in cases.items():
            self.assertEqual([str(n) for n in wm.host_networks(text)], want, text)
        for bad in ("host.example", "10.0.0.0/33", "10.0.0.1,10.0.0.2", "[fe80::1]/128"):
            with self.assertRaises(ValueError, msg=bad):
                wm.host_networks(bad)

    def test_other(self):
        # Whether a source counts in the others' share: neither root (the
        # agent) nor the host.
        lim = wm.SourceLimit(hosts=wm.host_networks("10.214.0.1/32 fe80::1/128 192.168.7.0/24"))
        cases = {
            "10.214.0.3": True,
            "10.214.0.1": False,
            "::ffff:10.214.0.1": False,         # a dual-stack socket's IPv4 peer
            "::ffff:10.214.0.3": True,
            "fe80::1%br0": False,               # the zone is not compared
            "fe80::1": False,
            "fe80::3%eth0": True,
            "192.168.7.200": False,             # inside a host CIDR
            "192.168.8.1": True,
            "::ffff:192.168.7.1": False,
            "local user 1000": True,            # a provider CLI, the browser: theirs too
            "local user 0": False,              # root: the agent's readiness probe
            "127.0.0.2": True,                  # loopback nobody was found holding
            "::1": True,
            "::ffff:127.0.0.1": True,
            "fd00::1": True,
            "not an address": True,
            None: False,                        # a child that is no connection's
        }
        for source, want in cases.items():
            self.assertEqual(lim.other(source), want, source)
        # No host known: every source on the network is one of the others.
        lim = wm.SourceLimit()
        self.assertEqual([lim.other(s) for s in ("10.214.0.1", "fe80::1%br0", "local user 5", "local user 0")],
                         [True, True, True, False])

    def test_counted_as(self):
        # An IPv6 source but loopback, v4-mapped and the host's is its
        # /64: one machine holds the whole of it.  Link-local is one /64.
        lim = wm.SourceLimit(hosts=wm.host_networks("10.214.0.1/32 fe80::1/128 fd00:0:0:7::/64"))
        cases = {
            "fd00::3": "fd00::/64",
            "fd00:0:0:1:aaaa:bbbb:cccc:dddd": "fd00:0:0:1::/64",
            "2001:db8:1:2::9": "2001:db8:1:2::/64",
            "fe80::3%eth0": "fe80::/64",        # the zone is not compared
            "fe80::4": "fe80::/64",
            "fe80::1%eth0": "fe80::1%eth0",     # the host's: itself
            "fd00:0:0:7::9": "fd00:0:0:7::9",   # inside a host CIDR: itself
            "::1": "::1",                       # loopback nobody was found holding
            "::ffff:10.214.0.3": "::ffff:10.214.0.3",  # IPv4: per address
            "10.214.0.3": "10.214.0.3",
            "local user 1000": "local user 1000",
            "not an address": "not an address",
            None: None,
        }
        for source, want in cases.items():
            self.assertEqual(lim.counted_as(source), want, source)

    def test_one_64_is_one_source(self):
        # A neighbour with several addresses of one /64 holds the limit in
        # all: before, it had the limit for each address.  Another /64,
        # and the host's addresses in the same /64, have their own.
        hosts = wm.host_networks("fd00::1/128")
        with self.assertLogs("vmba-test", level="WARNING") as logs:
            lim = wm.SourceLimit(limit=2, others=10, hosts=hosts, log=logging.getLogger("vmba-test"))
            self.assertTrue(lim.admit("fd00::3", ["fd00::4"]))
            self.assertFalse(lim.admit("fd00::5", ["fd00::3", "fd00::4"]))
            self.assertTrue(lim.admit("fd00:0:0:1::3", ["fd00::3", "fd00::4"]))
            self.assertTrue(lim.admit("fd00::1", ["fd00::3", "fd00::4", "fd00::1"]))
            self.assertFalse(lim.admit("fe80::5%eth0", ["fe80::3%eth0", "fe80::4%eth0"]))
            self.assertTrue(lim.admit("10.0.0.5", ["10.0.0.3", "::ffff:10.0.0.4"]))
        self.assertEqual(logs.output, [
            "WARNING:vmba-test:fd00::/64: 2 connections held already; closing the next ones until one ends",
            "WARNING:vmba-test:fe80::/64: 2 connections held already; closing the next ones until one ends"])

    def test_others_share_and_one_warning(self):
        hosts = wm.host_networks("10.0.0.1/32")
        n3, n4, n5, host = "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.1"
        full = [n3, n3, n3, n4]                 # the others hold 4: their share
        cases = [
            # (source, held, admitted)
            (n3, [], True),
            (n4, [n3, n3, n3], True),
            (n4, full, False),                   # logged
            (n5, full, False),                   # the others' share, whoever asks: not logged again
            (n3, full, False),                   # its own limit first: logged for n3
            (host, full + [host, host], True),   # the host: its own limit only
            (host, full + [host] * 3, False),    # logged for the host
            ("local user 0", full, True),        # root: its own limit only
            ("local user 0", full + ["local user 0"] * 2, True),
            ("local user 0", full + ["local user 0"] * 3, False),  # root's own limit: logged
            ("local user 1000", full, False),    # a local user: the others' share
            ("127.0.0.2", full, False),
            (n5, [n3, n4, n4, host], True),      # one ended: admitted, still "full"
            (n5, [n3, n4, n4, n5] + [host] * 3, False),  # not logged again
            (n5, [host, "local user 0", None], True),    # the others held none: forgotten
            (n4, [n3, n3, n3, n5], False),        # logged again
        ]
        with self.assertLogs("vmba-test", level="WARNING") as logs:
            lim = wm.SourceLimit(limit=3, others=4, hosts=hosts, log=logging.getLogger("vmba-test"))
            for i, (source, held, want) in enumerate(cases):
                self.assertEqual(lim.admit(source, held), want, (i, source, held))
        others = "connections held already by sources other than the host and root; closing their " \
                 "next ones until one ends"
        self.assertEqual(logs.output, [
            f"WARNING:vmba-test:10.0.0.4: 4 {others}",
            "WARNING:vmba-test:10.0.0.3: 3 connections held already; closing the next ones until one ends",
            "WARNING:vmba-test:10.0.0.1: 3 connections held already; closing the next ones until one ends",
            "WARNING:vmba-test:local user 0: 3 connections held already; closing the next ones until one ends",
            f"WARNING:vmba-test:10.0.0.4: 4 {others}",
        ])

    def test_numbers(self):
        # The VNC user's tasks (vnc/display.c) hold the others' share, the
        # host's PER_SOURCE, x11vnc and websockify, and two more (the
        # agent's probe, while websockify starts and holds nothing else);
        # one neighbour address still gets all of its own.
        m = re.search(r"^#define VNC_USER_TASKS_MAX (\d+)$", (TOP / "vnc" / "display.c").read_text(), re.M)
        self.assertLessEqual(wm.OTHERS_MAX + wm.PER_SOURCE + 2 + 2, int(m.group(1)))
        self.assertGreaterEqual(wm.OTHERS_MAX, wm.PER_SOURCE)


class Handler(unittest.TestCase):
    def test_closed_down(self):
        calls = []

        class H:
            timeout = None

            def __init__(self, path):
                self.path = path
                self.request = self

            def settimeout(self, t):
                calls.append(("settimeout", t))

            def handle_upgrade(self):
                calls.append("upgrade")

            def send_head(self):
                return "head"

            def send_error(self, code):
                return code

            def list_directory(self, path):
                return "listing"

            def parse_request(self):
                return True

        wm.close_handler(H)
        self.assertEqual(H.timeout, wm.REQUEST_TIMEOUT_S)
        self.assertEqual(H("/a\\b").send_head(), 404)
        self.assertEqual(H("/vnc.html").send_head(), "head")
        self.assertEqual(H("/").list_directory("/"), 404)
        H("/websockify").handle_upgrade()
        self.assertEqual(calls, [("settimeout", None), "upgrade"])

    def test_header_fields_are_bounded(self):
        # http.server reads 100 header lines of 64 KiB each: a neighbour
        # that sent 99 and kept the last one going held its process at
        # about four times its usual memory.  Past HEADERS_MAX bytes the
        # request gets 431 and the rest is not read; a request under it,
        # the WebSocket's included, is served as before.
        class H(http.server.SimpleHTTPRequestHandler):
            def handle_upgrade(self):
                pass

            def log_message(self, *a):
                pass
        wm.close_handler(H)

        def answer(request):
            a, b = socket.socketpair()
            self.addCleanup(a.close)
            self.addCleanup(b.close)

            def send():
                try:
                    b.sendall(request)
                except OSError:
                    pass  # closed once the handler answered
            t = threading.Thread(target=send)
            t.start()
            with tempfile.TemporaryDirectory() as d:
                H(a, ("192.0.2.1", 4242), None, directory=d)
            t.join()
            b.settimeout(10)
            return b.recv(4096).split(b"\r\n", 1)[0]

        line = b"X-%d: " + b"a" * 1000 + b"\r\n"
        big = b"GET /none HTTP/1.0\r\n" + b"".join(line % i for i in range(99)) + b"\r\n"
        self.assertEqual(answer(big), b"HTTP/1.0 431 Line too long")
        n = (wm.HEADERS_MAX - 100) // len(line % 10)
        fits = b"GET /none HTTP/1.0\r\n" + b"".join(line % (10 + i) for i in range(n)) + b"\r\n"
        self.assertEqual(answer(fits), b"HTTP/1.0 404 File not found")

    def test_one_line_records(self):
        factory = logging.getLogRecordFactory()
        self.addCleanup(logging.setLogRecordFactory, factory)
        wm.one_line_records()
        r = logging.getLogRecordFactory()("x", logging.INFO, "f", 1, "GET %s", ("/?t=a\r\nb",), None)
        self.assertEqual((r.msg, r.args, r.getMessage()), ("GET /?t=a\\r\\nb", None, "GET /?t=a\\r\\nb"))


# A stand-in for websockify.websocketproxy: websockify_init() prints, as
# JSON, what main() did before starting it.
STAND_IN = r"""
import json, logging, multiprocessing, socket, sys

class ProxyRequestHandler:
    def handle_upgrade(self):
        pass

    def send_head(self):
        return "head"

    def list_directory(self, path):
        return "listing"

    def parse_request(self):
        return True

BEFORE = (socket.socket.accept, socket.fromfd, multiprocessing.Process, logging.getLogRecordFactory())

def websockify_init():
    H = ProxyRequestHandler
    h = H.__new__(H)
    h.send_error = lambda code: code
    h.path = "/a\\b"
    print(json.dumps({
        "argv": sys.argv, "numpy": "numpy" in sys.modules and sys.modules["numpy"] is None,
        "timeout": getattr(H, "timeout", None), "backslash": H.send_head(h), "listing": H.list_directory(h, "/"),
        "upgrade": H.handle_upgrade.__module__ == "__main__",
        "headers": H.parse_request.__module__ == "__main__",
        "accept": socket.socket.accept is not BEFORE[0], "fromfd": socket.fromfd is not BEFORE[1],
        "process": multiprocessing.Process is not BEFORE[2] and issubclass(multiprocessing.Process, BEFORE[2]),
        "records": logging.getLogRecordFactory() is not BEFORE[3],
        "hosts": [str(n) for c in socket.socket.accept.__closure__ or ()
                  for n in getattr(c.cell_contents, "hosts", None) or ()],
    }))
"""


class Main(unittest.TestCase):
    def run_stand_in(self, env, *args):
        with tempfile.TemporaryDirectory() as d:
            pkg = pathlib.Path(d) / "websockify"
            pkg.mkdir()
            (pkg / "__init__.py").write_text("")
            (pkg / "websocketproxy.py").write_text(STAND_IN)
            text = (TOP / "vnc" / "websockify-main.py").read_text()
            return subprocess.run([sys.executable, "-S", "-c", text, *args], capture_output=True, text=True,
                                  env={"PYTHONPATH": d, "PATH": os.environ.get("PATH", ""), **env})

    def test_patches_before_websockify_starts(self):
        r = self.run_stand_in({wm.HOSTS_ENV: "10.0.0.1/32 fe80::1/128"}, "--web", "/w", "--inetd")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(json.loads(r.stdout), {
            "argv": ["websockify", "--web", "/w", "--inetd"], "numpy": True, "timeout": wm.REQUEST_TIMEOUT_S,
            "backslash": 404, "listing": 404, "upgrade": True, "headers": True, "accept": True, "fromfd": True,
            "process": True, "records": True, "hosts": ["10.0.0.1/32", "fe80::1/128"]})

    def test_host_addresses(self):
        # None passed, or a value that does not parse: nobody is the host
        # (the second says so, in one line), and websockify starts.
        self.assertEqual(json.loads(self.run_stand_in({}).stdout)["hosts"], [])
        self.assertEqual(json.loads(self.run_stand_in({wm.HOSTS_ENV: ""}).stdout)["hosts"], [])
        r = self.run_stand_in({wm.HOSTS_ENV: "10.0.0.1/32 10.0.0.0/33"})
        self.assertEqual((r.returncode, json.loads(r.stdout)["hosts"]), (0, []))
        self.assertEqual(r.stderr, f"{wm.HOSTS_ENV}: '10.0.0.0/33' does not appear to be an IPv4 or IPv6 network; "
                                   "no source is taken for the host\n")

    def test_without_websockify_it_says_so(self):
        r = subprocess.run([sys.executable, "-S", "-c", (TOP / "vnc" / "websockify-main.py").read_text()],
                           capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "")})
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot import websockify: No module named 'websockify'", r.stderr)


class Embed(unittest.TestCase):
    def test_literals_read_back(self):
        # C's escapes used here (\\ \" \n \ooo) mean the same in a Python
        # bytes literal: each line read back is the line.
        text = 'a "q" \\ b\n\ttab\r\n\u00e9t\u00e9 ??( 7\x7f\n\n' + "x\\n'y'"
        for line in text.splitlines(keepends=True):
            lit = embed.c_literal(line)
            self.assertEqual(ast.literal_eval("b" + lit), line.encode(), lit)
            self.assertNotIn("??", lit)  # a trigraph in C before C23

    def test_header(self):
        with tempfile.TemporaryDirectory() as d:
            out = pathlib.Path(d) / "x.h"
            subprocess.run([sys.executable, str(TOP / "vnc" / "embed-text.py"),
                            str(TOP / "vnc" / "websockify-main.py"), str(out), "X_MAIN"], check=True)
            lines = out.read_text().splitlines()
        self.assertEqual(lines[:4], ["/* Generated from websockify-main.py by embed-text.py. */",
                                     "#pragma once", "", "#define X_MAIN \\"])
        lits = [ln.strip().removesuffix(" \\") for ln in lines[4:]]
        got = b"".join(ast.literal_eval("b" + lit) for lit in lits)
        self.assertEqual(got, (TOP / "vnc" / "websockify-main.py").read_bytes())


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False).result.wasSuccessful() else 1)
