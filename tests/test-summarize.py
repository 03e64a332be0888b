#!/usr/bin/python3
"""tests/summarize.py on results as the tiers leave them: meson's testlog
JSON and JUnit files shaped as pytest and tests/fuzz/run-fuzzers.py write
them.  Each case: the files, the closing line expected, the exit status.

    test-summarize.py      exit 0 passed, 1 failed
"""
import pathlib
import subprocess
import sys
import tempfile
import unittest

SUMMARIZE = pathlib.Path(__file__).resolve().parent / "summarize.py"


def junit(*cases):
    """A pytest JUnit file holding cases, each (name, body) in
    tests.netns.test_x."""
    body = "".join(f'<testcase classname="tests.netns.test_x" name="{n}" time="0.1">{b}</testcase>'
                   for n, b in cases)
    return ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
            + body + "</testsuite></testsuites>")


FAILURE = '<failure message="AssertionError: closed before an answer">trace</failure>'
TEARDOWN = '<error message="failed on teardown with &quot;AssertionError: ==1==ERROR: AddressSanitizer">log</error>'
SKIPPED = '<skipped type="pytest.skip" message="netns tier needs root">skip</skipped>'

CASES = [
    # pytest writes a test that failed in its call and again at teardown
    # (a sanitizer report in the agent's log) as two <testcase> of one
    # name: one failed test, not two.
    ("failed, then at teardown too",
     {"pytest-asan.xml": junit(("t_a", FAILURE), ("t_a", TEARDOWN), ("t_b", ""))},
     ["FAILED pytest-asan: tests.netns.test_x.t_a", "1 passed, 1 failed, 0 skipped"], 1),
    # Passed, then failed at teardown: one element, with the error.
    ("passed, failed at teardown",
     {"pytest-asan.xml": junit(("t_a", TEARDOWN), ("t_b", ""))},
     ["FAILED pytest-asan: tests.netns.test_x.t_a", "1 passed, 1 failed, 0 skipped"], 1),
    # The same test in two tiers' files is two results (two runs).
    ("one test in two files",
     {"pytest-netns.xml": junit(("t_a", "")), "pytest-asan.xml": junit(("t_a", TEARDOWN))},
     ["FAILED pytest-asan: tests.netns.test_x.t_a", "1 passed, 1 failed, 0 skipped"], 1),
    ("skipped",
     {"pytest-asan.xml": junit(("t_a", SKIPPED), ("t_b", ""))},
     ["1 passed, 0 failed, 1 skipped"], 0),
    # run-fuzzers.py's file, and meson's testlog (one JSON object a line).
    ("fuzz and meson",
     {"fuzz.xml": "<testsuite name='fuzz'><testcase classname='fuzz' name='fuzz-ipcfg' time='1.0'>"
                  "</testcase><testcase classname='fuzz' name='fuzz-url' time='1.0'>"
                  "<failure message='crash'/></testcase></testsuite>\n",
      "meson-unit.json": '{"name": "test-ipcfg", "result": "OK"}\n{"name": "check-banned", "result": "SKIP"}\n'},
     ["FAILED fuzz: fuzz.fuzz-url", "2 passed, 1 failed, 1 skipped"], 1),
]


class Summarize(unittest.TestCase):
    def test_cases(self):
        for name, files, lines, status in CASES:
            with self.subTest(name), tempfile.TemporaryDirectory() as d:
                for fname, text in files.items():
                    (pathlib.Path(d) / fname).write_text(text)
                r = subprocess.run([sys.executable, str(SUMMARIZE), d], capture_output=True, text=True)
                self.assertEqual(r.stdout.splitlines(), lines, r.stderr)
                self.assertEqual(r.returncode, status)


if __name__ == "__main__":
    unittest.main()
