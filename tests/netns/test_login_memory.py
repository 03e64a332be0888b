"""The kernel's OOM killer and the logins' provider CLIs, in a test
network namespace with fake CLIs (tests/lib/loginenv.py): the agent's own
protective oom_score_adj (its unit's OOMScoreAdjust=) is inherited by
none of its services, and each CLI runs with a raised one, which the OOM
killer takes first; with the memory controller in the agent's cgroups,
each login's cgroup has login_memory_max_mb as its memory.max, and a CLI
that allocates past it ends that login alone, with the reason in its
status and the log; without it the log says once why not.  The browser
(the fake Firefox, in the built-in display stack) runs with
oom_score_adj +800, above the CLIs', and its cgroup has
browser_memory_max_mb as its memory.max: past it the OOM killer takes
all of it, the log says so and it is started again."""
import os
import re
import subprocess

import pytest

from cgroups import cgroup2_mount, cgroup_view
from loginenv import FAKE_FIREFOX, cli_pids, sid
from netns import wait_until


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


def said(e, start):
    """The log's messages that start so, without their "<N>ident: " prefix."""
    return [line.split(": ", 1)[1] for line in e.agent.log_lines(start)]


def controllers(path):
    with open(os.path.join(path, "cgroup.controllers")) as f:
        return f.read().strip()


def memory_controller(cgroup_root):
    """Whether the agent's cgroups (below cgroup_root) can have the memory
    controller: its parent's cgroup.subtree_control offers it to them."""
    return "memory" in controllers(cgroup_root).split()


def test_without_the_memory_controller_the_log_says_so_once(request, tmp_path):
    """Without the memory controller below cgroup_root (a hybrid cgroup
    layout, whose v1 hierarchy holds it), or without cgroups at all, the
    log says once that the CLIs get no memory.max, why, and what they get
    instead; with it, once that they get it."""
    wrap, agent_root = cgroup_view(tmp_path, request.getfixturevalue("cgroup_root"))
    e = request.getfixturevalue("make_env")(sets=(f"cgroup_root={agent_root}", "login_memory_max_mb=64"), wrap=wrap)
    root = request.getfixturevalue("cgroup_root")
    if memory_controller(root):
        assert said(e, "Provider CLIs get ") == ["Provider CLIs get memory.max 64 MiB in their logins' cgroups."]
        return
    assert said(e, "Provider CLIs get ") == [
        f"Provider CLIs get no memory.max (login_memory_max_mb=64): the memory controller is not available in "
        f"{agent_root} (its cgroup.controllers: \"{controllers(root)}\"; in a hybrid layout it is the v1 "
        "hierarchy's, or it is not delegated); they run with oom_score_adj +500 instead, which the kernel's OOM "
        "killer takes before the agent."]


def test_without_cgroups_the_log_says_so_once(make_env):
    e = make_env(sets=("login_memory_max_mb=64",))
    assert said(e, "Provider CLIs get ") == [
        "Provider CLIs get no memory.max (login_memory_max_mb=64): no cgroups; they run with oom_score_adj +500 "
        "instead, which the kernel's OOM killer takes before the agent."]


