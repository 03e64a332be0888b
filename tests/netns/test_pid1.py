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
  is what the test sees instead of a machine reboot.
- A bad config file does not stop PID 1: defaults, and /health says why.
- As PID 1 it applies ip= at start (netinit=auto) and /health shows it.
- It never exits on its arguments; without HTTP it keeps running; without
  even its event loop it reboots instead of exiting (a kernel panic).
- systemd.machine_id= on its command line is the machine id its services
  read (machine_id_file, the test's stand-in for /etc/machine-id): written
  in place, or bound over it from runtime_dir when its directory is
  read-only; a malformed value is logged and the image's id stays.  A
  symlink there (root's) is followed: the id goes where it leads.
- A restore's handover's machine id replaces the agent's bind: one of its
  own is left, over a foreign bind that was there before it (untouched),
  and a reader finds the id before or the new one, never another; where
  the agent's bind cannot be unmounted, the new one goes over it.
"""
import contextlib
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from mountwatch import mount_stack, read_at_each_syscall
from netns import DEADLINE_SCALE, Lan, Netns, read_line, wait_until
from seccompwrap import refusing
from svagent import MMDS_SERVER, write_secret_files

PORT = 18100


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="vmba-pid1-", dir="/var/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def service(name, script, depends_on=()):
    return {"name": name, "argv": ["/bin/sh", "-c", script], "depends_on": list(depends_on),
            "restart": "never", "stop_timeout_ms": 3000}


def logs_on_term(name, log):
    # `wait` returns at once on a trapped signal; the trap logs and exits.
    # <log>.<name> appears once the trap is set: a SIGTERM before that
    # would end the shell without a line.
    return f'trap "echo {name} >> {log}; exit 0" TERM; : > {log}.{name}; sleep 1000 & wait'


def start_pid1(ns, agent_bin, workdir, services, *extra, cmdline="console=ttyS0 reboot=k quiet", first=(),
               wrapper=(), find_agent=True, mount_proc=True, prelude=None, **popen):
    services_file = write(os.path.join(workdir, "services.json"), json.dumps({"services": services}))
    cmdline = write(os.path.join(workdir, "cmdline"), cmdline + "\n")
    token_file, desktop_file = write_secret_files(workdir)
    # --uts: as PID 1 the agent sets the hostname from ip=; never the machine's.
    # mount_proc=False: no /proc at all (as in the VM after the initramfs),
    # the agent mounts its own.  prelude: shell commands run in the new
    # namespaces before the agent (mounts that only it sees).
    if not mount_proc:
        prelude = "umount -R -l /proc" + (f" && {prelude}" if prelude else "")
    unshare = ["unshare", "--pid", "--fork", "--mount-proc" if mount_proc else "--mount", "--uts"]
    if prelude:
        unshare += ["sh", "-c", prelude + ' && exec "$0" "$@"']
    argv = [*wrapper, *unshare, agent_bin, *first,
            "--services-file", services_file, "--http-port", str(PORT),
            "--set", f"cmdline_path={cmdline}", "--set", f"token_file={token_file}",
            "--set", f"desktop_secret_file={desktop_file}",
            "--set", f"resolv_conf={workdir}/resolv.conf", "--set", f"hosts_file={workdir}/hosts",
            "--set", f"hostname_file={workdir}/hostname", "--set", f"runtime_dir={workdir}/run",
            # Never the machine's own id: systemd.machine_id= replaces this one.
            "--set", f"machine_id_file={workdir}/etc/machine-id",
            "--set", f"firefox_profile={workdir}/browser/profile", "--set", f"login_home={workdir}/logins",
            *extra]
    unshare = ns.popen(argv, **popen)
    if not find_agent:
        return unshare, None
    children = f"/proc/{unshare.pid}/task/{unshare.pid}/children"
    agent = int(wait_until(lambda: open(children).read().split(), 10, "the agent forked by unshare")[0])
    return unshare, agent


def process_table():
    """{pid: (ppid, state, comm)} of every process visible from here."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(d)] = (int(fields[1]), fields[0], comm)
    return table


def descendants(root):
    table = process_table()
    out, todo = {}, [root]
    while todo:
        p = todo.pop()
        for pid, (ppid, state, comm) in table.items():
            if ppid == p:
                out[pid] = (ppid, state, comm)
                todo.append(pid)
    return out


def health(ns):
    r = ns.run("curl", "-sS", "-m", "5", f"http://127.0.0.1:{PORT}/health", check=False)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout else None


def restore_poke(ns):
    """POST /restore-check, as anyone may: its HTTP status ("202", "404")."""
    return ns.run("curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                  f"http://127.0.0.1:{PORT}/restore-check", check=False).stdout


def stop_pid1(agent, unshare):
    """SIGTERM to the agent as PID 1: it says it stopped, and its
    namespace's unshare exits 0."""
    os.kill(agent, signal.SIGTERM)
    read_line(unshare.stderr, "Stopped; exiting.")
    assert unshare.wait(timeout=30 * DEADLINE_SCALE) == 0


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


def test_reboot_in_pid_namespace(agent_bin, workdir):
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, [])
        wait_until(lambda: health(ns), 10, "/health")
        os.kill(agent, signal.SIGTERM)
        # reboot(RB_AUTOBOOT) from a PID namespace's init: the kernel kills
        # it with SIGHUP; unshare re-raises its child's death signal.
        assert unshare.wait(timeout=30 * DEADLINE_SCALE) == -signal.SIGHUP


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
        assert unshare.wait(timeout=30 * DEADLINE_SCALE) == -signal.SIGHUP


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


IMAGE_ID = "0123456789abcdef0123456789abcdef"


def machine_id_run(agent_bin, workdir, cmdline, prelude=None):
    """Boots the agent with cmdline and an image id in machine_id_file;
    returns (what a service read there, the agent's log up to then)."""
    etc = os.path.join(workdir, "etc")
    os.mkdir(etc)
    write(os.path.join(etc, "machine-id"), IMAGE_ID + "\n")
    os.chmod(os.path.join(etc, "machine-id"), 0o444)
    seen = os.path.join(workdir, "seen")
    services = [service("reader", f"cat {etc}/machine-id > {seen}.tmp; mv {seen}.tmp {seen}; exec sleep 1000")]
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, services, "--no-reboot", cmdline=cmdline,
                                    prelude=prelude, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: os.path.exists(seen), 20, "the reader service's copy")
        os.kill(agent, signal.SIGTERM)
        log = unshare.communicate(timeout=30 * DEADLINE_SCALE)[1]
        assert unshare.returncode == 0 and "Stopped; exiting." in log, log
    with open(seen) as f:
        return f.read(), log


def test_machine_id_from_boot_argument(agent_bin, workdir):
    # A UUID in upper case, as systemd takes it: written as machine-id(5)'s form.
    new = "fedcba98-7654-3210-FEDC-BA9876543210"
    seen, log = machine_id_run(agent_bin, workdir, f"console=ttyS0 systemd.machine_id={new} quiet")
    assert seen == "fedcba9876543210fedcba9876543210\n"
    path = os.path.join(workdir, "etc", "machine-id")
    st = os.stat(path)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o444, 0, 0)
    with open(path) as f:
        assert f.read() == seen  # written in place: the root is writable
    assert f"Machine id from systemd.machine_id= written to {path}." in log


