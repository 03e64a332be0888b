"""What an answered request leaves in the agent's memory: nothing of its
request line, header fields or body.  libmicrohttpd 0.9.75 parses a
request in place in its connection's memory pool (the query unescaped
there, header values pointing into it, body bytes read ahead) and, when
the connection closes, frees that pool without wiping it; a kept-alive
connection's pool is zeroed for the next request (agent/http/http.c,
pool_size()).

The secrets: an OAuth callback's code and state at /oauth/callback with no
login waiting (a 400: nothing of the agent's keeps them), and a Bearer
token, refused at a control route (a 401, with a body) or not read at
/health.  Each is looked for in every private writable mapping of the
agent (tests/lib/procmem.py) once its request is answered, the connection
closed (the close seen: MHD frees the pool before it shuts the socket
down) or kept alive (its next request answered: MHD resets the pool
before it reads one).  And a host-driven login's code, once the host has
pulled it, is left nowhere: not in the request, the session or the
answer that carried it.

Layout: Lan(): guest namespace (the agent, requests from its loopback),
made by tests/lib/httpserver.py.
"""
import json
import secrets
import socket

import pytest

import procmem
from httpserver import PORT, TOKEN, agent_server, guest_lan, read_answer, scratch_dir
from netns import wait_until


@pytest.fixture
def agent(agent_bin):
    with guest_lan() as lan, scratch_dir() as workdir, agent_server(agent_bin, lan, workdir) as s:
        yield s


def unique(what):
    return f"vmba-{what}-{secrets.token_hex(12)}".encode()


def status_of(head):
    return int(head.split(b" ", 2)[1])


def secret_requests(keep_alive):
    """(header block without its final CRLF, body, status, the secrets in
    them).  The code has an escape in it: it is looked for as sent and as
    unescaped.  A token the route does not read is a header value all the
    same; one refused (401) closes the connection whatever the client
    asked, and the body sent with it is never read by the agent."""
    code, code2, state = unique("code"), unique("code2"), unique("state")
    token, refused, posted = unique("token"), unique("refused"), unique("posted")
    body = b'{"state":"' + posted + b'"}'
    reqs = [
        (b"GET /oauth/callback?code=" + code + b"%2F" + code2 + b"&state=" + state +
         b" HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"", 400, (code, code2, state)),
        (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + b"\r\n", b"", 200,
         (token,)),
    ]
    if not keep_alive:
        reqs.append((b"POST /auth/oauth HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + refused +
                     b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(body), body, 401,
                     (refused, posted)))
    return reqs


def assert_forgotten(agent, needles):
    hits = procmem.find(agent.proc.pid, needles)
    assert not hits, f"left in the agent's memory: {hits}"


def test_a_request_coming_is_found(agent):
    """The control: a request's bytes are found while it is still coming
    (agent.proc is `ip netns exec`, which execs the agent), so their
    absence later says they were let go."""
    marker = unique("coming")
    with agent.lan.guest.entered():
        s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    try:
        s.sendall(b"GET /health?x=" + marker + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        wait_until(lambda: procmem.find(agent.proc.pid, [marker]), 10, "the request in the agent's memory")
    finally:
        s.close()


@pytest.mark.parametrize("keep_alive", [False, True], ids=["closed", "kept-alive"])
def test_request_secrets_are_not_left_behind(agent, keep_alive):
    for head, body, status, needles in secret_requests(keep_alive):
        with agent.lan.guest.entered():
            s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        try:
            s.sendall(head + (b"" if keep_alive else b"Connection: close\r\n") + b"\r\n" + body)
            answer = read_answer(s)
            assert status_of(answer) == status, answer
            if keep_alive:
                assert b"\r\nConnection: close" not in answer + b"\r\n", answer
                s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert status_of(read_answer(s)) == 200
            else:
                assert s.recv(65536) == b"", "the connection was not closed"
            assert_forgotten(agent, needles)
        finally:
            s.close()
    agent.assert_serving(1)



def exchange(agent, method, path, body=b"", headers=b""):
    """One request with Connection: close, its response read and the close
    seen (MHD frees the connection's pool and the response before it shuts
    the socket down): (status, body)."""
    with agent.lan.guest.entered():
        s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    try:
        s.sendall(b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: %d\r\n\r\n%s"
                  % (method, path, headers, len(body), body))
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    finally:
        s.close()
    head, _, answer = out.partition(b"\r\n\r\n")
    return status_of(head), answer


def test_a_host_logins_code_is_gone_once_delivered(agent):
    """A host-driven login from its start to its delivery: the code the
    callback brought, answered at GET /credentials/get, is wiped everywhere
    once the host has it (the authorize URL and its state are not: the
    VM's browser is given them)."""
    auth = b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
    s, state, code = b"mem-" + secrets.token_hex(4).encode(), unique("state"), unique("code")
    start = json.dumps({"sessionId": s.decode(), "state": state.decode(),
                        "authorizeUrl": "https://provider.example/authorize"}).encode()
    status, body = exchange(agent, b"POST", b"/auth/oauth", start, auth + b"Content-Type: application/json\r\n")
    assert status == 200, body
    status, body = exchange(agent, b"GET", b"/oauth/callback?code=" + code + b"&state=" + state)
    assert status == 200, body
    status, body = exchange(agent, b"GET", b"/credentials/get?sessionId=" + s, headers=auth)
    assert status == 200 and code in body, body
    assert_forgotten(agent, [code])
    agent.assert_serving(1)
