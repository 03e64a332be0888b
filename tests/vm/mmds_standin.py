"""A stand-in for Firecracker's MMDS v2 for qemu guests, shared by the vm
tier and bench/restore.  qemu's user network forwards the guest's
connections to MMDS_IP:80 to a program (guestfwd=...-cmd:), started per
connection, which answers one MMDS v2 request (PUT /latest/api/token with
X-metadata-token-ttl-seconds → the session token; GET of the object's path
with X-metadata-token → its JSON) on its stdin/stdout from a JSON file the
caller rewrites (put()).  Nothing listens on the host.

slirp (qemu 7.2) refuses a guestfwd outside its own network ("Conflicting/
invalid host:port in guest forwarding rule" for 169.254.169.254), so the
stand-in is at 10.0.2.100 and the guest is told so (vmba.mmds_address=).
"""
import json
import os
import sys

MMDS_IP = "10.0.2.100"
MMDS_PATH = "/vm-browser-agent"
CMDLINE = f"vmba.mmds=true vmba.mmds_address={MMDS_IP}"

# One MMDS v2 exchange on stdin/stdout (qemu's guestfwd cmd:).  "time": 0
# in the object is answered as the host's clock now, as a host would.
MMDS_STDIO = r'''
import json, sys, time
state_path, log_path = sys.argv[1], sys.argv[2]
rfile, wfile = sys.stdin.buffer, sys.stdout.buffer
method, path, _ = rfile.readline().decode().split(" ", 2)
headers = {}
while True:
    line = rfile.readline()
    if line in (b"\r\n", b"\n", b""):
        break
    k, v = line.decode().split(":", 1)
    headers[k.strip().lower()] = v.strip()
n = int(headers.get("content-length", "0"))
if n:
    rfile.read(n)
with open(state_path) as f:
    state = json.load(f)
if method == "PUT" and path == "/latest/api/token" and headers.get("x-metadata-token-ttl-seconds"):
    status, body = 200, state["session"]
elif headers.get("x-metadata-token") != state["session"]:
    status, body = 401, "no session"
elif method == "GET" and path == state["path"]:
    obj = state["object"]
    if "time" in obj:
        obj["time"] = int(time.time() * 1000)
    status, body = 200, json.dumps(obj)
else:
    status, body = 404, "no such object"
with open(log_path, "a") as f:
    f.write(f"{method} {path} {status}\n")
data = body.encode()
wfile.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (status, len(data)) + data)
wfile.flush()
'''


class Mmds:
    """The stand-in's state file and its per-connection program."""

    def __init__(self, workdir):
        """workdir: a pathlib.Path for the state file, the program and its
        log (one line per request: method, path, status)."""
        self.state = workdir / "mmds.json"
        self.log = workdir / "mmds.log"
        self.script = workdir / "mmds-stdio.py"
        self.script.write_text(MMDS_STDIO)
        self.log.write_text("")

    def put(self, obj):
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps({"session": "mmds-session-1", "path": MMDS_PATH, "object": obj}))
        os.replace(tmp, self.state)

    def guestfwd(self):
        # qemu splits -netdev on commas and the command on blanks.
        return f"guestfwd=tcp:{MMDS_IP}:80-cmd:{sys.executable} {self.script} {self.state} {self.log}"