def test_machine_id_read_only_root(agent_bin, workdir):
    # The image's directory read-only in the agent's mount namespace only:
    # the id is bound over the file from runtime_dir there, and the file
    # itself (seen from outside) is untouched.
    etc = os.path.join(workdir, "etc")
    new = "fedcba9876543210fedcba9876543210"
    seen, log = machine_id_run(agent_bin, workdir, f"systemd.machine_id={new}",
                               prelude=f"mount --bind {etc} {etc} && mount -o remount,bind,ro {etc}")
    assert seen == new + "\n"
    with open(os.path.join(etc, "machine-id")) as f:
        assert f.read() == IMAGE_ID + "\n"
    with open(os.path.join(workdir, "run", "machine-id")) as f:
        assert f.read() == new + "\n"
    assert f"Machine id from systemd.machine_id= bound over (read-only root) {etc}/machine-id." in log


def test_machine_id_bound_over_where_a_symlink_leads(agent_bin, workdir):
    """machine_id_file a symlink to the image's id (as the image's
    /var/lib/dbus/machine-id is to /etc/machine-id) on a read-only root:
    the id is bound over the file the symlink leads to, as mount(2) and
    systemd bind one, so a reader of either name finds it, whichever way
    the kernel lets the agent bind (mount(2) before 5.12)."""
    etc, image = os.path.join(workdir, "etc"), os.path.join(workdir, "image")
    new = "fedcba9876543210fedcba9876543210"
    os.mkdir(etc)
    os.mkdir(image)
    target = write(os.path.join(image, "machine-id"), IMAGE_ID + "\n")
    os.chmod(target, 0o444)
    os.symlink(target, os.path.join(etc, "machine-id"))
    seen = os.path.join(workdir, "seen")
    services = [service("reader", f"cat {etc}/machine-id {target} > {seen}.tmp; mv {seen}.tmp {seen}; "
                                  "exec sleep 1000")]
    read_only = " && ".join(f"mount --bind {d} {d} && mount -o remount,bind,ro {d}" for d in (etc, image))
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, services, "--no-reboot",
                                    cmdline=f"systemd.machine_id={new}", prelude=read_only,
                                    stderr=subprocess.PIPE, text=True)
        wait_until(lambda: os.path.exists(seen), 20, "the reader service's copy")
        os.kill(agent, signal.SIGTERM)
        log = unshare.communicate(timeout=30 * DEADLINE_SCALE)[1]
        assert unshare.returncode == 0 and "Stopped; exiting." in log, log
    with open(seen) as f:
        assert f.read() == (new + "\n") * 2, log
    assert os.readlink(os.path.join(etc, "machine-id")) == target
    with open(target) as f:
        assert f.read() == IMAGE_ID + "\n"
    assert f"Machine id from systemd.machine_id= bound over (read-only root) {etc}/machine-id." in log


