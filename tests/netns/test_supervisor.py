"""The supervisor with services from a services_file (small shell and
Python programs), the real agent in a fresh network namespace:

- a service that always exits goes `failed` after its start budget, with
  its last exit and why, while /health keeps answering and others run,
  and /health, /metrics and one log line say when it is tried again;
- a service failed over its budget is started again after the recovery
  delay, once what failed it went away, and its dependents (waiting
  meanwhile) come back after it, in order;
- a missing binary is `failed` with "not found", not fatal, not retried;
- a service that ended for good (its policy does not restart it) makes
  /health `failed`, not `starting` for ever;
- when a dependency restarts, its dependents stop and start again only
  after it is ready again;
- a service is killed as a process group: what it forked goes with it;
- what a service started in a session of its own does not outlive the
  agent's stop, and, with a cgroup for each service, not its service's
  exit either; without cgroups the log says once why;
- a service that ignores SIGTERM is SIGKILLed after its stop timeout;
- a start that never becomes ready is killed after the ready timeout and
  counted against the budget; a wrong banner never passes the probe;
- children's output is logged line by line as "<service>: <line>", rate
  limited with an exact count of what was suppressed;
- a service's env overrides the agent's, and systemd's variables meant
  for the agent (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*) are not passed on;
- the services have an IPC namespace of their own where the SysV shared
  memory of a service killed with SIGKILL is destroyed with it;
- with a cgroup for each service, /metrics gives its CPU seconds (all it
  started included), summed over its runs, a restart included; without
  cgroups no seconds, and each run counted as one whose time is unknown.
"""
import errno
import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from cgroups import cgroup_procs, cgroup_view
from netns import DEADLINE_SCALE, wait_until
from svagent import Agent, assert_retried_in_order, pids_with_argv

FAST = ("restart_burst=3", "restart_window_s=60", "backoff_initial_ms=10", "backoff_max_ms=40")


def sh(name, script, **kw):
    return {"name": name, "argv": ["/bin/sh", "-c", script], **kw}


# Markers in the sleeps' arguments, unique to this test process: another
# run of these tests on the same machine (a second clone) sees the same
# /proc, and its sleeps must not pass for ours.
RUN = os.getpid()


def pids_with_arg(arg):
    """Processes whose command line contains arg (our marker)."""
    return pids_with_argv(lambda argv: any(arg in a for a in argv))


def test_always_exiting_service_fails_after_budget(agent_bin):
    services = [sh("steady", "exec sleep 1000"), sh("crasher", "echo crashing; exit 3")]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_state("crasher", "failed")
        s = a.services()
        assert s["crasher"]["restarts"] == 2  # 3 starts = the burst
        assert s["crasher"]["last_exit"] == "exited 3"
        assert s["crasher"]["last_error"] == "exited 3; gave up after 3 starts in 60 s"
        assert s["crasher"]["pid"] is None
        # Tried again after failed_retry_s (300 s by default), not now.
        assert 0 < s["crasher"]["retry_in_ms"] <= 300_000
        assert s["steady"]["retry_in_ms"] is None
        assert s["steady"]["state"] == "ready"
        assert a.health()["status"] == "failed"
        status, body = a.get("/health/ready")
        assert status == 503 and b"crasher: failed" in body
        assert a.alive()
        # Output is read at idle priority: it may trail the exit a little.
        wait_until(lambda: len(a.log_lines("crasher: crashing")) == 3, 5, "three starts' output")
        assert len(a.log_lines("Service crasher: restarting in")) == 2
        assert len(a.log_lines("Service crasher failed: exited 3; gave up after 3 starts in 60 s; "
                               "trying again in 300 s")) == 1
        status, body = a.get("/metrics")
        retry = [l for l in body.decode().splitlines() if l.startswith("vmba_service_retry_seconds{")]
        assert len(retry) == 1 and retry[0].startswith('vmba_service_retry_seconds{service="crasher"} '), retry
        assert 0 < float(retry[0].split()[1]) <= 300