def test_a_cli_past_its_memory_max_ends_its_login_alone(cgroup_root, make_env, tmp_path):
    """A CLI that allocates 256 MiB with login_memory_max_mb=64: the
    kernel's OOM killer kills it (all of its cgroup) at 64 MiB, its login
    fails with "CLI killed by the kernel: out of memory (memory.max 64
    MiB)", which its end's log line says too; the agent and another login
    (its CLI running, then signed in) are unharmed."""
    if not memory_controller(cgroup_root):
        pytest.skip(f"no memory controller for the test's cgroup2 directories here ({cgroup2_mount()} offers "
                    f"\"{controllers(cgroup2_mount())}\"): a hybrid layout keeps it in its v1 hierarchy")
    wrap, agent_root = cgroup_view(tmp_path, cgroup_root)
    hog = ("hog", "acme", ".acme/creds.json", {"FAKE_CLI_ALLOC_MB": "256"})
    e = make_env(sets=(f"cgroup_root={agent_root}", "login_memory_max_mb=64"), wrap=wrap, extra_providers=(hog,))
    other = sid()
    status, started = e.json("POST", "/auth/codex", {"sessionId": other})
    assert status == 200 and "oauthUrl" in started, started
    (other_cli,) = cli_pids(e)
    with open(os.path.join(cgroup_root, f"login-{other}.scope", "memory.max")) as f:
        assert f.read() == f"{64 << 20}\n"
    s = sid()
    assert e.json("POST", "/auth/hog", {"sessionId": s})[0] == 200
    reason = "killed by the kernel: out of memory (memory.max 64 MiB)"
    assert e.wait_status(s, lambda code, b: b.get("failed")) == \
        {"authenticated": False, "failed": True, "error": f"CLI {reason}"}
    wait_until(lambda: e.agent.log_lines(f"Login {s}: Provider CLI hog "), 20, "the CLI's end logged")
    (line,) = e.agent.log_lines(f"Login {s}: Provider CLI hog ")
    assert f") {reason}, CPU " in line, line
    assert e.agent.proc.poll() is None
    assert cli_pids(e) == [other_cli]
    assert e.browse(started["oauthUrl"])[0] == 200
    e.wait_status(other, lambda code, b: b.get("authenticated"))
    e.assert_no_secrets()


def fake_firefox_env(make_env, *sets, **kwargs):
    """A LoginEnv whose browser is the fake Firefox, started with the
    display stack (browser_prestart), its display chain ready."""
    e = make_env(services=None, sets=("window_manager=", f"firefox={FAKE_FIREFOX}", "browser_prestart=true", *sets),
                 **kwargs)
    e.agent.wait_ready(60)
    return e


def firefox(e):
    status, health = e.json("GET", "/health")
    assert status == 200, health
    return health["services"]["firefox"]


NO_BROWSER_MEMORY = ("; it runs with oom_score_adj +800 instead, which the kernel's OOM killer takes before the "
                     "provider CLIs and the agent.")


def test_without_cgroups_the_browser_runs_first_for_the_oom_killer(make_env):
    """Without cgroups the browser has no memory.max: the log says so once,
    and it runs with oom_score_adj +800 (BROWSER_OOM_SCORE_ADJ), which the
    kernel's OOM killer takes before a CLI (+500) and the agent."""
    e = fake_firefox_env(make_env, "browser_memory_max_mb=512")
    assert said(e, "The browser gets ") == [
        "The browser gets no memory.max (browser_memory_max_mb=512): no cgroups" + NO_BROWSER_MEMORY]
    assert oom_score_adj(firefox(e)["pid"]) == 800


def test_without_the_memory_controller_the_browser_log_says_so_once(request, tmp_path):
    """With cgroups but without the memory controller below cgroup_root,
    the log says once why the browser gets no memory.max; with it, that it
    gets one, which its cgroup (firefox.service) has."""
    root = request.getfixturevalue("cgroup_root")
    wrap, agent_root = cgroup_view(tmp_path, root)
    e = fake_firefox_env(request.getfixturevalue("make_env"), f"cgroup_root={agent_root}", "browser_memory_max_mb=512",
                         "login_memory_max_mb=0", wrap=wrap)
    assert oom_score_adj(firefox(e)["pid"]) == 800
    if memory_controller(root):
        assert said(e, "The browser gets ") == ["The browser gets memory.max 512 MiB in its cgroup."]
        with open(os.path.join(root, "firefox.service", "memory.max")) as f:
            assert f.read() == f"{512 << 20}\n"
        return
    assert said(e, "The browser gets ") == [
        f"The browser gets no memory.max (browser_memory_max_mb=512): the memory controller is not available in "
        f"{agent_root} (its cgroup.controllers: \"{controllers(root)}\"; in a hybrid layout it is the v1 "
        "hierarchy's, or it is not delegated)" + NO_BROWSER_MEMORY]


