"""The agent as PID 1: run inside `unshare --pid --fork --mount-proc` in a
test network namespace, so it is the init of a fresh PID namespace with a
private mount namespace (its /run and /tmp tmpfs mounts stay there; test
files therefore live under /var/tmp).

- 50 orphaned grandchildren are reparented to it and reaped: no zombie.
- SIGTERM stops the services in reverse dependency order (each logs its
  name to a file when it gets SIGTERM) and, with shutdown_action=exit
  (--no-reboot), the agent exits 0.
- With the default shutdown_action=reboot, reboot(RB_AUTOBOOT) in a PID
  namespace makes the kernel kill the namespace's init with SIGHUP: that
  is what the test sees instead of a machine reboot.  Before it, the root
  (this machine's) is not remounted read-only: only the machine's own
  init does that (the vm tier's test_machine_id_from_boot_argument).
  With reboot() refused it stays up, says so, and answers /health.
- A bad config file does not stop PID 1: defaults, and /health says why.
- As PID 1 it applies ip= at start (netinit=auto) and /health shows it.
- It never exits on its arguments; without HTTP it keeps running; without
  even its event loop it reboots instead of exiting (a kernel panic).
- Its machine id at boot and at a restore: test_pid1_machine_id.py.
"""
import errno
import json
import os
import signal
import subprocess
import sys

import pytest

from netns import DEADLINE_SCALE, Lan, Netns, read_line, wait_until
from pid1run import (NO_REMOUNT_ERRNO, PORT, descendants, health, logs_on_term, pid1_workdir, process_table,
                     restore_poke, service, start_pid1, stop_pid1, write)
from seccompwrap import refusing
from svagent import MMDS_SERVER

REBOOT_NR = 169  # x86-64's reboot(2)


@pytest.fixture
def workdir():
    with pid1_workdir() as d:
        yield d


def test_orphans_reaped_and_reverse_stop(agent_bin, workdir):
    log = os.path.join(workdir, "stop.log")
    fifo = os.path.join(workdir, "fifo")
    os.mkfifo(fifo)
    # Each orphan is a `cat` blocked opening the FIFO; its parent subshell
    # exits at once, so the kernel reparents it to PID 1 — the agent.
    spawner = (f'for i in $(seq 50); do (cat {fifo} >/dev/null &); done; '
               f'echo done > {workdir}/spawned; exec sleep 1000')
    services = [
        service("a", logs_on_term("a", log)),
        service("b", logs_on_term("b", log), ["a"]),
        service("c", logs_on_term("c", log), ["b"]),
        service("orphans", spawner),
    ]
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, services, "--no-reboot")
        wait_until(lambda: os.path.exists(f"{workdir}/spawned"), 20, "the orphans spawned")
        orphans = lambda: [p for p, (pp, st, comm) in descendants(agent).items() if comm == "cat"]
        wait_until(lambda: len(orphans()) == 50, 10, "50 orphans")
        assert all(process_table()[p][0] == agent for p in orphans())

        # Release them all: they exit; PID 1 must reap every one.  A cat is
        # counted from its exec, before it opens the FIFO: one that opens it
        # after a writer came and went waits for the next, so a writer comes
        # until none is left (without blocking: ENXIO while no cat has it open).
        def release():
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
            return not orphans()
        wait_until(release, 10, "the orphans to be reaped")
        assert [p for p, (pp, st, comm) in descendants(agent).items() if st == "Z"] == []
        wait_until(lambda: (health(ns) or {}).get("status") == "ok", 20, "/health ok")
        wait_until(lambda: all(os.path.exists(f"{log}.{n}") for n in "abc"), 10, "the traps set")

        os.kill(agent, signal.SIGTERM)
        assert unshare.wait(timeout=30 * DEADLINE_SCALE) == 0
        with open(log) as f:
            assert f.read().split() == ["c", "b", "a"]


NOT_MACHINE_INIT = "Not the machine's own init (PID 1 of a PID namespace): its file systems are left as they are."


