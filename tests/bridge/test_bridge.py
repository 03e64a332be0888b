"""The bridge tier: what each machine on the host's bridge may reach of a
VM's agent as shipped (secrets from the host, default bindings and
allow_from), with the real Xvfb, x11vnc, websockify and dbus-daemon.

Three network namespaces, as a host, a VM and a neighbour VM:
  host  br0 (the bridge; 10.214.0.1/24 and fe80::1: the ip= gateway),
        with the veth ends of the two VMs enslaved to it
  vm    eth0 10.214.0.2/24, fe80::2: the agent (--no-netinit; ip= read
        from its cmdline_path for the default allow_from)
  nbr   eth0 10.214.0.3/24, fe80::3: the neighbour
once over IPv4 and once over IPv6 link-local (the agent then listens on
"::" and its ip= names the host's fe80::1 as gateway; no allow_from is
set: the gateway rule covers the host's link-local address).

From the neighbour: control routes 403 even with the token; the noVNC
WebSocket upgrade without or with a wrong token gets no 101; RFB is not
reachable as shipped (x11vnc on a unix socket only), and opened (vnc_listen=::, the
IPv6 run) offers only VNC authentication (type 2, never None) and refuses
a wrong password; noVNC connections held open, from one address or from
several, leave the host its desktop, and several addresses of one IPv6
/64 are one source; a host that floods noVNC from two
addresses meets the VNC user's task limit, and websockify goes on.  From
the host: the control routes pass the gate; the WebSocket with the token
reaches x11vnc, and so does RFB with the password (DES) where it is
opened.  In the VM, nothing
listens beyond the configured sockets.  With the bridge ports isolated as
docs/host.md tells the host to, the neighbour reaches nothing of the VM,
and the host all it did.  Only the test's own namespaces carry traffic."""
import http.client
import json
import os
import shutil
import socket
import struct
import sys
import threading

import pytest

from desktop import HeldRequests, children, closed, connect_local, http_answer, http_status as answer_status, listeners, rfb, wait_no_connections, ws_upgrade
from netns import Netns, wait_until
from svagent import DESKTOP_SECRET, MMDS_SERVER, TOKEN, Agent, auth, passwd_alias, run_uid

NET4 = "10.214.0"
SESSION = "11111111-2222-3333-4444-555555555555"

pytestmark = pytest.mark.skipif(not all(shutil.which(b) for b in ("Xvfb", "x11vnc", "websockify", "dbus-daemon")),
                                reason="needs the display stack")