def test_a_browser_past_its_memory_max_is_started_again(cgroup_root, make_env, tmp_path):
    """A process in the browser's cgroup that allocates 1 GiB with
    browser_memory_max_mb=256 (the least the config takes; a web page's
    content process would): the OOM killer kills all of the cgroup
    (memory.oom.group), the fake Firefox with it; the log says "Service
    firefox (pid P) killed by the kernel: out of memory (memory.max 256
    MiB).", /health's last exit too, and the
    browser is started again, the agent unharmed."""
    if not memory_controller(cgroup_root):
        pytest.skip(f"no memory controller for the test's cgroup2 directories here ({cgroup2_mount()} offers "
                    f"\"{controllers(cgroup2_mount())}\"): a hybrid layout keeps it in its v1 hierarchy")
    wrap, agent_root = cgroup_view(tmp_path, cgroup_root)
    e = fake_firefox_env(make_env, f"cgroup_root={agent_root}", "browser_memory_max_mb=256", wrap=wrap)
    ff = firefox(e)
    procs = os.path.join(cgroup_root, "firefox.service", "cgroup.procs")
    hog = subprocess.Popen(["sh", "-c", f'echo $$ > {procs} && exec python3 -c "b = bytearray(1 << 30)"'])
    assert hog.wait(60) == -9  # SIGKILL, by the OOM killer
    reason = "killed by the kernel: out of memory (memory.max 256 MiB)"
    wait_until(lambda: firefox(e)["restarts"] == ff["restarts"] + 1 and firefox(e)["state"] == "ready", 60,
               "firefox started again")
    assert e.agent.log_lines(f"Service firefox (pid {ff['pid']}) {reason}."), e.agent.log_text()[-3000:]
    # The kill stays its last exit; last_error is the current one, which
    # the start again that is ready clears.
    assert firefox(e)["last_exit"] == reason, firefox(e)
    assert e.agent.proc.poll() is None


def test_a_services_file_service_gets_its_memory_max_mb(request, tmp_path):
    """A services_file's service with "memory_max_mb" gets it as its
    cgroup's memory.max, said once in the log; without the memory
    controller, why not.  login_memory_max_mb=0: the service alone asks
    for the controller."""
    root = request.getfixturevalue("cgroup_root")
    wrap, agent_root = cgroup_view(tmp_path, root)
    services = [{"name": "web", "argv": ["/bin/sleep", "1000"], "memory_max_mb": 300}]
    e = request.getfixturevalue("make_env")(services=services, sets=(f"cgroup_root={agent_root}",
                                                                      "login_memory_max_mb=0"), wrap=wrap)
    e.agent.wait_state("web", "ready", 30)
    path = os.path.join(e.agent.dir, "services.json")
    if memory_controller(root):
        assert said(e, "Service web gets ") == ["Service web gets memory.max 300 MiB in its cgroup."]
        with open(os.path.join(root, "web.service", "memory.max")) as f:
            assert f.read() == f"{300 << 20}\n"
        return
    assert said(e, "Service web gets ") == [
        f"Service web gets no memory.max (memory_max_mb 300 in {path}): the memory controller is not available in "
        f"{agent_root} (its cgroup.controllers: \"{controllers(root)}\"; in a hybrid layout it is the v1 "
        "hierarchy's, or it is not delegated)."]


def test_a_services_file_browser_without_memory_max_mb_is_said(make_env):
    """browser_memory_max_mb is the built-in display stack's: a
    services_file's browser (its service named firefox) without a
    "memory_max_mb" of its own runs with no memory.max, and the log says
    so, naming the key that would give it one."""
    e = make_env(services=[{"name": "firefox", "argv": ["/bin/sleep", "1000"]}])
    path = os.path.join(e.agent.dir, "services.json")
    assert said(e, "The browser ") == [
        f"The browser (firefox in {path}) gets no memory.max: browser_memory_max_mb is the built-in display "
        f"stack's; give it \"memory_max_mb\" in {path} for one."]
