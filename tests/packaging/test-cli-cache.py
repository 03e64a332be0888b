#!/usr/bin/python3
"""packaging/cli-cache against a stand-in npm registry on loopback: a pin
is installed into the cache and its entry made runnable; a pin moved to
a version the registry published after the cache last read the
package's metadata is installed too.  The real registry marks that
metadata fresh for 300 s (Cache-Control: max-age=300), as the stand-in
does: an install that trusts the cached copy (npm's --prefer-offline, or
its default within those 300 s) finds no such version (ETARGET), and the
image and the real-CLI tier failed on the first pin bump of a machine
that cached the old pin; cli-cache then asks the registry again.  The Node.js entry is marked complete, so only
the CLI part runs (no root, no apt).

    test-cli-cache.py      exit 0 passed, 1 failed, 77 skipped
"""
import base64
import hashlib
import http.server
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import unittest

import meson_exit

TOP = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = TOP / "packaging" / "cli-cache"
PKG = "vmba-stand-in-cli"
ENTRY = f"node_modules/{PKG}/bin/cli"
NODE_VERSION = "0.0-test"


def tarball(version):
    """A package as npm packs it: package/package.json and its program."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data, mode in (
                ("package/package.json", json.dumps({"name": PKG, "version": version}).encode(), 0o644),
                ("package/bin/cli", f"#!/bin/sh\necho {version}\n".encode(), 0o644)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Registry:
    """The package's metadata and tarballs, for the versions published."""

    def __init__(self):
        self.tarballs = {}
        self.asked = []
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                registry.answer(self)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, version):
        self.tarballs[version] = tarball(version)

    def packument(self):
        versions = {}
        for v, data in self.tarballs.items():
            integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
            versions[v] = {"name": PKG, "version": v,
                           "dist": {"tarball": f"{self.url}{PKG}/-/{PKG}-{v}.tgz", "integrity": integrity}}
        return {"name": PKG, "dist-tags": {"latest": max(versions)}, "versions": versions}

    def answer(self, req):
        path = req.path.split("?")[0]
        self.asked.append(path)
        if path == f"/{PKG}":
            body, kind = json.dumps(self.packument()).encode(), "application/json"
        else:
            m = re.fullmatch(rf"/{PKG}/-/{PKG}-(.+)\.tgz", path)
            body = self.tarballs.get(m.group(1)) if m else None
            kind = "application/octet-stream"
        if body is None:
            req.send_error(404)
            return
        req.send_response(200)
        req.send_header("Content-Type", kind)
        req.send_header("Content-Length", str(len(body)))
        req.send_header("Cache-Control", "public, max-age=300")
        req.end_headers()
        req.wfile.write(body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@unittest.skipUnless(shutil.which("npm"), "needs npm (tests/install-deps installs Debian's)")
class CliCache(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="test-cli-cache-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.registry = Registry()
        self.addCleanup(self.registry.close)
        recipe = re.search(r"^NODE_RECIPE=(\d+)", SCRIPT.read_text(), re.M).group(1)
        node = self.tmp / "cache" / "clis" / f"node-{NODE_VERSION}-r{recipe}"
        node.mkdir(parents=True)
        (node / ".complete").touch()
        self.home = self.tmp / "home"
        self.home.mkdir()

    def cache(self, version):
        """Runs cli-cache with the CLI pinned at version: (rc, provider dirs, stderr)."""
        pins = self.tmp / "clis.json"
        pins.write_text(json.dumps({
            "node": {"debian_suite": "trixie", "package": "nodejs", "version": NODE_VERSION},
            "clis": [{"provider": "stand_in", "package": PKG, "version": version, "entry": ENTRY}]}))
        env = {"PATH": os.environ["PATH"], "HOME": str(self.home), "VMBA_CACHE": str(self.tmp / "cache"),
               "VMBA_CLIS_FILE": str(pins), "npm_config_registry": self.registry.url}
        r = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)
        dirs = dict(line.split(" ", 1) for line in r.stdout.splitlines())
        return r.returncode, dirs, r.stderr

    def assert_cached(self, version):
        rc, dirs, err = self.cache(version)
        self.assertEqual(rc, 0, err)
        program = pathlib.Path(dirs["stand_in"]) / ENTRY
        self.assertTrue(dirs["stand_in"].endswith(f"{PKG}-{version}"), dirs)
        self.assertEqual(subprocess.run([str(program)], capture_output=True, text=True).stdout, f"{version}\n")
        return err

    def test_pin_cached(self):
        self.registry.publish("1.0.0")
        self.assert_cached("1.0.0")
        # Cached: used as it is, the registry not asked.  (Not closing it:
        # npm, refused, retries for minutes and then takes its own cache,
        # so a run that went to npm would still pass, late.)
        self.registry.asked.clear()
        self.assert_cached("1.0.0")
        self.assertEqual(self.registry.asked, [])

    def test_pin_moved_to_a_version_published_since(self):
        self.registry.publish("1.0.0")
        self.assert_cached("1.0.0")
        self.registry.publish("1.0.1")
        # npm's cache first (offline), then the registry once it did not
        # know the version.
        err = self.assert_cached("1.0.1")
        self.assertIn(f"{PKG}@1.0.1 is not in npm's cached metadata: asking the registry", err)

    def test_pin_missing_names_it(self):
        self.registry.publish("1.0.0")
        rc, dirs, err = self.cache("9.9.9")
        self.assertEqual(rc, 1)
        self.assertIn(f"npm install {PKG}@9.9.9 failed", err)
        self.assertNotIn("stand_in", dirs)


if __name__ == "__main__":
    meson_exit.main()
