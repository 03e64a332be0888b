"""netinit against a real kernel: every test runs the real binary inside
network namespaces it creates (tests/lib/netns.py) and reads the result back
through netlink (`ip -j`).  Files go to a tmp dir; the hostname is only ever
set inside a private UTS namespace.  The one test that runs in the initial
namespace checks that netinit refuses before opening any netlink socket."""
import json
import os
import shutil
import socket
import struct
import subprocess

import pytest

from netns import DEADLINE_SCALE, Lan, wait_until

CMDLINE = ("ip=10.77.0.2::10.77.0.1:255.255.255.0:demo-vm.example.test:eth0:off:"
           "1400:02:00:00:00:00:42 nameserver=10.77.0.1")
RESOLV = ("# Written by vm-browser-agent netinit from the kernel command line.\n"
          "nameserver 10.77.0.1\n"
          "search example.test\n")
HOSTS_LINE = "10.77.0.2\tdemo-vm.example.test demo-vm # vm-browser-agent netinit\n"
NET_NS_INIT_INO = 0xEFFFFFF9


@pytest.fixture
def lan():
    with Lan() as l:
        yield l


@pytest.fixture
def files(tmp_path):
    return {"resolv": tmp_path / "resolv.conf", "hosts": tmp_path / "hosts",
            "hostname": tmp_path / "hostname"}


def netinit_argv(agent_bin, files, cmdline, *extra, timeout_ms=3000):
    return [agent_bin, "netinit", "--apply", "--cmdline", cmdline,
            "--resolv-conf", str(files["resolv"]), "--hosts", str(files["hosts"]),
            "--hostname-file", str(files["hostname"]), "--timeout", str(timeout_ms), *extra]


def apply(ns, agent_bin, files, cmdline=CMDLINE, *extra, timeout_ms=3000):
    """Runs `netinit --apply` in ns without touching any hostname."""
    return ns.run(*netinit_argv(agent_bin, files, cmdline, "--no-hostname", *extra,
                                timeout_ms=timeout_ms), check=False)


def link(ns, dev):
    return ns.ip_json("link", "show", "dev", dev)[0]


def addrs(ns, dev, family="inet"):
    info = ns.ip_json("addr", "show", "dev", dev)[0]["addr_info"]
    return [(a["local"], a["prefixlen"]) for a in info if a["family"] == family]


def default_routes(ns, *family):
    return ns.ip_json(*family, "route", "show", "default")


def state(ns):
    """What netinit configures, without what the kernel changes on its own
    afterwards (carrier and operstate settling, IPv6 link-local DAD)."""
    links = [(l["ifname"], "UP" in l["flags"], l["mtu"], l["address"]) for l in ns.ip_json("link")]
    addrs = [(i["ifname"], a["local"], a["prefixlen"], a.get("broadcast"))
             for i in ns.ip_json("addr") for a in i["addr_info"]
             if not a["local"].startswith("fe80:")]
    routes = [(r["dst"], r.get("gateway"), r["dev"], r.get("protocol"), r.get("scope"),
               sorted(set(r.get("flags", [])) - {"linkdown"}))
              for r in ns.ip_json("route") + ns.ip_json("-6", "route")
              if not r["dst"].startswith("fe80:")]
    return links, addrs, routes


def tcp_reaches(lan, addr, port=7777):
    """A TCP handshake from the guest to addr in the host namespace: real
    packets over the veth, through the routes and MAC netinit set."""
    with lan.host.entered():
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    with srv:
        srv.bind((addr, port))
        srv.listen(1)
        with lan.guest.entered():
            cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        with cli:
            cli.settimeout(10)
            cli.connect((addr, port))
            conn, peer = srv.accept()
            conn.close()
            return peer[0]


def test_apply_reads_back_from_the_kernel(lan, agent_bin, files):
    lan.guest.run("ip", "link", "set", "lo", "down")
    r = apply(lan.guest, agent_bin, files)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert r.stderr == "<6>vm-browser-agent: Configured eth0 (ifindex %d).\n" % link(lan.guest, "eth0")["ifindex"]
    eth0 = link(lan.guest, "eth0")
    assert "UP" in eth0["flags"]
    assert eth0["mtu"] == 1400
    assert eth0["address"] == "02:00:00:00:00:42"
    assert addrs(lan.guest, "eth0") == [("10.77.0.2", 24)]
    info = lan.guest.ip_json("addr", "show", "dev", "eth0")[0]["addr_info"][0]
    assert info["broadcast"] == "10.77.0.255"
    routes = default_routes(lan.guest)
    assert [(x["gateway"], x["dev"], x.get("flags", [])) for x in routes] == [("10.77.0.1", "eth0", [])]
    assert "UP" in link(lan.guest, "lo")["flags"]
    assert addrs(lan.guest, "lo") == [("127.0.0.1", 8)]
    # Real traffic: on the subnet, and through the default route.
    assert tcp_reaches(lan, "10.77.0.1") == "10.77.0.2"
    lan.host.run("ip", "addr", "add", "192.0.2.7/32", "dev", "lo")
    assert tcp_reaches(lan, "192.0.2.7") == "10.77.0.2"


def test_apply_twice_changes_nothing(lan, agent_bin, files):
    files["hosts"].write_text("127.0.0.1\tlocalhost\n")
    assert apply(lan.guest, agent_bin, files).returncode == 0
    before = state(lan.guest)
    stamps = {k: (p.read_text(), p.stat().st_mtime_ns, p.stat().st_ino) for k, p in files.items()}
    r = apply(lan.guest, agent_bin, files)
    assert r.returncode == 0, r.stderr
    assert "its address was already present" in r.stderr
    assert state(lan.guest) == before
    assert {k: (p.read_text(), p.stat().st_mtime_ns, p.stat().st_ino) for k, p in files.items()} == stamps


