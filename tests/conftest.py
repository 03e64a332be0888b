"""pytest configuration shared by the netns and vm tiers."""
import os
import pathlib
import sys

import pytest

TESTS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS / "lib"))


@pytest.fixture(scope="session")
def agent_bin():
    """Path of the vm-browser-agent binary under test ($VMBA_BIN)."""
    path = os.environ.get("VMBA_BIN") or str(TESTS.parent / "build-tests/plain/agent/vm-browser-agent")
    if not os.access(path, os.X_OK):
        pytest.fail(f"agent binary {path} not built (run tests/run)")
    return path