def test_failed_service_retried_with_dependents(agent_bin, tmp_path):
    """What failed it (a file in its way here; memory pressure, a squatted
    /tmp file in a VM) goes away while it is failed: the retry after
    failed_retry_s brings it back, with a fresh budget, and its dependents
    after it, as after any restart.  Waited for by the long poll of
    /health/ready, and read from the log, not timed."""
    block = tmp_path / "block"
    # Ready (a line on fd 3) only when it really runs, as Xvfb's -displayfd.
    services = [sh("base", f"test -e {block} && exit 3; echo up >&3; exec sleep 1021.{RUN}",
                   probe={"type": "fd-line"}),
                sh("mid", f"exec sleep 1022.{RUN}", depends_on=["base"]),
                sh("top", f"exec sleep 1023.{RUN}", depends_on=["mid"])]
    with Agent(agent_bin, *FAST, "failed_retry_s=1", services=services) as a:
        a.wait_ready()
        mark = len(a.log_text().splitlines())
        block.write_text("")
        os.kill(a.services()["base"]["pid"], signal.SIGKILL)
        wait_until(lambda: a.log_lines("Service base failed: exited 3 before ready; gave up after 3 starts in 60 s; "
                                       "trying again in 1 s"), 15, "base failed, with a retry to come")
        block.unlink()
        wait = int(min(300, 30 * DEADLINE_SCALE))
        status, body = a.get(f"/health/ready?wait={wait}", timeout=wait + 10)
        assert status == 200, body

        after = a.service_lines(since=mark)
        assert "mid stopped (killed by SIGTERM)." in after and "top stopped (killed by SIGTERM)." in after
        # While base was failed its dependents waited; after the retry
        # that worked, each started once the one below was ready.
        assert_retried_in_order(after, ["base", "mid", "top"], 1)
        s = a.services()
        assert s["base"]["last_error"] is None and s["base"]["retry_in_ms"] is None
        assert a.health()["status"] == "ok"


def test_missing_binary(agent_bin):
    services = [sh("steady", "exec sleep 1000"),
                {"name": "ghost", "argv": ["vmba-no-such-binary", "--flag"]}]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_state("ghost", "failed")
        a.wait_state("steady", "ready")
        s = a.services()
        assert s["ghost"]["last_error"] == "vmba-no-such-binary: not found"
        assert s["ghost"]["restarts"] == 0  # not retried: it cannot appear by itself
        assert s["ghost"]["retry_in_ms"] is None
        assert a.log_lines("Service ghost failed: vmba-no-such-binary: not found")
        assert not a.log_lines("trying again")
        assert a.alive()


def test_chain_service_that_ended_fails_health(agent_bin):
    """A chain service that exited and whose policy does not restart it
    (never; on-failure after an exit 0) is not coming back by itself:
    /health says failed and why, not "starting" for ever."""
    services = [sh("steady", "exec sleep 1000"),
                sh("oneshot", "exit 4", restart="never"),
                sh("done", "exit 0", restart="on-failure")]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_state("oneshot", "inactive")
        a.wait_state("done", "inactive")
        a.wait_state("steady", "ready")
        s = a.services()
        assert s["oneshot"]["last_exit"] == "exited 4" and s["done"]["last_exit"] == "exited 0"
        assert s["oneshot"]["retry_in_ms"] is None
        assert a.health()["status"] == "failed"
        status, body = a.get("/health/ready")
        assert status == 503 and b"oneshot: inactive (exited 4" in body, body
        assert a.alive()


def test_dependents_restart_after_dependency_is_ready(agent_bin):
    services = [sh("base", "exec sleep 1001"),
                sh("mid", "exec sleep 1002", depends_on=["base"]),
                sh("top", "exec sleep 1003", depends_on=["mid"])]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_ready()
        old = {n: v["pid"] for n, v in a.services().items()}
        mark = len(a.log_text().splitlines())
        os.kill(old["base"], signal.SIGKILL)
        wait_until(lambda: all(v["state"] == "ready" and v["pid"] != old[n]
                               for n, v in a.try_services().items()) if a.try_services() else False,
                   15, "all three restarted")
        after = a.log_text().splitlines()[mark:]
        events = [l.split("Service ")[1].rstrip(".") for l in after if "Service " in l]
        events = [" ".join(e.split()[:2]) for e in events]
        # The dependents stop, then each starts only once the one below is
        # ready again.
        assert "mid stopped" in events and "top stopped" in events
        order = [e for e in events if e.split()[1] in ("started", "ready")]
        assert order == ["base started", "base ready", "mid started", "mid ready",
                         "top started", "top ready"], events
        s = a.services()
        assert [s[n]["restarts"] for n in ("base", "mid", "top")] == [1, 1, 1]


