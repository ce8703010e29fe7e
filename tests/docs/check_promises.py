"""Fails when docs/promises.md names a test that does not exist.

Each backticked name in the table's last column is a file (it must exist) or FILE::TEST, where
TEST must be defined in FILE: `fn TEST` (Rust), `def TEST` (Python) or a Node `test('TEST...`.
Run from the repository root: python3 tests/docs/check_promises.py
"""

import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parents[2]
page = (root / "docs" / "promises.md").read_text()
rows = [line for line in page.splitlines() if line.startswith("| ") and not line.startswith("| promise") and "---" not in line]
problems, checked = [], 0
for row in rows:
    tests = row.rstrip(" |").rsplit("|", 1)[1]
    for name in re.findall(r"`([^`]+)`", tests):
        path, _, test = name.partition("::")
        file = root / path
        checked += 1
        if not file.exists():
            problems.append(f"{name}: no file {path}")
            continue
        if test:
            text = file.read_text()
            defined = re.search(rf"\b(fn|def)\s+{re.escape(test)}\b", text) or re.search(rf"test\(\s*['\"]{re.escape(test)}", text)
            if not defined:
                problems.append(f"{name}: {path} defines no test {test}")
if checked < 20:
    problems.append(f"only {checked} test names found in docs/promises.md: is the table intact?")
if problems:
    print("\n".join(problems))
    print(f"{checked - len(problems)} passed, {len(problems)} failed")
    sys.exit(1)
print(f"promises: {checked} named tests exist")
