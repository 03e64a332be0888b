#!/usr/bin/python3
"""Stand-in for the endpoints the pinned provider CLIs call during a login
(OpenAI for Codex, Anthropic for Claude Code, Google for Gemini CLI), for
the real-CLI tier only: it listens on loopback inside the test's network
namespace, where a private /etc/hosts maps the providers' names to it, and
the CLIs trust its throw-away CA by test-only environment.

  standin.py --make-ca DIR            ca.pem (to trust), ca.key, leaf.key
  standin.py --ca DIR --log FILE [--port 443] [--status HOST/PATH=CODE]...

* HTTPS with a leaf certificate minted per SNI name (openssl), signed by
  the CA; one key for every leaf.
* Every request is logged as one JSON line: host, method, path, headers,
  body, status.  Unknown routes answer 404 JSON (every CLI tolerates that
  for what it does not need).
* --status HOST/PATH=CODE forces a route's status (failure tests).
* An authorization code containing "refuse" gets 400 invalid_grant from
  every token endpoint (a failed exchange, per request).

What the CLIs need (measured against the pinned versions):
  codex   POST auth.openai.com/oauth/token: the authorization code grant
          answers id_token (a JWT; the signature is not checked),
          access_token, refresh_token; the token-exchange grant an API key.
  claude  POST platform.claude.com/v1/oauth/token (JSON): access_token,
          refresh_token, expires_in, and a scope with user:inference (which
          makes the login a Claude account one, claudeAiOauth); profile and
          roles on api.anthropic.com are optional.
  gemini  POST oauth2.googleapis.com/token (form) and, for the CLI to count
          the login as done, POST cloudcode-pa.googleapis.com
          /v1internal:loadCodeAssist with a currentTier; userinfo optional.
"""
import argparse
import base64
import json
import os
import ssl
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

A = None
LOGLOCK = threading.Lock()


def log(rec):
    with LOGLOCK:
        with open(A.log, "a") as f:
            f.write(json.dumps(dict(rec, t=round(time.time(), 3))) + "\n")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(claims):
    return "%s.%s.%s" % (b64u(json.dumps({"alg": "none", "typ": "JWT"}).encode()),
                         b64u(json.dumps(claims).encode()), b64u(b"standin-signature"))


def now():
    return int(time.time())


# ---------------------------------------------------------------- routes

def codex_token(req):
    f = req["form"]
    gt = f.get("grant_type")
    if gt in ("authorization_code", "refresh_token"):
        auth = {"chatgpt_account_id": "acct-standin", "chatgpt_plan_type": "plus",
                "chatgpt_user_id": "user-standin", "user_id": "user-standin",
                "organization_id": "org-standin", "project_id": "proj-standin",
                "completed_platform_onboarding": True, "is_org_owner": False}
        idt = jwt({"iss": "https://auth.openai.com", "aud": [f.get("client_id", "")],
                   "sub": "user-standin", "email": "standin@example.com", "email_verified": True,
                   "iat": now(), "exp": now() + 3600, "https://api.openai.com/auth": auth,
                   "https://api.openai.com/profile": {"email": "standin@example.com"}})
        at = jwt({"iss": "https://auth.openai.com", "sub": "user-standin", "iat": now(),
                  "exp": now() + 864000, "https://api.openai.com/auth": auth})
        return 200, {"id_token": idt, "access_token": at, "refresh_token": "rt-standin-codex",
                     "token_type": "Bearer", "expires_in": 864000,
                     "scope": "openid profile email offline_access"}
    if gt == "urn:ietf:params:oauth:grant-type:token-exchange":
        return 200, {"access_token": "sk-standin-codex-apikey", "token_type": "Bearer"}
    return 400, {"error": "unsupported_grant_type"}


