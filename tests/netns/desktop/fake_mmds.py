#!/usr/bin/python3
"""fake_mmds.py ADDRESS PORT RELEASE DESKTOP_SECRET TOKEN: Firecracker's
MMDS v2 as the agent asks it (PUT /latest/api/token, then GET the object
with X-metadata-token).  Until the file RELEASE exists it answers 503, as
a host that has not put the metadata yet: the agent retries."""
import http.server
import json
import os
import sys

address, port, release, desktop, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        self.answer(200, b"session-token")

    def do_GET(self):
        if not os.path.exists(release) or self.headers.get("X-metadata-token") != "session-token":
            self.answer(503)
            return
        self.answer(200, json.dumps({"token": token, "desktop_secret": desktop}).encode())

    def log_message(self, *args):
        pass


http.server.HTTPServer((address, port), Handler).serve_forever()