def test_waits_for_a_device_created_after_it_started(agent_bin, files):
    with Lan(create_device=False) as lan:
        assert [l["ifname"] for l in lan.guest.ip_json("link")] == ["lo"]
        p = lan.guest.popen(netinit_argv(agent_bin, files, CMDLINE, "--no-hostname", timeout_ms=20000),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        # netinit is waiting once its socket is subscribed to RTNLGRP_LINK
        # (group bit 1), as /proc/net/netlink in its namespace shows.
        def subscribed():
            rows = lan.guest.run("cat", "/proc/net/netlink").stdout.splitlines()[1:]
            return any(int(row.split()[3], 16) & 1 for row in rows if row.split()[1] == "0")
        wait_until(subscribed, timeout=10, what="netinit subscribed to link events")
        assert p.poll() is None
        lan.add_device()
        out, err = p.communicate(timeout=20 * DEADLINE_SCALE)
        assert p.returncode == 0, err
        assert addrs(lan.guest, "eth0") == [("10.77.0.2", 24)]
        assert link(lan.guest, "eth0")["mtu"] == 1400
        assert [x["gateway"] for x in default_routes(lan.guest)] == ["10.77.0.1"]


def test_two_interfaces_and_merged_nameservers(lan, agent_bin, files):
    lan.guest.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "peer1")
    cmdline = ("ip=10.77.0.2::10.77.0.1:24:vm.example.test:eth0:off:10.77.0.1 "
               "ip=10.88.0.2:::24::eth1:off:10.88.0.1:10.77.0.1 nameserver=1.1.1.1 nameserver=10.77.0.1")
    r = apply(lan.guest, agent_bin, files, cmdline)
    assert r.returncode == 0, r.stderr
    assert addrs(lan.guest, "eth0") == [("10.77.0.2", 24)]
    assert addrs(lan.guest, "eth1") == [("10.88.0.2", 24)]
    assert "UP" in link(lan.guest, "eth1")["flags"]
    assert [(x["gateway"], x["dev"]) for x in default_routes(lan.guest)] == [("10.77.0.1", "eth0")]
    # Every interface's servers in order, each once.
    assert files["resolv"].read_text() == (
        "# Written by vm-browser-agent netinit from the kernel command line.\n"
        "nameserver 10.77.0.1\nnameserver 1.1.1.1\nnameserver 10.88.0.1\nsearch example.test\n")


def test_mac_change_on_a_link_that_is_up(lan, agent_bin, files):
    lan.guest.run("ip", "link", "set", "eth0", "address", "02:00:00:00:00:01", "mtu", "1500")
    lan.guest.run("ip", "link", "set", "eth0", "up")
    r = apply(lan.guest, agent_bin, files)
    assert r.returncode == 0, r.stderr
    eth0 = link(lan.guest, "eth0")
    assert (eth0["address"], eth0["mtu"], "UP" in eth0["flags"]) == ("02:00:00:00:00:42", 1400, True)


def macvlan_up(lan, mac="02:00:00:00:00:01"):
    """mv0, a macvlan on eth0 (MTU 1500), up with mac: a device whose MTU
    cannot exceed its lower device's and whose MAC cannot be the lower
    device's own (the `dummy` type is missing on some test kernels)."""
    g = lan.guest
    g.run("ip", "link", "add", "link", "eth0", "name", "mv0", "type", "macvlan")
    g.run("ip", "link", "set", "mv0", "address", mac)
    g.run("ip", "link", "set", "eth0", "up")
    g.run("ip", "link", "set", "mv0", "up")
    return link(g, "eth0")["address"]


def test_mtu_refused_leaves_the_link_up_with_its_mac(lan, agent_bin, files):
    """The MTU goes in a request of its own, before the MAC: refused, it
    leaves the link as it was (up, old MAC) and the error names it.  In
    one request the kernel applies IFLA_ADDRESS before IFLA_MTU and keeps
    it when the MTU is refused."""
    macvlan_up(lan)
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.9::10.77.0.1:24::mv0:off:9000:02:00:00:00:00:77")
    assert (r.returncode, r.stderr) == (1, "<3>vm-browser-agent: Failed to set MTU 9000 on mv0: Invalid argument\n")
    mv = link(lan.guest, "mv0")
    assert ("UP" in mv["flags"], mv["address"], mv["mtu"]) == (True, "02:00:00:00:00:01", 1500)
    assert addrs(lan.guest, "mv0") == []


def test_mac_refused_brings_the_link_back_up(lan, agent_bin, files):
    """A MAC change takes the link down first; refused (a macvlan cannot
    have its lower device's MAC: EADDRINUSE), the link comes back up with
    its old MAC.  The MTU before it was accepted and stays."""
    lower_mac = macvlan_up(lan)
    r = apply(lan.guest, agent_bin, files, f"ip=10.77.0.9::10.77.0.1:24::mv0:off:1400:{lower_mac}")
    assert (r.returncode, r.stderr) == (
        1, f"<3>vm-browser-agent: Failed to set MAC {lower_mac} on mv0: Address already in use\n")
    mv = link(lan.guest, "mv0")
    assert ("UP" in mv["flags"], mv["address"], mv["mtu"]) == (True, "02:00:00:00:00:01", 1400)


def test_link_refusing_up_after_a_mac_change_gets_its_mac_back(lan, agent_bin, files):
    """A vxlan device cannot come up while its UDP port is taken: the MAC
    netinit set just before is put back, so a failed apply does not leave
    half of its change behind."""
    g = lan.guest
    g.run("ip", "link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789", "local", "127.0.0.1")
    g.run("ip", "link", "set", "vx0", "address", "02:00:00:00:00:01")
    with g.entered():
        port = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    with port:
        port.bind(("0.0.0.0", 4789))
        r = apply(g, agent_bin, files, "ip=vx0:off::02:00:00:00:00:77")
    assert (r.returncode, r.stderr) == (
        1, "<3>vm-browser-agent: Failed to bring up vx0 with MAC 02:00:00:00:00:77: Address already in use\n")
    vx = link(g, "vx0")
    assert ("UP" in vx["flags"], vx["address"]) == (False, "02:00:00:00:00:01")