@pytest.mark.parametrize("links", ["absolute", "chain", "to nothing", "another user's"])
def test_machine_id_written_where_a_symlink_leads(agent_bin, workdir, links):
    """machine_id_file a symlink on a writable root (the image's
    /var/lib/dbus/machine-id -> /etc/machine-id, packaging/mkimage): the
    id is written to the file the link leads to, through a chain of links
    (a relative one read from its own directory), or made where a link to
    nothing leads, and the links stay, so that a reader of either name (a
    service opens it following the link) finds it.  A link another user
    owns is not followed: nothing is written, the link and the image's id
    stay."""
    etc, dbus = os.path.join(workdir, "etc"), os.path.join(workdir, "dbus")
    target, link = os.path.join(etc, "machine-id"), os.path.join(dbus, "machine-id")
    new = "fedcba9876543210fedcba9876543210"
    os.mkdir(etc)
    os.mkdir(dbus)
    if links != "to nothing":
        os.chmod(write(target, IMAGE_ID + "\n"), 0o444)
    if links == "chain":
        os.symlink("../etc/machine-id", os.path.join(dbus, "id"))
        os.symlink(os.path.join(dbus, "id"), link)
    else:
        os.symlink(target, link)
    if links == "another user's":
        os.lchown(link, 65534, 65534)
    seen = os.path.join(workdir, "seen")
    services = [service("reader", f"cat {link} {target} > {seen}.tmp; mv {seen}.tmp {seen}; exec sleep 1000")]
    with Netns() as ns:
        unshare, agent = start_pid1(ns, agent_bin, workdir, services, "--no-reboot", "--set",
                                    f"machine_id_file={link}", cmdline=f"systemd.machine_id={new}",
                                    stderr=subprocess.PIPE, text=True)
        wait_until(lambda: os.path.exists(seen), 20, "the reader service's copy")
        os.kill(agent, signal.SIGTERM)
        log = unshare.communicate(timeout=30 * DEADLINE_SCALE)[1]
        assert unshare.returncode == 0 and "Stopped; exiting." in log, log
    assert os.path.islink(link)
    expected = IMAGE_ID if links == "another user's" else new
    with open(seen) as f:
        assert f.read() == (expected + "\n") * 2, log
    if links == "another user's":
        assert (f"Failed to set the machine id from systemd.machine_id= in {link}, it stays the image's: "
                "Operation not permitted") in log, log
        return
    st = os.stat(target)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o444, 0, 0)
    assert f"Machine id from systemd.machine_id= written to {link}." in log, log


