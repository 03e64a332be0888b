#!/usr/bin/python3
"""Runs each libFuzzer binary in BUILD/tests/fuzz for a bounded time from its
seed corpus (tests/fuzz/corpus/<name>), writing one JUnit case per fuzzer.
Crashes are saved under build-tests/results/fuzz-artifacts/."""
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
cases = []
for exe in sorted((build / "tests" / "fuzz").glob("fuzz-*")):
    if not os.access(exe, os.X_OK) or exe.suffix or "replay" in exe.name:
        continue
    corpus = src / "corpus" / exe.name
    work = out.parent / f"corpus-{exe.name}"
    work.mkdir(exist_ok=True)
    t0 = time.monotonic()
    p = subprocess.run([str(exe), f"-max_total_time={seconds}", "-timeout=5",
                        f"-artifact_prefix={arts}/", "-print_final_stats=1",
                        str(work), str(corpus)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    dt = time.monotonic() - t0
    ok = p.returncode == 0
    print(f"{exe.name}: {'ok' if ok else 'FAILED'} ({dt:.0f}s)")
    if not ok:
        print(p.stdout[-3000:])
    body = "" if ok else f"<failure message='fuzzer failed'>{escape(p.stdout[-3000:])}</failure>"
    cases.append(f"<testcase classname='fuzz' name='{exe.name}' time='{dt:.1f}'>{body}</testcase>")
out.write_text("<testsuite name='fuzz'>" + "".join(cases) + "</testsuite>\n")