def test_mac_of_a_named_device_keeps_the_route_of_an_unnamed_one(lan, agent_bin, files):
    """An ip= naming no device and one naming its MAC are the same link
    here: the MAC change takes it down, which drops the routes through it.
    Every link is set up before any address or route, so the default route
    the first ip= gives is there at the end."""
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.2::10.77.0.1:24:::off ip=eth0:off::02:00:00:00:00:09")
    assert r.returncode == 0, r.stderr
    assert link(lan.guest, "eth0")["address"] == "02:00:00:00:00:09"
    assert addrs(lan.guest, "eth0") == [("10.77.0.2", 24)]
    assert [(x["gateway"], x["dev"]) for x in default_routes(lan.guest)] == [("10.77.0.1", "eth0")]


def test_first_broadcast_device_when_none_is_named(lan, agent_bin, files):
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.5::10.77.0.1:24:::off")
    assert r.returncode == 0, r.stderr
    assert addrs(lan.guest, "eth0") == [("10.77.0.5", 24)]


def test_no_device_named_follows_the_kernels_rule(agent_bin, files):
    """As the kernel's ip= picks a device: never one named dummy* (the rule
    is by name: here a veth pair, as this machine's kernel may have no
    dummy driver, created first so it has the lower ifindex), and a
    point-to-point one (a tun) is as good as one that broadcasts."""
    def dummies(ns):
        ns.run("ip", "link", "add", "dummy0", "type", "veth", "peer", "name", "dummy1")

    with Lan(create_device=False) as lan:
        dummies(lan.guest)
        lan.add_device()
        r = apply(lan.guest, agent_bin, files, "ip=10.77.0.5::10.77.0.1:24:::off")
        assert r.returncode == 0, r.stderr
        assert addrs(lan.guest, "eth0") == [("10.77.0.5", 24)]
        assert addrs(lan.guest, "dummy0") == []
    with Lan(create_device=False) as lan:
        dummies(lan.guest)
        lan.guest.run("ip", "tuntap", "add", "dev", "tun0", "mode", "tun")
        r = apply(lan.guest, agent_bin, files, "ip=10.77.0.5:::24:::off", timeout_ms=2000)
        assert r.returncode == 0, r.stderr
        assert addrs(lan.guest, "tun0") == [("10.77.0.5", 24)]
        assert addrs(lan.guest, "dummy0") == []


def test_missing_device_times_out_listing_devices(lan, agent_bin, files):
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.2::10.77.0.1:24::eth7:off", timeout_ms=300)
    assert r.returncode == 1
    assert r.stderr == ("<3>vm-browser-agent: Device eth7 did not appear within 300 ms; "
                        "existing devices: lo, eth0: No such device\n")
    assert addrs(lan.guest, "eth0") == []
    assert not files["resolv"].exists()


def test_address_already_present_is_success(lan, agent_bin, files):
    lan.guest.run("ip", "addr", "add", "10.77.0.2/24", "dev", "eth0")
    lan.guest.run("ip", "link", "set", "eth0", "up")
    r = apply(lan.guest, agent_bin, files)
    assert r.returncode == 0, r.stderr
    assert r.stderr.endswith("Configured eth0 (ifindex %d); its address was already present.\n"
                             % link(lan.guest, "eth0")["ifindex"])
    assert addrs(lan.guest, "eth0") == [("10.77.0.2", 24)]
    assert [x["gateway"] for x in default_routes(lan.guest)] == ["10.77.0.1"]


def test_same_address_other_prefix_is_replaced(lan, agent_bin, files):
    lan.guest.run("ip", "addr", "add", "10.77.0.2/16", "dev", "eth0")
    r = apply(lan.guest, agent_bin, files)
    assert r.returncode == 0, r.stderr
    assert addrs(lan.guest, "eth0") == [("10.77.0.2", 24)]


def test_failed_removal_of_the_other_prefix_is_named(lan, agent_bin, files):
    """The address there with another prefix goes first; when that fails
    (here: no CAP_NET_ADMIN, the link already up as wanted, so the
    removal is the first request refused) the error names the removal,
    not the addition that never ran."""
    lan.guest.run("ip", "addr", "add", "10.77.0.2/16", "dev", "eth0")
    lan.guest.run("ip", "link", "set", "eth0", "up")
    r = lan.guest.run("setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin",
                      *netinit_argv(agent_bin, files, "ip=10.77.0.2::10.77.0.1:255.255.255.0::eth0:off",
                                    "--no-hostname"), check=False)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == ("<3>vm-browser-agent: Failed to remove 10.77.0.2/16 from eth0 "
                                         "(to add it again as /24): Operation not permitted")
    assert addrs(lan.guest, "eth0") == [("10.77.0.2", 16)]


def test_gateway_outside_subnet_is_onlink(lan, agent_bin, files):
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.2::10.99.0.1:24::eth0:off")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == (
        "<4>vm-browser-agent: Gateway 10.99.0.1 is outside the subnet of address 10.77.0.2/24: "
        "added the default route as on-link on eth0.")
    routes = default_routes(lan.guest)
    assert [(x["gateway"], x["dev"], x["flags"]) for x in routes] == [("10.99.0.1", "eth0", ["onlink"])]
    # And again: replacing the identical route is no change.
    assert apply(lan.guest, agent_bin, files, "ip=10.77.0.2::10.99.0.1:24::eth0:off").returncode == 0
    assert default_routes(lan.guest) == routes


def test_onlink_warning_survives_a_failure_elsewhere(lan, agent_bin, files, tmp_path):
    """The on-link route worked, the hosts file did not: both are said,
    the warning first (a failure does not swallow what was done)."""
    files["hosts"] = tmp_path / "no-such-dir" / "hosts"
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.2::10.99.0.1:24:demo-vm:eth0:off")
    assert (r.returncode, r.stderr.splitlines()) == (1, [
        "<4>vm-browser-agent: Gateway 10.99.0.1 is outside the subnet of address 10.77.0.2/24: "
        "added the default route as on-link on eth0.",
        f"<3>vm-browser-agent: Failed to update {files['hosts']}: No such file or directory"])
    assert [(x["gateway"], x["dev"], x["flags"]) for x in default_routes(lan.guest)] == \
        [("10.99.0.1", "eth0", ["onlink"])]


