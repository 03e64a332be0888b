"""pytest configuration shared by the netns and vm tiers: the agent
binary under test, and a run stopped by a signal (a CI's cancel,
timeout(1)) cleaning up as one stopped by Ctrl-C does (tests/lib/netns.py:
stop_on_signals(), close_leftovers())."""
import os
import pathlib
import sys

import pytest

TESTS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS / "lib"))

from netns import close_leftovers, stop_on_signals  # noqa: E402  (from the path above)


def pytest_configure(config):
    stop_on_signals()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    """After every fixture's teardown (pytest's own sessionfinish)."""
    close_leftovers()


@pytest.fixture(scope="session")
def agent_bin():
    """Path of the vm-browser-agent binary under test ($VMBA_BIN)."""
    path = os.environ.get("VMBA_BIN") or str(TESTS.parent / "build-tests/plain/agent/vm-browser-agent")
    if not os.access(path, os.X_OK):
        pytest.fail(f"agent binary {path} not built (run tests/run)")
    return path