@pytest.mark.parametrize("value, why", [
    ("00000000000000000000000000000000", "all zero, which means no id"),
    ("0123456789abcdef0123456789abcde", "not 32 hex digits or a UUID (8-4-4-4-12)"),
    ("firmware", '"firmware" (systemd\'s SMBIOS product UUID) is not read: pass the id itself'),
])
def test_machine_id_malformed(agent_bin, workdir, value, why):
    seen, log = machine_id_run(agent_bin, workdir, f"console=ttyS0 systemd.machine_id={value}")
    assert seen == IMAGE_ID + "\n"
    with open(os.path.join(workdir, "etc", "machine-id")) as f:
        assert f.read() == IMAGE_ID + "\n"
    assert f"Refused systemd.machine_id={value}: {why}; the machine id stays the image's." in log
    assert "Machine id from" not in log



NEW_TOKEN = "vmba-restored-token-fedcba9876543210"
NEW_DESKTOP = "Restored-desktop-secret-0123456789"


def hand_over(path, obj):
    """The MMDS stand-in's object replaced whole (never seen half-written)."""
    write(path + ".tmp", json.dumps(obj))
    os.replace(path + ".tmp", path)


def read_until(stream, seen, text):
    """Lines of stream added to seen up to one with text.  One deadline for
    all: a restore that fails over and over logs on and on."""
    deadline = time.monotonic() + 20 * DEADLINE_SCALE
    while not seen or text not in seen[-1]:
        assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(seen)
        seen.append(read_line(stream, timeout=20))


def restore_run(agent_bin, workdir, steps, cmdline="console=ttyS0", prelude=None, during=None, sets=(),
                wrapper=()):
    """PID 1 with restores on, an image id in machine_id_file and an MMDS
    stand-in whose object names generation g1 at boot; for each (handover,
    line) of steps, the handover put in place, a poke, and the agent's log
    read up to that line, inside during(ns, agent pid, step's index) when
    given (a context manager: what watches and checks each restore).
    sets: more config keys (key=value); wrapper: start_pid1()'s.
    Returns (the machine id the agent's processes read at the end, the
    log read)."""
    etc = os.path.join(workdir, "etc")
    os.mkdir(etc)
    write(os.path.join(etc, "machine-id"), IMAGE_ID + "\n")
    os.chmod(os.path.join(etc, "machine-id"), 0o444)
    obj, mmds_log = os.path.join(workdir, "mmds.json"), os.path.join(workdir, "mmds.log")
    hand_over(obj, {"generation": "g1"})
    seen = []
    with Netns() as ns:
        mmds = ns.popen([sys.executable, MMDS_SERVER, "127.0.0.1", obj, mmds_log])
        try:
            unshare, agent = start_pid1(ns, agent_bin, workdir, [], "--no-reboot", "--set", "restore=true",
                                        "--set", "mmds=false", "--set", "mmds_address=127.0.0.1",
                                        "--set", "restore_clock=false", "--set", "restore_check_interval_ms=1",
                                        *(a for kv in sets for a in ("--set", kv)), cmdline=cmdline,
                                        prelude=prelude, wrapper=wrapper, stderr=subprocess.PIPE, text=True)
            read_until(unshare.stderr, seen, "Generation g1.")
            for i, (handover, line) in enumerate(steps):
                with during(ns, agent, i) if during else contextlib.nullcontext():
                    hand_over(obj, handover)
                    assert restore_poke(ns) == "202"
                    read_until(unshare.stderr, seen, line)
            # Through the agent's mount namespace: what a CLI it starts reads.
            with open(f"/proc/{agent}/root{etc}/machine-id") as f:
                machine_id = f.read()
            stop_pid1(agent, unshare)
        finally:
            mmds.kill()
            mmds.wait()
    return machine_id, "".join(seen)


def test_restore_sets_the_machine_id(agent_bin, workdir):
    """A clone's handover with a machine_id (a UUID in upper case): written
    in place first, as systemd.machine_id= is at boot.  A later step that
    fails (a device the clone lacks) leaves the agent restoring; the host's
    fixed handover redoes what is left, and the id, found in place, is not
    written again."""
    path = os.path.join(workdir, "etc", "machine-id")
    g2 = {"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP,
          "machine_id": "FEDCBA98-7654-3210-FEDC-BA9876543210"}
    seen, log = restore_run(agent_bin, workdir, [
        ({**g2, "network": "ip=10.77.0.9:::24::eth9:off"}, "Restore incomplete (generation g2)"),
        (g2, "Restore done: generation g2"),
    ])
    assert seen == "fedcba9876543210fedcba9876543210\n"
    st = os.stat(path)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o444, 0, 0)
    with open(path) as f:
        assert f.read() == seen
    # Written once; each later try (the agent's own retries of the failed
    # handover, however many came before the fix, then the fixed one)
    # finds it in place.
    lines = [l[l.index("Restore: "):] for l in log.splitlines()
             if "Restore: machine id" in l or "Restore: network" in l]
    written, already = (f"Restore: machine id from the handover {how} {path}." for how in ("written to", "already in"))
    assert lines[0] == written and lines[1].startswith("Restore: network from the handover failed: "), log
    assert lines[-1] == already and written not in lines[1:], log
    assert all(l == already for l in lines[2::2]) and all(l.startswith("Restore: network") for l in lines[1::2]), log


