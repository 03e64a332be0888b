"""A run of this tier stopped by a signal to pytest's process group (a CI's
cancel, timeout(1)) leaves nothing behind: not the agent under test, which
runs in a session of its own that the signal misses, not the namespaces
its test made, not its work dirs (tests/lib/netns.py: stop_on_signals(),
close_leftovers()).  The run is one test of harness/held_agent.py, stopped
once it said what it made."""
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys

import pytest

from netns import DEADLINE_SCALE, read_line, require_root

HERE = os.path.dirname(os.path.abspath(__file__))
HELD = os.path.join(HERE, "harness", "held_agent.py")


def netns_names():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def remove_leftovers(made, pidfd):
    """What the stopped run left, if it left anything: the test fails,
    the machine is not left with it."""
    if not select.select([pidfd], [], [], 0)[0]:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    for name in set(made["netns"]) & netns_names():
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    for d in made["dirs"]:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGHUP])
def test_a_stopped_run_leaves_nothing(agent_bin, signo):
    require_root()
    r, w = os.pipe()
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", HELD],
                           cwd=HERE, env={**os.environ, "VMBA_BIN": agent_bin, "VMBA_HELD_FD": str(w)},
                           pass_fds=(w,), start_new_session=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.close(w)
    made, pidfd = None, None
    try:
        made = json.loads(read_line(r, timeout=60))
        pidfd = os.pidfd_open(made["agent"])
        assert made["netns"][0] in netns_names()
        assert all(os.path.isdir(d) for d in made["dirs"])
        os.killpg(run.pid, signo)
        out = run.communicate(timeout=60 * DEADLINE_SCALE)[0].decode(errors="replace")
        assert run.returncode == 2, out  # pytest's "interrupted"
        assert select.select([pidfd], [], [], 0)[0], "the agent is still running"
        assert not set(made["netns"]) & netns_names()
        assert not [d for d in made["dirs"] if os.path.exists(d)]
    finally:
        os.close(r)
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        if made:
            remove_leftovers(made, pidfd)
        if pidfd is not None:
            os.close(pidfd)