def assert_root_left_alone(err):
    """PID 1 of a PID namespace shares this machine's root: it says it
    leaves it alone and tries no remount (start_pid1()'s filter would
    refuse one, and the agent log the failure with its errno's text)."""
    assert NOT_MACHINE_INIT in err, err[-3000:]
    assert "remount / read-only" not in err and "Remounted /" not in err, err[-3000:]
    assert os.strerror(NO_REMOUNT_ERRNO) not in err, err[-3000:]


def test_reboot_in_pid_namespace(agent_bin, workdir):
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, [], stderr=subprocess.PIPE, text=True)
        wait_until(lambda: health(ns), 10, "/health")
        os.kill(agent, signal.SIGTERM)
        # reboot(RB_AUTOBOOT) from a PID namespace's init: the kernel kills
        # it with SIGHUP; unshare re-raises its child's death signal.
        _, err = unshare.communicate(timeout=30 * DEADLINE_SCALE)
        assert unshare.returncode == -signal.SIGHUP
        assert_root_left_alone(err)


def test_reboot_refused_stays_up(agent_bin, workdir):
    """reboot() refused (a seccomp filter, as a container runtime's may
    be): PID 1 must not exit (a kernel panic); it says what it left the
    root as, and keeps answering /health.  Here, the init of a PID
    namespace, the root is left alone; the machine's own init's remounts
    (read-only, then writable again) are tests/unit/agent/test-pid1.c's."""
    if os.uname().machine != "x86_64":
        pytest.skip("the filter knows x86-64's system call numbers only")
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, [], wrapper=refusing(REBOOT_NR, errno.EPERM),
                                    stderr=subprocess.PIPE, text=True)
        wait_until(lambda: health(ns), 10, "/health")
        os.kill(agent, signal.SIGTERM)
        assert read_line(unshare.stderr, "Not the machine's own init") == f"<6>vm-browser-agent: {NOT_MACHINE_INIT}\n"
        assert read_line(unshare.stderr, "reboot()") == (
            "<3>vm-browser-agent: reboot() failed, staying up with the file systems as they were (not the "
            f"machine's own init): {os.strerror(errno.EPERM)}\n")
        assert health(ns) is not None
        assert unshare.poll() is None
        # Its namespace ends with it.  (unshare cannot pass SIGKILL on: it
        # says "sigprocmask unblock failed" and exits 1.)
        os.kill(agent, signal.SIGKILL)
        unshare.communicate(timeout=30 * DEADLINE_SCALE)


def test_bad_config_falls_back(agent_bin, workdir):
    config = write(os.path.join(workdir, "agent.json"), '{"http_prot": 1}')
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, [], "--config", config, "--no-reboot")
        h = wait_until(lambda: health(ns), 10, "/health")
        assert h["config_error"] == f'{config}: unknown key "http_prot"'
        assert h["status"] == "degraded"
        os.kill(agent, signal.SIGTERM)
        assert unshare.wait(timeout=30 * DEADLINE_SCALE) == 0


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["--version"], ["--dump-config-keys"],
                                  ["--set", "no-equals-sign"], ["--set"]])
def test_pid1_never_exits_on_its_arguments(agent_bin, workdir, args):
    # The kernel hands init the boot arguments it does not know: none of
    # them may end PID 1 (exit = kernel panic), neither a verb meant for a
    # terminal nor a flag it cannot use.
    with Netns() as ns:
        # First, as the kernel would pass them (main.c looks at argv[1]).
        unshare, agent = start_pid1(ns, agent_bin, workdir, [], "--no-reboot", first=args)
        if args == ["--set"]:
            # "--set" alone takes the next word as its value: the services
            # file is lost, and the built-in stack runs: "starting", or
            # "failed" here (this machine has no vmba-browser for its bus).
            h = wait_until(lambda: health(ns), 10, "/health")
            assert "Xvfb" in h["services"] and h["status"] in ("starting", "failed"), h
        else:
            # The rest are ignored: the services file's stack comes up.
            def ok():
                h = health(ns)
                return h if h and h["status"] == "ok" else None
            h = wait_until(ok, 20, "/health ok")
            assert h.get("config_error") is None and "Xvfb" not in h["services"], h
        assert unshare.poll() is None
        os.kill(agent, signal.SIGTERM)
        assert unshare.wait(timeout=30 * DEADLINE_SCALE) == 0


