#!/usr/bin/python3
"""mmds_server.py ADDRESS OBJECT_FILE LOG_FILE [UNAVAILABLE [CUT]]: a stand-in for
Firecracker's MMDS v2 on ADDRESS:80, for the netns tests (the vm tier's is
tests/vm/mmds_standin.py, served through qemu's guestfwd).

- PUT /latest/api/token with X-metadata-token-ttl-seconds: the session
  token; the first UNAVAILABLE (default 0) PUTs get 503, as an MMDS that
  is not up yet.
- GET /vm-browser-agent with that token (X-metadata-token): the contents
  of OBJECT_FILE, read at each request so the test can change it; 503
  while the file does not exist (a host that has not put the metadata
  yet: the agent asks again); 401 without the token, 404 for another path.
- OBJECT_FILE.later, put there by a test while OBJECT_FILE is missing:
  moved in place at the second 503 since it appeared (before that answer
  goes, logged "LATER in place"), so the agent's next question gets it.
  The handover then comes between the agent's own questions, not at a
  moment of the test's: a test slower than the agent's series of
  questions (it gives up after a few) would write it when nobody asks.
  The first CUT (default 0) answers with the object are cut off: their
  Content-Length announces 16 bytes more than the object, and the
  connection ends after it (a whole JSON object that is not the whole
  answer).

Each request is appended to LOG_FILE as one line ("PUT /path ttl=…",
"GET /path token=ok|bad accept=…")."""
import http.server
import os
import sys

ADDRESS, OBJECT_FILE, LOG_FILE = sys.argv[1], sys.argv[2], sys.argv[3]
LATER_FILE = OBJECT_FILE + ".later"
state = {"session": None, "unavailable": int(sys.argv[4]) if len(sys.argv) > 4 else 0,
         "cut": int(sys.argv[5]) if len(sys.argv) > 5 else 0, "later_503s": 0}
SESSION = "mmds-session-42"


def log(line):
    with open(LOG_FILE, "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, code, body=b"", ctype="text/plain", short=0):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) + short))
        self.close_connection = self.close_connection or short > 0
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        log(f"PUT {self.path} ttl={self.headers.get('X-metadata-token-ttl-seconds')}")
        if state["unavailable"] > 0:
            state["unavailable"] -= 1
            return self.answer(503, b"not yet")
        if self.path != "/latest/api/token" or not self.headers.get("X-metadata-token-ttl-seconds"):
            return self.answer(400, b"bad")
        state["session"] = SESSION
        self.answer(200, SESSION.encode())

    def do_GET(self):
        ok = state["session"] is not None and self.headers.get("X-metadata-token") == state["session"]
        log(f"GET {self.path} token={'ok' if ok else 'bad'} accept={self.headers.get('Accept')}")
        if not ok:
            return self.answer(401, b"no session")
        if self.path != "/vm-browser-agent":
            return self.answer(404, b"no such object")
        if not os.path.exists(OBJECT_FILE):
            self.later_after_this_503()
            return self.answer(503, b"no metadata yet")
        cut = state["cut"] > 0
        state["cut"] -= cut
        with open(OBJECT_FILE, "rb") as f:
            self.answer(200, f.read(), "application/json", short=16 if cut else 0)

    def later_after_this_503(self):
        """OBJECT_FILE.later in place when this is the second 503 since it
        is there: before that answer goes, so the next question finds it.
        (The agent asks one question at a time.)"""
        if not os.path.exists(LATER_FILE):
            state["later_503s"] = 0
            return
        state["later_503s"] += 1
        if state["later_503s"] == 2:
            os.replace(LATER_FILE, OBJECT_FILE)
            log("LATER in place")

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer((ADDRESS, 80), Handler).serve_forever()
