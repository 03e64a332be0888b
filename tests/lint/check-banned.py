#!/usr/bin/python3
"""Fails when product code calls a banned function (as curl's source
checks do).  Banned: whatever has a bounded or safer form we use instead
(sprintf -> snprintf, strcpy/strcat -> memcpy with a checked length or
snprintf, atoi -> strtoul with an end check, gets -> nothing), and whatever
would bring a shell in (system, popen).  Comments and string literals are
ignored; test code is not product code.

  check-banned.py SOURCE_ROOT              exit 0 clean, 1 with one line per call
  check-banned.py SOURCE_ROOT EXPECTED     exit 0 when exactly EXPECTED calls
                                           (the fixture: the check can fail)
"""
import os
import re
import sys

BANNED = {
    "system": "runs a shell: spawn an argv without one",
    "popen": "runs a shell: spawn an argv without one",
    "sprintf": "unbounded: snprintf",
    "vsprintf": "unbounded: vsnprintf",
    "strcpy": "unbounded: memcpy with a checked length, or snprintf",
    "strcat": "unbounded: track the length, or snprintf",
    "strncpy": "does not terminate: memcpy with a checked length",
    "strncat": "easy to misuse: track the length",
    "gets": "unbounded: never",
    "atoi": "no error: strtoul/strtol with an end check",
    "atol": "no error: strtoul/strtol with an end check",
    "atoll": "no error: strtoull/strtoll with an end check",
    "strtok": "not reentrant: strtok_r or strcspn",
    "tmpnam": "racy: mkostemp",
    "mktemp": "racy: mkostemp / mkdtemp",
    "alloca": "unbounded stack: a heap buffer",
}
PRODUCT_DIRS = ("common", "netinit", "agent", "vnc")
CALL = re.compile(r"\b(" + "|".join(BANNED) + r")\s*\(")


def strip(text):
    """The text with comments and string/char literals blanked (lines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (min(j, n) - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def main():
    if len(sys.argv) > 3 or (len(sys.argv) == 3 and not sys.argv[2].isdigit()):
        sys.exit("usage: check-banned.py SOURCE_ROOT [EXPECTED]")
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    expected = int(sys.argv[2]) if len(sys.argv) == 3 else 0
    bad = 0
    for top in PRODUCT_DIRS:
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(d, f)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = strip(fh.read())
                for lineno, line in enumerate(text.splitlines(), 1):
                    for m in CALL.finditer(line):
                        # A member or a field named so is no call of libc's.
                        if line[:m.start()].rstrip().endswith(("->", ".")):
                            continue
                        rel = os.path.relpath(path, root)
                        print(f"{rel}:{lineno}: {m.group(1)}(): {BANNED[m.group(1)]}")
                        bad += 1
    if bad or expected:
        print(f"{bad} banned call(s), {expected} expected")
    return 1 if bad != expected else 0


if __name__ == "__main__":
    sys.exit(main())