def test_bad_flag_as_pid1_keeps_the_other_flags(agent_bin, workdir):
    # Defaults plus every flag that is valid: here the services file and
    # the port given after the bad one.
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, [], "--no-reboot", first=["--http-port", "99999"])
        h = wait_until(lambda: health(ns), 10, "/health")
        assert h["config_error"] == 'option: key "http_port": expected a port 1-65535'
        assert (h["status"], h["services"]) == ("degraded", {})
        os.kill(agent, signal.SIGTERM)
        assert unshare.wait(timeout=30 * DEADLINE_SCALE) == 0


# The agent says how /proc shows processes, one way or the other, before
# it says it is starting (a line that ends the search either way).
PROC_LINES = ("The services see only their own user's processes in /proc (", "/proc shows every process", " starting as PID 1.")


def test_pid1_without_http_keeps_running(agent_bin, workdir):
    # Too few fds for the HTTP server: PID 1 goes on without it (and without
    # the logins, whose routes need it; registering them crashed the agent).
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, [], "--no-reboot", wrapper=["prlimit", "--nofile=6"],
                                    stderr=subprocess.PIPE, text=True)
        read_line(unshare.stderr, "Failed to start HTTP")
        read_line(unshare.stderr, "HTTP is not serving: logins not set up.")
        stop_pid1(agent, unshare)


def test_pid1_restore_without_the_hosts_secrets(agent_bin, workdir):
    """The host's token file cannot be read (a directory): PID 1 goes on
    without the host's secrets, with snapshot restores off, and says so.
    A restore would have installed the clone's secrets into none (a NULL
    dereference: in a VM, PID 1 crashing is a kernel panic)."""
    obj, log = os.path.join(workdir, "mmds.json"), os.path.join(workdir, "mmds.log")
    write(obj, json.dumps({"generation": "g1", "token": "tok-from-mmds-0123456789",
                           "desktop_secret": "desk-from-mmds-0123456789"}))
    token_dir = os.path.join(workdir, "token-dir")
    os.mkdir(token_dir)
    with Netns() as ns:
        mmds = ns.popen([sys.executable, MMDS_SERVER, "127.0.0.1", obj, log])
        try:
            unshare, agent = start_pid1(ns, agent_bin, workdir, [], "--no-reboot", "--set", f"token_file={token_dir}",
                                        "--set", "restore=true", "--set", "mmds=false",
                                        "--set", "mmds_address=127.0.0.1", "--set", "restore_clock=false",
                                        stderr=subprocess.PIPE, text=True)
            read_line(unshare.stderr, "Failed to set up the host's secrets")
            read_line(unshare.stderr, "Snapshot restores are off: the host's secrets were not set up (see above).")
            wait_until(lambda: health(ns), 20, "/health answered")
            # No restore route: a poke (anyone's) finds nothing to trigger.
            assert restore_poke(ns) == "404"
            assert health(ns)
            stop_pid1(agent, unshare)
        finally:
            mmds.kill()
            mmds.wait()


def test_pid1_without_event_loop_reboots(agent_bin, workdir):
    # Too few fds for even the signal sources: exiting would be a kernel
    # panic; PID 1 reboots instead (in a PID namespace: SIGHUP, see above).
    with Netns() as ns:
        # The agent may be gone before anyone could look for its pid: only
        # its output and unshare's exit are watched.
        unshare, _ = start_pid1(ns, agent_bin, workdir, [], wrapper=["prlimit", "--nofile=4"],
                                find_agent=False, stderr=subprocess.PIPE, text=True)
        read_line(unshare.stderr, "Failed to watch signals")
        read_line(unshare.stderr, "Cannot run as PID 1; reboot.")
        _, err = unshare.communicate(timeout=30 * DEADLINE_SCALE)
        assert unshare.returncode == -signal.SIGHUP
        assert_root_left_alone(err)


