"""Fixtures that files of the netns tier share: a login environment
(`env`, `make_env`: LoginEnv of tests/lib/loginenv.py) and the host's end
of the push handoff (`host_socket`)."""
import os
import shutil
import socket
import tempfile

import pytest

from loginenv import LoginEnv


@pytest.fixture
def make_env(agent_bin):
    """LoginEnv(agent_bin, **kw) for tests that need their own settings;
    closed at teardown."""
    made = []

    def make(**kw):
        made.append(LoginEnv(agent_bin, **kw))
        return made[-1]
    yield make
    for e in made:
        e.close()


@pytest.fixture
def env(agent_bin):
    e = LoginEnv(agent_bin)
    yield e
    if os.environ.get("VMBA_KEEP_LOGS"):
        print(e.agent.log_text()[-8000:])
    e.close()


@pytest.fixture
def host_socket():
    """The host's end of the push handoff: a listening unix socket standing
    in for Firecracker's <uds_path>_<port> (never AF_VSOCK)."""
    d = tempfile.mkdtemp(prefix="vmba-handoff-", dir="/var/tmp")
    path = os.path.join(d, "h.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    srv.settimeout(30)
    yield path, srv
    srv.close()
    shutil.rmtree(d, ignore_errors=True)
