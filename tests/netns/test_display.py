"""The built-in display stack with the real Xvfb, x11vnc and websockify, the
agent in a fresh network namespace on its own display number and ports:

- it reaches GET /health/ready 200 by itself (readiness from -displayfd,
  the RFB banner and an HTTP answer; the agent never sleeps), noVNC is
  served through websockify and x11vnc speaks RFB;
- kill -9 of Xvfb brings Xvfb, then x11vnc, then websockify back, each a
  new process, ready in dependency order;
- Xvfb failed over its start budget is tried again after failed_retry_s,
  and once what failed it went, the chain comes back in order;
- a stale X lock left by a dead server is removed before Xvfb starts, and
  so is a file another user put in place of its socket;
- SIGTERM stops the chain in reverse order, each within its timeout;
- the window manager runs when installed, as the browser's user, and a
  viewer's right-click on the desktop starts nothing (Debian's menu is the
  control); missing binaries, and a python3
  without websockify, are reported per service while the agent keeps
  serving.
"""
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

import pytest

from netns import DEADLINE_SCALE, need, read_line, wait_until
from desktop import rfb_click, viewable_windows, wm_round_trip
from svagent import (BROWSER_UID, DESKTOP_SECRET, VNC_UID, X_GID, X_UID, Agent, assert_retried_in_order,
                     free_display, proc_cmdline)

CHAIN = ["Xvfb", "x11vnc", "websockify"]
# Not on the display chain: the browser user's session bus (no dependency).
BUS = "browser-bus"


@pytest.fixture
def agent(agent_bin):
    need("Xvfb", "x11vnc", "websockify")
    with Agent(agent_bin, "window_manager=") as a:
        yield a


def test_chain_reaches_ready(agent):
    agent.wait_ready()
    h = agent.health()
    services = h["services"]
    assert list(services) == CHAIN + [BUS, "firefox"]
    for name in CHAIN + [BUS]:
        assert services[name]["state"] == "ready", services
        assert services[name]["last_error"] is None
        assert services[name]["restarts"] == 0
    assert services["firefox"]["state"] == "inactive"
    assert services["firefox"]["on_demand"] is True
    assert services["firefox"]["pid"] is None
    # The pids are the real programs; Xvfb made our display's socket.
    assert proc_cmdline(services["Xvfb"]["pid"]).endswith("Xvfb")
    assert proc_cmdline(services["x11vnc"]["pid"]).endswith("x11vnc")
    assert os.path.exists(f"{agent.x11_unix}/X{agent.display}")
    # Each its own process group, led by itself.
    for name in CHAIN:
        assert os.getpgid(services[name]["pid"]) == services[name]["pid"]
    ready = h["boot"]["services_ms"]
    assert ready["Xvfb"] <= ready["x11vnc"] <= ready["websockify"]
    assert h["boot"]["ready_ms"] is not None
    # What the person logging in reaches: RFB from x11vnc, noVNC via websockify.
    assert agent.banner(agent.vnc_socket).startswith(b"RFB 003.")
    status, body = agent.get("/vnc.html", port=agent.novnc_port)
    assert status == 200 and b"noVNC" in body
    # Children's output reaches the log, tagged with the service name.
    wait_until(lambda: agent.log_lines("agent: x11vnc: "), 5, "x11vnc's output in the log")


def test_kill_xvfb_restarts_chain_in_order(agent):
    agent.wait_ready()
    before = agent.health()
    old = {n: before["services"][n]["pid"] for n in CHAIN}

    os.kill(old["Xvfb"], signal.SIGKILL)

    def all_new():
        services = agent.try_services()
        return all(services.get(n, {}).get("pid") not in (None, old[n]) for n in CHAIN)
    # Three new processes, then ready again (the 503 between may be over
    # before a look catches it).
    wait_until(all_new, 60, "the chain's three processes started again")
    agent.wait_ready()
    after = agent.health()
    new = {n: after["services"][n]["pid"] for n in CHAIN}
    for n in CHAIN:
        assert new[n] != old[n], (n, old, new)
        assert after["services"][n]["state"] == "ready"
    assert after["services"]["Xvfb"]["restarts"] == 1
    assert after["services"]["Xvfb"]["last_exit"] == "killed by SIGKILL"
    assert after["services"]["x11vnc"]["restarts"] == 1
    assert after["services"]["websockify"]["restarts"] == 1
    # Dependency order: each came back after the one it depends on.
    ready = after["boot"]["services_ms"]
    assert before["boot"]["services_ms"]["Xvfb"] < ready["Xvfb"] < ready["x11vnc"] < ready["websockify"]
    # And in the log: Xvfb started, then x11vnc, then websockify.
    started = [l.split("Service ")[1].split(" ")[0] for l in agent.log_lines("started (pid")]
    started = [n for n in started if n in CHAIN]
    assert started == CHAIN + CHAIN, started
    # The old processes are gone (their groups were killed).
    for n in CHAIN:
        assert proc_cmdline(old[n]) is None or not os.path.exists(f"/proc/{old[n]}"), n
    assert agent.banner(agent.vnc_socket).startswith(b"RFB ")


