#!/usr/bin/python3
"""pagesrv.py ADDRESS PORT LOG AGENT_PORT: the web pages the real-Firefox
tests open, on an address of the test's namespace.  Every request's method
and path is appended to LOG as one line ("GET /url/1"), flushed at once,
so a test waits for the line (the event) rather than for time.

  /url/<n>   a page titled "url <n>"
  /attack    a page whose two forms post themselves (enctype text/plain,
             as a CSRF page would) to the agent's /shutdown and /auth/oauth
             on 127.0.0.1:AGENT_PORT, each into its own frame
  /hold      a page that fetches the agent's /health six times on each of
             127.0.0.1 to 127.0.0.12 at once (a browser keeps such
             connections open, idle, for the next request), then
             fetches /held/<how many answered>
  /held/<n>  an empty page: the event the test waits for
  /mapped    a page that does what /hold does, and sixteen guesses at the
             agent's /oauth/callback, all through IPv4 addresses written as
             IPv6 ([::ffff:127.0.0.2] ...: Firefox 153 sends no Sec-Fetch-*
             there, and lets a public page's fetches through for all but
             127.0.0.1), then fetches /held/<how many answered>
  /preconnect  a page that asks for 350 preconnects (<link rel=preconnect>,
             which open a connection and send nothing) to the agent on
             127.1.0.1 to 127.1.1.94, in five bursts 300 ms apart, then
             fetches /preconnected a second after the last
  /cancel-cli?<url>  a page that navigates to <url> (a CLI listener's
             /cancel, which ends its login)
  /ws-cli?<url>  a page that opens a WebSocket to <url> (ws://..., a CLI
             listener's /cancel: the handshake is a GET of that path),
             then, once it errs, closes or opens, fetches /ws-ended
  /redirect?<url>  a 302 to <url> (a provider sending the browser back
             to its redirect URI)
  /download  a page that downloads /big.bin twice, without asking (a
             script clicks a link with a download attribute)
  /big.bin   40 MiB, an attachment
  /store     a page that puts 1 MiB blobs into IndexedDB, up to 100, until
             one is refused, then fetches /stored/<how many went in>
  /cache     a page that fetches /c/0 to /c/59 (1 MiB each, cacheable for
             a day), then /cached-done"""
import http.server
import sys

address, port, log, agent_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

ATTACK = f"""<!doctype html><meta charset=utf-8><title>attack</title>
<iframe name=f1></iframe><iframe name=f2></iframe>
<form id=a method=POST enctype=text/plain target=f1 action="http://127.0.0.1:{agent_port}/shutdown">
<input name='{{"x":"' value='"}}'></form>
<form id=b method=POST enctype=text/plain target=f2 action="http://127.0.0.1:{agent_port}/auth/oauth">
<input name='{{"sessionId":"11111111-2222-3333-4444-555555555555","authorizeUrl":"http://127.0.0.1:9/a","x":"'
 value='"}}'></form>
<script>document.getElementById("a").submit(); document.getElementById("b").submit();</script>
"""

def fetch_all(title, asks):
    """A page that fetches, all at once, every URL asks (JavaScript calling
    ask(url)) names, then /held/<how many answered>: a browser keeps such
    connections open, idle, for the next request."""
    return f"""<!doctype html><meta charset=utf-8><title>{title}</title>
<script>
const asked = [];
const ask = url => asked.push(fetch(url, {{mode: "no-cors", cache: "no-store"}}).then(() => 1, () => 0));
{asks}
Promise.all(asked).then(r => fetch("/held/" + r.reduce((a, b) => a + b, 0)));
</script>
"""


HOLD = fetch_all("hold", f"""
for (let i = 1; i <= 12; i++)
  for (let k = 0; k < 6; k++)
    ask(`http://127.0.0.${{i}}:{agent_port}/health`);""")
MAPPED = fetch_all("mapped", f"""
for (let i = 2; i <= 13; i++)
  for (let k = 0; k < 6; k++)
    ask(`http://[::ffff:127.0.0.${{i}}]:{agent_port}/health`);
for (let i = 0; i < 16; i++)
  ask(`http://[::ffff:127.0.0.2]:{agent_port}/oauth/callback?code=evil&state=guess-${{i}}-0123456789`);""")