def test_restore_binds_the_machine_id_on_a_read_only_root(agent_bin, workdir):
    """A read-only root whose id was bound over at boot (systemd.machine_id=
    on the snapshot's command line): the clone's is bound over it from
    runtime_dir, the image's file untouched."""
    etc = os.path.join(workdir, "etc")
    boot, clone = "fedcba9876543210fedcba9876543210", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    seen, log = restore_run(agent_bin, workdir, [
        ({"generation": "g2", "token": NEW_TOKEN, "desktop_secret": NEW_DESKTOP, "machine_id": clone},
         "Restore done: generation g2"),
    ], cmdline=f"systemd.machine_id={boot}", prelude=f"mount --bind {etc} {etc} && mount -o remount,bind,ro {etc}")
    assert seen == clone + "\n"
    with open(os.path.join(etc, "machine-id")) as f:
        assert f.read() == IMAGE_ID + "\n"
    with open(os.path.join(workdir, "run", "machine-id")) as f:
        assert f.read() == clone + "\n"
    assert f"Machine id from systemd.machine_id= bound over (read-only root) {etc}/machine-id." in log
    assert f"Restore: machine id from the handover bound over (read-only root) {etc}/machine-id." in log


FOREIGN_ID = "00112233445566778899aabbccddeeff"
CLONE_IDS = ("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "1e2d3c4b5a69788796a5b4c3d2e1f00f", "2d3c4b5a69788796a5b4c3d2e1f00f1e")


def clone_handovers(ids):
    """For each machine id, a clone's handover (g2, g3, ...; secrets of
    its own each: a reused one is refused) and the line its restore ends
    with."""
    return [({"generation": f"g{n}", "token": f"{NEW_TOKEN}-{n}", "desktop_secret": f"{NEW_DESKTOP}-{n}",
              "machine_id": machine_id}, f"Restore done: generation g{n}") for n, machine_id in enumerate(ids, 2)]


def stack_and_id_after(path, workdir, stacks, ids):
    """For restore_run()'s during: after each restore, the mounts at path
    (mount_stack(): each root below workdir, and whether it is read-only)
    and the id it shows, added to stacks and ids."""
    @contextlib.contextmanager
    def after(ns, agent, i):
        yield
        stacks.append([(root.split(os.path.basename(workdir) + "/", 1)[-1], options.startswith("ro,"))
                       for root, options in mount_stack(agent, path)])
        with open(f"/proc/{agent}/root{path}") as f:
            ids.append(f.read().strip())
    return after


@pytest.mark.parametrize("boot_id", [None, "fedcba9876543210fedcba9876543210"])
def test_restores_replace_the_agents_bind_over_a_foreign_one(agent_bin, workdir, boot_id):
    """machine_id_file under a bind someone else made before the agent
    started (here a file of the test's over the image's): the agent's own
    goes on top of it, at boot (systemd.machine_id=) or at the first
    restore, and each restore replaces the agent's: after each, one bind
    of the agent's over the foreign one, which is left as it was."""
    path = os.path.join(workdir, "etc", "machine-id")
    foreign = write(os.path.join(workdir, "foreign-id"), FOREIGN_ID + "\n")
    stacks, ids = [], []
    _, log = restore_run(agent_bin, workdir, clone_handovers(CLONE_IDS),
                         during=stack_and_id_after(path, workdir, stacks, ids),
                         cmdline=f"systemd.machine_id={boot_id}" if boot_id else "console=ttyS0",
                         prelude=f"mount --bind {foreign} {path}")
    assert stacks == [[("foreign-id", False), ("run/machine-id", True)]] * len(CLONE_IDS)
    assert ids == list(CLONE_IDS)
    with open(foreign) as f:
        assert f.read() == FOREIGN_ID + "\n"
    assert "Failed to rename" not in log, log


def test_restores_bind_over_where_a_symlink_leads(agent_bin, workdir):
    """machine_id_file a symlink to the image's id (as the image's
    /var/lib/dbus/machine-id is to /etc/machine-id) on a read-only root:
    each restore replaces the agent's bind over the file it leads to,
    and one bind of the agent's is left there."""
    etc, dbus = os.path.join(workdir, "etc"), os.path.join(workdir, "dbus")
    os.mkdir(dbus)
    os.symlink(os.path.join(etc, "machine-id"), os.path.join(dbus, "machine-id"))
    stacks, ids = [], []
    read_only = " && ".join(f"mount --bind {d} {d} && mount -o remount,bind,ro {d}" for d in (etc, dbus))
    seen, log = restore_run(agent_bin, workdir, clone_handovers(CLONE_IDS[:2]),
                            during=stack_and_id_after(os.path.join(etc, "machine-id"), workdir, stacks, ids),
                            cmdline=f"systemd.machine_id={FOREIGN_ID}", prelude=read_only,
                            sets=(f"machine_id_file={dbus}/machine-id",))
    assert f"Machine id from systemd.machine_id= bound over (read-only root) {dbus}/machine-id." in log, log
    assert stacks == [[("run/machine-id", True)]] * 2
    assert ids == list(CLONE_IDS[:2])
    assert seen == CLONE_IDS[1] + "\n"
    with open(os.path.join(etc, "machine-id")) as f:
        assert f.read() == IMAGE_ID + "\n"
    assert "Failed to rename" not in log, log


def test_restore_writes_where_a_symlink_leads(agent_bin, workdir):
    """machine_id_file a symlink to the image's id on a writable root (as
    the image's /var/lib/dbus/machine-id is to /etc/machine-id): the boot's
    id (systemd.machine_id=), then a restore's, is written to the file the
    link leads to, and the link stays."""
    etc, dbus = os.path.join(workdir, "etc"), os.path.join(workdir, "dbus")
    link = os.path.join(dbus, "machine-id")
    boot, clone = "fedcba9876543210fedcba9876543210", CLONE_IDS[0]
    os.mkdir(dbus)
    os.symlink(os.path.join(etc, "machine-id"), link)
    seen, log = restore_run(agent_bin, workdir, clone_handovers([clone]), cmdline=f"systemd.machine_id={boot}",
                            sets=(f"machine_id_file={link}",))
    assert f"Machine id from systemd.machine_id= written to {link}." in log, log
    assert f"Restore: machine id from the handover written to {link}." in log, log
    assert seen == clone + "\n"
    assert os.readlink(link) == os.path.join(etc, "machine-id")
    with open(link) as f:
        assert f.read() == clone + "\n"


# move_mount() (429) refusing MOVE_MOUNT_BENEATH (0x200 in its flags) with
# EINVAL, as every kernel before 6.5 does (an unknown flag).
NO_MOUNT_BENEATH = refusing(429, errno.EINVAL, 0x200)
# umount2() (166) refused, as a security module may refuse it.
NO_UMOUNT = refusing(166, errno.EPERM)


def test_restores_where_the_kernel_binds_nothing_beneath(agent_bin, workdir):
    """A kernel before 6.5 (NO_MOUNT_BENEATH; 6.1 is Debian 12's) binds
    nothing beneath the agent's bind: the agent unmounts its bind before
    it binds the next one (path shows what is under it in between), and
    after each restore there is one bind of its own all the same, over
    the foreign one, which is left as it was."""
    if os.uname().machine != "x86_64":
        pytest.skip("NO_MOUNT_BENEATH has x86-64's numbers")
    path = os.path.join(workdir, "etc", "machine-id")
    foreign = write(os.path.join(workdir, "foreign-id"), FOREIGN_ID + "\n")
    stacks, ids = [], []
    _, log = restore_run(agent_bin, workdir, clone_handovers(CLONE_IDS),
                         during=stack_and_id_after(path, workdir, stacks, ids),
                         cmdline="systemd.machine_id=fedcba9876543210fedcba9876543210", sets=("log_level=debug",),
                         prelude=f"mount --bind {foreign} {path}", wrapper=NO_MOUNT_BENEATH)
    assert stacks == [[("foreign-id", False), ("run/machine-id", True)]] * len(CLONE_IDS)
    assert ids == list(CLONE_IDS)
    with open(foreign) as f:
        assert f.read() == FOREIGN_ID + "\n"
    assert log.count(f"Cannot bind the machine id beneath the one bound over {path}, unmounting that first: "
                     "Invalid argument") == len(CLONE_IDS), log
    assert "Failed to rename" not in log, log


@pytest.mark.parametrize("kernel", ["6.5+", "before 6.5"])
def test_restores_where_the_agents_bind_cannot_be_unmounted(agent_bin, workdir, kernel):
    """umount2() refused (NO_UMOUNT, as a security module may): the
    restore's id, bound beneath the agent's bind (6.5+), cannot come up by
    its unmounting, or (before 6.5, NO_MOUNT_BENEATH too) the agent's
    cannot go first; the new one is bound over it, so that after each
    restore the clone's id shows over the binds of the agent's that stay
    (said in a warning), rather than the id from before with an error
    that says otherwise."""
    if os.uname().machine != "x86_64":
        pytest.skip("NO_UMOUNT has x86-64's numbers")
    if kernel == "6.5+" and tuple(int(n) for n in re.findall(r"\d+", os.uname().release)[:2]) < (6, 5):
        pytest.skip("a kernel before 6.5 binds nothing beneath a mount")
    etc = os.path.join(workdir, "etc")
    path = os.path.join(etc, "machine-id")
    stacks, ids = [], []
    seen, log = restore_run(agent_bin, workdir, clone_handovers(CLONE_IDS[:2]),
                            during=stack_and_id_after(path, workdir, stacks, ids),
                            cmdline="systemd.machine_id=fedcba9876543210fedcba9876543210",
                            prelude=f"mount --bind {etc} {etc} && mount -o remount,bind,ro {etc}",
                            wrapper=NO_UMOUNT + (NO_MOUNT_BENEATH if kernel == "before 6.5" else []))
    assert ids == list(CLONE_IDS[:2])
    assert seen == CLONE_IDS[1] + "\n"
    # The boot's bind, the first restore's (beneath it too on 6.5+), then
    # the second's over them all: the first restore's copy could not take
    # runtime_dir/machine-id, a mount point now, so the second binds over
    # it as over a bind not of the agent's (no unmount tried).
    assert [len(stack) for stack in stacks] == ([3, 4] if kernel == "6.5+" else [2, 3]), stacks
    assert all(read_only for stack in stacks for _, read_only in stack), stacks
    why = "two binds of ours stay" if kernel == "6.5+" else "ours stays"
    assert log.count(f"Failed to unmount the machine id bound over {path}, binding the new one over it ({why} "
                     "under it): Operation not permitted") == 1, log
    assert "Restore: failed" not in log, log


@pytest.mark.parametrize("under", ["read-only root", "foreign bind"])
def test_a_reader_sees_the_old_id_then_the_new_one(agent_bin, workdir, under):
    """A reader of machine_id_file while restores replace the agent's bind
    (a read-only root, or a foreign bind under it; the boot's id bound at
    boot): read at each system call of the agent (read_at_each_syscall()),
    it finds the id from before each restore, then the clone's, and never
    one in between (the image's or the foreign bind's)."""
    if tuple(int(n) for n in re.findall(r"\d+", os.uname().release)[:2]) < (6, 5):
        pytest.skip("a kernel before 6.5 binds nothing beneath a mount (the agent unmounts its bind first: "
                    "test_restores_where_the_kernel_binds_nothing_beneath)")
    etc = os.path.join(workdir, "etc")
    path = os.path.join(etc, "machine-id")
    foreign = write(os.path.join(workdir, "foreign-id"), FOREIGN_ID + "\n")
    boot = "fedcba9876543210fedcba9876543210"
    reads = []

    @contextlib.contextmanager
    def watched(ns, agent, i):
        with read_at_each_syscall(agent, path, lambda: health(ns)) as seen:
            yield
        reads.append([text.strip() for text in seen])

    prelude = (f"mount --bind {etc} {etc} && mount -o remount,bind,ro {etc}" if under == "read-only root"
               else f"mount --bind {foreign} {path}")
    restore_run(agent_bin, workdir, clone_handovers(CLONE_IDS[:2]), during=watched,
                cmdline=f"systemd.machine_id={boot}", prelude=prelude)
    assert reads == [[boot, CLONE_IDS[0]], [CLONE_IDS[0], CLONE_IDS[1]]]
