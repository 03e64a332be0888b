"""The kernel's OOM killer and the logins' provider CLIs, in a test
network namespace with fake CLIs (tests/lib/loginenv.py): the agent's own
protective oom_score_adj (its unit's OOMScoreAdjust=) is inherited by
none of its services, and each CLI runs with a raised one, which the OOM
killer takes first."""
import os
import re
import subprocess

import pytest

from loginenv import sid


def oom_score_adj_wrap(score):
    """A wrap that starts the agent with score, as its unit's
    OOMScoreAdjust= does.  Skips the test where this machine does not let
    it be set (a negative one needs CAP_SYS_RESOURCE, which a container may
    not have)."""
    try:
        subprocess.run(["sh", "-c", f"echo {score} > /proc/self/oom_score_adj"], check=True,
                       stderr=subprocess.PIPE, text=True)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot set oom_score_adj {score} here (a negative one needs CAP_SYS_RESOURCE): "
                    f"{e.stderr.strip()}")
    return ["sh", "-c", f'echo {score} > /proc/self/oom_score_adj && exec "$@"', "sh"]


def oom_score_adj(pid):
    with open(f"/proc/{pid}/oom_score_adj") as f:
        return int(f.read())


def idle_service(e):
    """The pid of the agent's one service (loginenv's IDLE)."""
    status, health = e.json("GET", "/health")
    assert status == 200, health
    return health["services"]["idle"]["pid"]


def cli_pid(e, s):
    (line,) = e.agent.log_lines(f"Login {s}: started ")
    return int(re.search(r"\(pid (\d+),", line).group(1))


@pytest.mark.parametrize("agent", [-900, 0, 700])
def test_the_agents_oom_protection_is_not_inherited(make_env, agent):
    """An agent with a negative oom_score_adj (the unit's, so that the OOM
    killer takes it last) keeps it; its service runs with 0, and a login's
    CLI with +500 (CLI_OOM_SCORE_ADJ): neither is protected with it.  A
    higher one the agent has (the operator's) they keep."""
    e = make_env(wrap=oom_score_adj_wrap(agent))
    assert oom_score_adj(e.agent.pid) == agent
    assert oom_score_adj(idle_service(e)) == max(agent, 0)
    s = sid()
    status, started = e.json("POST", "/auth/codex", {"sessionId": s})
    assert status == 200 and "oauthUrl" in started, started
    assert oom_score_adj(cli_pid(e, s)) == max(agent, 500)
