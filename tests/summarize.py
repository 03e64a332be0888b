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

# pytest's JUnit file holds a test that failed and then also failed at
# teardown (a fixture's check, such as a sanitizer report in the agent's
# log) as two <testcase> elements of the same name: one test, one result,
# failed if any of its elements says so.
for xml in sorted(results.glob("*.xml")):
    outcomes = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        key = f"{case.get('classname')}.{case.get('name')}"
        if outcomes.get(key) != "failed":
            outcomes[key] = outcome
    for name, outcome in outcomes.items():
        if outcome == "failed":
            failed += 1
            failures.append(f"{xml.stem}: {name}")
        elif outcome == "skipped":
            skipped += 1
        else:
            passed += 1

for f in failures:
    print("FAILED", f)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