def test_onlink_warning_names_the_interface_it_is_on(lan, agent_bin, files):
    """The warning is about the interface whose gateway is on-link, not
    the first one configured."""
    lan.guest.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "peer1")
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.2:::24::eth0:off ip=10.88.0.2::10.99.0.1:24::eth1:off")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == (
        "<4>vm-browser-agent: Gateway 10.99.0.1 is outside the subnet of address 10.88.0.2/24: "
        "added the default route as on-link on eth1.")
    # eth1's peer is down: the kernel adds "linkdown", which is not ours.
    assert [(x["gateway"], x["dev"], sorted(set(x["flags"]) - {"linkdown"}))
            for x in default_routes(lan.guest)] == [("10.99.0.1", "eth1", ["onlink"])]


def test_onlink_warning_for_every_interface(lan, agent_bin, files):
    """Two interfaces with an on-link gateway each (an IPv4 and an IPv6
    default route): both are said, in the order applied, none replaces
    the other."""
    lan.guest.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "peer1")
    r = apply(lan.guest, agent_bin, files,
              "ip=10.77.0.2::10.99.0.1:24::eth0:off ip=[fd00:88::2]::[fd00:99::1]:64::eth1:off")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == (
        "<4>vm-browser-agent: Gateway 10.99.0.1 is outside the subnet of address 10.77.0.2/24: "
        "added the default route as on-link on eth0. Gateway fd00:99::1 is outside the subnet of address "
        "fd00:88::2/64: added the default route as on-link on eth1.")


def test_second_gateway_of_a_family_is_not_added(lan, agent_bin, files):
    """Two interfaces with an IPv4 gateway each: one default route per
    family, the first's; the second is said, not added.  (It replaced the
    first: the kernel matches a replace on destination and metric.)"""
    lan.guest.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "peer1")
    cmdline = "ip=10.77.0.2::10.77.0.1:24::eth0:off ip=10.88.0.2::10.88.0.1:24::eth1:off"
    for _ in range(2):  # and again: nothing changes
        r = apply(lan.guest, agent_bin, files, cmdline)
        assert r.returncode == 0, r.stderr
        assert r.stderr.splitlines()[0] == (
            "<4>vm-browser-agent: Gateway 10.88.0.1 on eth1 not added: the default route goes via 10.77.0.1, "
            "the first ip= with a gateway of its family.")
        assert [(x["gateway"], x["dev"]) for x in default_routes(lan.guest)] == [("10.77.0.1", "eth0")]
        assert ("10.88.0.2", 24) in addrs(lan.guest, "eth1")


def test_a_gateway_after_one_that_failed_is_the_default_route(lan, agent_bin, files):
    """The first ip= with a gateway names a device that is not there: its
    default route could not be added, so the next gateway of the family
    gives it (the interfaces do not depend on each other)."""
    lan.guest.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "peer1")
    r = apply(lan.guest, agent_bin, files,
              "ip=10.66.0.2::10.66.0.1:24::ethX:off ip=10.88.0.2::10.88.0.1:24::eth1:off", timeout_ms=500)
    assert r.returncode != 0 and "ethX" in r.stderr, r.stderr
    assert [(x["gateway"], x["dev"]) for x in default_routes(lan.guest)] == [("10.88.0.1", "eth1")]


def test_gateway_without_an_address_is_onlink(lan, agent_bin, files):
    r = apply(lan.guest, agent_bin, files, "ip=::10.77.0.1:::eth0:off")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == (
        "<4>vm-browser-agent: Gateway 10.77.0.1: eth0 has no address: added the default route as on-link.")
    assert addrs(lan.guest, "eth0") == []
    assert [(x["gateway"], x["dev"], x["flags"]) for x in default_routes(lan.guest)] == \
        [("10.77.0.1", "eth0", ["onlink"])]


def test_ipv6_address_and_route(lan, agent_bin, files):
    lan.host.run("ip", "addr", "add", "fd00:77::1/64", "dev", "veth0", "nodad")
    r = apply(lan.guest, agent_bin, files, "ip=[fd00:77::2]::[fd00:77::1]:64::eth0:off")
    assert r.returncode == 0, r.stderr
    assert ("fd00:77::2", 64) in addrs(lan.guest, "eth0", "inet6")
    assert [(x["gateway"], x["dev"]) for x in default_routes(lan.guest, "-6")] == [("fd00:77::1", "eth0")]
    # Twice: the IPv6 address and route are found in place, nothing changes.
    before = state(lan.guest)
    r = apply(lan.guest, agent_bin, files, "ip=[fd00:77::2]::[fd00:77::1]:64::eth0:off")
    assert r.returncode == 0, r.stderr
    assert "its address was already present" in r.stderr
    assert state(lan.guest) == before


def test_link_local_nameserver_is_scoped_to_its_device(lan, agent_bin, files):
    """glibc sends nothing to a link-local server written without its
    device: the host at fe80::1 answers DNS only as fe80::1%eth0.  The ip=
    names no device here, so the scope is the device the kernel's rule
    found; nameserver= ones take the first interface's."""
    r = apply(lan.guest, agent_bin, files, "ip=[fd00:77::2]::[fe80::1]:64:::off:[fe80::1] "
              "nameserver=fe80::53 nameserver=fd00:77::53")
    assert r.returncode == 0, r.stderr
    assert files["resolv"].read_text().splitlines()[1:] == [
        "nameserver fe80::1%eth0", "nameserver fe80::53%eth0", "nameserver fd00:77::53"]