def test_process_group_killed_with_its_leader(agent_bin):
    marker = f"1004.{RUN}"
    services = [sh("forker", f"sleep {marker} & exit 7", restart="never")]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_state("forker", "inactive")
        assert a.services()["forker"]["last_exit"] == "exited 7"
        wait_until(lambda: not pids_with_arg(marker), 5, "the forked sleep to be killed")


def test_unprivileged_services_gain_no_privileges(agent_bin):
    """A service that runs as a user of its own (the display chain, or an
    operator's) has no_new_privs: a setuid binary it runs (su, mount,
    passwd in the image) gives it nothing.  A root service is the
    operator's to run as they like."""
    script = "grep NoNewPrivs /proc/self/status; exec sleep {}"
    services = [{**sh("unpriv", script.format(f"1011.{RUN}")), "user": "nobody"},
                sh("rooted", script.format(f"1012.{RUN}"))]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_ready()
        wait_until(lambda: len(a.log_lines("NoNewPrivs:")) == 2, 10, "both services' status lines")
        seen = sorted(re.search(r"(\w+): NoNewPrivs:\s*(\d)$", l).groups() for l in a.log_lines("NoNewPrivs:"))
        assert seen == [("rooted", "0"), ("unpriv", "1")]


def sleeping(marker):
    """Processes that are `sleep <marker>` itself (their comm is sleep), not
    a shell whose command line merely mentions the marker."""
    out = []
    for pid in pids_with_arg(marker):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "sleep":
                    out.append(pid)
        except OSError:
            pass
    return out


def test_stop_timeout_then_sigkill(agent_bin):
    marker = f"1005.{RUN}"
    # Ignored signals stay ignored across exec: the sleep ignores TERM too.
    # The shell execs the sleep only after the trap is set, so once the
    # service's own process is the sleep, SIGTERM is ignored for sure.
    services = [sh("stubborn", f"trap '' TERM; exec sleep {marker}", stop_timeout_ms=300)]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_ready()
        # Ready means spawned (no probe): wait for the trap to be set.
        pid = a.services()["stubborn"]["pid"]
        wait_until(lambda: pid in sleeping(marker), 5, "the sleep")
        assert a.stop() == 0
        log = a.log_text()
        assert "Service stubborn did not stop in time, killing its process group." in log
        assert "Service stubborn stopped (killed by SIGKILL)." in log
        assert not pids_with_arg(marker)


def test_escaped_processes_killed_at_shutdown(agent_bin):
    """What a service started in a session of its own (setsid: out of the
    group its leader's exit kills) is the agent's once orphaned (it is a
    subreaper), and does not outlive the agent's stop: signalled with
    everything else left after the services stopped, and waited for."""
    marker = f"1013.{RUN}"
    # The shell's background child is no group leader: setsid(1) makes
    # the session in it, without a fork, and execs the sleep.
    services = [sh("escaper", f"setsid sleep {marker} & exec sleep 1014.{RUN}")]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_ready()
        wait_until(lambda: sleeping(marker), 10, "the escaped sleep")
        (pid,) = sleeping(marker)
        assert os.getsid(pid) == pid
        assert a.stop() == 0
        assert not sleeping(marker)
        # Without cgroup_root no cgroup is the agent's here: said once, with why.
        assert len(a.log_lines("Services get no cgroups, only their process groups are killed: ")) == 1


