"""The desktop as shipped, with the real Xvfb, x11vnc, websockify and
dbus-daemon, the agent in a fresh network namespace:

- the files derived from the desktop secret and the X cookie, their owners
  and modes; x11vnc and websockify run as the VNC user, with their own
  copies; neither the browser user nor the VNC user can read the agent's
  files, nor the browser user the VNC user's;
- exactly the configured listeners (no [::]:5900, no [::]:PORT);
- Xvfb refuses a client without the cookie (as root, and as the browser's
  uid), the browser's copy of the cookie works for the browser's uid;
- RFB offers only VNC authentication and refuses a wrong password; the
  noVNC WebSocket needs the token; the secret never reaches the log;
- the secret arriving later (MMDS) rewrites the files (a directory the VNC
  user put in place of one included) and restarts x11vnc and websockify;
- a missing browser user: the browser never starts, and /health says why;
  a missing VNC user: no x11vnc or websockify (never as root), and why.
noVNC's web server and its port (limits, restarts, socket activation) are
in test_desktop_novnc.py, the real-Firefox tests in test_browser.py."""
import contextlib
import json
import os
import pathlib
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

import pytest

from desktop import as_user, listeners, rfb, ws_upgrade
from netns import DEADLINE_SCALE, Netns, need, read_line, wait_until
from svagent import (BROWSER_UID, BROWSER_USER, CLI_GID, CLI_POOL_UIDS, CLI_USER, DESKTOP_SECRET, MMDS_SERVER,
                     TOKEN, VNC_UID, VNC_USER, X_GID, X_UID, X_USER, Agent, aliased, auth, desktop_agent, etc_file_plus,
                     free_display, passwd_alias, run_uid)

HERE = os.path.dirname(os.path.abspath(__file__))
# A login's CLI as it runs: one of the pool's users, with the CLIs' group.
CLI = {"uid": CLI_POOL_UIDS[0], "gid": CLI_GID}


@pytest.fixture
def agent(agent_bin):
    with desktop_agent(agent_bin) as a:
        yield a


def proc_uids(pid):
    """The real, effective, saved and filesystem uid of pid."""
    with open(f"/proc/{pid}/status") as f:
        return [int(u) for l in f if l.startswith("Uid:") for u in l.split()[1:]]


def proc_groups(pid):
    """The supplementary groups of pid."""
    with open(f"/proc/{pid}/status") as f:
        return [int(g) for l in f if l.startswith("Groups:") for g in l.split()[1:]]


def proc_caps(pid):
    """{"CapInh": int, "CapPrm": ..., "CapEff": ..., "CapBnd": ..., "CapAmb": ...} of pid."""
    with open(f"/proc/{pid}/status") as f:
        return {l.split(":")[0]: int(l.split()[1], 16) for l in f if l.startswith("Cap")}


CAP_IPC_OWNER = 1 << 15
# Connects to the unix socket argv[1] names (a PermissionError when the
# directory keeps the caller out).
CONNECT_UNIX = "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"
# The same in the abstract namespace (the name without its leading NUL),
# and binding that name.
CONNECT_ABSTRACT = "import socket, sys; socket.socket(socket.AF_UNIX).connect('\\0' + sys.argv[1])"
BIND_ABSTRACT = "import socket, sys; socket.socket(socket.AF_UNIX).bind('\\0' + sys.argv[1])"


def test_shared_memory_between_x11vnc_and_xvfb(agent):
    """x11vnc reads the screen through MIT-SHM: its framebuffer segments
    (0600, the VNC user's) are attached by Xvfb too (another uid), which
    CAP_IPC_OWNER allows, its only capability; x11vnc has none.  The
    segments are in the agent's IPC namespace, not this machine's."""
    s = agent.services()
    xvfb, vnc = s["Xvfb"]["pid"], s["x11vnc"]["pid"]
    caps = proc_caps(xvfb)
    assert (caps["CapPrm"], caps["CapEff"], caps["CapInh"], caps["CapAmb"], caps["CapBnd"]) == \
        (CAP_IPC_OWNER,) * 5, caps
    with open(f"/proc/{xvfb}/status") as f:
        assert "NoNewPrivs:\t1\n" in f.read()
    caps = proc_caps(vnc)
    assert (caps["CapPrm"], caps["CapEff"], caps["CapAmb"]) == (0, 0, 0), caps
    assert os.readlink(f"/proc/{vnc}/ns/ipc") != os.readlink("/proc/self/ns/ipc")

    def segments():
        out = subprocess.run(["nsenter", f"--target={vnc}", "--ipc", "cat", "/proc/sysvipc/shm"],
                             check=True, capture_output=True, text=True).stdout.splitlines()
        head = out[0].split()
        return [dict(zip(head, l.split())) for l in out[1:]]
    def attached():
        segs = [x for x in segments() if int(x["uid"]) == VNC_UID]
        return segs if segs and all(int(x["nattch"]) >= 2 for x in segs) else None
    # x11vnc makes its tiles at start, one after another; Xvfb attaches
    # each (nattch 2).
    segs = wait_until(attached, 30, "every segment of x11vnc's attached by Xvfb")
    assert all(int(x["perms"], 8) & 0o077 == 0 for x in segs), segs


