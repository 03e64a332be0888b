#!/usr/bin/python3
"""Runs each libFuzzer binary in BUILD/tests/fuzz for a bounded time from its
seed corpus (tests/fuzz/corpus/<name>), writing one JUnit case per fuzzer.
Crashes are saved under build-tests/results/fuzz-artifacts/, named after
their fuzzer.  A fuzzer is
one process on one core: as many run at once as there are cores
(VMBA_FUZZ_JOBS to choose), each for its whole time."""
import concurrent.futures
import os
import pathlib
import subprocess
import sys
import time
from xml.sax.saxutils import escape

build = pathlib.Path(sys.argv[1])
out = pathlib.Path(sys.argv[2])
seconds = os.environ.get("VMBA_FUZZ_SECONDS", "15")
src = pathlib.Path(__file__).resolve().parent
arts = out.parent / "fuzz-artifacts"
arts.mkdir(parents=True, exist_ok=True)


def fuzz(exe):
    """Runs one fuzzer; its JUnit case."""
    corpus = src / "corpus" / exe.name
    work = out.parent / f"corpus-{exe.name}"
    work.mkdir(exist_ok=True)
    t0 = time.monotonic()
    try:
        # A crashing input may be echoed: its bytes need not be UTF-8.
        p = subprocess.run([str(exe), f"-max_total_time={seconds}", "-timeout=5",
                            f"-artifact_prefix={arts}/{exe.name}-", "-print_final_stats=1",
                            str(work), str(corpus)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        ok, output = p.returncode == 0, p.stdout
    except OSError as e:  # counted as that fuzzer's failure, the others still run
        ok, output = False, f"could not run {exe}: {e}"
    dt = time.monotonic() - t0
    print(f"{exe.name}: {'ok' if ok else 'FAILED'} ({dt:.0f}s)", flush=True)
    if not ok:
        print(output[-3000:], flush=True)
    body = "" if ok else f"<failure message='fuzzer failed'>{escape(output[-3000:])}</failure>"
    return f"<testcase classname='fuzz' name='{exe.name}' time='{dt:.1f}'>{body}</testcase>"


exes = [exe for exe in sorted((build / "tests" / "fuzz").glob("fuzz-*"))
        if os.access(exe, os.X_OK) and not exe.suffix and "replay" not in exe.name]
jobs = int(os.environ.get("VMBA_FUZZ_JOBS") or len(os.sched_getaffinity(0)))
with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
    cases = list(pool.map(fuzz, exes))
out.write_text("<testsuite name='fuzz'>" + "".join(cases) + "</testsuite>\n")
