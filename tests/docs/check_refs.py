"""Fails when a reference a reader would follow does not resolve.

Checks, over every file git tracks:
- each mention of `docs/NAME.md` names a file that exists, and each `docs/NAME.md §N` a
  section `## N.` of it;
- each relative link in a Markdown file (`[text](path)` or `(path#anchor)`) points at a file
  or folder that exists.
Run from the repository root: python3 tests/docs/check_refs.py
"""

import re
import subprocess
import sys
from pathlib import Path

root = Path(__file__).resolve().parents[2]
files = subprocess.run(["git", "ls-files"], cwd=root, check=True, capture_output=True, text=True).stdout.split()
text_suffixes = {".rs", ".md", ".py", ".pyi", ".mjs", ".js", ".ts", ".mts", ".toml", ".sh", ".c", ".h", ".cpp", ".txt", ".yaml", ".yml", ".json"}
# Our docs/ is flat; `x/docs/…` or `docs/a/b.md` are other projects' paths (SDK sources cited in fixtures).
doc_ref = re.compile(r"(?<![\w/.\-])docs/([A-Za-z0-9_\-]+\.md)(?:\s*§(\d+))?")
md_link = re.compile(r"\]\(([^)\s]+)\)")

problems = []
sections = {}
for name in files:
    path = root / name
    if path.suffix not in text_suffixes or not path.is_file() or name.startswith("tests/fixtures/") or name == "tests/docs/check_refs.py":
        continue
    text = path.read_text(errors="replace")
    for m in doc_ref.finditer(text):
        target = root / "docs" / m.group(1)
        if not target.is_file():
            problems.append(f"{name}: mentions docs/{m.group(1)}, which does not exist")
            continue
        if m.group(2):
            if target not in sections:
                sections[target] = set(re.findall(r"^## (\d+)\.", target.read_text(), re.M))
            if m.group(2) not in sections[target]:
                problems.append(f"{name}: mentions docs/{m.group(1)} §{m.group(2)}, which has no such section")
    if path.suffix == ".md":
        for m in md_link.finditer(text):
            link = m.group(1).split("#")[0]
            if not link or re.match(r"^[a-z]+:", link):
                continue
            if not (path.parent / link).exists():
                problems.append(f"{name}: link to {m.group(1)} does not resolve")

if problems:
    print("\n".join(problems))
    print(f"0 passed, {len(problems)} failed")
    sys.exit(1)
print("doc references: all resolve")