def test_escaped_process_killed_with_its_service(agent_bin, cgroup_root, tmp_path):
    """With cgroup_root, each service runs in a cgroup of its own from
    before its exec: what it started in a session of its own (setsid: out
    of the process group its leader's exit kills) is killed once its main
    process exits, while the agent runs on, the log says how many, and the
    agent removes the cgroup it made."""
    marker = f"1015.{RUN}"
    go = tmp_path / "go"
    os.mkfifo(go)
    # setsid(1) makes the session in the shell's background child (no
    # group leader) and execs the sleep; the shell exits 7 once the test
    # opens the FIFO.
    services = [sh("escaper", f"setsid sleep {marker} & read x < {go}; exit 7", restart="never"),
                sh("steady", f"exec sleep 1016.{RUN}")]
    cg = os.path.join(cgroup_root, "escaper.service")
    wrap, agent_root = cgroup_view(tmp_path, cgroup_root)
    with Agent(agent_bin, *FAST, f"cgroup_root={agent_root}", services=services, wrap=wrap) as a:
        a.wait_ready()
        assert len(a.log_lines(f"Services get cgroups of their own in {agent_root}.")) == 1
        shell = a.services()["escaper"]["pid"]
        (pid,) = wait_until(lambda: sleeping(marker), 10, "the escaped sleep")
        assert os.getsid(pid) == pid
        assert sorted(cgroup_procs(cg)) == sorted([shell, pid])
        # Ends the shell's read: opened once the shell reads (no reader yet: ENXIO).
        fd = wait_until(lambda: open_writer(go), 10, "the shell to read the FIFO")
        os.close(fd)
        a.wait_state("escaper", "inactive")
        assert a.services()["escaper"]["last_exit"] == "exited 7"
        wait_until(lambda: not sleeping(marker), 5, "the escaped sleep to be killed")
        assert a.log_lines("Service escaper: killed 1 process left in its cgroup.")
        wait_until(lambda: not os.path.exists(cg), 5, "the service's cgroup to be removed")
        assert a.services()["steady"]["state"] == "ready"
        assert os.path.isdir(os.path.join(cgroup_root, "steady.service"))
        assert a.stop() == 0
    # Nothing left: no service's cgroup, the agent's own stays where it was.
    assert [d for d in os.listdir(cgroup_root) if os.path.isdir(os.path.join(cgroup_root, d))] == []


def test_cgroup_of_a_spawn_that_failed_removed(agent_bin, cgroup_root, tmp_path):
    """A service whose spawn fails after its cgroup was made (its binary
    is missing: found only by the spawn) leaves no empty cgroup behind
    for the rest of the agent's life: nothing will run there."""
    services = [sh("steady", f"exec sleep 1017.{RUN}"),
                {"name": "ghost", "argv": ["vmba-no-such-binary"]}]
    wrap, agent_root = cgroup_view(tmp_path, cgroup_root)
    with Agent(agent_bin, *FAST, f"cgroup_root={agent_root}", services=services, wrap=wrap) as a:
        a.wait_state("ghost", "failed")
        a.wait_state("steady", "ready")
        assert os.path.isdir(os.path.join(cgroup_root, "steady.service"))
        assert not os.path.exists(os.path.join(cgroup_root, "ghost.service"))
        assert a.stop() == 0


def test_group_members_not_counted_as_left_in_the_cgroup(agent_bin, cgroup_root, tmp_path):
    """What the process group's SIGKILL hit when the main process exited
    (256 sleeps in its group here, as Firefox's content processes after a
    crash) is not counted as left in the cgroup, though some may not
    have exited yet when the cgroup is read: the log counts only the one
    that left the group (setsid), and all are gone."""
    crowd, escaped = f"1018.{RUN}", f"1019.{RUN}"
    go = tmp_path / "go"
    os.mkfifo(go)
    script = (f"i=0; while [ $i -lt 256 ]; do sleep {crowd} & i=$((i+1)); done; "
              f"setsid sleep {escaped} & read x < {go}; exit 7")
    services = [sh("crowd", script, restart="never")]
    wrap, agent_root = cgroup_view(tmp_path, cgroup_root)
    with Agent(agent_bin, *FAST, f"cgroup_root={agent_root}", services=services, wrap=wrap) as a:
        a.wait_ready()
        wait_until(lambda: len(sleeping(crowd)) == 256 and sleeping(escaped), 10, "the sleeps")
        fd = wait_until(lambda: open_writer(go), 10, "the shell to read the FIFO")
        os.close(fd)
        a.wait_state("crowd", "inactive")
        wait_until(lambda: not sleeping(crowd) and not sleeping(escaped), 5, "the sleeps to be killed")
        killed = a.log_lines("Service crowd: killed ")
        assert len(killed) == 1 and killed[0].endswith("Service crowd: killed 1 process left in its cgroup."), killed
        assert a.stop() == 0