def test_ipv6_without_prefix_is_a_host_address(lan, agent_bin, files):
    """An empty IPv6 netmask is /128 in the plan (systemd, dracut) and in
    the kernel alike; the gateway is then outside the subnet: on-link."""
    lan.host.run("ip", "addr", "add", "fd00:77::1/64", "dev", "veth0", "nodad")
    cmdline = "ip=[fd00:77::2]::[fd00:77::1]:::eth0:off"
    plan = subprocess.run([agent_bin, "netinit", "--dry-run", "--cmdline", cmdline],
                          capture_output=True, text=True, timeout=30)
    assert json.loads(plan.stdout)["interfaces"][0]["prefix"] == 128
    r = apply(lan.guest, agent_bin, files, cmdline)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == (
        "<4>vm-browser-agent: Gateway fd00:77::1 is outside the subnet of address fd00:77::2/128: "
        "added the default route as on-link on eth0.")
    assert ("fd00:77::2", 128) in addrs(lan.guest, "eth0", "inet6")
    assert [(x["gateway"], x["dev"], x.get("flags", [])) for x in default_routes(lan.guest, "-6")] == \
        [("fd00:77::1", "eth0", ["onlink"])]


def send_router_advertisement(ns, ifname, source):
    """One Router Advertisement from source (a link-local address of ns
    on ifname), as any machine on the segment can send it: prefix
    2001:db8:bad::/64 for SLAAC, and itself as the default router."""
    ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
    prefix = struct.pack("!BBBBIII", 3, 4, 64, 0xc0, 86400, 14400, 0) + \
        socket.inet_pton(socket.AF_INET6, "2001:db8:bad::")
    with ns.entered(), socket.socket(socket.AF_INET6, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     socket.IPPROTO_ICMPV6) as s:
        idx = socket.if_nametoindex(ifname)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
        s.bind((source, 0, 0, idx))
        s.sendto(ra + prefix, ("ff02::1", 0, 0, idx))


def echo6(ns, ifname, dest, timeout=10):
    """An ICMPv6 echo from ns to dest (link-local on ifname), answered: the
    peer has taken in everything sent to it before."""
    with ns.entered(), socket.socket(socket.AF_INET6, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     socket.IPPROTO_ICMPV6) as s:
        s.settimeout(timeout)
        s.sendto(struct.pack("!BBHHH", 128, 0, 0, 0x7661, 1) + b"barrier",
                 (dest, 0, 0, socket.if_nametoindex(ifname)))
        while True:
            data, _ = s.recvfrom(2048)
            if data[0] == 129 and data[4:6] == b"\x76\x61":
                return


def link_local(ns, dev):
    """dev's link-local address once it is usable (its DAD done)."""
    info = ns.ip_json("addr", "show", "dev", dev)[0]["addr_info"]
    return next((a["local"] for a in info if a["family"] == "inet6" and a["local"].startswith("fe80:")
                 and not a.get("tentative")), None)


def test_router_advertisements_from_the_segment_are_refused(lan, agent_bin, files):
    """A static ip= is all the VM's addressing: a Router Advertisement from
    any machine on the segment must not give it an IPv6 address, nor a
    default route through that machine (the kernel takes them on every
    link by default)."""
    lan.host.run("ip", "addr", "add", "fe80::1/64", "dev", "veth0", "nodad")
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.2::10.77.0.1:255.255.255.0::eth0:off")
    assert r.returncode == 0, r.stderr
    assert lan.guest.run("cat", "/proc/sys/net/ipv6/conf/eth0/accept_ra").stdout == "0\n"
    guest_ll = wait_until(lambda: link_local(lan.guest, "eth0"), 10, "eth0's link-local address")
    send_router_advertisement(lan.host, "veth0", "fe80::1")
    echo6(lan.host, "veth0", guest_ll)
    assert [a for a in addrs(lan.guest, "eth0", "inet6") if not a[0].startswith("fe80:")] == []
    assert default_routes(lan.guest, "-6") == []


def checksum(data):
    data += b"\0" * (len(data) % 2)
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff


def send_redirect(ns, gateway, victim, dest, new_gateway):
    """An ICMP host redirect from gateway: victim's packets to dest are to go
    through new_gateway.  The datagram it quotes is an ICMP echo reply from
    victim to dest: the one the kernel acts on without a socket."""
    inner = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, socket.IPPROTO_ICMP, 0,
                        socket.inet_aton(victim), socket.inet_aton(dest))
    inner = inner[:10] + struct.pack("!H", checksum(inner)) + inner[12:] + struct.pack("!BBHHH", 0, 0, 0, 1, 1)
    msg = struct.pack("!BBH4s", 5, 1, 0, socket.inet_aton(new_gateway)) + inner
    msg = msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]
    with ns.entered(), socket.socket(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     socket.IPPROTO_ICMP) as s:
        s.bind((gateway, 0))
        s.sendto(msg, (victim, 0))


def echo4(ns, source, dest, timeout=10):
    """An ICMP echo from ns to dest, answered: the peer has taken in
    everything sent to it before."""
    with ns.entered(), socket.socket(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     socket.IPPROTO_ICMP) as s:
        s.settimeout(timeout)
        s.bind((source, 0))
        msg = struct.pack("!BBHHH", 8, 0, 0, 0x7661, 1) + b"barrier"
        s.sendto(msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:], (dest, 0))
        while True:
            data, _ = s.recvfrom(2048)
            if data[20] == 0 and data[24:26] == b"\x76\x61":
                return


def test_icmp_redirects_are_refused(lan, agent_bin, files):
    """Only ip= routes the VM: an ICMP redirect (any machine on the segment
    can send one in the gateway's name) must not move its traffic to
    another next hop; the kernel takes them by default."""
    lan.host.run("ip", "addr", "add", "10.77.0.9/24", "dev", "veth0")
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.2::10.77.0.1:255.255.255.0::eth0:off")
    assert r.returncode == 0, r.stderr
    # The kernel redirects only to a next hop it has a neighbour entry for.
    mac = lan.host.ip_json("link", "show", "dev", "veth0")[0]["address"]
    lan.guest.run("ip", "neigh", "replace", "10.77.0.9", "lladdr", mac, "dev", "eth0", "nud", "permanent")
    send_redirect(lan.host, "10.77.0.1", "10.77.0.2", "10.99.0.5", "10.77.0.9")
    echo4(lan.host, "10.77.0.1", "10.77.0.2")
    route = lan.guest.ip_json("route", "get", "10.99.0.5")[0]
    assert route["gateway"] == "10.77.0.1", route
    for conf in ("ipv4/conf/all", "ipv4/conf/eth0", "ipv6/conf/eth0"):
        assert lan.guest.run("cat", f"/proc/sys/net/{conf}/accept_redirects").stdout == "0\n", conf


