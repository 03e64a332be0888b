"""Fixtures that files of the netns tier share: a login environment
(`env`, `make_env`: LoginEnv of tests/lib/loginenv.py), the host's end
of the push handoff (`host_socket`) and a cgroup2 directory of the
test's own for the agent's cgroup_root (`cgroup_root`)."""
import os
import shutil
import socket
import tempfile

import pytest

from cgroups import cgroup_of_own
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


@pytest.fixture
def cgroup_root():
    """tests/lib/cgroups.py's cgroup_of_own(); skipped without one."""
    with cgroup_of_own() as path:
        yield path