def test_ready_timeout_counts_the_cpu_of_the_whole_cgroup(agent_bin, cgroup_root, tmp_path):
    """A start whose main process waits while what it started works (a
    wrapper shell here; Firefox's content processes) is busy by its
    cgroup's CPU time: its ready timeout is extended until the worker is
    ready.  By the main process's CPU alone it sat idle, and every start
    was stopped at its first period."""
    worker = ("import os, time\n"
              "while time.process_time() < 1.5: pass\n"
              "os.write(3, b'ready\\n')\n"
              "time.sleep(1000)")
    services = [{"name": "wrapper", "argv": ["/bin/sh", "-c", '/usr/bin/python3 -c "$1"; exit 5', "sh", worker],
                 "ready_timeout_ms": 500, "probe": {"type": "fd-line"}}]
    wrap, agent_root = cgroup_view(tmp_path, cgroup_root)
    with Agent(agent_bin, "restart_burst=0", "backoff_initial_ms=10", "backoff_max_ms=40",
               f"cgroup_root={agent_root}", services=services, wrap=wrap) as a:
        a.wait_state("wrapper", "ready", timeout=60)
        assert a.log_lines("Service wrapper: not ready after 500 ms but busy")
        assert a.stop() == 0


# A bounded amount of work (not time), then its own CPU time in µs (a
# lower bound of its cgroup's: the cgroup counts every process, each to
# the nanosecond), then ready (fd-line), then idle until killed.
BURNER = ("import os, signal\n"
          "n = 0\n"
          "for i in range(3_000_000): n += i\n"
          "t = os.times()\n"
          "print(f'burned {round((t.user + t.system) * 1e6)} us', flush=True)\n"
          "os.write(3, b'ready\\n')\n"
          "while True: signal.pause()")


def service_cpu(a, name):
    """/metrics' CPU seconds of service name in µs (None: no sample), and
    its runs whose CPU time is unknown."""
    status, body = a.get("/metrics")
    assert status == 200, body
    lines = body.decode().splitlines()
    seconds = [l.split()[1] for l in lines if l.startswith(f'vmba_service_cpu_seconds_total{{service="{name}"}} ')]
    unknown = [l.split()[1] for l in lines if l.startswith(f'vmba_service_cpu_unknown_total{{service="{name}"}} ')]
    assert len(seconds) <= 1 and len(unknown) == 1, body
    assert all(re.fullmatch(r"\d+\.\d{6}", v) for v in seconds), seconds
    return (int(seconds[0].replace(".", "")) if seconds else None), int(unknown[0])


def burned(a, n):
    """The CPU times the burner's first n runs said they used, in µs."""
    lines = wait_until(lambda: (l := a.log_lines("burner: burned ")) and len(l) >= n and l, 30,
                       f"{n} burns logged")
    return [int(re.search(r"burned (\d+) us", l).group(1)) for l in lines[:n]]


@pytest.mark.parametrize("cgroups", [True, False])
def test_service_cpu_counted_over_its_restarts(request, agent_bin, tmp_path, cgroups):
    """A service whose worker (a child of its shell) burns a bounded
    amount of CPU before it is ready: /metrics gives the service's CPU
    seconds, at least what the worker says it used, and after the service
    is killed and started again, at least that much more: the ended run's
    time is kept (read as its cgroup went), the new run's added.  Without
    cgroups no seconds at all (no 0 that would read as idle), and each
    run is counted as one whose time is unknown."""
    services = [{"name": "burner", "argv": ["/bin/sh", "-c", '/usr/bin/python3 -c "$1"; exit 5', "sh", BURNER],
                 "ready_timeout_ms": 60000, "probe": {"type": "fd-line"}}]
    sets, wrap = (), ()
    if cgroups:
        wrap, agent_root = cgroup_view(tmp_path, request.getfixturevalue("cgroup_root"))
        sets = (f"cgroup_root={agent_root}",)
    with Agent(agent_bin, *FAST, *sets, services=services, wrap=wrap) as a:
        a.wait_state("burner", "ready", timeout=60)
        (first,) = burned(a, 1)
        usec1, unknown1 = service_cpu(a, "burner")
        os.kill(a.services()["burner"]["pid"], signal.SIGKILL)
        wait_until(lambda: a.try_services().get("burner", {}).get("restarts") == 1, 30, "burner restarted")
        a.wait_state("burner", "ready", timeout=60)
        _, second = burned(a, 2)
        usec2, unknown2 = service_cpu(a, "burner")
        if cgroups:
            assert (unknown1, unknown2) == (0, 0)
            assert first > 0 and usec1 >= first, (usec1, first)
            assert usec2 >= usec1 + second, (usec1, usec2, second)
        else:
            assert (usec1, unknown1, usec2, unknown2) == (None, 1, None, 2)
        assert a.stop() == 0