def test_dhcp_brings_the_link_up_and_says_it_cannot(lan, agent_bin, files):
    r = apply(lan.guest, agent_bin, files, "ip=eth0:dhcp")
    assert r.returncode == 1
    assert r.stderr == ("<3>vm-browser-agent: eth0: method dhcp needs a DHCP/autoconf client, which "
                        "netinit does not have; the link is up without an address: Operation not supported\n")
    assert "UP" in link(lan.guest, "eth0")["flags"]
    assert addrs(lan.guest, "eth0") == []


def test_bind_mounted_files_rewritten_in_place(lan, agent_bin, files, tmp_path):
    """A container's resolv.conf, hosts and hostname are bind mounts, which
    rename() cannot replace (EBUSY): they are rewritten in place, and what
    the bind came from shows the new text."""
    sources = {}
    for name, path in files.items():
        path.write_text("# the image's\n")
        sources[name] = tmp_path / f"{name}.source"
        sources[name].write_text("# the container runtime's\n")
    binds = " && ".join(f"mount --bind {sources[n]} {files[n]}" for n in files)
    r = lan.guest.run("unshare", "--mount", "--propagation", "private", "sh", "-c", binds + ' && exec "$@"', "sh",
                      *netinit_argv(agent_bin, files, CMDLINE, "--no-hostname", timeout_ms=3000), check=False)
    assert r.returncode == 0, r.stderr
    assert sources["resolv"].read_text() == RESOLV
    assert sources["hosts"].read_text() == "# the container runtime's\n" + HOSTS_LINE
    assert sources["hostname"].read_text() == "demo-vm\n"
    # The files under the binds were never touched.
    assert files["resolv"].read_text() == "# the image's\n"


def test_dhcp_beside_static_configures_the_rest(lan, agent_bin, files):
    """Two interfaces wanting DHCP and one static: the static one and the
    files are still done; each missing client is reported, in order."""
    lan.guest.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth2")
    r = apply(lan.guest, agent_bin, files,
              "ip=eth1:dhcp ip=10.77.0.2::10.77.0.1:24:vm.example.test:eth0:off:10.77.0.1 ip=eth2:dhcp6")
    assert r.returncode == 1
    assert r.stderr == ("<3>vm-browser-agent: eth1: method dhcp needs a DHCP/autoconf client, which "
                        "netinit does not have; the link is up without an address: Operation not supported; "
                        "eth2: method dhcp6 needs a DHCP/autoconf client, which "
                        "netinit does not have; the link is up without an address: Operation not supported\n")
    assert "UP" in link(lan.guest, "eth1")["flags"] and "UP" in link(lan.guest, "eth2")["flags"]
    assert addrs(lan.guest, "eth0") == [("10.77.0.2", 24)]
    assert files["resolv"].read_text().splitlines()[1:] == ["nameserver 10.77.0.1", "search example.test"]


def test_refused_route_still_writes_the_files(lan, agent_bin, files):
    """A refused default route ends its own interface only: hostname,
    resolv.conf and hosts do not depend on it and are written, and the
    error names the route.  The kernel refuses an on-link route via an
    address of another device (eth1's, which ip= does not name)."""
    g = lan.guest
    g.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "peer1")
    g.run("ip", "addr", "add", "10.99.0.1/24", "dev", "eth1")
    files["hosts"].write_text("127.0.0.1\tlocalhost\n")
    r = apply(g, agent_bin, files, CMDLINE.replace("::10.77.0.1:", "::10.99.0.1:", 1))
    assert (r.returncode, r.stderr) == (
        1, "<3>vm-browser-agent: Failed to add default route via 10.99.0.1 (on-link) on eth0 "
           "(address 10.77.0.2): Invalid argument\n")
    assert addrs(g, "eth0") == [("10.77.0.2", 24)]
    assert default_routes(g) == []
    assert files["resolv"].read_text() == RESOLV
    assert files["hostname"].read_text() == "demo-vm\n"
    assert files["hosts"].read_text() == "127.0.0.1\tlocalhost\n" + HOSTS_LINE


def test_every_failure_is_named_and_the_rest_applied(lan, agent_bin, files, tmp_path):
    """A device that never appears, then a hosts file that cannot be
    written: the interface after the missing one is configured, the other
    files are written, and the one error line names both failures, the
    first one's errno first (the exit status is about it)."""
    files["hosts"] = tmp_path / "no-such-dir" / "hosts"
    r = apply(lan.guest, agent_bin, files, "ip=10.88.0.2:::24::eth7:off " + CMDLINE, timeout_ms=300)
    assert (r.returncode, r.stderr) == (
        1, "<3>vm-browser-agent: Device eth7 did not appear within 300 ms; existing devices: lo, eth0: "
           f"No such device; Failed to update {files['hosts']}: No such file or directory\n")
    assert addrs(lan.guest, "eth0") == [("10.77.0.2", 24)]
    assert [x["gateway"] for x in default_routes(lan.guest)] == ["10.77.0.1"]
    assert files["resolv"].read_text() == RESOLV
    assert files["hostname"].read_text() == "demo-vm\n"


def test_files_and_hostname_in_private_uts_namespace(lan, agent_bin, files):
    files["hosts"].write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
                              "10.1.1.1\told # vm-browser-agent netinit\n")
    own_hostname = socket.gethostname()
    argv = netinit_argv(agent_bin, files, CMDLINE)
    # A shell in the test (never in product code) to read the UTS namespace
    # back before it disappears with the process.
    script = '"$@" && echo "$(hostname) $(domainname)"'
    for _ in range(2):
        r = lan.guest.run("unshare", "--uts", "sh", "-c", script, "sh", *argv, check=False)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "demo-vm example.test\n"
        assert files["resolv"].read_text() == RESOLV
        assert files["hostname"].read_text() == "demo-vm\n"
        assert files["hosts"].read_text() == ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
                                              + HOSTS_LINE)
    assert socket.gethostname() == own_hostname