def test_failed_xvfb_retried_with_its_dependents(agent_bin):
    """Xvfb failed over its start budget (here a wrapper that exits while a
    file is there; in a VM, memory pressure or a file in its way) is tried
    again after failed_retry_s: once the cause went, the desktop is back,
    not down for the VM's life, x11vnc and websockify after Xvfb, in
    order.  Waited for by the long poll of /health/ready, read from the
    log, not timed."""
    need("Xvfb", "x11vnc", "websockify")
    bin_dir = tempfile.mkdtemp(prefix="vmba-bin-", dir="/var/tmp")
    block = os.path.join(bin_dir, "block")
    try:
        os.chmod(bin_dir, 0o755)  # Xvfb's user runs the wrapper and looks for the file
        xvfb = os.path.join(bin_dir, "Xvfb")
        with open(xvfb, "w") as f:
            f.write(f'#!/bin/sh\n[ -e {block} ] && exit 1\nexec /usr/bin/Xvfb "$@"\n')
        os.chmod(xvfb, 0o755)
        open(block, "w").close()
        with Agent(agent_bin, "window_manager=", f"bin_path={bin_dir}:/usr/bin:/bin", "restart_burst=2",
                   "backoff_initial_ms=10", "backoff_max_ms=40", "failed_retry_s=1") as a:
            wait_until(lambda: a.log_lines("Service Xvfb failed: exited 1 before ready; gave up after 2 starts "
                                           "in 60 s; trying again in 1 s"), 30, "Xvfb failed, with a retry to come")
            os.unlink(block)
            wait = int(min(300, 60 * DEADLINE_SCALE))
            status, body = a.get(f"/health/ready?wait={wait}", timeout=wait + 10)
            assert status == 200, body

            # x11vnc and websockify waited for Xvfb: none started before
            # the retry that worked, then each after the one below.
            assert_retried_in_order(a.service_lines(), CHAIN, 1)
            assert a.services()["Xvfb"]["retry_in_ms"] is None
            assert a.banner(a.vnc_socket).startswith(b"RFB ")
    finally:
        shutil.rmtree(bin_dir)


def test_stale_lock_removed(agent_bin):
    need("Xvfb", "x11vnc", "websockify")
    display = free_display()
    # A lock naming a pid that cannot exist (pid_max ≤ 2^22), as a crashed
    # server leaves it.
    with open(f"/tmp/.X{display}-lock", "w") as f:
        f.write("   9999999\n")
    try:
        with Agent(agent_bin, "window_manager=", display=display) as a:
            a.wait_ready()
            assert a.log_lines(f"removed stale /tmp/.X{display}-lock")
            # (-displayfd implies -nolock: the new server writes no lock.)
            assert not os.path.exists(f"/tmp/.X{display}-lock")
    finally:
        if os.path.exists(f"/tmp/.X{display}-lock"):
            with open(f"/tmp/.X{display}-lock") as f:
                if f.read().strip() == "9999999":
                    os.unlink(f"/tmp/.X{display}-lock")


# As x_user: makes the lock argv[1] naming a dead pid, takes a write lease
# on it (its owner may), says "leased", and once an open breaks the lease
# says "broken" and holds it on: an open that waits for the lease waits
# fs.lease-break-time (45 s).
LEASE_HOLDER = """
import fcntl, os, signal, sys, time
path = sys.argv[1]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b"   9999999\\n")
os.close(fd)
fd = os.open(path, os.O_RDONLY)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGIO])
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
print("leased", flush=True)
signal.sigwait([signal.SIGIO])
print("broken", flush=True)
time.sleep(120)
"""


