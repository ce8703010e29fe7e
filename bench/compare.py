"""Compares a benchmark run against a saved baseline and flags every ratio that got worse by
more than 10% (or --threshold). Exits 1 when something regressed, 0 otherwise.

    python bench/compare.py BASELINE.json LATEST.json [--threshold 0.10]

Both files are bench/results/latest.json files written by bench/run.sh. A ratio is "worse" in
its own direction: a speed-up ratio that fell, or an added latency / memory figure that rose.
Values near zero (|x| < --floor, default 1.0, in the figure's unit) are compared in absolute
terms, so a 0.3 µs → 0.4 µs wobble is not a "33% regression".
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("baseline")
    p.add_argument("latest")
    p.add_argument("--threshold", type=float, default=0.10)
    p.add_argument("--floor", type=float, default=1.0)
    a = p.parse_args()
    with open(a.baseline) as f:
        base = json.load(f)
    with open(a.latest) as f:
        new = json.load(f)
    if base.get("machine", {}).get("quick") != new.get("machine", {}).get("quick"):
        print("note: one run used --quick and the other did not; sample sizes differ", file=sys.stderr)
    loads = [d.get("machine", {}).get("loadavg_at_report", "?") for d in (base, new)]
    print(f"load average at the end of each run: baseline {loads[0]}, latest {loads[1]} "
          "(on a shared machine, compare runs made under similar load)", file=sys.stderr)
    rows, worse, missing = [], [], []
    for key, b in base.get("ratios", {}).items():
        n = new.get("ratios", {}).get(key)
        bv = b.get("value")
        if bv is None:
            continue
        if n is None or n.get("value") is None:
            missing.append(key)
            continue
        nv = n["value"]
        higher = b.get("better", "higher") == "higher"
        scale = max(abs(bv), a.floor)
        change = (nv - bv) / scale if higher else (bv - nv) / scale  # > 0 means better
        flag = change < -a.threshold
        if flag:
            worse.append(key)
        rows.append((key, bv, nv, change, flag, n.get("pass")))
    print(f"| ratio | baseline | latest | change | |\n|---|---|---|---|---|")
    for key, bv, nv, change, flag, ok in rows:
        mark = "**WORSE**" if flag else ("better" if change > a.threshold else "")
        if ok is False:
            mark = (mark + " (misses target)").strip()
        print(f"| {key} | {bv:.3g} | {nv:.3g} | {change * 100:+.1f}% | {mark} |")
    for key in missing:
        print(f"| {key} | | missing | | **MISSING** |")
    print(f"\n{len(worse)} ratio(s) worse by more than {a.threshold * 100:.0f}%: {', '.join(worse) or 'none'}")
    if missing:
        print(f"{len(missing)} ratio(s) missing from the latest run: {', '.join(missing)}")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
