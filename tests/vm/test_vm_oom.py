"""The browser's and a login's memory.max in a real VM, whose cgroup2 has
the memory controller (this machine's may not: tests/netns/test_login_memory.py
then skips its kills).  One q35 VM, the agent as PID 1, on its own rootfs
copy holding:

- a page in noVNC's web root (websockify serves it on the VM's 6080) whose
  script writes an ArrayBuffer larger than browser_memory_max_mb (and
  more after it): opened through /open-url, it takes Firefox's content
  process past its limit with anonymous memory (the VM has no swap),
  which the kernel cannot reclaim, so its OOM killer takes the whole of
  firefox.service (memory.oom.group); the log says so and the supervisor
  starts Firefox again, on a blank page (it keeps no session of its own);
- a fake provider `hog` whose CLI (Debian's python3) allocates without end
  past login_memory_max_mb: its login fails with the kernel's kill;
- a fake provider `cgprobe` whose CLI prints firefox.service's memory.*
  files and waits: the start's answer (after url_wait_s) holds that
  output, the kernel's own view of the browser's cgroup.

The limits come as vmba.* words on the kernel command line.  Deadlines
are long because qemu emulates the CPU (TCG) where KVM does not work;
they are not expectations of speed.
"""
import json
import re
import time

import pytest

import demo
import qemu

BOOT_TIMEOUT = 300
READY_TIMEOUT = 600
KILL_TIMEOUT = 600    # /open-url's answer (Firefox spawned) -> the kill's line
BROWSER_MB = 1024     # room for Firefox's start (~360 MiB of its cgroup's here); 32 MiB thrashed through it
LOGIN_MB = 64
VM_MB = 2048          # the limit and the rest of the VM, as packaging/firecracker-config's default
PAGE = "/usr/share/novnc/vmba-oom.html"
PAGE_URL = "http://127.0.0.1:6080/vmba-oom.html"
CLI_DIR = "/usr/local/lib/vmba-oom-test"
BROWSER_CGROUP = "/sys/fs/cgroup/firefox.service"

# One buffer past the limit, written in one fill (Firefox's memset): each
# page written is the content process's own (reserved alone would be no
# charge), and no script runs between pages, nor a title to draw.  A
# loop of 16 MiB buffers that retitled the page for each 64 MiB took 484 s
# under TCG to its kill, with 2.7 million file pages read again.
PAGE_HTML = """<!doctype html>
<title>allocating</title>
<script>
var held = [];
function more() {
  var b;
  try { b = new Uint8Array(1536 * 1048576); } catch (e) { b = new Uint8Array(64 * 1048576); }
  b.fill(1);
  held.push(b);
  setTimeout(more, 0);
}
more();
</script>
"""

HOG_CLI = """#!/usr/bin/python3
held = []
print("hog: allocating", flush=True)
while True:
    held.append(b"\\x01" * (16 << 20))
"""

PROBE_CLI = f"""#!/usr/bin/python3
import time
for name in ("memory.max", "memory.oom.group", "memory.events", "memory.peak", "memory.current",
             "memory.pressure"):
    try:
        with open("{BROWSER_CGROUP}/" + name) as f:
            print("firefox.service/" + name + ": " + " ".join(f.read().split()), flush=True)
    except OSError as e:
        print("firefox.service/" + name + ": " + e.strerror, flush=True)
time.sleep(3600)
"""


def provider(pid, cli):
    return {"id": pid, "argv": [f"{CLI_DIR}/{cli}"], "pty": True, "url_patterns": ["http://127.0.0.1:"],
            "credential_file": f".{pid}/credentials.json", "credential_keys": ["access_token"],
            "callback_port": 0}


@pytest.fixture(scope="module")
def vm(image, tmp_path_factory):
    work = tmp_path_factory.mktemp("oom-vm")
    files = []
    for name, text, dest, mode in (("page.html", PAGE_HTML, PAGE, "0644"),
                                   ("hog-cli", HOG_CLI, f"{CLI_DIR}/hog-cli", "0755"),
                                   ("probe-cli", PROBE_CLI, f"{CLI_DIR}/probe-cli", "0755")):
        (work / name).write_text(text)
        files.append((work / name, dest, mode))
    shipped = json.loads(demo.SHIPPED_PROVIDERS.read_text())
    providers = {**shipped, "providers": shipped["providers"] + [provider("hog", "hog-cli"),
                                                                  provider("cgprobe", "probe-cli")]}
    (work / "providers.json").write_text(json.dumps(providers, indent=2) + "\n")
    files.append((work / "providers.json", demo.GUEST_PROVIDERS, "0644"))
    v = qemu.Vm(image, mode="pid1", memory=VM_MB, workdir=work, files=files,
                # The kernel's kill is what this tests: the agent's own
                # thrash kill (memory_thrash_kill_s) is off, so a page that
                # thrashes long before the kernel acts (a loaded machine)
                # cannot take its place.
                extra_cmdline=f"vmba.browser_memory_max_mb={BROWSER_MB} vmba.login_memory_max_mb={LOGIN_MB} "
                              "vmba.memory_thrash_kill_s=0")
    v.boot(BOOT_TIMEOUT)
    yield v
    v.close()