def mode(path):
    st = os.lstat(path)
    return st.st_uid, stat.S_IMODE(st.st_mode)


def test_a_keymap_directory_xvfb_cannot_keep_to_itself_is_named(agent):
    """Xvfb compiles its keymap into /var/lib/xkb when x_user may write
    there, else into /tmp/server-<display>.xkm, a name any local user can
    create first (Xvfb then fails at every start).  The agent warns, once,
    naming both, when the directory is not x_user's alone; the image makes
    it so (the vm tier), this machine's is Debian's, root's
    (display_xkm_dir_ok()'s table is the unit test's)."""
    st = os.stat("/var/lib/xkb")
    if st.st_uid == X_UID:
        pytest.skip("this machine's /var/lib/xkb is x_user's")
    warned = agent.log_lines("so Xvfb compiles its keymap")
    assert len(warned) == 1 and warned[0].startswith("<4>"), warned
    assert f"/var/lib/xkb is not x_user '{X_USER}''s alone" in warned[0], warned
    assert f"/tmp/server-{agent.display}.xkm" in warned[0], warned


def test_files_owners_and_modes(agent):
    run, vnc = agent.runtime_dir, agent.vnc_dir
    assert mode(run) == (0, 0o700)
    assert os.listdir(run) == ["Xauthority"]
    assert mode(os.path.join(run, "Xauthority")) == (0, 0o600)
    # Xvfb's own directory and copy of the cookie, and where its socket goes.
    assert mode(agent.x_dir) == (X_UID, 0o700)
    assert os.listdir(agent.x_dir) == ["Xauthority"]
    assert mode(os.path.join(agent.x_dir, "Xauthority")) == (X_UID, 0o600)
    assert mode(agent.x11_unix) == (0, 0o1770) and os.lstat(agent.x11_unix).st_gid == X_GID
    # Xvfb's warnings about that mode, expected, are not in the log.
    assert agent.log_lines("Service Xvfb ready") and "_XSERVTransmkdir" not in agent.log_text()
    assert proc_uids(agent.services()["Xvfb"]["pid"]) == [X_UID] * 4
    # x11vnc's and websockify's own directory and copies.
    assert mode(vnc) == (VNC_UID, 0o700)
    assert sorted(os.listdir(vnc)) == ["Xauthority", "novnc-tokens", "rfb.sock", "vnc-password"]
    for name in ("Xauthority", "novnc-tokens", "vnc-password"):
        assert mode(os.path.join(vnc, name)) == (VNC_UID, 0o600), name
    # x11vnc's socket, made by it as that user in its 0700 directory.
    st = os.lstat(agent.vnc_socket)
    assert stat.S_ISSOCK(st.st_mode) and st.st_uid == VNC_UID
    with open(os.path.join(run, "Xauthority"), "rb") as f:
        cookie = f.read()
    for copy in (os.path.join(vnc, "Xauthority"), os.path.join(agent.x_dir, "Xauthority")):
        with open(copy, "rb") as f:
            assert f.read() == cookie, copy
    with open(os.path.join(vnc, "vnc-password")) as f:
        assert f.read() == DESKTOP_SECRET + "\n"
    with open(os.path.join(vnc, "novnc-tokens")) as f:
        assert f.read() == f"{DESKTOP_SECRET}: unix_socket:{agent.vnc_socket}\n"
    # They run as that user, not root.
    for name in ("x11vnc", "websockify"):
        assert proc_uids(agent.services()[name]["pid"]) == [VNC_UID] * 4, name
    b = agent.browser_dir
    for d in (b, os.path.join(b, "tmp"), os.path.join(b, "profile")):
        assert mode(d) == (BROWSER_UID, 0o700), d
    assert mode(os.path.join(b, ".Xauthority")) == (BROWSER_UID, 0o600)
    assert mode(os.path.join(b, "bus.conf")) == (0, 0o644)
    assert mode(os.path.join(b, "profile", "user.js")) == (0, 0o644)
    with open(os.path.join(b, "profile", "user.js")) as f:
        assert 'user_pref("toolkit.startup.max_resumed_crashes", -1);' in f.read()
    # The X cookie: one FamilyWild MIT-MAGIC-COOKIE-1 entry, as xauth reads it.
    out = agent.ns.run("xauth", "-f", os.path.join(run, "Xauthority"), "nlist").stdout.split()
    assert out[:4] == ["ffff", "0000", f"{len(str(agent.display)):04x}",
                       str(agent.display).encode().hex()] and out[4:6] == ["0012", b"MIT-MAGIC-COOKIE-1".hex()]
    assert out[6] == "0010" and len(out[7]) == 32
    # The browser's uid reads none of the agent's files, nor the VNC
    # user's; the VNC user none of the agent's.
    for uid, cmd, path in ((BROWSER_UID, "cat", os.path.join(agent.dir, "token")),
                           (BROWSER_UID, "cat", os.path.join(vnc, "vnc-password")),
                           (BROWSER_UID, "ls", vnc), (BROWSER_UID, "ls", run),
                           (BROWSER_UID, "ls", os.path.join(agent.dir, "logins")),
                           (VNC_UID, "cat", os.path.join(agent.dir, "token")),
                           (VNC_UID, "cat", os.path.join(run, "Xauthority")), (VNC_UID, "ls", run),
                           (VNC_UID, "ls", agent.browser_dir), (VNC_UID, "ls", os.path.join(agent.dir, "logins")),
                           (VNC_UID, "ls", agent.x_dir), (X_UID, "ls", vnc), (X_UID, "ls", run),
                           (X_UID, "cat", os.path.join(agent.dir, "token")), (BROWSER_UID, "ls", agent.x_dir)):
        r = agent.ns.run(*as_user(uid, cmd, path), check=False)
        assert r.returncode != 0 and "Permission denied" in r.stderr, (uid, path, r.stderr)
    assert mode(os.path.join(agent.dir, "logins")) == (0, 0o700)


