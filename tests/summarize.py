#!/usr/bin/python3
"""Sums the results of every tier (meson testlog JSON, JUnit XML) and prints
the closing line `N passed, N failed, N skipped`; exits 1 if anything failed."""
import json
import pathlib
import sys
import xml.etree.ElementTree as ET

results = pathlib.Path(sys.argv[1])
failed = int(sys.argv[2]) if len(sys.argv) > 2 else 0  # tiers that did not build
passed = skipped = 0
failures = ["build"] * failed

for log in sorted(results.glob("meson-*.json")):
    for line in log.read_text().splitlines():
        t = json.loads(line)
        res = t.get("result")
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
        else:
            failed += 1
            failures.append(f"{log.stem}: {t.get('name')} {res}")

for xml in sorted(results.glob("*.xml")):
    for case in ET.parse(xml).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            skipped += 1
        elif case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            failures.append(f"{xml.stem}: {case.get('classname')}.{case.get('name')}")
        else:
            passed += 1

for f in failures:
    print("FAILED", f)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
