"""Snapshot restore, simulated in a network namespace: the agent boots with
ip= on eth0 and its token and desktop secret from files; an MMDS stand-in on
the guest's loopback holds the host's handover.  A restore is a POST
/restore-check after the handover changed (a real restore under qemu is the
vm tier's).  The clock step is off here (restore_clock=false): CLOCK_REALTIME
has no namespace, and this machine's clock is never set by a test.  The
clock-watch trigger has its own tests (tests/unit/common, tests/adapter/common)."""
import contextlib
import http.client
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid

import pytest

from loginenv import LoginEnv, assert_nothing_left_to_push, home_gone, push_queued, read_line
from netns import Lan, Netns, need, require_root, wait_until
from svagent import DESKTOP_SECRET, MMDS_SERVER, TOKEN, VNC_UID, Agent, auth, pids_with_argv

pytestmark = pytest.mark.usefixtures("root")

NEW_TOKEN = "vmba-restored-token-fedcba9876543210"
NEW_DESKTOP = "Restored-desktop-secret-0123456789"



@pytest.fixture
def root():
    require_root()


def post(agent, path, token=None, body=None):
    with agent.ns.entered():
        c = http.client.HTTPConnection("127.0.0.1", agent.http_port, timeout=10)
        try:
            headers = auth(token=token) if token else {}
            if body is not None:
                headers["Content-Type"] = "application/json"
            c.request("POST", path, body=body, headers=headers)
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            c.close()


def addresses(ns):
    return {a["local"] + "/" + str(a["prefixlen"])
            for link in ns.ip_json("-4", "addr", "show", "dev", "eth0") for a in link.get("addr_info", [])}


def write_handover(path, obj):
    """The MMDS stand-in serves path at each request: replaced whole, never
    seen half-written (an empty object is no usable handover, and the
    agent would ask again)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def hand_over_at_third_question(path, obj):
    """The clone's handover (path missing now), put in place by the MMDS
    stand-in itself once it answered the agent's next two questions 503
    (mmds_server.py's .later): between the agent's questions however long
    this test takes.  One the test wrote after a stall of its own would
    come after the last question of the series (the agent gives up after
    8, some 23 s) and never be asked for."""
    write_handover(path.with_name(path.name + ".later"), obj)


def hand_over(a, path, obj):
    """The clone's handover in place, and a poke (one inside
    restore_check_interval_ms of the last is asked at its end)."""
    write_handover(path, obj)
    wait_until(lambda: post(a, "/restore-check")[0] == 202, 5, "the poke accepted (rate limit)")


@contextlib.contextmanager
def restorable(agent_bin, tmp_path, interval_ms=300, sets=(), ip="ip=10.77.0.2::10.77.0.1:24::eth0:off",
               services=None, template_object=True, ready=True, lan_setup=None):
    """The agent with restores on (clock step off) and an MMDS stand-in on
    its loopback; yields it and the handover file, generation g1 learned
    (template_object=False: MMDS has no object at boot, none learned),
    its display chain ready (ready=False: its /health answering).
    lan_setup(lan), when given, runs before the agent starts."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    handover = tmp_path / "handover.json"
    if template_object:
        write_handover(handover, {"generation": "g1"})
    with Lan() as lan:
        if lan_setup:
            lan_setup(lan)
        mmds = lan.guest.popen([sys.executable, MMDS_SERVER, "127.0.0.1", str(handover), str(tmp_path / "mmds.log")])
        a = Agent(agent_bin, "window_manager=", "netinit=true", "mmds=false", "restore=true",
                  "restore_clock=false", "mmds_address=127.0.0.1", f"restore_check_interval_ms={interval_ms}",
                  f"resolv_conf={tmp_path}/resolv.conf", f"hosts_file={tmp_path}/hosts", "hostname_file=", *sets,
                  ns=lan.guest, cmdline=ip, services=services)
        try:
            if ready:
                a.wait_ready()
            else:
                wait_until(lambda: a.try_get("/health")[0] == 200, 20, "the agent's /health")
            if template_object:
                wait_until(lambda: a.health()["restore"]["generation"] == "g1", 20, "generation g1 learned")
            yield a, handover
        except BaseException:
            # What the agent did, without the services' own chatter.
            print("---- agent log ----\n" + "\n".join(
                l for l in a.log_text().splitlines() if ": x11vnc: " not in l and ": websockify: " not in l))
            raise
        finally:
            a.close()
            mmds.kill()
            mmds.wait()


@pytest.fixture
def restored(agent_bin, tmp_path, request):
    """restorable(); request.param (indirect): its interval_ms."""
    with restorable(agent_bin, tmp_path, getattr(request, "param", 300)) as r:
        yield r


def host_cidrs(a):
    """What websockify takes for the host's addresses: its environment's."""
    with open(f"/proc/{a.services()['websockify']['pid']}/environ", "rb") as f:
        env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
    return env.get(b"VMBA_HOST_CIDRS")


def test_restore_makes_the_clone_distinct(agent_bin, tmp_path):
    # Debug: the answer to a poke with nothing new is said.
    with restorable(agent_bin, tmp_path, sets=("log_level=debug",)) as (a, handover):
        assert_made_distinct(a, handover)