def test_only_configured_listeners(agent):
    """As shipped RFB has no TCP port: x11vnc listens on its unix socket
    only, which no other user reaches (a local process on loopback could
    hold x11vnc's one handshake and freeze the desktop)."""
    assert listeners(agent.ns) == sorted([f"0.0.0.0:{agent.http_port}", f"0.0.0.0:{agent.novnc_port}"])
    x11vnc = agent.services()["x11vnc"]["pid"]
    out = agent.ns.run("ss", "-lxnpH").stdout
    assert [l.split()[4] for l in out.splitlines() if f"pid={x11vnc}," in l] == [agent.vnc_socket], out
    for uid, gid in ((BROWSER_UID, None), (X_UID, None), (CLI["uid"], CLI["gid"])):
        r = agent.ns.run(*as_user(uid, sys.executable, "-c", CONNECT_UNIX, agent.vnc_socket, gid=gid), check=False)
        assert r.returncode != 0 and "PermissionError" in r.stderr, (uid, r.stderr)


def test_x_server_only_for_its_clients(agent):
    """Without the cookie a local process could still connect to Xvfb and
    hold its client slots (256, each for the 60 s its handshake may take,
    then again): no new window, no x11vnc after a restart.  Xvfb has no
    abstract socket, and its directory lets in the X user's group alone,
    which x11vnc has as its one supplementary group (websockify and the
    bus none).  X clients try the abstract name first: the agent holds it,
    refusing every connection there, so no other user can take it and be
    sent their connections and the cookie."""
    s = agent.services()
    assert proc_groups(s["x11vnc"]["pid"]) == [X_GID]
    for name in ("Xvfb", "websockify", "browser-bus"):
        assert proc_groups(s[name]["pid"]) == [], name
    path = f"/tmp/.X11-unix/X{agent.display}"
    for uid, gid in ((BROWSER_UID, None), (VNC_UID, None), (CLI["uid"], CLI["gid"])):
        r = agent.x_ns.run(*as_user(uid, sys.executable, "-c", CONNECT_UNIX, path, gid=gid), check=False)
        assert r.returncode != 0 and "PermissionError" in r.stderr, (uid, r.stderr)
    for argv in (as_user(CLI["uid"], sys.executable, "-c", CONNECT_ABSTRACT, path, gid=CLI["gid"]),
                 [sys.executable, "-c", CONNECT_ABSTRACT, path]):
        r = agent.ns.run(*argv, check=False)
        assert r.returncode != 0 and "ConnectionRefusedError" in r.stderr, (argv, r.stderr)
    r = agent.ns.run(*as_user(CLI["uid"], sys.executable, "-c", BIND_ABSTRACT, path, gid=CLI["gid"]), check=False)
    assert r.returncode != 0 and "Address already in use" in r.stderr, r.stderr
    # The control: the same user with the group reaches the socket.
    agent.x_ns.run(*as_user(CLI["uid"], sys.executable, "-c", CONNECT_UNIX, path, groups=[X_GID], gid=CLI["gid"]))