def open_writer(path):
    """A write end of the FIFO at path once a reader has it open, else None."""
    try:
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENXIO:
            return None
        raise


def test_ready_timeout_and_wrong_banner(agent_bin):
    # Something answers on the port, but not with the expected banner.
    server = ("import socket; s=socket.socket(); "
              "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
              "s.bind(('127.0.0.1', 17999)); s.listen()\n"
              "while True:\n c, _ = s.accept(); c.sendall(b'SSH-2.0-test\\r\\n'); c.close()")
    # Long enough for the imposter to answer a probe on a loaded machine:
    # the error names the last answer.
    ms = int(500 * DEADLINE_SCALE)
    services = [
        # Ready once it answers, so every probe of vnc gets its banner.
        {"name": "imposter", "argv": [sys.executable, "-c", server],
         "probe": {"type": "tcp-banner", "port": 17999, "expect": "SSH-"}},
        {"name": "vnc", "argv": ["sleep", "1006"], "depends_on": ["imposter"], "ready_timeout_ms": ms,
         "probe": {"type": "tcp-banner", "port": 17999, "expect": "RFB "}},
    ]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_state("vnc", "failed")
        s = a.services()
        assert s["vnc"]["restarts"] == 2
        assert s["vnc"]["last_error"] == (f"not ready after {ms} ms: unexpected answer 'SSH-2.0-test'; "
                                          "gave up after 3 starts in 60 s")
        assert a.log_lines(f"Service vnc: not ready after {ms} ms: unexpected answer 'SSH-2.0-test'")
        assert s["imposter"]["state"] == "ready"


def test_http_probe(agent_bin):
    services = [{"name": "web", "argv": [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "17998"],
                 "cwd": "/", "probe": {"type": "http", "port": 17998, "path": "/"}}]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_ready()
        assert a.services()["web"]["state"] == "ready"


def test_output_logged_and_rate_limited(agent_bin):
    services = [sh("chatty", "echo 'hello world'; printf 'no newline'", restart="never"),
                sh("spam", "i=0; while [ $i -lt 500 ]; do echo line $i; i=$((i+1)); done",
                   restart="never")]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_state("spam", "inactive")
        a.wait_state("chatty", "inactive")
        wait_until(lambda: a.log_lines("spam: 300 lines of output suppressed"), 5, "suppression note")
        wait_until(lambda: a.log_lines("chatty: no newline"), 5, "chatty's last line, flushed at EOF")
        assert a.log_lines("chatty: hello world")
        spam = [l for l in a.log_lines("spam: line ")]
        assert len(spam) == 200
        assert spam[0].endswith("spam: line 0") and spam[-1].endswith("spam: line 199")
        # Priority prefix of the agent, not the child's text, leads the line.
        assert all(l.startswith("<6>") for l in spam)


def test_output_bytes_rate_limited(agent_bin):
    """Long lines (a server logging what each client sent) count against a
    byte budget too: 16 KiB in the window, then the rest is suppressed and
    counted."""
    line = "x" * 999
    services = [sh("long", f"i=0; while [ $i -lt 100 ]; do echo {line}; i=$((i+1)); done", restart="never")]
    with Agent(agent_bin, *FAST, services=services) as a:
        a.wait_state("long", "inactive")
        wait_until(lambda: a.log_lines("long: 84 lines of output suppressed"), 5, "suppression note")
        assert len(a.log_lines(f"long: {line}")) == 16  # 16 × 999 bytes ≤ 16 KiB < 17 × 999


