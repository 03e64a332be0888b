#!/usr/bin/python3
"""The fake OAuth provider page: GET /<cli>/authorize?redirect_uri=&state=
answers 302 to redirect_uri?code=SECRET-CODE-<cli>&state=<state> (or
error=access_denied when the client_id is "deny").  Listens on
127.0.0.1:argv[1]."""
import http.server
import sys
import urllib.parse


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        cli = u.path.split("/")[1]
        target = q["redirect_uri"][0]
        if q.get("client_id") == ["deny"]:
            extra = {"error": "access_denied", "state": q["state"][0]}
        else:
            extra = {"code": f"SECRET-CODE-{cli}", "state": q["state"][0]}
        self.send_response(302)
        self.send_header("Location", target + ("&" if "?" in target else "?") + urllib.parse.urlencode(extra))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