def test_resolv_conf_untouched_without_dns_or_domain(lan, agent_bin, files):
    files["resolv"].write_text("nameserver 192.0.2.53\n")
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.2::10.77.0.1:24::eth0:off")
    assert r.returncode == 0, r.stderr
    assert files["resolv"].read_text() == "nameserver 192.0.2.53\n"
    assert not files["hostname"].exists()


def _in_initial_netns():
    st = os.stat("/proc/self/ns/net")
    if st.st_ino == NET_NS_INIT_INO:
        return True
    try:
        init = os.stat("/proc/1/ns/net")
    except OSError:
        return None
    return (st.st_dev, st.st_ino) == (init.st_dev, init.st_ino)


def test_apply_refused_in_the_initial_namespace(agent_bin, tmp_path):
    """Runs in THIS namespace on purpose, with a harmless plan (a device that
    does not exist) and redirected files; netinit must refuse before it
    opens a single netlink socket."""
    if _in_initial_netns() is not True:
        pytest.skip("not in the initial network namespace (or cannot tell): nothing to protect here")
    files = {"resolv": tmp_path / "resolv.conf", "hosts": tmp_path / "hosts",
             "hostname": tmp_path / "hostname"}
    argv = netinit_argv(agent_bin, files, "ip=10.254.254.2::10.254.254.1:24:h.test:vmbanone0:off:10.254.254.1",
                        "--no-hostname", timeout_ms=0)
    refusal = ("<3>vm-browser-agent: Refusing to configure interfaces: not PID 1 and in the initial "
               "network namespace (this machine's own network). Run inside a network namespace, as "
               "PID 1, or pass --force.\n")
    if shutil.which("strace"):
        trace = tmp_path / "trace"
        # LeakSanitizer cannot run under ptrace (an ASan build of the binary).
        env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
        r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=socket", "-o", str(trace), *argv],
                           capture_output=True, text=True, timeout=30, env=env)
        assert "AF_NETLINK" not in trace.read_text()
    else:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr == refusal
    assert list(tmp_path.iterdir()) == ([tmp_path / "trace"] if shutil.which("strace") else [])