def claude_token(req):
    j = req["json"] or req["form"]
    if j.get("grant_type") not in ("authorization_code", "refresh_token"):
        return 400, {"error": "unsupported_grant_type"}
    return 200, {
        "token_type": "Bearer", "access_token": "sk-ant-oat01-standin-access",
        "refresh_token": "sk-ant-ort01-standin-refresh", "expires_in": 28800,
        "scope": j.get("scope") or "user:inference user:profile user:sessions:claude_code",
        "organization": {"uuid": "00000000-0000-4000-8000-000000000001", "name": "Standin Org"},
        "account": {"uuid": "00000000-0000-4000-8000-000000000002", "email_address": "standin@example.com"}}


def claude_profile(req):
    return 200, {
        "account": {"uuid": "00000000-0000-4000-8000-000000000002", "full_name": "Standin User",
                    "display_name": "Standin", "email": "standin@example.com",
                    "has_claude_max": True, "has_claude_pro": False, "created_at": "2025-01-01T00:00:00Z"},
        "organization": {"uuid": "00000000-0000-4000-8000-000000000001", "name": "Standin Org",
                         "organization_type": "claude_max", "billing_type": "stripe_subscription",
                         "rate_limit_tier": "default_claude_max_20x", "has_extra_usage_enabled": False}}


def claude_roles(req):
    return 200, {"organization_role": "admin", "workspace_role": None, "organization_name": "Standin Org"}


def google_token(req):
    f = req["form"] or req["json"] or {}
    if f.get("grant_type") not in ("authorization_code", "refresh_token"):
        return 400, {"error": "unsupported_grant_type"}
    return 200, {"access_token": "ya29.standin-access", "expires_in": 3599,
                 "refresh_token": "1//standin-refresh", "token_type": "Bearer",
                 "scope": "https://www.googleapis.com/auth/cloud-platform "
                          "https://www.googleapis.com/auth/userinfo.email "
                          "https://www.googleapis.com/auth/userinfo.profile openid"}


def google_userinfo(req):
    return 200, {"id": "100000000000000000001", "email": "standin@example.com", "verified_email": True,
                 "name": "Standin User", "picture": ""}


def google_load_code_assist(req):
    return 200, {"currentTier": {"id": "free-tier", "name": "Gemini Code Assist for individuals",
                                 "userDefinedCloudaicompanionProject": False},
                 "allowedTiers": [{"id": "free-tier", "isDefault": True,
                                   "userDefinedCloudaicompanionProject": False}],
                 "cloudaicompanionProject": "standin-project-123"}


def hello(req):
    return 200, {"message": "hello"}


# (host, method, path prefix, handler)
ROUTES = [
    ("auth.openai.com", "POST", "/oauth/token", codex_token),
    ("platform.claude.com", "POST", "/v1/oauth/token", claude_token),
    ("platform.claude.com", "GET", "/v1/oauth/hello", hello),
    ("api.anthropic.com", "GET", "/api/hello", hello),
    ("api.anthropic.com", "HEAD", "/api/hello", hello),
    ("api.anthropic.com", "GET", "/api/oauth/profile", claude_profile),
    ("api.anthropic.com", "GET", "/api/oauth/claude_cli/roles", claude_roles),
    ("oauth2.googleapis.com", "POST", "/token", google_token),
    ("www.googleapis.com", "GET", "/oauth2/v2/userinfo", google_userinfo),
    ("cloudcode-pa.googleapis.com", "POST", "/v1internal:loadCodeAssist", google_load_code_assist),
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                n = int(self.rfile.readline().strip().split(b";")[0], 16)
                if n == 0:
                    self.rfile.readline()
                    return body
                body += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        body = self.read_body()
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        u = urllib.parse.urlsplit(self.path)
        form, js = {}, None
        try:
            if "json" in self.headers.get("Content-Type", ""):
                js = json.loads(body or b"null")
            elif body:
                form = dict(urllib.parse.parse_qsl(body.decode()))
        except ValueError:
            pass
        req = {"host": host, "path": u.path, "form": form, "json": js}
        status, resp = 404, {"error": "standin: no route", "host": host, "path": u.path}
        for rh, rm, rp, fn in ROUTES:
            if rh == host and rm == self.command and u.path.startswith(rp):
                status, resp = fn(req)
                break
        # An authorization code with "refuse" in it is refused by every
        # token endpoint, as a provider refuses a used or forged one.
        grant = (form or {}).get("code") or (js.get("code") if isinstance(js, dict) else None) or ""
        if "refuse" in grant:
            status, resp = 400, {"error": "invalid_grant", "error_description": "standin: code refused"}
        for key, code in A.status:
            if key == host + u.path:
                status, resp = code, {"error": "standin forced %d" % code}
        out = json.dumps(resp).encode()
        log({"host": host, "method": self.command, "path": self.path, "headers": dict(self.headers),
             "body": body.decode("utf-8", "replace")[:4000], "status": status})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


# ------------------------------------------------------------- TLS per SNI

def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True).stdout