def test_a_leased_lock_does_not_hold_up_the_agent(agent_bin):
    """x_user (a hole in Xvfb, which every X client talks to) may write
    the lock, which the agent reads before each start of Xvfb as its
    user's, and take a lease on it: an open that waits for the lease to
    break held the whole agent (PID 1: /health, the logins, the
    watchdog) for fs.lease-break-time at every start of Xvfb, which that
    user can bring about by killing it.  A lock that cannot be read at
    once is no live server's, and goes."""
    need("Xvfb", "x11vnc", "websockify")
    with Agent(agent_bin, "window_manager=") as a:
        a.wait_ready()
        lock = f"/tmp/.X{a.display}-lock"
        holder = subprocess.Popen(["setpriv", f"--reuid={X_UID}", f"--regid={X_GID}", "--clear-groups",
                                   sys.executable, "-c", LEASE_HOLDER, lock],
                                  stdout=subprocess.PIPE, text=True, start_new_session=True)
        try:
            assert read_line(holder.stdout) == "leased\n"
            old = a.services()["Xvfb"]["pid"]
            os.kill(old, signal.SIGKILL)
            assert read_line(holder.stdout) == "broken\n"
            # The lease is still held: the agent answers all the same.
            status, _ = a.get("/health", timeout=10)
            assert status == 200
            wait_until(lambda: a.try_services().get("Xvfb", {}).get("pid") not in (None, old), 10,
                       "Xvfb started again")
            assert holder.poll() is None and not os.path.exists(lock)
        finally:
            holder.kill()
            holder.wait()
            if os.path.exists(lock) and os.stat(lock).st_uid == X_UID:
                os.unlink(lock)


def test_socket_another_user_put_in_place_removed(agent_bin):
    """Xvfb is not root: another user's file in the sticky /tmp/.X11-unix
    (one of the X clients' users may write there) where its socket goes
    would keep it from starting; the agent removes what no server accepts
    connections on."""
    need("Xvfb", "x11vnc", "websockify")
    display = free_display()

    def squat(a):
        path = f"{a.x11_unix}/X{display}"
        with open(path, "w"):
            pass
        os.chown(path, BROWSER_UID, BROWSER_UID)

    with Agent(agent_bin, "window_manager=", display=display, before_start=squat) as a:
        a.wait_ready()
        assert a.log_lines(f"Service Xvfb: removed /tmp/.X11-unix/X{display}, which no server of root's or uid "
                           f"{X_UID} accepted connections on.")
        st = os.stat(f"{a.x11_unix}/X{display}")
        assert stat.S_ISSOCK(st.st_mode) and st.st_uid == X_UID


def test_a_keymap_file_another_user_made_is_removed(agent_bin):
    """Where x_user may not write /var/lib/xkb (this machine), Xvfb compiles
    its keymap into /tmp/server-<display>.xkm at each start; another user's
    file there failed every start from the next crash on, and the desktop
    stayed down.  The agent removes it before each start."""
    need("Xvfb", "x11vnc", "websockify")
    if os.stat("/var/lib/xkb").st_uid == X_UID:
        pytest.skip("this machine's /var/lib/xkb is x_user's: Xvfb's keymap does not go to /tmp")
    with Agent(agent_bin, "window_manager=") as a:
        a.wait_ready()
        path = f"/tmp/server-{a.display}.xkm"
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.close(fd)
        try:
            os.chown(path, BROWSER_UID, BROWSER_UID)
            old = a.services()["Xvfb"]["pid"]
            os.kill(old, signal.SIGKILL)
            wait_until(lambda: a.try_services().get("Xvfb", {}).get("pid") not in (None, old), 30,
                       "Xvfb started again")
            a.wait_ready()
            assert a.log_lines(f"Service Xvfb: removed {path}, uid {BROWSER_UID}'s, which would fail its start.")
            assert not os.path.exists(path)  # Xvfb removes its own after loading it
        finally:
            if os.path.exists(path) and os.stat(path).st_uid == BROWSER_UID:
                os.unlink(path)


def test_sigterm_stops_in_reverse_order(agent):
    agent.wait_ready()
    assert agent.stop() == 0
    stopped = [l.split("Service ")[1].split(" ")[0] for l in agent.log_lines(" stopped (")]
    assert sorted(stopped) == sorted(CHAIN + [BUS]), stopped
    assert [n for n in stopped if n in CHAIN] == ["websockify", "x11vnc", "Xvfb"], stopped
    assert "All services stopped." in agent.log_text()
    # Xvfb got SIGTERM, not SIGKILL: it cleaned up its socket.
    assert not os.path.exists(f"{agent.x11_unix}/X{agent.display}")