PRECONNECT = f"""<!doctype html><meta charset=utf-8><title>preconnect</title>
<script>
let n = 0;
function burst() {{
  for (let i = 0; i < 70; i++) {{
    n++;
    const l = document.createElement("link");
    l.rel = "preconnect";
    l.href = `http://127.1.${{n >> 8}}.${{n & 255}}:{agent_port}/`;
    document.head.appendChild(l);
  }}
  if (n < 350)
    setTimeout(burst, 300);
  else
    setTimeout(() => fetch("/preconnected"), 1000);
}}
burst();
</script>
"""

STORE = """<!doctype html><meta charset=utf-8><title>store</title>
<script>
const req = indexedDB.open("fill", 1);
req.onupgradeneeded = () => req.result.createObjectStore("s");
req.onsuccess = async () => {
  let n = 0;
  for (; n < 100; n++) {
    const ok = await new Promise(done => {
      const tx = req.result.transaction("s", "readwrite");
      tx.objectStore("s").put(new Blob([new Uint8Array(1 << 20).fill(n & 255)]), n);
      tx.oncomplete = () => done(true);
      tx.onabort = tx.onerror = () => done(false);
    });
    if (!ok)
      break;
  }
  fetch("/stored/" + n);
};
req.onerror = () => fetch("/stored/refused");
</script>
"""
CACHE = """<!doctype html><meta charset=utf-8><title>cache</title>
<script>
(async () => {
  for (let i = 0; i < 60; i++)
    await (await fetch("/c/" + i)).arrayBuffer();
  fetch("/cached-done");
})();
</script>
"""
BIG_MB = 40
DOWNLOAD = """<!doctype html><meta charset=utf-8><title>download</title>
<a id=a href="/big.bin" download>big</a>
<script>document.getElementById("a").click(); document.getElementById("a").click();</script>
"""


class Handler(http.server.BaseHTTPRequestHandler):
    def record(self):
        with open(log, "a") as f:
            f.write(f"{self.command} {self.path}\n")

    def do_GET(self):
        self.record()
        if self.path.startswith("/url/"):
            body = f"<!doctype html><meta charset=utf-8><title>url {self.path[5:]}</title><p>{self.path}".encode()
        elif self.path == "/attack":
            body = ATTACK.encode()
        elif self.path == "/hold":
            body = HOLD.encode()
        elif self.path == "/mapped":
            body = MAPPED.encode()
        elif self.path.startswith("/cancel-cli?"):
            target = self.path.split("?", 1)[1]
            body = (f"<!doctype html><meta charset=utf-8><title>cancel</title>"
                    f"<script>location = {target!r};</script>").encode()
        elif self.path.startswith("/ws-cli?"):
            target = self.path.split("?", 1)[1]
            body = (f"<!doctype html><meta charset=utf-8><title>ws</title><script>"
                    f"const ws = new WebSocket({target!r});"
                    f"ws.onerror = ws.onclose = ws.onopen = () => fetch('/ws-ended');</script>").encode()
        elif self.path == "/ws-ended":
            body = b""
        elif self.path.startswith("/redirect?"):
            self.send_response(302)
            self.send_header("Location", self.path.split("?", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        elif self.path == "/preconnect":
            body = PRECONNECT.encode()
        elif self.path.startswith("/held/") or self.path == "/preconnected":
            body = b""
        elif self.path == "/store":
            body = STORE.encode()
        elif self.path == "/cache":
            body = CACHE.encode()
        elif self.path.startswith("/stored/") or self.path == "/cached-done":
            body = b""
        elif self.path.startswith("/c/"):
            self.send_mib(1, "Cache-Control", "max-age=86400")
            return
        elif self.path == "/download":
            body = DOWNLOAD.encode()
        elif self.path == "/big.bin":
            self.send_mib(BIG_MB, "Content-Disposition", "attachment; filename=big.bin")
            return
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_mib(self, mib, header, value):
        """mib MiB of bytes, with one header of their own."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header(header, value)
        self.send_header("Content-Length", str(mib << 20))
        self.end_headers()
        try:
            for _ in range(mib):
                self.wfile.write(b"x" * (1 << 20))
        except OSError:
            pass  # the browser gave up (its disk full)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    address_family = __import__("socket").AF_INET6 if ":" in address else __import__("socket").AF_INET


Server((address, port), Handler).serve_forever()