def test_pid1_mounts_proc_hiding_other_users(agent_bin, workdir):
    """Without a /proc, PID 1 mounts one with hidepid=invisible: a service
    of another user sees neither PID 1 nor root's service, nor their
    command lines, only its own processes; the agent (root) still reaps
    and stops them all.  With /proc already mounted by someone else (every
    other test here), the agent says that everyone sees everything."""
    seen = os.path.join(workdir, "seen")
    root_marker = os.path.join(workdir, "root-service")
    peek = (f'echo $$ > {seen}.pid; ls /proc | grep -x "[0-9]*" > {seen}.tmp; '
            f'cat /proc/1/cmdline > {seen}.cmdline 2>/dev/null; echo $? > {seen}.cat; '
            f'mv {seen}.tmp {seen}; exec sleep 1000')
    services = [service("root-sleeper", f'echo $$ > {root_marker}; exec sleep 1000'),
                {**service("peek", peek, ["root-sleeper"]), "user": "nobody"}]
    os.chmod(workdir, 0o777)  # nobody writes its findings here
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, services, "--no-reboot", mount_proc=False,
                                    stderr=subprocess.PIPE, text=True)
        line = read_line(unshare.stderr, PROC_LINES)
        assert "The services see only their own user's processes in /proc (" in line and "hidepid=invisible" in line, line
        wait_until(lambda: os.path.exists(seen), 20, "the peek service's findings")
        with open(f"{seen}.pid") as f:
            own = f.read().strip()
        with open(seen) as f:
            pids = f.read().split()
        with open(f"{seen}.cat") as f:
            assert f.read().strip() != "0"
        with open(root_marker) as f:
            root_pid = f.read().strip()
        # Inside its PID namespace: the shell itself and its ls are nobody's.
        assert own in pids and "1" not in pids and root_pid not in pids, (own, root_pid, pids)
        assert os.path.getsize(f"{seen}.cmdline") == 0
        stop_pid1(agent, unshare)

    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, [], "--no-reboot", stderr=subprocess.PIPE, text=True)
        line = read_line(unshare.stderr, PROC_LINES)
        assert "/proc shows every process and its command line to every user (" in line, line
        stop_pid1(agent, unshare)


def test_bad_config_exits_when_not_pid1(agent_bin, workdir):
    config = write(os.path.join(workdir, "agent.json"), '{"http_port": "x"}')
    with Netns() as ns:
        r = ns.run(agent_bin, "run", "--config", config, check=False)
        assert r.returncode == 2
        assert r.stderr.strip().splitlines()[-1] == (
            f'<3>vm-browser-agent: Bad configuration: {config}: key "http_port": '
            'expected a port 1-65535, got a string')


def test_netinit_at_start(agent_bin, workdir):
    ip = "ip=10.77.0.2::10.77.0.1:255.255.255.0:vm1.example.test:eth0:off:10.77.0.1"
    with Lan() as lan:
        unshare, agent = start_pid1(lan.guest, agent_bin, workdir, [], "--no-reboot",
                                    cmdline=f"console=ttyS0 {ip} quiet")
        h = wait_until(lambda: health(lan.guest), 20, "/health")
        assert h["network"]["status"] == "applied"
        assert h["network"]["device"] == "eth0"
        assert h["network"]["address"] == "10.77.0.2"
        assert h["network"]["gateway"] == "10.77.0.1"
        assert h["boot"]["network_ms"] <= h["boot"]["http_ms"]
        addrs = lan.guest.ip_json("-4", "addr", "show", "dev", "eth0")
        assert [(a["local"], a["prefixlen"]) for a in addrs[0]["addr_info"]] == [("10.77.0.2", 24)]
        # The hostname went to the agent's own UTS namespace and the redirected file.
        r = subprocess.run(["nsenter", "-t", str(agent), "-u", "hostname"], capture_output=True, text=True)
        assert r.stdout.strip() == "vm1"
        with open(f"{workdir}/hostname") as f:
            assert f.read() == "vm1\n"
        # The host side reaches the agent over the veth.
        r = lan.host.run("curl", "-sS", "-m", "5", f"http://10.77.0.2:{PORT}/health")
        assert json.loads(r.stdout)["network"]["address"] == "10.77.0.2"
        os.kill(agent, signal.SIGTERM)
        assert unshare.wait(timeout=30 * DEADLINE_SCALE) == 0


