"""The end of each Python test here, as meson reads it: unittest's run,
then exit 1 if anything failed, 77 (skipped) if every test skipped
itself (a tool missing), else 0."""
import sys
import unittest


def main():
    result = unittest.main(module="__main__", exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    sys.exit(0 if result.testsRun - len(result.skipped) else 77)
