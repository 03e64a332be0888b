#!/usr/bin/python3
"""The wrapper at the top of tests/run (its text, taken from the script,
in front of a stand-in for the run): it exits with the run's own status,
also when a signal it passes on to the run comes while it waits, SIGINT
included (a background job of bash starts with it ignored).

A trapped signal ends bash's `wait` with 128+N; when the run, told of
the signal, exits at once (here with 7, as a run may on a signal) and
bash reaps it before the wrapper looks again, the wrapper exited 143 for
a run that said 7.  That window is a few instructions of the wrapper's
and cannot be held open from outside, so the signal is sent many times
over (the old wrapper failed most runs of this test, a few rounds in
each): every one must give the run's status.

    test-run-wrapper.py      exit 0 passed, 1 failed, 77 skipped
"""
import contextlib
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import meson_exit

TOP = pathlib.Path(__file__).resolve().parents[2]
SCALE = float(os.environ.get("VMBA_DEADLINE_SCALE", "3"))
ROUNDS = 300


# The run: says its pid and whether it started with SIGINT ignored (as
# the real run's programs would keep it: Python, meson), then ends with 7
# on the signal (SIG) the wrapper passes on.  bash runs a trap once the
# command it runs ends: short sleeps, not a FIFO's open, which bash 5.2
# may go back into after the signal, never to return (seen under load,
# once in a few thousand signals).
ENDS_ON = """trap 'exit 7' SIG
read -r _ ign < <(grep SigIgn /proc/$$/status)
echo "$$" "$(( 0x$ign >> 1 & 1 ))"
while :; do sleep 0.05; done
"""


def wrapper_text():
    text = (TOP / "tests" / "run").read_text()
    m = re.search(r'^if \[ -z "\$\{VMBA_RUN_FORWARDED:-\}" \]; then\n.*?^fi\n', text, re.S | re.M)
    assert m, "tests/run has no VMBA_RUN_FORWARDED wrapper"
    return m.group(0)


def wchan(pid):
    with open(f"/proc/{pid}/wchan") as f:
        return f.read()


def wait_blocked(pid, where):
    """Until pid blocks in the kernel's function where (its wchan): bash in
    do_wait is in its `wait`, with its traps set.  Test-side, on a process it does not control; bounded,
    not a timing expectation.  (A kernel without symbols shows no wchan:
    the message says so.)"""
    deadline = time.monotonic() + 10 * SCALE
    while (w := wchan(pid)) != where:
        if time.monotonic() > deadline:
            raise AssertionError(f"pid {pid} never blocked in {where} (wchan {w!r})")
        time.sleep(0.001)


def kill_quietly(pidfd):
    with contextlib.suppress(ProcessLookupError):
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)


class Wrapper(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="test-run-wrapper-")
        self.addCleanup(shutil.rmtree, self.dir)

    def start(self, body):
        """The wrapper in front of body, the run, which says its pid once
        it is ready."""
        script = os.path.join(self.dir, "run")
        with open(script, "w") as f:
            f.write("#!/bin/bash\nset -uo pipefail\n" + wrapper_text() + body)
        # SIGINT at its default, as tests/run has it from a terminal: this
        # test may run with it ignored (from a shell's background job),
        # and bash cannot trap a signal ignored at its start.
        # Not VMBA_RUN_FORWARDED, which tests/run sets for the tiers it
        # runs, this one among them: the wrapper would take itself for
        # the run and pass nothing on.
        env = {k: v for k, v in os.environ.items() if k != "VMBA_RUN_FORWARDED"}
        p = subprocess.Popen(["env", "--default-signal=INT", "bash", script, os.path.join(self.dir, "go")],
                             stdout=subprocess.PIPE, text=True, env=env)
        self.addCleanup(p.stdout.close)
        said = p.stdout.readline().split()
        run = os.pidfd_open(int(said[0]))
        self.addCleanup(os.close, run)
        self.addCleanup(p.wait)
        # Whatever failed, the run goes (it has no children), and with
        # it the wrapper: cleanups run last first.
        self.addCleanup(kill_quietly, run)
        return p, said

    def test_the_runs_status(self):
        os.mkfifo(os.path.join(self.dir, "go"))
        p, _ = self.start('echo "$$"; read -r _ < "$1"; exit 3\n')
        with open(os.path.join(self.dir, "go"), "w") as go:
            go.write("\n")
        self.assertEqual(p.wait(timeout=30 * SCALE), 3)

    def test_signal_passed_on_then_the_runs_status(self):
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP) * (ROUNDS // 3):
            p, (run, int_ignored) = self.start(ENDS_ON.replace("SIG", sig.name[3:]))
            self.assertEqual(int_ignored, "0", "the run started with SIGINT ignored")
            wait_blocked(p.pid, "do_wait")
            os.kill(p.pid, sig)
            self.assertEqual(p.wait(timeout=30 * SCALE), 7, f"{sig.name}: not the run's status")


if __name__ == "__main__":
    meson_exit.main()