def make_ca(d):
    """A throw-away CA (EC P-256, CA:TRUE) and the one key every leaf uses."""
    os.makedirs(d, exist_ok=True)
    if os.path.exists(os.path.join(d, "ca.pem")):
        return
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", os.path.join(d, "ca.key"), "-out", os.path.join(d, "ca.pem"), "-days", "30",
            "-subj", "/CN=vm-browser-agent realcli throw-away CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-addext", "subjectKeyIdentifier=hash")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-out", os.path.join(d, "leaf.key"))
    for k in ("ca.key", "leaf.key"):
        os.chmod(os.path.join(d, k), 0o600)


CTX = {}
CTXLOCK = threading.Lock()


def mint(name):
    """A leaf for name (SAN, serverAuth, AKI: what rustls/webpki, Bun and
    Node all accept), chained with the CA."""
    crt = os.path.join(A.work, "leaf-%s.pem" % name)
    if not os.path.exists(crt):
        csr = openssl("req", "-new", "-key", os.path.join(A.ca, "leaf.key"), "-subj", "/CN=" + name)
        ext = os.path.join(A.work, "ext-%s.cnf" % name)
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n"
                    "basicConstraints=CA:FALSE\nauthorityKeyIdentifier=keyid\n" % name)
        leaf = openssl("x509", "-req", "-CA", os.path.join(A.ca, "ca.pem"), "-CAkey", os.path.join(A.ca, "ca.key"),
                       "-CAcreateserial", "-days", "20", "-sha256", "-extfile", ext, stdin=csr)
        with open(os.path.join(A.ca, "ca.pem"), "rb") as f:
            chain = leaf + f.read()
        with open(crt, "wb") as f:
            f.write(chain)
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c.set_alpn_protocols(["http/1.1"])
    c.load_cert_chain(crt, os.path.join(A.ca, "leaf.key"))
    return c


def context_for(name):
    with CTXLOCK:
        if name not in CTX:
            CTX[name] = mint(name)
        return CTX[name]


def on_sni(sock, name, ctx):
    try:
        sock.context = context_for((name or "localhost").lower())
    except (OSError, subprocess.CalledProcessError, ssl.SSLError) as e:
        log({"tls-error": repr(e), "sni": name})


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self):
        s, addr = self.socket.accept()
        base = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        base.set_alpn_protocols(["http/1.1"])
        base.load_cert_chain(os.path.join(A.work, "leaf-localhost.pem"), os.path.join(A.ca, "leaf.key"))
        base.sni_callback = on_sni
        return base.wrap_socket(s, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request, client_address):
        try:
            request.do_handshake()
        except (OSError, ssl.SSLError) as e:
            log({"tls-handshake-failed": repr(e)})
            return
        super().finish_request(request, client_address)


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--make-ca")
    ap.add_argument("--ca")
    ap.add_argument("--log")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--status", action="append", default=[])
    A = ap.parse_args()
    if A.make_ca:
        make_ca(A.make_ca)
        return
    A.status = [(k, int(v)) for k, v in (x.rsplit("=", 1) for x in A.status)]
    A.work = os.path.join(os.path.dirname(os.path.abspath(A.log)), "standin-certs")
    os.makedirs(A.work, exist_ok=True)
    context_for("localhost")
    TLSServer(("127.0.0.1", A.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