def test_dry_run_invalid_field_exits_2_with_one_line(agent_bin):
    r = subprocess.run([agent_bin, "netinit", "--dry-run", "--cmdline",
                        "quiet ip=10.77.0.2::10.77.0.1:255.0.255.0::eth0:off"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == ('<3>vm-browser-agent: ip=: field 4 (netmask): invalid value "255.0.255.0": '
                        'not contiguous\n')


@pytest.mark.parametrize("gateway,shown,reason", [
    ("255.255.255.255", "255.255.255.255", "not a unicast address"),
    ("224.0.0.1", "224.0.0.1", "not a unicast address"),
    ("127.0.0.1", "127.0.0.1", "a loopback address"),
    ("10.77.0.255", "10.77.0.255", "the broadcast address of the client's subnet"),
    ("10.77.0.2", "10.77.0.2", "the client's own address"),
])
def test_unusable_gateway_refused_before_anything_changes(lan, agent_bin, files, gateway, shown, reason):
    """A gateway the kernel refuses only when the route is added (or takes
    as a dead route) is refused by the parser: --dry-run exits 2 naming
    field 3, and --apply leaves the device, routes and files as they were
    instead of adding the address and stopping at the route."""
    cmdline = f"ip=10.77.0.2::{gateway}:24:vm.example.test:eth0:off:10.77.0.1"
    line = f'<3>vm-browser-agent: ip=: field 3 (gateway): invalid value "{shown}": {reason}\n'
    r = subprocess.run([agent_bin, "netinit", "--dry-run", "--cmdline", cmdline],
                       capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", line)
    before = state(lan.guest)
    r = apply(lan.guest, agent_bin, files, cmdline)
    assert (r.returncode, r.stderr) == (2, line)
    assert state(lan.guest) == before
    assert addrs(lan.guest, "eth0") == []
    assert not any(p.exists() for p in files.values())


def test_usage_errors_exit_2(agent_bin):
    for argv in (["netinit"], ["netinit", "--dry-run", "--apply"], ["netinit", "--apply", "--timeout", "x"],
                 ["netinit", "--dry-run", "extra"], ["netinit", "--dry-run", "--bogus"],
                 ["netinit", "--dry-run", "--cmdline"]):
        r = subprocess.run([agent_bin, *argv], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, argv
        assert r.stdout == ""
        assert len(r.stderr.splitlines()) == 1, (argv, r.stderr)
        assert r.stderr.startswith("<3>vm-browser-agent: "), (argv, r.stderr)


def _iface(**kw):
    base = {"device": None, "method": "static", "address": None, "prefix": None, "server": None,
            "gateway": None, "hostname": None, "domain": None, "dns": [], "ntp": [], "mtu": None,
            "mac": None}
    base.update(kw)
    return base


# DESIGN.md's examples, through the real binary, with exact JSON.
DESIGN_EXAMPLES = [
    # The Firecracker form (the demo's ip=).
    ("ip=10.77.0.2::10.77.0.1:255.255.255.0:demo-vm.example.test:eth0:off:10.77.0.1",
     [_iface(device="eth0", address="10.77.0.2", prefix=24, gateway="10.77.0.1", hostname="demo-vm",
             domain="example.test", dns=["10.77.0.1"])]),
    ("ip=off", []),
    ("console=ttyS0 reboot=k", []),
    # dracut/systemd <device>:<autoconf>[:mtu[:mac]]
    ("ip=eth0:dhcp", [_iface(device="eth0", method="dhcp")]),
    ("ip=eth0:off:1400:02:00:00:00:00:42", [_iface(device="eth0", method="none", mtu=1400,
                                                   mac="02:00:00:00:00:42")]),
    # Empty netmask: the classful guess; empty device: the first broadcast one.
    ("ip=10.0.0.2::::::off nameserver=1.1.1.1", [_iface(address="10.0.0.2", prefix=8, dns=["1.1.1.1"])]),
    ("nfsaddrs=10.1.2.3::10.1.2.1:24::eth1:off",
     [_iface(device="eth1", address="10.1.2.3", prefix=24, gateway="10.1.2.1")]),
    ("ip=[fd00::2]::[fd00::1]:64::eth0:off",
     [_iface(device="eth0", address="fd00::2", prefix=64, gateway="fd00::1")]),
    # A later ip=off turns it all off.
    ("ip=10.1.2.3::10.1.2.1:24::eth1:off ip=off", []),
]


@pytest.mark.parametrize("cmdline,interfaces", DESIGN_EXAMPLES)
def test_dry_run_design_examples(agent_bin, cmdline, interfaces):
    r = subprocess.run([agent_bin, "netinit", "--dry-run", "--cmdline", cmdline],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("}\n") and r.stdout.count("\n") == 1
    assert json.loads(r.stdout) == {"interfaces": interfaces}


def test_dry_run_reads_cmdline_file(agent_bin, tmp_path):
    f = tmp_path / "cmdline"
    f.write_text("BOOT_IMAGE=/vmlinuz ip=10.77.0.2::10.77.0.1:24::eth0:off quiet\n")
    r = subprocess.run([agent_bin, "netinit", "--dry-run", "--cmdline-file", str(f)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["interfaces"][0]["address"] == "10.77.0.2"


def test_apply_twice_with_an_ipv4_mtu_below_ipv6s_minimum(lan, agent_bin, files):
    """An MTU below 1280 is fine for IPv4, but the kernel drops the link's
    IPv6 state with it, its /proc/sys/net/ipv6/conf/<dev> included: a
    second apply (a restore re-applying the network) has no IPv6 setting
    there to refuse, and must not fail for it."""
    cmdline = "ip=10.77.0.2::10.77.0.1:255.255.255.0::eth0:off:1000"
    r = apply(lan.guest, agent_bin, files, cmdline)
    assert r.returncode == 0, r.stderr
    assert link(lan.guest, "eth0")["mtu"] == 1000
    before = state(lan.guest)
    r = apply(lan.guest, agent_bin, files, cmdline)
    assert r.returncode == 0, r.stderr
    assert state(lan.guest) == before


def test_mtu_raised_to_ipv6s_minimum_gets_ipv6_refusals(lan, agent_bin, files):
    """A link at an MTU below 1280 has no IPv6 settings; an MTU of 1280 or
    more gives them back with the kernel's defaults (Router Advertisements
    and redirects taken), which must then be refused too."""
    lan.guest.run("ip", "link", "set", "eth0", "mtu", "1000")
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.2::10.77.0.1:255.255.255.0::eth0:off:1500")
    assert r.returncode == 0, r.stderr
    assert link(lan.guest, "eth0")["mtu"] == 1500
    for key in ("accept_ra", "accept_redirects"):
        assert lan.guest.run("cat", f"/proc/sys/net/ipv6/conf/eth0/{key}").stdout == "0\n", key
        # What the state the MTU brings back is copied from: it refuses
        # from its first moment, not only once the link's own is written.
        assert lan.guest.run("cat", f"/proc/sys/net/ipv6/conf/default/{key}").stdout == "0\n", key


def test_ipv6_on_a_link_whose_mtu_is_too_small_says_so(lan, agent_bin, files):
    """The link's own MTU (the device's, or a restored snapshot's IPv4 one)
    is below 1280 and the ip= gives none: the kernel refuses the IPv6
    address with a bare EINVAL; the failure names the MTU."""
    lan.guest.run("ip", "link", "set", "eth0", "mtu", "1000")
    r = apply(lan.guest, agent_bin, files, "ip=[fd00:77::2]::[fd00:77::1]:64::eth0:off")
    assert r.returncode == 1
    assert r.stderr == ("<3>vm-browser-agent: eth0: MTU 1000 is below 1280, too small for IPv6 (give one in "
                        "ip=): Invalid argument\n")
    assert addrs(lan.guest, "eth0", "inet6") == []


def test_link_local_nameserver_on_a_link_without_ipv6_says_so(lan, agent_bin, files):
    """The link's own MTU is below 1280 (no IPv6 on it) and nameserver= is
    link-local: resolv.conf would name fe80::1%eth0, which nothing reaches.
    The failure names the server and the MTU; the IPv4 address and the
    file's other server are applied all the same."""
    lan.guest.run("ip", "link", "set", "eth0", "mtu", "1000")
    r = apply(lan.guest, agent_bin, files, "ip=10.77.0.2::10.77.0.1:24::eth0:off nameserver=fe80::1 "
                                           "nameserver=10.77.0.1")
    assert (r.returncode, r.stderr) == (
        1, "<3>vm-browser-agent: Nameserver fe80::1 is link-local, but eth0: MTU 1000 is below 1280, too small "
           "for IPv6 (give one in ip=): Invalid argument\n")
    assert addrs(lan.guest, "eth0") == [("10.77.0.2", 24)]
    assert "nameserver 10.77.0.1\n" in files["resolv"].read_text()


def test_hostname_without_a_domain_clears_the_old_one(lan, agent_bin, files):
    """A hostname without a domain is the whole name: a domain name set
    before (a restored template's) goes back to the kernel's "(none)"
    rather than stay beside the new hostname."""
    argv = netinit_argv(agent_bin, files, "ip=10.77.0.2::10.77.0.1:24:clone:eth0:off")
    # A shell in the test (never in product code), in a private UTS namespace.
    script = 'domainname old.example.test && "$@" && echo "$(hostname) $(domainname)"'
    r = lan.guest.run("unshare", "--uts", "sh", "-c", script, "sh", *argv, check=False)
    assert (r.returncode, r.stdout) == (0, "clone (none)\n"), r.stderr
    assert files["hosts"].read_text() == "10.77.0.2\tclone # vm-browser-agent netinit\n"