def test_service_environment(agent_bin, tmp_path):
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="60000000",
               LISTEN_FDNAMES="x", DISPLAY=":5", VMBA_TEST="1")
    script = ("env | sort | grep -E '^(NOTIFY_SOCKET|WATCHDOG_USEC|LISTEN_FDNAMES|VMBA_TEST|DISPLAY)=';"
              " echo done")
    services = [sh("envcheck", script, env=["DISPLAY=:99"], restart="never")]
    try:
        with Agent(agent_bin, *FAST, services=services, env=env) as a:
            a.wait_state("envcheck", "inactive")
            wait_until(lambda: a.log_lines("envcheck: done"), 5, "the service's output")
            lines = [l.split("agent: envcheck: ", 1)[1] for l in a.log_lines("agent: envcheck: ")]
            assert lines == ["DISPLAY=:99", "VMBA_TEST=1", "done"], lines
    finally:
        notify.close()


def test_backoff_grows_with_jitter(agent_bin):
    # No probe: "ready" at spawn, then dead at once, over and over.  The
    # delays double from backoff_initial_ms, each jittered into [d/2, d).
    services = [sh("flaky", "exit 1")]
    with Agent(agent_bin, "restart_burst=5", "backoff_initial_ms=100", "backoff_max_ms=400",
               services=services) as a:
        a.wait_state("flaky", "failed")
        delays = [float(l.split("restarting in ")[1].split(" ms")[0])
                  for l in a.log_lines("Service flaky: restarting in")]
        assert len(delays) == 4, delays
        bounds = [(50, 100), (100, 200), (200, 400), (200, 400)]  # capped at 400
        for d, (lo, hi) in zip(delays, bounds):
            assert lo <= d <= hi, (delays, bounds)


def shm_segments(pid):
    """(shmid, creator pid) of the SysV shared memory segments in pid's IPC
    namespace (/proc/sysvipc/shm shows the reader's)."""
    out = subprocess.run(["nsenter", f"--target={pid}", "--ipc", "cat", "/proc/sysvipc/shm"],
                         check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
    # Columns: key shmid perms size cpid lpid nattch uid ...
    return [(int(r[1]), int(r[4])) for r in rows]


# A segment made and attached as x11vnc makes its own (IPC_PRIVATE,
# IPC_CREAT | 0600), never removed: only a clean exit of x11vnc removes its.
SHM_HOLDER = ("import ctypes, sys, time\n"
              "libc = ctypes.CDLL(None, use_errno=True)\n"
              "libc.shmat.restype = ctypes.c_void_p\n"
              "i = libc.shmget(0, 1 << 20, 0o1600)\n"
              "assert i >= 0 and libc.shmat(i, None, 0) != ctypes.c_void_p(-1).value, ctypes.get_errno()\n"
              "print('attached', i, flush=True)\n"
              "time.sleep(1000)\n")


def test_killed_service_leaves_no_shared_memory(agent_bin):
    """x11vnc (with MIT-SHM), the browser and others keep SysV shared
    memory that only their clean exit removes; on the machine's own IPC
    namespace what a killed one left piled up until the segment limit ran
    out and no x11vnc could start."""
    services = [{"name": "holder", "argv": [sys.executable, "-c", SHM_HOLDER]}]
    with Agent(agent_bin, *FAST, services=services) as a:
        wait_until(lambda: a.log_lines("holder: attached"), 10, "the segment attached")
        assert os.readlink(f"/proc/{a.pid}/ns/ipc") != os.readlink("/proc/self/ns/ipc")
        assert a.log_lines("Shared memory goes with the services that leave it (their own IPC namespace")
        old = a.services()["holder"]["pid"]
        made = [shmid for shmid, cpid in shm_segments(a.pid) if cpid == old]
        assert len(made) == 1, shm_segments(a.pid)
        # Not on this machine's own: the namespace is the agent's.
        assert (made[0], old) not in shm_segments(os.getpid())

        os.kill(old, signal.SIGKILL)
        wait_until(lambda: a.services()["holder"]["pid"] not in (None, old), 10, "a new holder")
        assert not [s for s in shm_segments(a.pid) if s[1] == old], shm_segments(a.pid)
        wait_until(lambda: len(a.log_lines("holder: attached")) == 2, 10, "the new holder's segment")
        new = a.services()["holder"]["pid"]
        assert [cpid for _, cpid in shm_segments(a.pid)] == [new]