def test_x_socket_directory_made_the_x_users(agent_bin):
    """/tmp/.X11-unix as other X setups make it (root's, 1777, as the
    tests' Agent makes it): the agent gives it to the X user's group,
    1770, and x11vnc reaches Xvfb."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    with Agent(agent_bin, "window_manager=") as a:
        a.wait_ready()
        st = os.lstat(a.x11_unix)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, X_GID, 0o1770)


def test_x_abstract_name_taken_no_display(agent_bin):
    """Another process has the abstract name X clients try first: they
    would connect to it, so no display is served there, and the log says
    why (fatal for a service process, as any failure to set the display
    up; PID 1 goes on without a display)."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    display = free_display()
    name = f"/tmp/.X11-unix/X{display}"
    with Netns("vmbaxn") as ns:
        squat = ns.popen(as_user(CLI["uid"], sys.executable, "-c", "import socket, sys; s = socket.socket("
                                 "socket.AF_UNIX); s.bind('\\0' + sys.argv[1]); print(flush=True); sys.stdin.read()",
                                 name), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert read_line(squat.stdout) == "\n"
            with Agent(agent_bin, "window_manager=", display=display, ns=ns) as a:
                a.expect_exit(1)
                assert a.proc.wait(timeout=30 * DEADLINE_SCALE) == 1
                assert a.log_lines(f"No display: the abstract socket name @{name}, which X clients try before "
                                   "Xvfb's socket, cannot be held: Address already in use")
                assert os.listdir(a.x11_unix) == []
        finally:
            squat.kill()
            squat.wait()


def test_x_needs_the_cookie(agent):
    display, run = agent.display, agent.runtime_dir
    base = ["env", "-i", "PATH=/usr/bin:/bin", "HOME=/nonexistent"]
    probe = ["xwininfo", "-display", f":{display}", "-root"]
    # No cookie: refused, for root and for the browser's uid alike.
    r = agent.x_ns.run(*base, *probe, check=False)
    assert r.returncode != 0 and "unable to open display" in r.stderr, r.stderr
    r = agent.x_ns.run(*as_user(BROWSER_UID, *base, *probe, groups=[X_GID]), check=False)
    assert r.returncode != 0 and "unable to open display" in r.stderr, r.stderr
    # Root's file is not the browser's to read.
    r = agent.x_ns.run(*as_user(BROWSER_UID, *base, f"XAUTHORITY={run}/Xauthority", *probe, groups=[X_GID]),
                     check=False)
    assert r.returncode != 0
    # With the cookie: root with its file, the browser's uid with its copy
    # (and the X socket's group, as the browser has).
    agent.x_ns.run(*base, f"XAUTHORITY={run}/Xauthority", *probe)
    agent.x_ns.run(*as_user(BROWSER_UID, *base, f"XAUTHORITY={agent.browser_dir}/.Xauthority", *probe,
                          groups=[X_GID]))


def test_x_clients_cannot_reconfigure_x11vnc(agent):
    """The browser's uid is an X client of the display x11vnc serves; x11vnc
    must not obey it.  By default it does (X11VNC_REMOTE on the root
    window): -R listen:ADDR moves its listener, -R connect:HOST streams the
    desktop to any address without the password.  An obeying x11vnc
    acknowledges the command (-sync), not always the first one sent: it is
    sent up to three times, then the listener is looked at."""
    before = listeners(agent.ns)
    remote = as_user(BROWSER_UID, "env", "-i", "PATH=/usr/bin:/bin", "HOME=/nonexistent",
                     f"XAUTHORITY={agent.browser_dir}/.Xauthority", "x11vnc", "-display", f":{agent.display}",
                     "-sync", "-R", "listen:127.0.0.1", groups=[X_GID])
    for _ in range(3):
        if "ack=1" in agent.x_ns.run(*remote, check=False).stdout:
            break
    assert listeners(agent.ns) == before
    with agent.ns.entered():
        assert rfb(agent.vnc_socket, None, DESKTOP_SECRET)[2] == 0


def test_vnc_and_novnc_need_the_secret(agent):
    with agent.ns.entered():
        banner, types, result = rfb(agent.vnc_socket, None, "wrong-pw")
        assert banner.startswith(b"RFB 003.") and types == [2], types
        assert result == 1
        banner, types, result = rfb(agent.vnc_socket, None, DESKTOP_SECRET)
        assert types == [2] and result == 0
        # Only the first 8 characters count (VNC): documented, not a hole.
        assert rfb(agent.vnc_socket, None, DESKTOP_SECRET[:8])[2] == 0
        assert ws_upgrade("127.0.0.1", agent.novnc_port, "/websockify") == (None, b"")
        assert ws_upgrade("127.0.0.1", agent.novnc_port, "/websockify?token=wrong")[0] is None
        status, frame = ws_upgrade("127.0.0.1", agent.novnc_port, f"/websockify?token={DESKTOP_SECRET}")
        assert " 101 " in status and frame.startswith(b"RFB 003."), (status, frame)
    # websockify prints the path with the token: redacted in our log.
    wait_until(lambda: agent.log_lines("websockify: ") and "[REDACTED]" in agent.log_text(), 10,
               "websockify's request line in the log")
    log = agent.log_text()
    assert DESKTOP_SECRET not in log and DESKTOP_SECRET[:8] not in log and TOKEN not in log


def test_secret_from_mmds_later(agent_bin, tmp_path):
    """No secret at start: the desktop is locked with a random one; when
    MMDS answers, the files are rewritten and x11vnc and websockify restart
    (in that order) and take it."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    release = tmp_path / "object.json"
    with Agent(agent_bin, "window_manager=", "mmds=true", "mmds_address=127.0.0.1",
               f"desktop_secret_file={tmp_path}/absent", "token_file=") as a:
        a.ns.popen([sys.executable, MMDS_SERVER, "127.0.0.1", str(release), str(tmp_path / "mmds.log")])
        a.wait_ready()
        with open(os.path.join(a.vnc_dir, "vnc-password")) as f:
            random_pw = f.read().strip()
        assert random_pw != DESKTOP_SECRET and len(random_pw) == 64
        before = a.services()
        with a.ns.entered():
            assert rfb(a.vnc_socket, None, DESKTOP_SECRET)[2] == 1
        # What a hole in x11vnc could do to its own directory: a directory
        # where the password file goes (a rename cannot replace it).
        pw = os.path.join(a.vnc_dir, "vnc-password")
        os.unlink(pw)
        os.makedirs(os.path.join(pw, "inside"))
        for d in (pw, os.path.join(pw, "inside")):
            os.chown(d, VNC_UID, VNC_UID)
        # The host puts the metadata (whole, by a rename).
        (tmp_path / "object.tmp").write_text(json.dumps({"token": TOKEN, "desktop_secret": DESKTOP_SECRET}))
        os.rename(tmp_path / "object.tmp", release)
        wait_until(lambda: a.log_lines("Desktop secret received from MMDS."), 30, "the secret from MMDS")
        wait_until(lambda: a.services()["websockify"]["pid"] != before["websockify"]["pid"] and
                   a.try_get("/health/ready")[0] == 200, 30, "x11vnc and websockify restarted")
        after = a.services()
        assert after["x11vnc"]["pid"] != before["x11vnc"]["pid"]
        assert after["x11vnc"]["last_error"] is None and after["x11vnc"]["restarts"] == 1
        assert after["Xvfb"]["pid"] == before["Xvfb"]["pid"]
        assert after["x11vnc"]["state"] == after["websockify"]["state"] == "ready"
        started = [l.split("Service ")[1].split(" ")[0] for l in a.log_lines("started (pid")]
        assert started[-2:] == ["x11vnc", "websockify"], started
        with open(os.path.join(a.vnc_dir, "vnc-password")) as f:
            assert f.read() == DESKTOP_SECRET + "\n"
        with a.ns.entered():
            assert rfb(a.vnc_socket, None, DESKTOP_SECRET)[2] == 0
            assert " 101 " in ws_upgrade("127.0.0.1", a.novnc_port, f"/websockify?token={DESKTOP_SECRET}")[0]
        log = a.log_text()
        assert DESKTOP_SECRET not in log and random_pw not in log and random_pw[:8] not in log


# What a hole in x11vnc could leave behind: a process of the VNC user, in a
# session of its own (restarting x11vnc does not reach it), whose
# main thread exits while another thread goes on reading the password file
# into a file named after its pid (argv[1]: that file's directory; then
# x11vnc's arguments, -passwdfile among them).  The kernel shows such a
# process as a zombie ("State: Z") for as long as that thread runs.
ZOMBIE_LEADER = """
import ctypes, os, sys, threading, time
PW = sys.argv[sys.argv.index("-passwdfile") + 1]
def read():
    while True:
        try:
            with open(PW) as f, open(os.path.join(sys.argv[1], str(os.getpid())), "a") as out:
                out.write(f.read())
        except OSError:
            pass
        time.sleep(0.05)
threading.Thread(target=read).start()
ctypes.CDLL(None).syscall(60, 0)  # SYS_exit: the main thread alone
"""


def alive(pid):
    """Whether any thread of pid runs (its leader may be a zombie)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                if next(l.split()[1] for l in f if l.startswith("State:")) != "Z":
                    return True
        except (OSError, StopIteration):
            pass
    return False


def test_secret_from_mmds_later_not_for_a_zombie_leader(agent_bin, tmp_path):
    """Before the desktop secret from MMDS is written, every process of the
    VNC user the agent started is killed, also one whose main thread has
    exited while another thread runs (the kernel shows it as a zombie):
    it never reads the new secret."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    # Where the VNC user can run from and write to (not pytest's 0700 tmp).
    bin_dir = pathlib.Path(tempfile.mkdtemp(prefix="vmba-bin-", dir="/var/tmp"))
    try:
        os.chmod(bin_dir, 0o755)
        seen = bin_dir / "seen"
        seen.mkdir()
        os.chown(seen, VNC_UID, VNC_UID)
        hole = bin_dir / "hole.py"
        hole.write_text(ZOMBIE_LEADER)
        wrapper = bin_dir / "x11vnc"
        wrapper.write_text(f"#!/bin/sh\nsetsid /usr/bin/python3 {hole} {seen} \"$@\" </dev/null >/dev/null 2>&1 &\n"
                           "exec /usr/bin/x11vnc \"$@\"\n")
        wrapper.chmod(0o755)
        release = tmp_path / "object.json"
        with Agent(agent_bin, "window_manager=", "mmds=true", "mmds_address=127.0.0.1",
                   f"desktop_secret_file={tmp_path}/absent", "token_file=",
                   f"bin_path={bin_dir}:/usr/bin:/bin") as a:
            a.ns.popen([sys.executable, MMDS_SERVER, "127.0.0.1", str(release), str(tmp_path / "mmds.log")])
            a.wait_ready()
            wait_until(lambda: [p for p in os.listdir(seen) if (seen / p).stat().st_size], 10,
                       "the left-behind process reading the password file")
            old = [int(p) for p in os.listdir(seen)]
            assert any(alive(p) for p in old)

            def zombie(p):
                with open(f"/proc/{p}/status") as f:
                    return "State:\tZ" in f.read()
            wait_until(lambda: all(zombie(p) for p in old if alive(p)), 10, "their main threads gone")
            (tmp_path / "object.tmp").write_text(json.dumps({"token": TOKEN, "desktop_secret": DESKTOP_SECRET}))
            os.rename(tmp_path / "object.tmp", release)
            wait_until(lambda: a.log_lines("Desktop secret received from MMDS."), 30, "the secret from MMDS")
            wait_until(lambda: a.try_get("/health/ready")[0] == 200 and
                       any(int(p) not in old for p in os.listdir(seen)), 30, "x11vnc restarted")
            for p in old:
                assert DESKTOP_SECRET not in (seen / str(p)).read_text(), p
            assert not any(alive(p) for p in old)
    finally:
        # What outlived the agent (its sweep missed it): this test's own.
        for p in os.listdir(bin_dir / "seen") if (bin_dir / "seen").is_dir() else ():
            kill_hole(int(p), str(hole))
        shutil.rmtree(bin_dir)


def kill_hole(pid, hole):
    """SIGKILL to pid if it still runs hole (ZOMBIE_LEADER), and never to a
    process that got its pid since the hole the file was named after died
    (the agent killed those long before; another test's or another run's
    process may have the pid now), nor an error if it is gone meanwhile.
    The pidfd pins the process first; its command line is then read from
    a thread that runs (a zombie leader shows none)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ours = False
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/cmdline", "rb") as f:
                    ours = ours or hole.encode() in f.read().split(b"\0")
        if ours:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
    finally:
        os.close(fd)


def test_browser_user_missing(agent_bin):
    """Fail closed: no such user, no browser (never root), and why."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    with Agent(agent_bin, "window_manager=", "browser_user=vmba-no-such-user") as a:
        a.wait_state("browser-bus", "failed")
        why = "user 'vmba-no-such-user' not found in /etc/passwd"
        assert a.services()["browser-bus"]["last_error"] == why
        with a.ns.entered():
            import http.client
            c = http.client.HTTPConnection("127.0.0.1", a.http_port, timeout=30)
            c.request("POST", "/open-url", body=json.dumps({"url": "http://127.0.0.1:9/x"}),
                      headers=auth({"Content-Type": "application/json"}))
            r = c.getresponse()
            assert (r.status, json.loads(r.read())) == (503, {"error": "Browser not available"})
            c.close()
        s = a.services()
        assert s["firefox"]["state"] == "failed" and s["firefox"]["last_error"] == why
        assert s["firefox"]["pid"] is None
        assert a.log_lines("The browser will not start: user 'vmba-no-such-user' not found")
        assert not os.path.exists(a.browser_dir)


def test_vnc_user_missing(agent_bin):
    """Fail closed: no such user, no desktop (x11vnc and websockify never
    run as root), and why; the display and the browser are unaffected."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    with Agent(agent_bin, "window_manager=", "vnc_user=vmba-no-such-user") as a:
        a.wait_state("x11vnc", "failed")
        why = "user 'vmba-no-such-user' not found in /etc/passwd"
        s = a.services()
        assert s["x11vnc"]["last_error"] == why and s["x11vnc"]["pid"] is None
        assert s["websockify"]["state"] == "waiting" and s["websockify"]["pid"] is None
        assert s["Xvfb"]["state"] == "ready"  # x11vnc is spawned (and fails) once Xvfb is ready
        a.wait_state("browser-bus", "ready")  # no dependency: in its own time
        assert a.log_lines("The desktop will not be served: user 'vmba-no-such-user' not found")
        status, body = a.get("/health/ready")
        assert status == 503 and f"x11vnc: failed ({why})".encode() in body
        assert not os.path.exists(a.vnc_dir)
        assert listeners(a.ns) == [f"0.0.0.0:{a.http_port}"]
        assert a.alive()


def test_runtime_dir_where_others_may_write(agent_bin):
    """The X and the VNC user's directories go beside runtime_dir: in a
    parent others may write (a sticky /tmp-like one) it could be swapped for a symlink
    between the agent's writes, so no display is set up there, and why
    (fatal for a service process, as any failure to make the display's
    files; PID 1 goes on without a display)."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    open_dir = tempfile.mkdtemp(prefix="vmba-open-", dir="/var/tmp")
    try:
        os.chmod(open_dir, 0o1777)
        with Agent(agent_bin, "window_manager=", f"runtime_dir={open_dir}/run") as a:
            a.expect_exit(1)
            assert a.proc.wait(timeout=30 * DEADLINE_SCALE) == 1
            assert a.log_lines(f"No display (its files): {open_dir}/run-x is in {open_dir}, which another "
                               "user owns or may write: refused")
            assert not os.path.exists(f"{open_dir}/run-x")
            assert not os.path.exists(f"{open_dir}/run-vnc")
    finally:
        shutil.rmtree(open_dir)


def test_x_user_missing(agent_bin):
    """Fail closed: no such user, no X server (never as root), nothing that
    depends on it, and why."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    with Agent(agent_bin, "window_manager=", "x_user=vmba-no-such-user") as a:
        a.wait_state("Xvfb", "failed")
        why = "user 'vmba-no-such-user' not found in /etc/passwd"
        s = a.services()
        assert s["Xvfb"]["last_error"] == why and s["Xvfb"]["pid"] is None
        assert s["x11vnc"]["state"] == s["websockify"]["state"] == "waiting"
        assert a.log_lines("The desktop will not be served: user 'vmba-no-such-user' not found")
        assert not os.path.exists(a.x_dir)
        assert not os.path.exists(f"{a.x11_unix}/X{a.display}")
        assert a.alive()


@pytest.mark.parametrize("shared", ["vnc_user", "browser_user"])
def test_x_user_sharing_a_uid_is_refused(agent_bin, shared):
    """x_user under another name for vnc_user's uid (swept before each new
    desktop secret: the sweep would kill Xvfb) or browser_user's (the
    browser's user would own the X server): refused, Xvfb never starts and
    nothing that depends on it, and the log says why."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    uid = {"vnc_user": VNC_UID, "browser_user": BROWSER_UID}[shared]
    with aliased(agent_bin, "x_user", uid) as a:
        a.wait_state("Xvfb", "failed")
        s = a.services()
        cookie = os.path.join(a.x_dir, "Xauthority")
        assert s["Xvfb"]["last_error"] == f"{cookie}: No such file or directory: refused", s["Xvfb"]
        assert s["Xvfb"]["pid"] is None
        assert s["x11vnc"]["state"] == s["websockify"]["state"] == "waiting"
        assert a.log_lines(f"The desktop will not be served: x_user 'vmba-alias' has the uid of vnc_user "
                           f"or browser_user ({uid}); Xvfb needs a user of its own.")
        assert not os.path.exists(a.x_dir)
        assert not os.path.exists(f"{a.x11_unix}/X{a.display}")
        assert a.alive()


def test_x_group_of_another_user_is_refused(agent_bin):
    """A user that is none of the display's, with x_user's group as its
    primary one: the X socket's directory admits that group, so that user
    would reach Xvfb.  Refused: Xvfb never starts, nor what depends on it,
    and the log says why."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    with passwd_alias(run_uid() + 3_000_000, X_GID) as wrap, \
            Agent(agent_bin, "window_manager=", wrap=wrap) as a:
        a.wait_state("Xvfb", "failed")
        s = a.services()
        assert s["Xvfb"]["pid"] is None
        assert s["x11vnc"]["state"] == s["websockify"]["state"] == "waiting"
        assert a.log_lines(f"The desktop will not be served: x_user 'sys''s group (gid {X_GID}) is also user "
                           "'vmba-alias''s (primary group, in /etc/passwd); it opens the X socket's directory, so "
                           "it must be the X server's clients' alone.")
        assert a.alive()


def test_x_group_member_is_refused(agent_bin):
    """/etc/group lists another user as a member of x_user's group, under a
    second name for it: a login of that user gets the group (initgroups), so
    would reach Xvfb.  The display's own users listed there are not a
    reason.  Refused: Xvfb never starts, and the log names the member."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    line = f"vmba-xgroup:x:{X_GID}:{X_USER},{VNC_USER}, {BROWSER_USER},{CLI_USER}"
    with etc_file_plus("group", line) as wrap, Agent(agent_bin, "window_manager=", wrap=wrap) as a:
        a.wait_state("Xvfb", "failed")
        assert a.services()["Xvfb"]["pid"] is None
        assert a.log_lines(f"The desktop will not be served: x_user 'sys''s group (gid {X_GID}) is also user "
                           f"'{CLI_USER}''s (member, in /etc/group); it opens the X socket's directory, so it must "
                           "be the X server's clients' alone.")
        assert a.alive()


def test_vnc_user_sharing_the_browsers_uid_is_refused(agent_bin):
    """vnc_user under another name for browser_user's uid: the sweep before
    each new desktop secret would kill the browser, and the servers facing
    the network would own its profile.  Refused: no VNC files, x11vnc
    failed naming its missing copy (never spawned), websockify waits, the
    display and the browser's bus are unaffected."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    with aliased(agent_bin, "vnc_user", BROWSER_UID) as a:
        a.wait_state("x11vnc", "failed")
        s = a.services()
        password = os.path.join(a.vnc_dir, "vnc-password")
        assert s["x11vnc"]["last_error"] == f"{password}: No such file or directory: refused", s["x11vnc"]
        assert s["x11vnc"]["pid"] is None and s["x11vnc"]["restarts"] == 0
        assert s["websockify"]["state"] == "waiting" and s["websockify"]["pid"] is None
        assert s["Xvfb"]["state"] == "ready"
        a.wait_state("browser-bus", "ready")
        assert a.log_lines(f"The desktop will not be served: vnc_user 'vmba-alias' has the uid of browser_user "
                           f"({BROWSER_UID}); x11vnc and websockify need a user of their own.")
        assert not os.path.exists(a.vnc_dir)
        assert a.alive()


def test_xvfb_without_its_cookie_does_not_start(agent_bin):
    """Xvfb's cookie copy is written once, at start, for x_user's uid then;
    a missing -auth file would admit every client, so without it (or with
    one that is not x_user's) Xvfb is failed, not started."""
    need("Xvfb", "x11vnc", "websockify", "dbus-daemon")
    with Agent(agent_bin, "window_manager=") as a:
        a.wait_ready()
        old = a.services()["Xvfb"]["pid"]
        cookie = os.path.join(a.x_dir, "Xauthority")
        os.unlink(cookie)
        os.kill(old, 9)
        a.wait_state("Xvfb", "failed")
        s = a.services()["Xvfb"]
        assert s["last_error"] == f"{cookie}: No such file or directory: refused", s
        # Its restart was refused before a process existed: none started again.
        assert s["pid"] is None and s["restarts"] == 0
        assert a.log_lines(f"Service Xvfb failed: {cookie}: No such file or directory: refused")
        assert a.alive()