def firefox(vm):
    status, health = vm.health()
    assert status == 200, health
    return health["services"]["firefox"]


def start(vm, prov, sid):
    status, body = vm.http(f"/auth/{prov}", method="POST", timeout=120,
                           data=json.dumps({"sessionId": sid}).encode(),
                           headers={"Content-Type": "application/json"})
    assert status == 200, body
    return json.loads(body)


def test_a_page_past_the_browsers_memory_max_gets_it_killed_and_started_again(vm):
    """The kill's line names the Firefox that ran the page and the limit,
    /health's last_exit says the same once Firefox is started again, the
    agent answering throughout; the restarted one has the limit again."""
    qemu.wait_until(lambda: (vm.try_http("/health/ready") or (None,))[0] == 200, READY_TIMEOUT,
                    "/health/ready 200", vm.proc)
    vm.console_shows(re.escape(f"The browser gets memory.max {BROWSER_MB} MiB in its cgroup."))
    before = firefox(vm)
    status, body = vm.http("/open-url", method="POST", timeout=200,
                           data=json.dumps({"url": PAGE_URL}).encode(),
                           headers={"Content-Type": "application/json"})
    assert status == 200, body
    opened = time.monotonic()
    ff = firefox(vm)
    assert ff["pid"], ff
    reason = f"killed by the kernel: out of memory (memory.max {BROWSER_MB} MiB)"
    line = rf"Service firefox \(pid {ff['pid']}\) {re.escape(reason)}\."
    text = vm.console_shows(line, timeout=KILL_TIMEOUT)
    print(f"kill line {time.monotonic() - opened:.0f} s after /open-url answered")
    print("\n".join(ln for ln in text.splitlines()
                    if re.search(r"oom|out of memory|Memory cgroup|memory: usage", ln, re.I)))

    def restarted():
        f = firefox(vm)
        return f if f["restarts"] > before["restarts"] and f["state"] == "ready" and f["pid"] != ff["pid"] else None
    again = qemu.wait_until(restarted, READY_TIMEOUT, "firefox started again", vm.proc)
    # The kill stays its last exit; last_error is the current one, none
    # once it is ready again.
    assert again["last_exit"] == reason, again
    assert vm.proc.poll() is None
    assert vm.health()[0] == 200
    # The kernel's view of the browser's cgroup now: its limit set again
    # for the new Firefox (whose cgroup is made again at each start, its
    # memory.events from 0).
    probe = start(vm, "cgprobe", "vm-oom-probe")
    out = probe.get("cliOutput", "")
    print(out)
    assert f"firefox.service/memory.max: {BROWSER_MB << 20}" in out, probe
    assert "firefox.service/memory.oom.group: 1" in out, probe
    # One kill: the page is not opened again by the Firefox started again.
    assert len(re.findall(line, vm.console_text())) == 1, vm.console_text()[-3000:]


def test_a_cli_past_its_memory_max_fails_its_login(vm):
    """The hog CLI's login fails with the kernel's kill at login_memory_max_mb;
    its end's log line says the same; the agent answers on."""
    sid = "vm-oom-hog"
    start(vm, "hog", sid)
    reason = f"killed by the kernel: out of memory (memory.max {LOGIN_MB} MiB)"

    def failed():
        r = vm.try_http(f"/credentials/status?sessionId={sid}", timeout=10)
        body = json.loads(r[1]) if r and r[0] == 200 else {}
        return body if body.get("failed") else None
    got = qemu.wait_until(failed, KILL_TIMEOUT, "the hog's login failed", vm.proc)
    assert got == {"authenticated": False, "failed": True, "error": f"CLI {reason}"}, \
        f"{got}\n{vm.console_text()[-3000:]}"
    text = vm.console_shows(rf"Login {sid}: Provider CLI hog .*\) {re.escape(reason)}, CPU ")
    print("\n".join(ln for ln in text.splitlines()
                    if re.search(r"oom|out of memory|Memory cgroup|memory: usage|" + sid, ln, re.I)))
    assert vm.proc.poll() is None
    assert vm.health()[0] == 200
