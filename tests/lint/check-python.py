#!/usr/bin/python3
"""Pyflakes on every Python file of the source tree: the scripts the image
and the host run (packaging/, the websockify entry point the agent embeds)
and the tests.  Names used but never defined, imports never used, f-strings
without a placeholder: a path a test never takes still fails here.  A file
is Python by its .py name or a python3 #! line; directories whose name
starts with "." or "build", and the lint fixtures, are skipped.

  check-python.py SOURCE_ROOT              exit 0 clean, 1 with pyflakes' lines
  check-python.py SOURCE_ROOT EXPECTED     exit 0 when exactly EXPECTED warnings
                                           (the fixture: the check can fail)
"""
import os
import sys

try:
    from pyflakes.api import checkPath
    from pyflakes.reporter import Reporter
except ImportError as e:
    sys.exit(f"check-python: {e} (Debian's python3-pyflakes; tests/install-deps installs it)")

SKIP = ("tests/lint/fixture",)


def is_python(path):
    if path.endswith(".py"):
        return True
    try:
        with open(path, "rb") as f:
            first = f.readline(128)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python3" in first


def python_files(root):
    for top, dirs, files in os.walk(root):
        rel = os.path.relpath(top, root)
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "build"))
                         and os.path.normpath(os.path.join(rel, d)) not in SKIP)
        for name in sorted(files):
            path = os.path.join(top, name)
            if os.path.isfile(path) and not os.path.islink(path) and is_python(path):
                yield path


def main(argv):
    if len(argv) not in (2, 3) or (len(argv) == 3 and not argv[2].isdigit()):
        sys.exit("usage: check-python.py SOURCE_ROOT [EXPECTED]")
    expected = int(argv[2]) if len(argv) == 3 else 0
    reporter = Reporter(sys.stdout, sys.stderr)
    paths = list(python_files(argv[1]))
    warnings = sum(checkPath(p, reporter) for p in paths)
    print(f"check-python: {len(paths)} files, {warnings} warnings, {expected} expected")
    return 1 if warnings != expected or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
