"""/health's "clis": each pinned provider CLI (clis_file, the shipped
packaging/clis.json) against what is installed below clis_dir, one npm
prefix per provider: the pinned version, another one, or missing (no
package.json, or its program absent or not executable)."""
import json
import pathlib

from netns import wait_until
from svagent import Agent

PINS = pathlib.Path(__file__).resolve().parents[2] / "packaging" / "clis.json"
IDLE = [{"name": "idle", "argv": ["/bin/sleep", "1000"]}]


def install(clis_dir, pin, version, entry_mode=0o755):
    """What the image builder leaves for one CLI: its npm prefix with the
    package's package.json and the program."""
    prefix = clis_dir / pin["provider"]
    pkg = prefix / "node_modules" / pin["package"]
    pkg.mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": pin["package"], "version": version}))
    entry = prefix / pin["entry"]
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text("#!/bin/sh\n")
    entry.chmod(entry_mode)


def test_health_reports_installed_against_pinned(agent_bin, tmp_path):
    pins = {p["provider"]: p for p in json.loads(PINS.read_text())["clis"]}
    clis = tmp_path / "clis"
    install(clis, pins["claude_code"], pins["claude_code"]["version"])
    install(clis, pins["codex"], "0.1.0")
    # Gemini CLI's package is there but its program cannot run: missing.
    install(clis, pins["gemini_cli"], pins["gemini_cli"]["version"], entry_mode=0o644)
    with Agent(agent_bin, f"clis_file={PINS}", f"clis_dir={clis}", services=IDLE) as a:
        wait_until(lambda: a.try_get("/health")[0] == 200, 20, "agent /health")
        got = a.health()["clis"]
    assert got == {
        "claude_code": {"package": "@anthropic-ai/claude-code", "pinned": pins["claude_code"]["version"],
                        "installed": pins["claude_code"]["version"], "status": "ok"},
        "codex": {"package": "@openai/codex", "pinned": pins["codex"]["version"], "installed": "0.1.0",
                  "status": "differs"},
        "gemini_cli": {"package": "@google/gemini-cli", "pinned": pins["gemini_cli"]["version"],
                       "installed": None, "status": "missing"},
    }
    assert list(got) == ["claude_code", "codex", "gemini_cli"]


def test_health_without_pins(agent_bin, tmp_path):
    """No pins file (a machine that is no image): nothing to report, and
    a pins file that does not parse is logged, not fatal."""
    with Agent(agent_bin, f"clis_file={tmp_path}/none.json", services=IDLE) as a:
        wait_until(lambda: a.try_get("/health")[0] == 200, 20, "agent /health")
        assert a.health()["clis"] == {}
    bad = tmp_path / "bad.json"
    bad.write_text('{"node": {}, "clis": []}')
    with Agent(agent_bin, f"clis_file={bad}", services=IDLE) as a:
        wait_until(lambda: a.try_get("/health")[0] == 200, 20, "agent /health")
        assert a.health()["clis"] == {}
        assert a.log_lines('The CLIs\' pins are not reported: clis node: missing "debian_suite"')