def assert_made_distinct(a, handover):
    assert addresses(a.ns) == {"10.77.0.2/24"}
    assert post(a, "/shutdown", token="wrong")[0] == 401
    before = a.services()
    h = a.health()["restore"]
    assert h == {"generation": "g1", "restores": 0, "last_restore_ms": None, "restoring": False}
    # A poke with nothing new: nothing redone, no 503 (looked at once its
    # question was answered).
    unchanged = "Restore check: the generation is unchanged."
    seen = len(a.log_lines(unchanged))
    assert post(a, "/restore-check") == (202, {"status": "checking"})
    wait_until(lambda: len(a.log_lines(unchanged)) > seen, 20, "the poke's question answered")
    assert a.health()["restore"]["restores"] == 0
    assert host_cidrs(a) == b"10.77.0.1/32"

    # The clone's gateway is another: websockify's share for the host follows it.
    hand_over(a, handover, {"generation": "g2", "network": "ip=10.77.0.9::10.77.0.5:24::eth0:off",
                            "time": 1700000000000, "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
    wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
    h = a.health()
    assert h["restore"]["generation"] == "g2" and h["restore"]["restoring"] is False
    assert isinstance(h["restore"]["last_restore_ms"], int)
    assert h["network"]["address"] == "10.77.0.9"
    assert addresses(a.ns) == {"10.77.0.9/24"}
    # The old token is refused, the new one accepted (GET through the gate: 404 past it).
    assert post(a, "/restore-check", token=None)[0] == 202
    with a.ns.entered():
        for token, want in ((TOKEN, 401), (NEW_TOKEN, 400)):
            c = http.client.HTTPConnection("127.0.0.1", a.http_port, timeout=10)
            c.request("GET", "/credentials/status", headers=auth(token=token))
            assert c.getresponse().status == want, token
            c.close()
    # x11vnc and websockify restarted, Xvfb not.
    wait_until(lambda: a.services()["websockify"]["pid"] not in (None, before["websockify"]["pid"]) and
               a.try_get("/health/ready")[0] == 200, 30, "x11vnc and websockify back")
    after = a.services()
    assert host_cidrs(a) == b"10.77.0.5/32"
    assert after["x11vnc"]["pid"] != before["x11vnc"]["pid"]
    assert after["Xvfb"]["pid"] == before["Xvfb"]["pid"]
    with open(os.path.join(a.vnc_dir, "vnc-password")) as f:
        assert f.read() == NEW_DESKTOP + "\n"
    status, metrics = a.get("/metrics")
    assert b"\nvmba_restores_total 1\n" in metrics and b"\nvmba_restore_milliseconds " in metrics
    log = a.log_text()
    # The poke; or, when it came while the first poke's question was still
    # out, the poke remembered and asked after it; or, when that question
    # failed (no answer within 2 s on a loaded machine), the retry of it; or
    # this machine's clock set meanwhile (CLOCK_REALTIME has no namespace,
    # and a set clock is a restore trigger of its own).
    assert any(f"Restored from a snapshot (generation g2, noticed after {why})" in log
               for why in ("POST /restore-check", "a trigger while asking", "retry",
                           "the wall clock was set")), log[-3000:]
    for step in ("Restore: network re-applied on eth0.", "Restore: clock left alone",
                 "Restore: new control token and desktop secret installed",
                 "Restore: 0 login(s) in flight failed", "Restore: x11vnc starting again",
                 "Restore done: generation g2"):
        assert step in log, step
    for secret in (TOKEN, NEW_TOKEN, DESKTOP_SECRET, NEW_DESKTOP):
        assert secret not in log


def test_restore_with_the_device_named_differently(agent_bin, tmp_path):
    """The boot's ip= leaves the device to the kernel's rule (the first that
    can broadcast), the handover names it: the template's address still
    goes (it stayed primary, so the clone's traffic left from it), and the
    hosts line for the hostname the clone keeps moves to the new address."""
    with restorable(agent_bin, tmp_path, ip="ip=10.77.0.2::10.77.0.1:24:tmpl::off") as (a, handover):
        hosts = tmp_path / "hosts"
        assert addresses(a.ns) == {"10.77.0.2/24"}
        assert "10.77.0.2\ttmpl # vm-browser-agent netinit\n" in hosts.read_text()
        hand_over(a, handover, {"generation": "g2", "network": "ip=10.77.0.9::10.77.0.1:24::eth0:off",
                                "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
        assert addresses(a.ns) == {"10.77.0.9/24"}
        assert a.health()["network"]["address"] == "10.77.0.9"
        assert "10.77.0.9\ttmpl # vm-browser-agent netinit\n" in hosts.read_text()
        assert "10.77.0.2" not in hosts.read_text()


def test_restore_of_a_template_with_an_mtu_below_ipv6s(agent_bin, tmp_path):
    """The template's ip= gave an IPv4 MTU below 1280, which took the
    link's IPv6 state (its sysctls too): the clone's network is applied
    again all the same, and the restore completes."""
    with restorable(agent_bin, tmp_path, ip="ip=10.77.0.2::10.77.0.1:24::eth0:off:1000") as (a, handover):
        hand_over(a, handover, {"generation": "g2", "network": "ip=10.77.0.9::10.77.0.1:24::eth0:off:1000",
                                "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1 or a.log_lines("Restore incomplete"), 20,
                   "the restore redone or failed")
        assert not a.log_lines("Restore incomplete"), a.log_text()
        assert addresses(a.ns) == {"10.77.0.9/24"}


def addresses_by_device(ns):
    found = {"eth0": set(), "eth1": set()}  # -4 leaves out a link without IPv4 addresses
    for link in ns.ip_json("-4", "addr", "show"):
        if link["ifname"] in found:
            found[link["ifname"]] |= {a["local"] + "/" + str(a["prefixlen"]) for a in link.get("addr_info", [])}
    return found


@pytest.mark.parametrize("new_address", ["10.77.0.9", "10.77.0.2"])
def test_restore_onto_another_device(agent_bin, tmp_path, new_address):
    """The handover puts the clone on another device: the template's address
    leaves the device it was on (left there, the clone would answer for the
    template on the bridge), also when the clone keeps that address, which
    then moves."""
    with restorable(agent_bin, tmp_path) as (a, handover):
        a.ns.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
        assert addresses_by_device(a.ns) == {"eth0": {"10.77.0.2/24"}, "eth1": set()}
        hand_over(a, handover, {"generation": "g2", "network": f"ip={new_address}:::24::eth1:off",
                                "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
        assert addresses_by_device(a.ns) == {"eth0": set(), "eth1": {new_address + "/24"}}
        assert a.health()["network"]["address"] == new_address
        assert "Restore: network re-applied on eth1." in a.log_text()


@pytest.mark.parametrize("handed_over,want", [
    ("ip=10.77.0.9::10.77.0.1:24::eth0:off", {"eth0": {"10.77.0.9/24"}, "eth1": {"192.168.5.2/24"}}),
    ("ip=192.168.5.9:::24::eth1:off", {"eth0": {"10.77.0.2/24"}, "eth1": {"192.168.5.9/24"}}),
])
def test_restore_re_addresses_only_the_device_it_names(agent_bin, tmp_path, handed_over, want):
    """Two NICs at boot, one in the handover: that one is re-addressed, the
    other keeps the address it booted with (and the default route stays
    on eth0 when eth1 is handed over)."""
    ip = "ip=10.77.0.2::10.77.0.1:24::eth0:off ip=192.168.5.2:::24::eth1:off"
    def add_eth1(lan):  # there before the agent starts: its boot configures it
        lan.guest.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")

    with restorable(agent_bin, tmp_path, ip=ip, lan_setup=add_eth1) as (a, handover):
        assert addresses_by_device(a.ns) == {"eth0": {"10.77.0.2/24"}, "eth1": {"192.168.5.2/24"}}
        hand_over(a, handover, {"generation": "g2", "network": handed_over,
                                "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
        assert addresses_by_device(a.ns) == want
        assert [r.get("gateway") for r in a.ns.ip_json("-4", "route", "show", "default")] == ["10.77.0.1"]
        device = "eth0" if "eth0" in handed_over else "eth1"
        assert f"Restore: network re-applied on {device}." in a.log_text()


def test_restore_onto_another_device_drops_the_templates_ipv6_route(agent_bin, tmp_path):
    """The template had an IPv6 address and gateway on eth0, the clone only
    IPv4 on eth1: nothing of the template's stays on eth0, its default
    route included (IPv6 keeps a route when its address goes)."""
    with restorable(agent_bin, tmp_path, ip="ip=[fd00:77::2]::[fd00:77::1]:64::eth0:off") as (a, handover):
        a.ns.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
        assert [r.get("gateway") for r in a.ns.ip_json("-6", "route", "show", "default")] == ["fd00:77::1"]
        hand_over(a, handover, {"generation": "g2", "network": "ip=10.77.0.9:::24::eth1:off",
                                "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
        assert a.ns.ip_json("-6", "route", "show", "default") == []
        assert not [x for link in a.ns.ip_json("-6", "addr", "show", "dev", "eth0")
                    for x in link.get("addr_info", []) if x.get("scope") == "global"]
        assert addresses_by_device(a.ns) == {"eth0": set(), "eth1": {"10.77.0.9/24"}}
        assert "Could not remove the previous default route" not in a.log_text()


@pytest.mark.parametrize("boot,gateway,handover_ip,family,address", [
    # The same address: nothing else would take the route away.
    ("ip=10.77.0.2::10.77.0.1:24::eth0:off", "10.77.0.1", "ip=10.77.0.2:::24::eth0:off", "-4", "10.77.0.2/24"),
    # IPv6 keeps a default route when its address goes.
    ("ip=[fd00:77::2]::[fd00:77::1]:64::eth0:off", "fd00:77::1", "ip=[fd00:77::9]:::64::eth0:off", "-6",
     "fd00:77::9/64"),
])
def test_restore_without_a_gateway_drops_the_templates_route(agent_bin, tmp_path, boot, gateway, handover_ip,
                                                             family, address):
    """The handover names no gateway: the template's default route goes
    (the clone's traffic would leave for a gateway its network no longer
    has), whether or not the address changed.  Only that route: one the
    operator added through the same gateway with another metric stays
    (for IPv6 it comes first, so a delete that matched any metric would
    take it instead)."""
    def default_routes():
        return [(r.get("gateway"), r.get("metric", 0)) for r in a.ns.ip_json(family, "route", "show", "default")]

    def global_addresses():
        return {x["local"] + "/" + str(x["prefixlen"]) for link in a.ns.ip_json(family, "addr", "show", "dev", "eth0")
                for x in link.get("addr_info", []) if x.get("scope") == "global"}

    with restorable(agent_bin, tmp_path, ip=boot) as (a, handover):
        ours = 1024 if family == "-6" else 0
        assert default_routes() == [(gateway, ours)]
        a.ns.run("ip", family, "route", "add", "default", "via", gateway, "dev", "eth0", "metric", "200",
                 "proto", "boot")
        hand_over(a, handover, {"generation": "g2", "network": handover_ip,
                                "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
        assert global_addresses() == {address}
        assert default_routes() == [(gateway, 200)]
        assert "Could not remove the previous default route" not in a.log_text()


@pytest.mark.parametrize("handover_token,want", [(NEW_TOKEN, 401), (TOKEN, 503)])
def test_a_request_under_way_is_checked_again(agent_bin, tmp_path, handover_token, want):
    """A control request whose headers passed the gate with the template's
    token and whose body comes after the restore (401: the token it
    brought is refused now) or while the clone is restoring (503: here the
    handover reuses the token, so it is refused): its handler never runs.
    The request may wait as long as the restore takes (http_timeout_s)."""
    with restorable(agent_bin, tmp_path, sets=("http_timeout_s=300",)) as (a, handover):
        body = b"{}"  # its handler would answer 400 (no url)
        with a.ns.entered():
            s = socket.create_connection(("127.0.0.1", a.http_port), timeout=60)
        with s:
            s.sendall(f"POST /open-url HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                      "Expect: 100-continue\r\n\r\n".encode())
            # The interim answer: the gate has passed the headers.
            assert s.recv(4096).startswith(b"HTTP/1.1 100 Continue")
            hand_over(a, handover, {"generation": "g2", "token": handover_token,
                                    "desktop_secret": NEW_DESKTOP})
            if want == 401:
                wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
            else:
                wait_until(lambda: a.health()["restore"]["restoring"], 20, "the handover refused")
            s.sendall(body)
            status = s.recv(4096).split(b"\r\n", 1)[0]
            assert status.split()[1] == str(want).encode(), status


def test_the_replaced_secrets_stay_out_of_the_log(agent_bin, tmp_path):
    """Service output read after a restore replaced the secrets (the old
    servers' last lines, still in their pipes) is redacted against the
    replaced ones too: they still open the template and its other clones."""
    lines = tmp_path / "lines"
    lines.write_text("")
    os.chmod(tmp_path, 0o755)
    os.chmod(lines, 0o644)
    services = [{"name": "echoer", "argv": ["/usr/bin/tail", "-n", "+1", "-f", str(lines)]}]
    with restorable(agent_bin, tmp_path, services=services) as (a, handover):
        hand_over(a, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
        with open(lines, "a") as f:
            f.write(f"old desktop {DESKTOP_SECRET} password {DESKTOP_SECRET[:8]}x token {TOKEN} end\n")
        wait_until(lambda: a.log_lines("echoer: old desktop"), 20, "the line logged")
        log = a.log_text()
        for secret in (TOKEN, NEW_TOKEN, DESKTOP_SECRET, DESKTOP_SECRET[:8], NEW_DESKTOP):
            assert secret not in log


def test_mmds_guarded_for_restores(restored):
    """Secrets from files, restores on: MMDS is still asked (for the
    handover, which holds the next token), so the rule that leaves it to
    root is there.  (For this loopback stand-in the local table comes
    first; test_host_secrets shows the rule refusing other uids.)"""
    a, _ = restored
    rules = json.loads(a.ns.run("ip", "-j", "rule", "show").stdout)
    assert [(x["priority"], x.get("uid_start"), x.get("uid_end"), x["action"]) for x in rules
            if x.get("dst") == "127.0.0.1"] == [(1000, 1, 4294967294, "prohibit")]
    assert not a.log_lines("every local user can read")


def test_restore_reusing_the_token_is_refused(restored):
    a, handover = restored
    hand_over(a, handover, {"generation": "g2", "token": TOKEN, "desktop_secret": NEW_DESKTOP})
    wait_until(lambda: a.health()["restore"]["restoring"], 20, "restoring")
    wait_until(lambda: a.log_lines("Restore refused: the handover reuses the old control token (generation g2)"),
               10, "the refusal logged")
    # Control routes wait, with the old token or any other.
    assert post(a, "/shutdown", token=TOKEN) == (503, {"error": "Restoring"})
    assert post(a, "/shutdown", token=NEW_TOKEN) == (503, {"error": "Restoring"})
    h = a.health()
    assert h["restore"]["generation"] == "g1" and h["restore"]["restores"] == 0
    # Nor does the desktop serve the template's secret meanwhile.
    wait_until(lambda: a.services()["x11vnc"]["pid"] is None and a.services()["websockify"]["pid"] is None, 20,
               "x11vnc and websockify stopped")
    assert a.services()["Xvfb"]["state"] == "ready"
    # The host fixes the handover and pokes again: done.
    hand_over(a, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
    wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
    assert post(a, "/shutdown", token=TOKEN)[0] == 401
    assert addresses(a.ns) == {"10.77.0.2/24"}  # no network in the handover: kept
    wait_until(lambda: a.try_get("/health/ready")[0] == 200, 30, "the desktop back")


@pytest.mark.parametrize("machine_id", ["00000000000000000000000000000000", "firmware", "0123456789abcdef0123",
                                        "0123456789abcdef0123456789abcdef\n"])
def test_restore_with_a_malformed_machine_id_is_refused(restored, machine_id):
    """A machine_id systemd.machine_id= would refuse: the restore is
    refused before anything changes (the handover's network not applied),
    naming the key and the rules, as for a time out of range; the host
    fixes it and pokes again.  (Not PID 1 here: the form is judged first.)"""
    a, handover = restored
    g2 = {"generation": "g2", "network": "ip=10.77.0.9::10.77.0.1:24::eth0:off", "token": NEW_TOKEN,
          "desktop_secret": NEW_DESKTOP}
    hand_over(a, handover, {**g2, "machine_id": machine_id})
    # What to do, too: the secrets are not at fault.
    wait_until(lambda: a.log_lines("Restore refused: the handover's machine_id is not 32 hex digits or a UUID "
                                   "(8-4-4-4-12), not all zero (generation g2); control routes answer 503 until "
                                   "the host corrects the handover and pokes again."), 20, "the refusal logged")
    assert a.health()["restore"]["restoring"] is True
    assert addresses(a.ns) == {"10.77.0.2/24"}
    assert post(a, "/shutdown", token=NEW_TOKEN) == (503, {"error": "Restoring"})
    assert not a.log_lines("Restore: network") and not a.log_lines("Restore: new control token")
    hand_over(a, handover, g2)
    wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
    assert addresses(a.ns) == {"10.77.0.9/24"}


def test_restore_with_a_machine_id_where_the_agent_is_not_pid1(restored):
    """Not PID 1 (as under systemd, which owns the machine id: it and
    journald keep the boot's until a reboot): a handover with a machine id
    is refused before anything changes, saying why, rather than half
    applied; the clone is not taken for the template meanwhile.  The
    machine id file is never written (machine_id_file is the test's)."""
    a, handover = restored
    machine_id = os.path.join(a.dir, "machine-id")
    g2 = {"generation": "g2", "network": "ip=10.77.0.9::10.77.0.1:24::eth0:off", "token": NEW_TOKEN,
          "desktop_secret": NEW_DESKTOP}
    hand_over(a, handover, {**g2, "machine_id": "fedcba9876543210fedcba9876543210"})
    wait_until(lambda: a.log_lines("Restore refused: the handover has a machine_id, and the agent sets the machine "
                                   "id only as PID 1 with a machine_id_file (under systemd, systemd and journald "
                                   "keep the boot's until a reboot: boot such clones instead) (generation g2)"),
               20, "the refusal logged")
    assert a.health()["restore"]["restoring"] is True
    assert addresses(a.ns) == {"10.77.0.2/24"}
    assert not os.path.exists(machine_id)
    hand_over(a, handover, g2)
    wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
    assert not os.path.exists(machine_id) and not a.log_lines("Restore: machine id")


def test_a_handovers_network_without_a_server_keeps_resolv_conf(agent_bin, tmp_path):
    """The template's ip= named a server (field 8), the clone's names none:
    resolv.conf stays the template's (its servers, its search domain), as
    a plan without servers leaves the image's at boot; the clone's gateway
    usually serves it as the template's did.  A handover that names one
    (the ip= fields; nameserver= would be another word) rewrites it."""
    resolv = tmp_path / "resolv.conf"
    with restorable(agent_bin, tmp_path, ip="ip=10.77.0.2::10.77.0.1:24::eth0:off:10.77.0.1") as (a, handover):
        template = resolv.read_text()
        assert "nameserver 10.77.0.1\n" in template
        hand_over(a, handover, {"generation": "g2", "network": "ip=10.77.0.9::10.77.0.5:24::eth0:off",
                                "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
        assert addresses(a.ns) == {"10.77.0.9/24"}
        assert resolv.read_text() == template
        hand_over(a, handover, {"generation": "g3", "network": "ip=10.77.0.8::10.77.0.5:24::eth0:off:10.77.0.5",
                                "token": TOKEN, "desktop_secret": DESKTOP_SECRET})
        wait_until(lambda: a.health()["restore"]["restores"] == 2, 20, "the second restore redone")
        assert "nameserver 10.77.0.5\n" in resolv.read_text() and "10.77.0.1" not in resolv.read_text()


def test_a_failed_network_try_leaves_no_address(agent_bin, tmp_path):
    """A network step that fails after its address went in (here the hosts
    file cannot be written), then a corrected handover: the retry removes
    the failed try's address as well as the snapshot's; the clone answers
    for one address only."""
    hosts_dir = tmp_path / "etc"
    hosts_dir.mkdir()
    with restorable(agent_bin, tmp_path, sets=(f"hosts_file={hosts_dir}/hosts",)) as (a, handover):
        shutil.rmtree(hosts_dir)
        hosts_dir.write_text("not a directory")
        hand_over(a, handover, {"generation": "g2", "network": "ip=10.77.0.7::10.77.0.1:24::eth0:off",
                                "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.log_lines("Restore incomplete (generation g2)"), 20, "the try failed")
        assert "10.77.0.7/24" in addresses(a.ns)  # applied before the hosts file failed
        hosts_dir.unlink()
        hosts_dir.mkdir()
        write_handover(handover, {"generation": "g2", "network": "ip=10.77.0.8::10.77.0.1:24::eth0:off",
                                  "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1, 60, "the retry done")
        assert addresses(a.ns) == {"10.77.0.8/24"}


def test_restore_onto_no_interface_is_refused(restored):
    """network "off" would apply nothing and remove nothing: the clone
    would keep the snapshot's address and its gateway would no longer be
    the host.  The network step fails, naming it; the clone stays
    restoring on its address."""
    a, handover = restored
    hand_over(a, handover, {"generation": "g2", "network": "off", "token": NEW_TOKEN,
                            "desktop_secret": NEW_DESKTOP})
    wait_until(lambda: a.log_lines("Restore incomplete (generation g2)"), 20, "the redo failed")
    assert a.log_lines('Restore: the handover\'s network "off" configures no interface (to keep the address, '
                       'leave network out).')
    assert a.health()["restore"]["restoring"] is True
    assert addresses(a.ns) == {"10.77.0.2/24"}


def test_restore_onto_dhcp_is_refused_before_anything_changes(restored, tmp_path):
    """DHCP for the clone: netinit has no client, so no try would ever give
    it an address.  Refused before anything is applied, naming why: the
    clone keeps the snapshot's address, and its files stay as they were
    (not the handover's nameserver beside the template's address)."""
    a, handover = restored
    assert not (tmp_path / "resolv.conf").exists()  # the boot's ip= names no server
    hand_over(a, handover, {"generation": "g2", "network": "::::clone:eth0:dhcp:10.77.0.53", "token": NEW_TOKEN,
                            "desktop_secret": NEW_DESKTOP})
    wait_until(lambda: a.log_lines("Restore incomplete (generation g2)"), 20, "the redo failed")
    assert a.log_lines('Restore: the handover\'s network "::::clone:eth0:dhcp:10.77.0.53" asks for dhcp on eth0, and '
                       'netinit has no DHCP/autoconf client: give the clone a static address (nothing was '
                       'changed).')
    assert not a.log_lines("Restore: network from the handover failed")
    assert a.health()["restore"]["restoring"] is True
    assert addresses(a.ns) == {"10.77.0.2/24"}
    assert not (tmp_path / "resolv.conf").exists()


def test_an_unusable_handover_names_its_key(restored):
    """The host copied its boot arguments' nameserver= into network: a
    blank would start another word of the command line, so the handover is
    refused; the log says which key, not just "Bad message"."""
    a, handover = restored
    hand_over(a, handover, {"generation": "g2", "network": "ip=10.77.0.9::10.77.0.1:24::eth0:off nameserver=10.77.0.1",
                            "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
    wait_until(lambda: a.log_lines("Restore check: MMDS gave no usable handover: \"network\" is not an ip= value"),
               20, "the refusal naming network")
    assert NEW_TOKEN not in a.log_text() and NEW_DESKTOP not in a.log_text()
    h = a.health()["restore"]
    assert (h["generation"], h["restoring"], h["restores"]) == ("g1", False, 0)
    assert addresses(a.ns) == {"10.77.0.2/24"}


def test_restore_onto_a_missing_device(agent_bin, tmp_path):
    """The handover names a device the clone does not have: the redo fails
    at once, naming it (a clone has its snapshot's devices: nothing to wait
    for, and a wait would hold the agent's loop for device_timeout_ms);
    the clone stays restoring, its desktop down, and still answers."""
    with restorable(agent_bin, tmp_path, sets=("device_timeout_ms=600000",)) as (a, handover):
        hand_over(a, handover, {"generation": "g2", "network": "ip=10.77.0.9:::24::eth9:off",
                                "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.log_lines("Restore incomplete (generation g2)"), 20, "the redo failed")
        assert a.log_lines("Restore: network from the handover failed:") and "eth9" in a.log_text()
        h = a.health()
        assert h["restore"]["restoring"] is True and h["restore"]["restores"] == 0
        assert post(a, "/shutdown", token=NEW_TOKEN) == (503, {"error": "Restoring"})
        wait_until(lambda: a.services()["x11vnc"]["pid"] is None and a.services()["websockify"]["pid"] is None,
                   20, "x11vnc and websockify stopped")


@pytest.mark.parametrize("restored", [600000], indirect=True)
def test_restore_check_is_data_less_and_rate_limited(restored):
    """Pokes inside the interval are accepted, and wait for its end: MMDS
    is asked for the first one only (an interval no test outlasts: the
    later pokes are inside it, however slow the machine)."""
    a, handover = restored
    mmds_log = handover.parent / "mmds.log"
    assert post(a, "/restore-check", body="{}") == (400, {"error": "restore-check takes no body"})
    gets = mmds_log.read_text().count("GET ")
    assert post(a, "/restore-check") == (202, {"status": "checking"})
    wait_until(lambda: mmds_log.read_text().count("GET ") == gets + 1, 20, "MMDS asked for the poke")
    assert [post(a, "/restore-check") for _ in range(5)] == [(202, {"status": "checking"})] * 5
    assert a.health()["restore"]["restores"] == 0
    assert mmds_log.read_text().count("GET ") == gets + 1


@pytest.mark.parametrize("restored", [4000], indirect=True)
def test_the_hosts_poke_right_after_another(restored):
    """Someone (a neighbour, a page in the VM's browser) pokes just before
    the host has written the handover, and MMDS answers that poke with the
    template's object; the host's poke, inside the interval, is accepted
    and served by a question asked after it: the clone is restored."""
    a, handover = restored
    mmds_log = handover.parent / "mmds.log"
    gets = mmds_log.read_text().count("GET ")
    assert post(a, "/restore-check") == (202, {"status": "checking"})
    wait_until(lambda: mmds_log.read_text().count("GET ") == gets + 1, 20, "MMDS asked for the first poke")
    write_handover(handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
    assert post(a, "/restore-check") == (202, {"status": "checking"})
    wait_until(lambda: a.health()["restore"]["restores"] == 1, 30, "the restore the host's poke asked for")
    assert a.health()["restore"]["generation"] == "g2"
    assert a.log_lines("Restored from a snapshot (generation g2, noticed after POST /restore-check)")


def test_a_poke_before_the_handover(restored):
    """The host pokes before its MMDS has the handover (MMDS answers 503):
    the agent keeps asking, with a growing delay, and restores once the
    handover is there (after two 503s), without another poke."""
    a, handover = restored
    mmds_log = handover.parent / "mmds.log"
    handover.unlink()
    hand_over_at_third_question(handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
    assert post(a, "/restore-check")[0] == 202
    wait_until(lambda: a.health()["restore"]["restores"] == 1, 30, "the restore without a second poke")
    assert "LATER in place" in mmds_log.read_text()
    assert a.health()["restore"]["generation"] == "g2"
    # The retry; or this machine's clock set meanwhile, a trigger that is
    # not a poke either (CLOCK_REALTIME has no namespace).
    assert a.log_lines("Restored from a snapshot (generation g2, noticed after retry)") or \
        a.log_lines("Restored from a snapshot (generation g2, noticed after the wall clock was set)")


def test_a_template_that_never_learnt_its_generation(agent_bin, tmp_path):
    """The template's MMDS had no object while it booted (a host that
    writes one only for clones, the secrets in files): its questions for
    the boot's generation ran out.  A clone of it poked before its
    handover is there is asked for again, as any poke is; a handover
    without new secrets is then a clone's that would keep the template's,
    refused, not a first generation to adopt; a whole one restores it."""
    with restorable(agent_bin, tmp_path, template_object=False) as (a, handover):
        mmds_log = handover.parent / "mmds.log"
        wait_until(lambda: a.log_lines("Restore check: MMDS gave no answer 8 times in a row; waiting for the next "
                                       "trigger."), 120, "the boot's questions run out")
        assert a.health()["restore"]["generation"] is None
        hand_over_at_third_question(handover, {"generation": "g2"})
        assert post(a, "/restore-check")[0] == 202
        wait_until(lambda: a.log_lines("Restore refused: the handover has no new control token (generation g2)"),
                   30, "the handover without secrets refused, without a second poke")
        assert "LATER in place" in mmds_log.read_text()
        assert a.health()["restore"] == {"generation": None, "restores": 0, "last_restore_ms": None,
                                         "restoring": True}
        assert post(a, "/shutdown", token=TOKEN) == (503, {"error": "Restoring"})
        hand_over(a, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1, 30, "the restore")
        assert a.health()["restore"]["generation"] == "g2"


def test_restore_with_the_vnc_user_missing(agent_bin, tmp_path):
    """An image without the VNC user: x11vnc failed at boot, for good, and
    the desktop is not served.  A clone of it is restored all the same
    (the control routes answer again, with the new token); its desktop
    stays down, as the template's was, and the log says why."""
    with restorable(agent_bin, tmp_path, sets=("vnc_user=vmba-no-such-vnc-user",), ready=False) as (a, handover):
        wait_until(lambda: a.services()["x11vnc"]["state"] == "failed", 30, "x11vnc failed")
        hand_over(a, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1, 30, "the restore")
        assert a.health()["restore"]["restoring"] is False
        assert a.log_lines("Restore: x11vnc cannot run as its user (No such process): the desktop stays down.")
        assert not a.log_lines("Restore incomplete")
        assert a.services()["x11vnc"]["state"] == "failed"
        assert post(a, "/shutdown", token=TOKEN)[0] == 401
        assert post(a, "/shutdown", token=NEW_TOKEN)[0] == 202


def test_restore_with_an_x11vnc_that_cannot_exec(agent_bin, tmp_path):
    """x11vnc is found, but its exec as the VNC user fails (bin_path has a
    directory that user cannot enter): each spawn fails, and the
    supervisor backs it off and tries again by itself.  A clone is
    restored all the same, as when its exec failing was an exit 126 of a
    process that had started: the start the restore asks for fails too,
    which is no reason to keep the control routes answering "Restoring"
    (nor is it an x11vnc missing, or its user)."""
    need("x11vnc")
    bin_dir = tempfile.mkdtemp(prefix="vmba-bin-", dir="/var/tmp")
    try:
        os.symlink(shutil.which("x11vnc"), os.path.join(bin_dir, "x11vnc"))
        why = f"execute {bin_dir}/x11vnc as uid {VNC_UID}: Permission denied"
        with restorable(agent_bin, tmp_path, sets=(f"bin_path={bin_dir}:/usr/bin:/bin",), ready=False) as \
                (a, handover):
            wait_until(lambda: (a.services()["x11vnc"].get("last_error") or "").startswith(why), 30,
                       "x11vnc's exec refused")
            hand_over(a, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
            wait_until(lambda: a.health()["restore"]["restores"] == 1, 30, "the restore")
            assert a.log_lines(f"Restore: x11vnc did not start ({why}")
            assert not a.log_lines("Restore incomplete")
            assert not a.log_lines("cannot run as its user")
            assert post(a, "/shutdown", token=NEW_TOKEN)[0] == 202
    finally:
        shutil.rmtree(bin_dir)


def test_restore_stops_what_the_vnc_user_left(agent_bin, tmp_path):
    """A hole in x11vnc leaves a process of the VNC user behind that left
    x11vnc's process group (setsid), so restarting x11vnc does not reach
    it: the restore kills it before the new desktop secret is written, so
    it never reads it."""
    # Where the VNC user can run it from (not below pytest's 0700 tmp).
    bin_dir = pathlib.Path(tempfile.mkdtemp(prefix="vmba-bin-", dir="/var/tmp"))
    os.chmod(bin_dir, 0o755)
    try:
        vnc_user_left(agent_bin, tmp_path, bin_dir)
    finally:
        shutil.rmtree(bin_dir)


def vnc_user_left(agent_bin, tmp_path, bin_dir):
    wrapper = bin_dir / "x11vnc"
    # The stand-in for the hole: its own session, a marker in its argv
    # (unique to this test process: another run on the machine has its own).
    marker = f"1000.{os.getpid()}"
    wrapper.write_text(f"#!/bin/sh\nsetsid sleep {marker} </dev/null >/dev/null 2>&1 &\n"
                       'exec /usr/bin/x11vnc "$@"\n')
    wrapper.chmod(0o755)

    def escaped():
        """The live ones this agent's x11vnc left (it adopts orphans)."""
        return sorted(p for p in pids_with_argv(lambda argv: argv[:2] == ["sleep", marker])
                      if proc_state(p) != "Z" and descends_from(p, a.pid))
    with restorable(agent_bin, tmp_path, sets=(f"bin_path={bin_dir}:/usr/bin:/bin",)) as (a, handover):
        wait_until(escaped, 10, "the process x11vnc's wrapper left")
        old = escaped()  # one per x11vnc start so far
        for p in old:
            assert proc_uid(p) == VNC_UID
            assert os.getsid(p) == p  # a session, and a group, of its own
        hand_over(a, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.health()["restore"]["restores"] == 1, 20, "the restore redone")
        # SIGKILLed, not waited for (desktop-setup.c): gone once scheduled.
        wait_until(lambda: not set(old) & set(escaped()), 10, "the old ones gone")
        assert a.log_lines("Stopped ") and "before writing the new desktop secret." in a.log_text()
        # The new x11vnc (through the same wrapper) left its own.
        wait_until(lambda: a.try_get("/health/ready")[0] == 200, 30, "the chain back")
        # Its wrapper's background child may still be on its way to being
        # the sleep when x11vnc is ready: waited for, not assumed.
        wait_until(lambda: set(escaped()) - set(old), 10, "the new x11vnc's own left-behind process")
        assert not set(old) & set(escaped())


def test_desktop_stays_down_without_its_files(restored):
    """The new secret's files cannot be written (the VNC user's directory
    made immutable): x11vnc and websockify stay down rather than serve the
    old secret, the restore is incomplete (control routes wait) and MMDS is
    asked again by itself; once the files can be written the same handover
    completes it (its secrets, installed before the files failed, are not
    taken for the old ones)."""
    a, handover = restored
    subprocess.run(["chattr", "+i", a.vnc_dir], check=True)
    try:
        hand_over(a, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: a.log_lines("The desktop stays down until the desktop secret's files can be written."),
                   20, "the desktop held")
        wait_until(lambda: a.services()["x11vnc"]["pid"] is None and a.services()["websockify"]["pid"] is None,
                   30, "x11vnc and websockify down")
        # Said as what it is, not as a start under way.
        h = a.health()
        assert (h["status"], h["desktop"]) == ("degraded", "held"), (h["status"], h["desktop"])
        # Asked again without a poke, and still incomplete.
        wait_until(lambda: len(a.log_lines("Restore incomplete (generation g2)")) >= 2, 20, "a second try")
        assert a.health()["restore"]["restoring"] is True
        assert post(a, "/shutdown", token=NEW_TOKEN) == (503, {"error": "Restoring"})
        with open(os.path.join(a.vnc_dir, "vnc-password")) as f:
            assert f.read() == DESKTOP_SECRET + "\n"  # the old one, served by nobody
    finally:
        subprocess.run(["chattr", "-i", a.vnc_dir], check=True)
    # No new handover, no poke: the retries (10 s apart at most) finish it.
    wait_until(lambda: a.health()["restore"]["restores"] == 1, 30, "the restore done")
    h = a.health()["restore"]
    assert (h["generation"], h["restoring"]) == ("g2", False)
    wait_until(lambda: a.try_get("/health/ready")[0] == 200, 30, "x11vnc and websockify back")
    assert (a.health()["status"], a.health()["desktop"]) == ("ok", "secret")
    with open(os.path.join(a.vnc_dir, "vnc-password")) as f:
        assert f.read() == NEW_DESKTOP + "\n"
    assert a.log_lines("The desktop secret's files are written: x11vnc starts again.")
    assert not a.log_lines("reuses the old control token")
    assert post(a, "/shutdown", token=TOKEN)[0] == 401


def descends_from(pid, ancestor):
    for _ in range(64):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            return False
        pid = int(stat[stat.rindex(")") + 2:].split()[1])
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(l.split()[1] for l in f if l.startswith("State:"))
    except (OSError, StopIteration):
        return "gone"


def proc_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l.split()[1] for l in f if l.startswith("Uid:")))


@contextlib.contextmanager
def restorable_logins(agent_bin, tmp_path, sets=(), provider_env=None):
    """A LoginEnv (fake CLIs) with restores on and an MMDS stand-in;
    yields it and the handover file, generation g1 learned."""
    handover = tmp_path / "handover.json"
    write_handover(handover, {"generation": "g1"})
    ns = Netns("vmbarl")
    e = None
    try:
        ns.popen([sys.executable, MMDS_SERVER, "127.0.0.1", str(handover), str(tmp_path / "mmds.log")])
        e = LoginEnv(agent_bin, ns=ns, sets=("mmds=false", "restore=true", "restore_clock=false",
                                             "mmds_address=127.0.0.1", "restore_check_interval_ms=300", *sets),
                     provider_env=provider_env)
        wait_until(lambda: e.agent.health()["restore"]["generation"] == "g1", 20, "generation g1 learned")
        yield e, handover
    finally:
        if e:
            e.close()
        ns.kill_procs()
        ns.close()


def test_restore_answers_the_requests_it_holds(agent_bin, tmp_path):
    """A control request the agent holds (a login start waiting for its
    URL) passed the gate with the template's token: when the restore
    begins it gets the gate's answer of now, 503 "Restoring", not the
    login's outcome much later."""
    with restorable_logins(agent_bin, tmp_path, sets=("url_wait_s=600",),
                           provider_env={"FAKE_CLI_NOURL": "1"}) as (e, handover):
        answers = []
        waiting = threading.Thread(target=lambda: answers.append(
            e.json("POST", "/auth/codex", {"sessionId": str(uuid.uuid4())})))
        waiting.start()
        # The start suspends in the handler that made the session.
        wait_until(lambda: e.agent.health()["activeSessions"] == 1, 20, "the login started")
        hand_over(e.agent, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        waiting.join(60)
        assert answers == [(503, {"error": "Restoring"})]
        wait_until(lambda: e.agent.health()["restore"]["restores"] == 1, 20, "the restore redone")


def test_restore_fails_logins_in_flight(agent_bin, tmp_path):
    """A login started before the restore belongs to the snapshot's owner:
    it is failed with reason "restored".  A login started after it works,
    with the new token."""
    with restorable_logins(agent_bin, tmp_path) as (e, handover):
        old = str(uuid.uuid4())
        status, started = e.json("POST", "/auth/codex", {"sessionId": old})
        assert status == 200 and started["message"] == "OAuth URL captured", started
        assert e.agent.health()["activeSessions"] == 1

        hand_over(e.agent, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: e.agent.health()["restore"]["restores"] == 1, 20, "the restore redone")
        new = {"Authorization": f"Bearer {NEW_TOKEN}"}
        assert e.json("GET", f"/credentials/status?sessionId={old}")[0] == 401  # the old token
        assert e.json("GET", f"/credentials/status?sessionId={old}", headers=new) == \
            (200, {"authenticated": False, "failed": True, "error": "restored"})
        assert e.json("GET", f"/credentials/get?sessionId={old}", headers=new)[0] == 400
        assert "Restore: 1 login(s) in flight failed, 0 signed in closed with their credentials wiped (reason " \
            "\"restored\")." in e.agent.log_text()

        s = str(uuid.uuid4())
        assert e.json("POST", "/auth/gemini_cli", {"sessionId": s})[0] == 401
        status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s}, headers=new)
        assert status == 200 and started["message"] == "OAuth URL captured", started
        assert e.browse(started["oauthUrl"])[0] == 200
        wait_until(lambda: e.json("GET", f"/credentials/status?sessionId={s}", headers=new)[1]
                   .get("authenticated"), 30, "the new login authenticated")
        status, got = e.json("GET", f"/credentials/get?sessionId={s}", headers=new)
        assert status == 200 and got["provider"] == "gemini_cli" and got["credentials"]["login"]
        e.assert_no_secrets()
        for secret in (TOKEN, NEW_TOKEN, NEW_DESKTOP):
            assert secret not in e.agent.log_text()


def test_restore_closes_a_login_signed_in(agent_bin, tmp_path):
    """A login that signed in before the snapshot and was not fetched: its
    credentials are the template's person's, for the template's host.  A
    clone closes it (reason "restored"), wipes them and removes its HOME,
    and never hands them out, whatever token asks."""
    with restorable_logins(agent_bin, tmp_path) as (e, handover):
        old = str(uuid.uuid4())
        status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": old})
        assert status == 200 and started["message"] == "OAuth URL captured", started
        assert e.browse(started["oauthUrl"])[0] == 200
        wait_until(lambda: e.json("GET", f"/credentials/status?sessionId={old}")[1].get("authenticated"), 30,
                   "signed in")
        assert os.path.isdir(e.home_of(old))

        hand_over(e.agent, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: e.agent.health()["restore"]["restores"] == 1, 20, "the restore redone")
        new = {"Authorization": f"Bearer {NEW_TOKEN}"}
        assert e.json("GET", f"/credentials/status?sessionId={old}", headers=new) == \
            (200, {"authenticated": False, "failed": True, "error": "restored"})
        assert e.json("GET", f"/credentials/get?sessionId={old}", headers=new)[0] == 400
        assert e.json("GET", f"/credentials/get?sessionId={old}")[0] == 401
        wait_until(lambda: home_gone(e.home_of(old)), 20, "its HOME removed")
        assert "Restore: 0 login(s) in flight failed, 1 signed in closed with their credentials wiped (reason " \
            "\"restored\")." in e.agent.log_text()
        e.assert_no_secrets()


def test_push_after_a_restore_carries_the_new_token(agent_bin, tmp_path, host_socket):
    """A pushed line carries the control token of when it is sent, never
    one kept from the boot: after a restore, the clone's new one, the
    one its host knows."""
    path, srv = host_socket
    with restorable_logins(agent_bin, tmp_path, sets=("vsock_port=1234", f"vsock_unix_path={path}")) \
            as (e, handover):
        hand_over(e.agent, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: e.agent.health()["restore"]["restores"] == 1, 20, "the restore redone")
        new = {"Authorization": f"Bearer {NEW_TOKEN}"}
        s = str(uuid.uuid4())
        assert e.json("POST", "/auth/oauth", {"sessionId": s, "state": "host-state-t",
                                              "authorizeUrl": f"{e.provider_url}/h/authorize"}, headers=new)[0] == 200
        assert e.request("GET", "/oauth/callback?code=SECRET-CODE-t&state=host-state-t")[0] == 200
        conn, _ = srv.accept()
        with conn:
            line = read_line(conn)
            assert line["sessionId"] == s and line["token"] == NEW_TOKEN
            conn.sendall(f"ACK {line['deliveryId']}\n".encode())
            wait_until(lambda: e.json("GET", f"/credentials/status?sessionId={s}", headers=new)[0] == 404, 10,
                       "session delivered")
        e.assert_no_secrets()
        for secret in (TOKEN, NEW_TOKEN, NEW_DESKTOP):
            assert secret not in e.agent.log_text()


def accept_waiting(srv):
    """The connections waiting in srv's backlog now, accepted."""
    timeout = srv.gettimeout()
    srv.setblocking(False)
    got = []
    try:
        while True:
            got.append(srv.accept()[0])
    except BlockingIOError:
        return got
    finally:
        srv.settimeout(timeout)


def test_push_is_held_while_restoring(agent_bin, tmp_path, host_socket):
    """A login signed in before the snapshot, its push not acknowledged:
    the line and the token in it are the template's.  A clone whose
    handover is refused stays restoring, and pushes nothing meanwhile;
    the restore, once done, drops that login and its push.  Otherwise
    the same person's credentials would go to the clone's host too."""
    path, srv = host_socket
    with restorable_logins(agent_bin, tmp_path, sets=("vsock_port=1234", f"vsock_unix_path={path}")) \
            as (e, handover):
        s = str(uuid.uuid4())
        assert e.json("POST", "/auth/oauth", {"sessionId": s, "state": "host-state-h",
                                              "authorizeUrl": f"{e.provider_url}/h/authorize"})[0] == 200
        assert e.request("GET", "/oauth/callback?code=SECRET-CODE-h&state=host-state-h")[0] == 200
        conn, _ = srv.accept()
        with conn:
            # The template's host reads the line and never acknowledges it.
            assert read_line(conn)["sessionId"] == s
            hand_over(e.agent, handover, {"generation": "g2", "token": TOKEN, "desktop_secret": NEW_DESKTOP})
            wait_until(lambda: e.agent.log_lines("Restore refused"), 20, "the handover refused")
            assert e.agent.health()["restore"]["restoring"]
            # The handoff's word that it found the hold where it would
            # connect, and does not come back until the restore ends.
            wait_until(lambda: e.agent.log_lines("Push handoff held while the VM is being restored: 1 queued."),
                       10, "the push held")
            assert conn.recv(1) == b""  # closed by the agent, nothing more on it
        # Connections made before the hold (a resend for want of an ACK)
        # were closed by the agent; none came after it.
        for c in accept_waiting(srv):
            with c:
                c.settimeout(30)
                while c.recv(65536):
                    pass
        assert accept_waiting(srv) == []
        assert push_queued(e) == 1
        assert e.agent.health()["restore"]["restoring"]
        assert not e.agent.log_lines("No control token")

        hand_over(e.agent, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: e.agent.health()["restore"]["restores"] == 1, 20, "the restore redone")
        assert "Restore: 0 login(s) in flight failed, 1 signed in closed with their credentials wiped (reason " \
            "\"restored\")." in e.agent.log_text()
        new = {"Authorization": f"Bearer {NEW_TOKEN}"}
        assert e.json("GET", f"/credentials/status?sessionId={s}", headers=new) == \
            (200, {"authenticated": False, "failed": True, "error": "restored"})
        assert_nothing_left_to_push(e, srv)
        e.assert_no_secrets()
        for secret in (TOKEN, NEW_TOKEN, NEW_DESKTOP):
            assert secret not in e.agent.log_text()


def test_restore_cuts_off_a_credentials_response_under_way(agent_bin, tmp_path):
    """A GET /credentials/get whose 600 KB answer is still on its way when
    a restore begins (a snapshot taken mid-pull): those credentials are
    the template's, which a clone never hands on.  The clone sends no
    more of them, even while its handover is refused, and nothing counts
    as delivered; once the restore is done the login is closed."""
    with restorable_logins(agent_bin, tmp_path, provider_env={"FAKE_CLI_BIG": "1"}) as (e, handover):
        s = str(uuid.uuid4())
        status, started = e.json("POST", "/auth/gemini_cli", {"sessionId": s})
        assert status == 200 and "oauthUrl" in started, started
        assert e.browse(started["oauthUrl"])[0] == 200
        e.wait_status(s, lambda code, b: b.get("authenticated"))
        e.ns.run("sysctl", "-q", "-w", "net.ipv4.tcp_wmem=4096 16384 65536",
                 "net.ipv4.tcp_rmem=4096 16384 65536")
        with e.ns.entered():
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            c.settimeout(30)
            c.connect(("127.0.0.1", e.agent.http_port))
        with c:
            c.sendall(f"GET /credentials/get?sessionId={s} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Authorization: Bearer {TOKEN}\r\n\r\n".encode())
            got = c.recv(100)
            assert got.startswith(b"HTTP/1.1 200")
            # Refused (the template's token again): the clone stays restoring.
            hand_over(e.agent, handover, {"generation": "g2", "token": TOKEN, "desktop_secret": NEW_DESKTOP})
            wait_until(lambda: e.agent.log_lines("Restore refused"), 20, "the handover refused")
            # What is left of the answer, read now: it ends short.
            while True:
                try:
                    chunk = c.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                got += chunk
        head, _, body = got.partition(b"\r\n\r\n")
        length = int(next(l.split(b":")[1] for l in head.split(b"\r\n")
                          if l.lower().startswith(b"content-length")))
        assert length > 600000
        assert len(body) < length, "the template's credentials were sent whole by a clone"
        assert b"credPath" not in body
        assert not e.agent.log_lines("credentials delivered to the host")

        hand_over(e.agent, handover, {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP})
        wait_until(lambda: e.agent.health()["restore"]["restores"] == 1, 20, "the restore redone")
        new = {"Authorization": f"Bearer {NEW_TOKEN}"}
        assert e.json("GET", f"/credentials/status?sessionId={s}", headers=new) == \
            (200, {"authenticated": False, "failed": True, "error": "restored"})
        assert not e.agent.log_lines("credentials delivered to the host")
        e.assert_no_secrets()
