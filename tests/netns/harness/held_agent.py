"""Run by test_stop.py alone (not a test_*.py: no run collects it): a test
that starts an agent with its login environment (LoginEnv: a namespace of
the agent's own, the fake provider in it, two work dirs), says on the fd
$VMBA_HELD_FD what it made, as a line of JSON, then waits until the run
is stopped."""
import json
import os
import signal


def test_agent_held_until_stopped(env):
    made = {"agent": env.agent.pid, "netns": [env.ns.name], "dirs": [env.dir, env.agent.dir]}
    fd = int(os.environ["VMBA_HELD_FD"])
    os.write(fd, (json.dumps(made) + "\n").encode())
    os.close(fd)
    while True:
        signal.pause()
