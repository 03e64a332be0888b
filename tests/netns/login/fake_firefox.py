#!/usr/bin/python3
"""Stands in for firefox-esr in test_open_url_argv: appends its argv (as
JSON, one line) to $FAKE_FIREFOX_LOG next to its profile, then stays up
like a browser unless it is the `--new-tab` remote client."""
import json
import os
import select
import sys

profile = sys.argv[sys.argv.index("--profile") + 1]
with open(os.path.join(os.path.dirname(profile), "firefox-argv.log"), "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\n")
if "--new-tab" not in sys.argv:
    select.select([], [], [], 600)