class Bridge:
    """host, vm and nbr namespaces on br0 (in host)."""

    def __init__(self):
        self.host = self.vm = self.nbr = None
        try:
            self.host = Netns("vmbabh")
            self.vm = Netns("vmbabv")
            self.nbr = Netns("vmbabn")
            for ns in (self.host, self.vm, self.nbr):
                # Only the link-local addresses set below: source address
                # selection on the bridge is then the one we name.
                ns.run("sysctl", "-qw", "net.ipv6.conf.default.addr_gen_mode=1")
            h = self.host
            h.run("ip", "link", "add", "br0", "type", "bridge")
            h.run("ip", "addr", "add", f"{NET4}.1/24", "dev", "br0")
            h.run("ip", "addr", "add", "fe80::1/64", "dev", "br0", "nodad")
            h.run("ip", "link", "set", "br0", "up")
            for ns, port, n in ((self.vm, "pv", 2), (self.nbr, "pn", 3)):
                h.run("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns.name)
                h.run("ip", "link", "set", port, "master", "br0")
                h.run("ip", "link", "set", port, "up")
                ns.run("ip", "addr", "add", f"{NET4}.{n}/24", "dev", "eth0")
                ns.run("ip", "addr", "add", f"fe80::{n}/64", "dev", "eth0", "nodad")
                ns.run("ip", "link", "set", "eth0", "up")
        except BaseException:
            self.close()
            raise

    def close(self):
        for ns in (self.nbr, self.vm, self.host):
            if ns:
                ns.close()


@pytest.fixture(params=["ipv4", "ipv6"])
def setup(request, agent_bin):
    b = Bridge()
    try:
        if request.param == "ipv4":
            vm_addr, host_scope, nbr_scope = f"{NET4}.2", None, None
            cmdline = f"ip={NET4}.2::{NET4}.1:255.255.255.0::eth0:off"
            sets = ()
        else:
            vm_addr, host_scope, nbr_scope = "fe80::2", "br0", "eth0"
            cmdline = "ip=[fe80::2]::[fe80::1]:64::eth0:off"
            sets = ("http_listen=::", "vnc_listen=::", "novnc_listen=::")
        # vnc_user a uid of this run's own: the neighbour's flood below
        # fills its 64 tasks (RLIMIT_NPROC), which the kernel counts
        # machine-wide, another run's "daemon" tasks included.
        with passwd_alias(run_uid() + 2_000_000) as wrap:
            agent = Agent(agent_bin, "window_manager=", "vnc_user=vmba-alias", *sets, ns=b.vm, cmdline=cmdline,
                          wrap=wrap)
            yield request.param, b, agent, vm_addr, host_scope, nbr_scope
            agent.stop()
            log = agent.log_text()
            agent.close()
        assert DESKTOP_SECRET not in log and DESKTOP_SECRET[:8] not in log and TOKEN not in log
    finally:
        b.close()


def scoped(addr, scope):
    return f"{addr}%{scope}" if scope else addr


def http_status(ns, addr, port, path, token=True):
    """GET from ns; addr may carry a %scope (not sent in Host)."""
    bare = addr.split("%")[0]
    host = f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"
    with ns.entered():
        c = http.client.HTTPConnection(addr, port, timeout=30)
        try:
            headers = {"Host": host}
            c.request("GET", path, headers=auth(headers) if token else headers)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()


def test_neighbour_gets_no_desktop(setup):
    family, b, agent, vm_addr, host_scope, nbr_scope = setup
    wait_until(lambda: agent.try_get("/health/ready")[0] == 200, 60, "the VM's display chain ready")
    net = agent.health()["network"]
    assert net["gateway"] == ("10.214.0.1" if family == "ipv4" else "fe80::1"), net
    route = f"/oauth-url?sessionId={SESSION}"
    nbr_vm, host_vm = scoped(vm_addr, nbr_scope), scoped(vm_addr, host_scope)

    # Control routes: the neighbour is refused even with the token; the host passes the gate.
    assert http_status(b.nbr, nbr_vm, agent.http_port, route)[0] == 403
    assert http_status(b.host, host_vm, agent.http_port, route) == (404, b'{"error":"Session not found"}')
    assert http_status(b.host, host_vm, agent.http_port, route, token=False)[0] == 401
    # /health is open to all, and says nothing secret.
    status, body = http_status(b.nbr, nbr_vm, agent.http_port, "/health", token=False)
    assert status == 200 and DESKTOP_SECRET.encode() not in body

    # RFB: as shipped, not on the bridge at all; opened, only VNC
    # authentication, and only with the password.
    with b.nbr.entered():
        if family == "ipv4":
            with pytest.raises(ConnectionRefusedError):
                rfb(nbr_vm, agent.vnc_port)
        else:
            banner, types, result = rfb(nbr_vm, agent.vnc_port, "wrong-password")
            assert banner.startswith(b"RFB 003.") and types == [2] and result == 1, (banner, types, result)
            assert rfb(nbr_vm, agent.vnc_port)[1] == [2]
        # noVNC: the upgrade needs the token.
        assert ws_upgrade(nbr_vm, agent.novnc_port, "/websockify")[0] is None
        assert ws_upgrade(nbr_vm, agent.novnc_port, "/websockify?token=guess")[0] is None
    # The static noVNC pages are public (harmless: they hold no secret).
    assert http_status(b.nbr, nbr_vm, agent.novnc_port, "/vnc.html", token=False)[0] == 200
    # A neighbour that holds more connections than the VNC user may have
    # processes (each a request begun, never ended) is held to its share:
    # the host is still served below.
    # Those past its 24 are closed by websockify; its 24 are held.  The
    # processes of its requests above count until they have exited.
    wait_no_connections(agent.services()["websockify"]["pid"])
    with HeldRequests(closed_ok=True) as flood:
        with b.nbr.entered():
            for _ in range(70):
                flood.add(socket.create_connection((nbr_vm, agent.novnc_port), timeout=30))
        with_host_desktop(b, agent, family, vm_addr, host_vm)
        wait_until(lambda: sum(map(closed, flood.socks)) == 70 - 24, 30, "all but 24 of the neighbour's closed")
    wait_until(lambda: agent.log_lines("24 connections held already"), 10, "the neighbour's limit logged")

    # Nothing else listens in the VM.
    if family == "ipv4":
        want = [f"0.0.0.0:{agent.http_port}", f"0.0.0.0:{agent.novnc_port}"]
    else:
        want = [f"*:{agent.http_port}", f"[::]:{agent.vnc_port}", f"*:{agent.novnc_port}"]
    assert listeners(b.vm) == sorted(want), listeners(b.vm)


def test_isolated_ports_keep_the_neighbour_out(setup):
    """docs/host.md, step 3: with each VM's bridge port isolated (its
    command, as written there), the neighbour reaches no port of the VM,
    the host still does.  Before, the neighbour is answered on both ports
    (the display chain is ready, so websockify listens), as in the other
    tests here: the isolation is what keeps it out, however many
    addresses it takes.  A frame the bridge drops is a timeout (5 s) or no
    neighbour found; a refused connection would mean the port is closed,
    not that the neighbour was kept out."""
    family, b, agent, vm_addr, host_scope, nbr_scope = setup
    nbr_vm, host_vm = scoped(vm_addr, nbr_scope), scoped(vm_addr, host_scope)
    wait_until(lambda: agent.try_get("/health/ready")[0] == 200, 60, "the VM's display chain ready")
    assert http_status(b.nbr, nbr_vm, agent.http_port, "/health", token=False)[0] == 200
    assert http_status(b.nbr, nbr_vm, agent.novnc_port, "/vnc.html", token=False)[0] == 200
    for port in ("pv", "pn"):
        b.host.run("bridge", "link", "set", "dev", port, "isolated", "on")
    with b.nbr.entered():
        for port in (agent.http_port, agent.novnc_port):
            with pytest.raises(OSError) as e:
                socket.create_connection((nbr_vm, port), timeout=5).close()
            assert not isinstance(e.value, ConnectionRefusedError), e.value
    assert http_status(b.host, host_vm, agent.http_port, "/health", token=False)[0] == 200
    assert http_status(b.host, host_vm, agent.http_port, f"/oauth-url?sessionId={SESSION}")[0] == 404


def with_host_desktop(b, agent, family, vm_addr, host_vm):
    """The host: RFB only where opened, the desktop through noVNC with the
    secret, and the noVNC page."""
    with b.host.entered():
        if family == "ipv4":
            with pytest.raises(ConnectionRefusedError):
                rfb(host_vm, agent.vnc_port)
        else:
            assert rfb(host_vm, agent.vnc_port, DESKTOP_SECRET)[1:] == ([2], 0)
        status, frame = ws_upgrade(host_vm, agent.novnc_port, f"/websockify?token={DESKTOP_SECRET}")
        assert " 101 " in (status or "") and frame.startswith(b"RFB 003."), (status, frame)
        # What the host builds for the person: the noVNC page is served.
        h = vm_addr if family == "ipv4" else f"[{vm_addr}]"
        c = http.client.HTTPConnection(host_vm, agent.novnc_port, timeout=30)
        c.request("GET", "/vnc.html", headers={"Host": f"{h}:{agent.novnc_port}"})
        assert c.getresponse().status == 200
        c.close()


def connect_from(source, addr, port):
    """A connection to addr:port from source (either may carry a %scope),
    in the namespace this thread is in."""
    fam = socket.AF_INET6 if ":" in source else socket.AF_INET
    c = socket.socket(fam, socket.SOCK_STREAM)
    try:
        c.settimeout(60)
        c.bind(socket.getaddrinfo(source, 0, fam, socket.SOCK_STREAM)[0][4])
        c.connect(socket.getaddrinfo(addr, port, fam, socket.SOCK_STREAM)[0][4])
    except BaseException:
        c.close()
        raise
    return c


def test_neighbour_with_several_addresses_leaves_the_host_its_desktop(setup):
    """A neighbour that takes four addresses on the bridge (IPv6: in four
    /64s, as one /64 is one source) and holds 24 noVNC connections from
    each (96, more than the 64 tasks the VNC user
    may have, each a request begun and never ended) is held to the share
    of all sources but the host's (OTHERS_MAX, 36, in
    vnc/websockify-main.py): the others are closed unanswered, a fifth
    address's next one too, and a local user's (one share for all but the
    host and root), and that is said once in the log; the host,
    outside that share, still gets the desktop through noVNC and the
    noVNC page.  The held connections keep their requests going
    (HeldRequests): websockify's request timeout does not end them."""
    family, b, agent, vm_addr, host_scope, nbr_scope = setup
    wait_until(lambda: agent.try_get("/health/ready")[0] == 200, 60, "the VM's display chain ready")
    nbr_vm, host_vm = scoped(vm_addr, nbr_scope), scoped(vm_addr, host_scope)
    if family == "ipv4":
        pairs = [(f"{NET4}.{n}", nbr_vm) for n in (3, 4, 5, 6, 7)]
        for a, _ in pairs[1:]:
            b.nbr.run("ip", "addr", "add", f"{a}/24", "dev", "eth0")
    else:
        # An IPv6 source is its /64 (one machine holds all of it): a /64
        # each, the VM on-link in each.
        pairs = [(f"fd14:0:0:{n}::3", f"fd14:0:0:{n}::2") for n in (3, 4, 5, 6, 7)]
        for a, vm in pairs:
            b.vm.run("ip", "addr", "add", f"{vm}/64", "dev", "eth0", "nodad")
            b.nbr.run("ip", "addr", "add", f"{a}/64", "dev", "eth0", "nodad")
    # Those past the share are closed by websockify.
    wait_no_connections(agent.services()["websockify"]["pid"])
    with HeldRequests(closed_ok=True) as held:
        with b.nbr.entered():
            for a, vm in pairs[:4]:
                for _ in range(24):
                    held.add(connect_from(a, vm, agent.novnc_port))
        # Accepted after the 96: closed unanswered, as the share is full.
        a, vm = pairs[4]
        with b.nbr.entered(), connect_from(a, vm, agent.novnc_port) as c:
            assert answer_status(http_answer(c, b"GET /vnc.html HTTP/1.0\r\n\r\n")) is None
        # A local user's too: a provider CLI with a neighbour could
        # otherwise take what the share leaves the host.
        with b.vm.entered(), connect_local("127.0.0.1", agent.novnc_port, uid=run_uid() + 3_000_000) as c:
            assert answer_status(http_answer(c, b"GET /vnc.html HTTP/1.0\r\n\r\n")) is None
        with_host_desktop(b, agent, family, vm_addr, host_vm)
        wait_until(lambda: sum(map(closed, held.socks)) == 96 - 36, 30, "all but 36 of the neighbour's closed")
    share = "connections held already by sources other than the host and root"
    lines = wait_until(lambda: agent.log_lines(share), 10, "the share logged")
    assert len(lines) == 1 and ": 36 connections held already" in lines[0], lines


@pytest.mark.parametrize("setup", ["ipv6"], indirect=True)
def test_neighbour_one_ipv6_64_is_one_source(setup):
    """A neighbour with several addresses of one /64 (link-local: all of
    fe80::/64) holds 24 noVNC connections (PER_SOURCE) in all: counted per
    address, it had 24 for each and two of them took the others' 36.  Its
    next one, from a third address of the /64, is closed unanswered, and
    the log names the /64; the host still gets its desktop."""
    family, b, agent, vm_addr, host_scope, nbr_scope = setup
    wait_until(lambda: agent.try_get("/health/ready")[0] == 200, 60, "the VM's display chain ready")
    for n in (4, 5):
        b.nbr.run("ip", "addr", "add", f"fe80::{n}/64", "dev", "eth0", "nodad")
    nbr_vm, host_vm = scoped(vm_addr, nbr_scope), scoped(vm_addr, host_scope)
    wait_no_connections(agent.services()["websockify"]["pid"])
    with HeldRequests() as held:
        with b.nbr.entered():
            for n in (3, 4):
                for _ in range(12):
                    held.add(connect_from(scoped(f"fe80::{n}", nbr_scope), nbr_vm, agent.novnc_port))
            with connect_from(scoped("fe80::5", nbr_scope), nbr_vm, agent.novnc_port) as c:
                assert answer_status(http_answer(c, b"GET /vnc.html HTTP/1.0\r\n\r\n")) is None
        with_host_desktop(b, agent, family, vm_addr, host_vm)
        assert not any(map(closed, held.socks))
    lines = wait_until(lambda: agent.log_lines("connections held already"), 10, "the /64 logged")
    assert len(lines) == 1 and "fe80::/64: 24 connections held already; closing the next" in lines[0], lines


def link_mac(ns, dev="eth0"):
    return bytes.fromhex(ns.ip_json("link", "show", "dev", dev)[0]["address"].replace(":", ""))


class ArpPoison:
    """What any machine on the bridge can do: tells the VM, every 200 ms,
    that the gateway's address is at the neighbour's MAC (an ARP request
    for the VM's address "from" the gateway, which the VM's kernel takes
    as the gateway's entry, made or replaced), so the VM's packets for
    its gateway come to the neighbour while it lasts."""

    def __init__(self, b):
        vm_mac, nbr_mac = link_mac(b.vm), link_mac(b.nbr)
        self.frame = (vm_mac + nbr_mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) +
                      nbr_mac + socket.inet_aton(f"{NET4}.1") + bytes(6) + socket.inet_aton(f"{NET4}.2"))
        with b.nbr.entered():
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC)
        self.sock.bind(("eth0", 0))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        while not self.stop.is_set():
            self.sock.send(self.frame)
            self.stop.wait(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.sock.close()


def test_neighbour_hands_over_no_identity(agent_bin, tmp_path):
    """The VM as docs/host.md makes it: secrets in files, ip= applied by
    the agent, MMDS and restores left to their defaults.  A neighbour
    poisons the VM's ARP entry for its gateway, answers for MMDS's address
    with a handover of its own (its token, desktop secret and itself as
    gateway) and pokes the public POST /restore-check.  Nothing says MMDS
    is the host's channel here, so it is never asked: the poke finds no
    route, the host keeps its token, the neighbour gets nothing."""
    b = Bridge()
    agent = None
    try:
        nbr_token, nbr_desktop = "neighbour-token-0123456789", "Neighbour-desktop-0123456789"
        handover = tmp_path / "handover.json"
        handover.write_text(json.dumps({"generation": "nbr-1", "token": nbr_token, "desktop_secret": nbr_desktop,
                                        "network": f"ip={NET4}.2::{NET4}.3:255.255.255.0::eth0:off"}))
        mmds_log = tmp_path / "mmds.log"
        b.nbr.run("ip", "addr", "add", "169.254.169.254/32", "dev", "lo")
        b.nbr.popen([sys.executable, MMDS_SERVER, "169.254.169.254", str(handover), str(mmds_log)])
        agent = Agent(agent_bin, "window_manager=", "netinit=true", f"resolv_conf={tmp_path}/resolv.conf",
                      f"hosts_file={tmp_path}/hosts", "hostname_file=", ns=b.vm,
                      cmdline=f"ip={NET4}.2::{NET4}.1:255.255.255.0::eth0:off")
        wait_until(lambda: agent.try_get("/health/ready")[0] == 200, 60, "the VM's display chain ready")
        h = agent.health()
        assert (h["network"]["status"], h["auth"], h["desktop"]) == ("applied", "token", "secret"), h
        vm = f"{NET4}.2"
        route = f"/oauth-url?sessionId={SESSION}"
        # The host uses the VM (the VM learns the host's MAC), then the neighbour steps in.
        assert http_status(b.host, vm, agent.http_port, route) == (404, b'{"error":"Session not found"}')
        with ArpPoison(b):
            wait_until(lambda: b.vm.ip_json("neigh", "show", f"{NET4}.1") and
                       b.vm.ip_json("neigh", "show", f"{NET4}.1")[0].get("lladdr") ==
                       b.nbr.ip_json("link", "show", "dev", "eth0")[0]["address"], 10, "the VM's ARP poisoned")
            with b.nbr.entered():
                c = http.client.HTTPConnection(vm, agent.http_port, timeout=30)
                c.request("POST", "/restore-check")
                status = c.getresponse().status
                c.close()
        # The host answers for its address again once the neighbour stops.
        b.vm.run("ip", "neigh", "flush", "dev", "eth0")
        assert status == 404
        assert not mmds_log.exists(), mmds_log.read_text()
        assert http_status(b.host, vm, agent.http_port, route) == (404, b'{"error":"Session not found"}')
        assert http_status(b.nbr, vm, agent.http_port, route)[0] == 403
        with b.nbr.entered():
            assert ws_upgrade(vm, agent.novnc_port, f"/websockify?token={nbr_desktop}")[0] is None
        assert agent.health()["network"]["gateway"] == f"{NET4}.1"
    finally:
        if agent:
            agent.stop()
            agent.close()
        b.close()


def test_neighbour_hands_out_no_desktop_secret(agent_bin, tmp_path):
    """A host that wrote the token file and forgot the desktop secret: the
    desktop stays locked, and MMDS is not asked for the missing secret
    (nothing says it is there).  A neighbour poisoning the VM's ARP entry
    for its gateway from before the boot and answering for MMDS's address
    would otherwise hand the desktop a secret of its own."""
    b = Bridge()
    agent = None
    try:
        nbr_desktop = "Neighbour-desktop-0123456789"
        handover = tmp_path / "object.json"
        handover.write_text(json.dumps({"desktop_secret": nbr_desktop}))
        mmds_log = tmp_path / "mmds.log"
        b.nbr.run("ip", "addr", "add", "169.254.169.254/32", "dev", "lo")
        b.nbr.popen([sys.executable, MMDS_SERVER, "169.254.169.254", str(handover), str(mmds_log)])
        with ArpPoison(b):
            wait_until(lambda: (b.vm.ip_json("neigh", "show", f"{NET4}.1") or [{}])[0].get("lladdr") ==
                       b.nbr.ip_json("link", "show", "dev", "eth0")[0]["address"], 10, "the VM's ARP poisoned")
            agent = Agent(agent_bin, "window_manager=", "netinit=true", f"resolv_conf={tmp_path}/resolv.conf",
                          f"hosts_file={tmp_path}/hosts", "hostname_file=",
                          f"desktop_secret_file={tmp_path}/absent", ns=b.vm,
                          cmdline=f"ip={NET4}.2::{NET4}.1:255.255.255.0::eth0:off")
            wait_until(lambda: agent.try_get("/health")[0] == 200, 30, "the agent's /health")
            h = agent.health()
            assert (h["network"]["status"], h["auth"], h["desktop"]) == ("applied", "token", "no-secret"), h
            assert h.get("restore") is None
            wait_until(lambda: agent.try_get("/health/ready")[0] == 200, 60, "the VM's display chain ready")
            with b.nbr.entered():
                assert ws_upgrade(f"{NET4}.2", agent.novnc_port, f"/websockify?token={nbr_desktop}")[0] is None
        assert not mmds_log.exists(), mmds_log.read_text()
        assert agent.log_lines("No desktop secret (no " + str(tmp_path / "absent") + ", no vmba.desktop_secret=, "
                               "MMDS not asked, as the host gave the other secret)")
    finally:
        if agent:
            agent.stop()
            agent.close()
        b.close()



def uid_tasks(uid):
    """The tasks (threads included, as RLIMIT_NPROC counts them) whose real
    uid is uid, on the whole machine."""
    n = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    n += any(l.split()[1] == str(uid) for l in f if l.startswith("Uid:"))
        except FileNotFoundError:
            pass  # gone meanwhile
    return n


def test_a_host_over_the_task_limit_leaves_websockify_serving(agent_bin):
    """The one flood the sources' limits leave to RLIMIT_NPROC: the host's
    own, from two addresses of allow_from (24 each, beside a neighbour's
    24).  The VNC user's tasks stop at 64, websockify's forks past them
    fail (EAGAIN) and their connections are closed unanswered, the held
    ones stay; websockify is not restarted, and serves the host again once
    the flood has ended."""
    b = Bridge()
    try:
        b.host.run("ip", "addr", "add", f"{NET4}.9/24", "dev", "br0")
        uid, vm = run_uid() + 2_000_000, f"{NET4}.2"
        with passwd_alias(uid) as wrap:
            agent = Agent(agent_bin, "window_manager=", "vnc_user=vmba-alias",
                          f"allow_from=127.0.0.0/8,::1,{NET4}.1,{NET4}.9", ns=b.vm,
                          cmdline=f"ip={NET4}.2::{NET4}.1:255.255.255.0::eth0:off", wrap=wrap)
            try:
                wait_until(lambda: agent.try_get("/health/ready")[0] == 200, 60, "the VM's display chain ready")
                before = agent.services()["websockify"]
                wait_no_connections(before["pid"])
                with HeldRequests(closed_ok=True) as held:
                    with b.nbr.entered():
                        nbr = [held.add(connect_from(f"{NET4}.3", vm, agent.novnc_port)) for _ in range(24)]
                    with b.host.entered():
                        for a in (f"{NET4}.1", f"{NET4}.9"):
                            for _ in range(24):
                                held.add(connect_from(a, vm, agent.novnc_port))
                    wait_until(lambda: len(children(before["pid"])) + sum(map(closed, held.socks)) == 72, 30,
                               "each of the 72 connections held by a process of websockify's or closed")
                    assert uid_tasks(uid) == 64
                    assert not any(map(closed, nbr))
                    assert 0 < sum(map(closed, held.socks)) < 24
                wait_no_connections(before["pid"])
                with b.host.entered():
                    status, frame = ws_upgrade(vm, agent.novnc_port, f"/websockify?token={DESKTOP_SECRET}")
                assert " 101 " in (status or "") and frame.startswith(b"RFB 003."), (status, frame)
                assert agent.services()["websockify"] == before
                assert agent.log_lines("websockify: handler exception: [Errno 11] Resource temporarily unavailable")
                assert DESKTOP_SECRET not in agent.log_text()
            finally:
                agent.stop()
                agent.close()
    finally:
        b.close()