def test_netinit_failure_at_start_names_its_cause(agent_bin, workdir):
    """A refused default route (on-link via another device's address,
    which the kernel refuses): /health's network error says what failed
    and why, and the hostname, which does not depend on the route, is
    still set and written."""
    ip = "ip=10.77.0.2::10.99.0.1:255.255.255.0:vm1.example.test:eth0:off:10.77.0.1"
    with Lan() as lan:
        lan.guest.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "peer1")
        lan.guest.run("ip", "addr", "add", "10.99.0.1/24", "dev", "eth1")
        unshare, agent = start_pid1(lan.guest, agent_bin, workdir, [], "--no-reboot",
                                    cmdline=f"console=ttyS0 {ip} quiet")
        h = wait_until(lambda: health(lan.guest), 20, "/health")
        assert h["network"]["status"] == "failed"
        assert h["network"]["error"] == ("Failed to add default route via 10.99.0.1 (on-link) on eth0 "
                                         "(address 10.77.0.2): Invalid argument")
        r = subprocess.run(["nsenter", "-t", str(agent), "-u", "hostname"], capture_output=True, text=True)
        assert r.stdout.strip() == "vm1"
        with open(f"{workdir}/hostname") as f:
            assert f.read() == "vm1\n"
        os.kill(agent, signal.SIGTERM)
        assert unshare.wait(timeout=30 * DEADLINE_SCALE) == 0


def test_stray_process_killed(agent_bin, workdir):
    """A process outside every service's group that ignores SIGTERM: after
    the services stop, PID 1 sends SIGTERM to everything left, then SIGKILL
    once the grace period ends, reaps it, and only then exits."""
    stray = (f'setsid /bin/sh -c \'trap "" TERM; echo $$ > {workdir}/stray; exec sleep 1000\' & '
             'exec sleep 1000')
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, [service("spawner", stray)], "--no-reboot",
                                    stderr=subprocess.PIPE, text=True)
        wait_until(lambda: os.path.exists(f"{workdir}/stray") and open(f"{workdir}/stray").read().strip(),
                   10, "the stray process")
        os.kill(agent, signal.SIGTERM)
        _, err = unshare.communicate(timeout=30 * DEADLINE_SCALE)
        assert unshare.returncode == 0
        lines = [line.split(": ", 1)[1] for line in err.splitlines() if ": " in line]
        i = lines.index("Sending SIGTERM to remaining processes.")
        assert lines[i + 1] == "Sending SIGKILL to remaining processes."
        assert lines[-1] == "Stopped; exiting."
        # The init of a PID namespace a test made: the cgroup it is in is
        # the test's, not the agent's to fill (the stray would go with its
        # service there, before this sweep).
        assert [l for l in lines if l.startswith("Services get ")] == [
            "Services get no cgroups, only their process groups are killed: "
            "PID 1 of a PID namespace without a cgroup namespace of its own."]


def test_bad_config_keeps_token(agent_bin, workdir):
    """vmba.token= read before a bad vmba.* word survives the fallback to
    defaults: the control routes stay closed to callers without it."""
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, [], "--no-reboot",
                                    cmdline="quiet vmba.token=t0k-abc vmba.bogus=1")
        h = wait_until(lambda: health(ns), 10, "/health")
        assert h["config_error"] == 'kernel command line: unknown key "vmba.bogus"'
        assert "t0k-abc" not in json.dumps(h)
        url = f"http://127.0.0.1:{PORT}/shutdown"
        r = ns.run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", url)
        assert r.stdout == "401"
        r = ns.run("curl", "-s", "-X", "POST", "-H", "Authorization: Bearer t0k-abc", url)
        assert json.loads(r.stdout) == {"status": "stopping"}
        assert unshare.wait(timeout=30 * DEADLINE_SCALE) == 0
