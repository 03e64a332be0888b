"""Running the agent as PID 1 in a test's namespaces: inside `unshare
--pid --fork` (a fresh PID namespace, a private mount namespace), its
files under a workdir in /var/tmp, never the machine's (hostname, resolv.conf,
hosts, machine id, the root's mount).  For tests/netns/test_pid1*.py."""
import contextlib
import errno
import json
import os
import shutil
import signal
import tempfile

from netns import DEADLINE_SCALE, read_line, wait_until
from seccompwrap import refusing_superblock_remount
from svagent import write_secret_files

PORT = 18100
# The init of a PID namespace shares this machine's root file system (a
# mount namespace has its own mounts, not its own superblocks): a
# read-only remount of "/" there, as a VM's init does at shutdown, would
# be the machine's.  Every agent started here runs under a filter that
# refuses one (a bind's `mount -o remount,bind,ro` stays allowed), with an
# errno no kernel gives for it, so that an attempt shows in its log.
NO_REMOUNT_ERRNO = errno.ENOTRECOVERABLE
NO_REMOUNT = refusing_superblock_remount(NO_REMOUNT_ERRNO)


@contextlib.contextmanager
def pid1_workdir():
    """A directory for one test's agent, under /var/tmp: the agent's /tmp
    and /run are tmpfs mounts of its own namespace."""
    d = tempfile.mkdtemp(prefix="vmba-pid1-", dir="/var/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def service(name, script, depends_on=()):
    return {"name": name, "argv": ["/bin/sh", "-c", script], "depends_on": list(depends_on),
            "restart": "never", "stop_timeout_ms": 3000}


def logs_on_term(name, log):
    # `wait` returns at once on a trapped signal; the trap logs and exits.
    # <log>.<name> appears once the trap is set: a SIGTERM before that
    # would end the shell without a line.
    return f'trap "echo {name} >> {log}; exit 0" TERM; : > {log}.{name}; sleep 1000 & wait'


def start_pid1(ns, agent_bin, workdir, services, *extra, cmdline="console=ttyS0 reboot=k quiet", first=(),
               wrapper=(), find_agent=True, mount_proc=True, prelude=None, **popen):
    services_file = write(os.path.join(workdir, "services.json"), json.dumps({"services": services}))
    cmdline = write(os.path.join(workdir, "cmdline"), cmdline + "\n")
    token_file, desktop_file = write_secret_files(workdir)
    # --uts: as PID 1 the agent sets the hostname from ip=; never the machine's.
    # mount_proc=False: no /proc at all (as in the VM after the initramfs),
    # the agent mounts its own.  prelude: shell commands run in the new
    # namespaces before the agent (mounts that only it sees).
    if not mount_proc:
        prelude = "umount -R -l /proc" + (f" && {prelude}" if prelude else "")
    unshare = ["unshare", "--pid", "--fork", "--mount-proc" if mount_proc else "--mount", "--uts"]
    if prelude:
        unshare += ["sh", "-c", prelude + ' && exec "$0" "$@"']
    argv = [*NO_REMOUNT, *wrapper, *unshare, agent_bin, *first,
            "--services-file", services_file, "--http-port", str(PORT),
            "--set", f"cmdline_path={cmdline}", "--set", f"token_file={token_file}",
            "--set", f"desktop_secret_file={desktop_file}",
            "--set", f"resolv_conf={workdir}/resolv.conf", "--set", f"hosts_file={workdir}/hosts",
            "--set", f"hostname_file={workdir}/hostname", "--set", f"runtime_dir={workdir}/run",
            # Never the machine's own id: systemd.machine_id= replaces this one.
            "--set", f"machine_id_file={workdir}/etc/machine-id",
            "--set", f"firefox_profile={workdir}/browser/profile", "--set", f"login_home={workdir}/logins",
            *extra]
    unshare = ns.popen(argv, **popen)
    if not find_agent:
        return unshare, None
    children = f"/proc/{unshare.pid}/task/{unshare.pid}/children"
    agent = int(wait_until(lambda: open(children).read().split(), 10, "the agent forked by unshare")[0])
    return unshare, agent


def process_table():
    """{pid: (ppid, state, comm)} of every process visible from here."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(d)] = (int(fields[1]), fields[0], comm)
    return table


def descendants(root):
    table = process_table()
    out, todo = {}, [root]
    while todo:
        p = todo.pop()
        for pid, (ppid, state, comm) in table.items():
            if ppid == p:
                out[pid] = (ppid, state, comm)
                todo.append(pid)
    return out


def health(ns):
    r = ns.run("curl", "-sS", "-m", "5", f"http://127.0.0.1:{PORT}/health", check=False)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout else None


def restore_poke(ns):
    """POST /restore-check, as anyone may: its HTTP status ("202", "404")."""
    return ns.run("curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                  f"http://127.0.0.1:{PORT}/restore-check", check=False).stdout


def stop_pid1(agent, unshare):
    """SIGTERM to the agent as PID 1: it says it stopped, and its
    namespace's unshare exits 0."""
    os.kill(agent, signal.SIGTERM)
    read_line(unshare.stderr, "Stopped; exiting.")
    assert unshare.wait(timeout=30 * DEADLINE_SCALE) == 0