def test_window_manager_when_installed(agent_bin):
    need("Xvfb", "x11vnc", "websockify", "openbox")
    with Agent(agent_bin, "window_manager=openbox") as a:
        a.wait_ready()
        s = a.services()
        assert list(s) == ["Xvfb", "window-manager", "x11vnc", "websockify", "browser-bus", "firefox"]
        assert s["window-manager"]["state"] == "ready"
        assert proc_cmdline(s["window-manager"]["pid"]).endswith("openbox")
        # The browser's user, with its own cookie: never root.
        with open(f"/proc/{s['window-manager']['pid']}/status") as f:
            assert [l.split()[1:] for l in f if l.startswith(("Uid:", "Groups:"))] == \
                [[str(BROWSER_UID)] * 4, [str(X_GID)]]


@pytest.mark.parametrize("config", ["image", "debian"])
def test_desktop_right_click_starts_nothing(agent_bin, config):
    """A VNC viewer right-clicks the bare desktop.  With Debian's openbox
    configuration (the control) a menu with a terminal and a browser
    appears; with the image's, nothing does, by the time openbox has
    handled a request sent after the click."""
    need("Xvfb", "x11vnc", "websockify", "openbox", "xwininfo")
    with Agent(agent_bin, "window_manager=openbox", openbox_config=config == "image") as a:
        a.wait_ready()
        before = viewable_windows(a.x_ns, a.display, a.xauthority())
        with a.ns.entered():
            rfb_click(a.vnc_socket, None, DESKTOP_SECRET, 400, 300, 3)
        if config == "debian":
            wait_until(lambda: len(viewable_windows(a.x_ns, a.display, a.xauthority())) > len(before), 30,
                       "Debian's root menu")
            return
        assert wm_round_trip(a.x_ns, a.display, a.xauthority()) == 2
        assert viewable_windows(a.x_ns, a.display, a.xauthority()) == before


def test_missing_binaries_reported(agent_bin):
    # An empty bin_path: nothing can be found; the agent keeps serving.
    with Agent(agent_bin, "window_manager=", "bin_path=/nonexistent") as a:
        a.wait_state("Xvfb", "failed")
        s = a.services()
        assert s["Xvfb"]["last_error"] == "Xvfb: not found"
        assert s["x11vnc"]["state"] == "waiting"
        assert s["websockify"]["state"] == "waiting"
        status, body = a.get("/health/ready")
        assert status == 503
        assert b"Xvfb: failed (Xvfb: not found)" in body
        assert a.health()["status"] == "failed"
        assert a.alive()


def test_websockify_module_missing_is_named(agent_bin):
    # websockify runs as python3 -c: a python3 without the module (here the
    # real one without its site directories) names the import that failed,
    # as a missing program is named, and the rest of the chain is ready.
    need("Xvfb", "x11vnc")
    bin_dir = tempfile.mkdtemp(prefix="vmba-bin-", dir="/var/tmp")
    try:
        os.chmod(bin_dir, 0o755)  # websockify's user runs it
        python3 = os.path.join(bin_dir, "python3")
        with open(python3, "w") as f:
            f.write('#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n')
        os.chmod(python3, 0o755)
        websockify_without_module(agent_bin, bin_dir)
    finally:
        shutil.rmtree(bin_dir)


def test_websockify_that_its_user_cannot_run(agent_bin):
    # The agent (root) finds python3 in a directory its user cannot enter:
    # its exec fails as that user, a spawn that failed, and the supervisor
    # says why (the step, the user, the errno), which exit code 126 alone
    # could not, in its log and in /health.
    need("Xvfb", "x11vnc")
    bin_dir = tempfile.mkdtemp(prefix="vmba-bin-", dir="/var/tmp")
    try:
        python3 = os.path.join(bin_dir, "python3")
        os.symlink("/usr/bin/python3", python3)
        why = f"execute {python3} as uid {VNC_UID}: Permission denied"
        with Agent(agent_bin, "window_manager=", f"bin_path={bin_dir}:/usr/bin:/bin") as a:
            a.wait_state("x11vnc", "ready")
            wait_until(lambda: a.log_lines(f"Service websockify: {why}"), 30, "websockify's exec error in the log")
            assert a.services()["websockify"]["state"] != "ready"
            assert a.services()["websockify"]["last_error"].startswith(why)
            assert a.alive()
    finally:
        shutil.rmtree(bin_dir)


def websockify_without_module(agent_bin, bin_dir):
    with Agent(agent_bin, "window_manager=", f"bin_path={bin_dir}:/usr/bin:/bin") as a:
        a.wait_state("x11vnc", "ready")
        wait_until(lambda: a.log_lines("websockify: cannot import websockify: No module named 'websockify'"),
                   30, "websockify's import error in the log")
        assert a.services()["websockify"]["state"] != "ready"
        assert a.services()["Xvfb"]["restarts"] == 0
        assert a.alive()
