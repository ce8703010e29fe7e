"""Merges one run's pieces (rust.json and the JSON files bench/run.sh leaves in its run directory)
into bench/results/latest.json, and prints the markdown table: every ratio against its baseline
and, where issue 8 sets one, against the target.

    python bench/report.py --dir RUN_DIR --rust bench/results/rust.json --out latest.json --markdown latest.md [--quick]

Every ratio lands in `ratios` as {value, better: higher|lower, target, pass}; compare.py reads those.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
from typing import Any, Dict, List, Optional


def load(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"error": f"{os.path.basename(path)}: {e}"}


def machine(quick: bool) -> Dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    try:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
    except OSError:
        load = ""
    return {"nproc": os.cpu_count(), "cpu": cpu, "loadavg_at_report": load, "kernel": platform.release(), "python": platform.python_version(),
            "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
            "commit": commit + ("+dirty" if dirty else ""), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "quick": quick}


class Table:
    def __init__(self) -> None:
        self.rows: List[str] = []
        self.ratios: Dict[str, Dict[str, Any]] = {}

    def add(self, key: str, label: str, ours: str, base: str, value: Optional[float], unit: str,
            better: str, target: Optional[float] = None, target_text: str = "") -> None:
        if value is None:
            self.rows.append(f"| {label} | {ours} | {base} | – | {target_text or '–'} | n/a |")
            self.ratios[key] = {"value": None, "better": better, "target": target, "pass": None}
            return
        ok: Optional[bool] = None
        if target is not None:
            ok = value >= target if better == "higher" else value <= target
            if target_text.startswith(">") and not target_text.startswith(">="):
                ok = value > target
            if target_text.startswith("<") and not target_text.startswith("<="):
                ok = value < target
        shown = f"{value:.2f}{unit}" if abs(value) < 100 else f"{value:.0f}{unit}"
        verdict = "–" if ok is None else ("**pass**" if ok else "**MISS**")
        self.rows.append(f"| {label} | {ours} | {base} | {shown} | {target_text or '–'} | {verdict} |")
        self.ratios[key] = {"value": value, "better": better, "target": target, "pass": ok}

    def section(self, title: str) -> None:
        self.rows.append(f"| **{title}** | | | | | |")


def rps(v: Any) -> str:
    return f"{v:,.0f}/s"


def get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def build(run_dir: str, rust_path: str, quick: bool) -> Dict[str, Any]:
    data = {
        "machine": machine(quick),
        "rust": load(rust_path),
        "python": load(os.path.join(run_dir, "python.json")),
        "node": load(os.path.join(run_dir, "node.json")),
        "c": load(os.path.join(run_dir, "c.json")),
        "footprint": load(os.path.join(run_dir, "footprint.json")),
        "growth": load(os.path.join(run_dir, "growth.json")),
        "streams": load(os.path.join(run_dir, "streams.json")),
    }
    t = Table()
    r = data["rust"]
    t.section("Rust: full pipeline vs direct reqwest (its own in-process mock)")
    if "error" not in r:
        t.add("rust.added_p50_us", "added latency p50, c=1", f"{r['gateway_p50_us']:.1f} µs", f"{r['direct_p50_us']:.1f} µs",
              r["added_p50_us"], " µs", "lower", 15, "≤ 15 µs")
        t.add("rust.added_p99_us", "added latency p99, c=1", f"{r['gateway_p99_us']:.1f} µs", f"{r['direct_p99_us']:.1f} µs",
              r["added_p99_us"], " µs", "lower", 60, "≤ 60 µs")
        t.add("rust.overhead_us_p50", "gateway's own time (overhead_us) p50 / p99", f"{r['overhead_us_p50']:.0f} / {r['overhead_us_p99']:.0f} µs", "",
              r["overhead_us_p50"], " µs", "lower")
        t.add("rust.c64_ratio", "throughput c=64", rps(r["c64_gateway_rps"]), rps(r["c64_direct_rps"]), r["c64_ratio"], "×", "higher", 0.9, "≥ 0.9×")
        t.add("rust.per_chunk_us", "500-chunk stream: per-chunk overhead", "", "", r["per_chunk_overhead_us"], " µs", "lower", 2, "≤ 2 µs")
        t.add("rust.added_ttft_us", "500-chunk stream: added time to first token", "", "", r["added_ttft_us"], " µs", "lower")
        pipe = r.get("pipeline_us") or {}
        full = pipe.get("+ audit log (full pipeline)")
        bare = pipe.get("route only (2 targets), metering")
        if full is not None:
            t.add("rust.pipeline_full_us", "gateway CPU per call, no network (in-process mock provider): full pipeline / route only",
                  f"{full:.1f} / {bare:.1f} µs", "", full, " µs", "lower")
        chunks = pipe.get("stream_per_chunk_us") or {}
        if chunks:
            t.add("rust.pipeline_chunk_us", "per-chunk cost, no network: plain / with PII guardrail",
                  f"{chunks.get('plain', 0):.2f} / {chunks.get('with PII guardrail', 0):.2f} µs", "",
                  chunks.get("with PII guardrail"), " µs", "lower")
        rc = r.get("redis_policy_check")
        if rc:
            t.add("rust.redis_added_p50_us", "policy check on Redis vs in memory: added p50 (one Lua round trip)",
                  f"{rc['redis_p50_us']:.1f} µs", f"{rc['memory_p50_us']:.1f} µs", rc["added_p50_us"], " µs", "lower")
            t.add("rust.redis_round_trips", "… in bare Redis PING round trips to the same server",
                  f"PING {rc['ping_p50_us']:.1f} µs", "", rc["round_trips"], "", "lower")
    else:
        t.add("rust.error", f"error: {r['error']}", "", "", None, "", "higher")

    py = data["python"]
    sg_sync, sg_async = py.get("sluicegate_sync", {}), py.get("sluicegate_async", {})
    t.section("Python: sluicegate (full pipeline) vs peers, same mock, requests/s")
    rust_direct_c1 = 1e6 / r["direct_p50_us"] if isinstance(r.get("direct_p50_us"), (int, float)) else None
    curl_c1 = get(data["c"], "curl_c1", "rps")
    v = get(sg_sync, "plain_c1", "rps")
    t.add("py.sync_c1_vs_rust_direct", "sync, plain, c=1 vs direct Rust reqwest (1/p50)", rps(v) if v else "–",
          rps(rust_direct_c1) if rust_direct_c1 else "–", v / rust_direct_c1 if v and rust_direct_c1 else None, "×", "higher", 0.85, "≥ 0.85×")
    t.add("py.sync_c1_vs_curl", "sync, plain, c=1 vs direct C libcurl (same mock)", rps(v) if v else "–",
          rps(curl_c1) if curl_c1 else "–", v / curl_c1 if v and curl_c1 else None, "×", "higher", 0.85, "≥ 0.85×")
    scen = ["plain_c1", "plain_c32", "stream_c1", "stream_c32"]
    peers = [("tensorzero_async", "TensorZero embedded", {"c1": 2.0, "c32": 3.0}),
             ("litellm_router", "LiteLLM Router", {"c1": 10.0, "c32": 10.0}),
             ("openai_async", "openai SDK (async)", {"c1": 1.0, "c32": 1.0}),
             ("httpx_async", "httpx (async, no gateway)", None)]
    for peer, label, targets in peers:
        for s in scen:
            ours, base = get(sg_async, s, "rps"), get(py, peer, s, "rps")
            target = targets[s.split("_")[1]] if targets else None
            ttext = "" if target is None else (f"> {target:g}×" if target == 1.0 else f"≥ {target:g}×")
            err = get(py, peer, "error") or get(sg_async, "error")
            t.add(f"py.async_vs_{peer}.{s}", f"async vs {label}, {s.replace('_', ', ')}", rps(ours) if ours else "–",
                  rps(base) if base else (f"error: {err}"[:80] if err else "–"), ours / base if ours and base else None, "×", "higher", target, ttext)
    for peer, label in [("httpx_sync", "httpx (sync, no gateway)"), ("openai_sync", "openai SDK (sync)")]:
        for s in scen:
            ours, base = get(sg_sync, s, "rps"), get(py, peer, s, "rps")
            t.add(f"py.sync_vs_{peer}.{s}", f"sync vs {label}, {s.replace('_', ', ')}", rps(ours) if ours else "–",
                  rps(base) if base else "–", ours / base if ours and base else None, "×", "higher")

    nd = data["node"]
    t.section("Node: sluicegate (full pipeline) vs peers, same mock, requests/s")
    for peer, label, targets in [("openai", "openai SDK", {"c1": 2.0, "c32": 5.0}), ("fetch", "plain fetch (no gateway)", None)]:
        for s in scen:
            ours, base = get(nd, "sluicegate", s, "rps"), get(nd, peer, s, "rps")
            target = targets[s.split("_")[1]] if targets else None
            t.add(f"node.vs_{peer}.{s}", f"vs {label}, {s.replace('_', ', ')}", rps(ours) if ours else "–", rps(base) if base else "–",
                  ours / base if ours and base else None, "×", "higher", target, f"≥ {target:g}×" if target else "")

    c = data["c"]
    t.section("C: sg_chat (full pipeline) vs direct libcurl, same mock")
    ours, base = get(c, "sluicegate_c1", "rps"), get(c, "curl_c1", "rps")
    t.add("c.vs_curl.plain_c1", "plain, c=1, requests/s", rps(ours) if ours else "–", rps(base) if base else "–",
          ours / base if ours and base else None, "×", "higher")
    p50s, p50c = get(c, "sluicegate_c1", "p50_us"), get(c, "curl_c1", "p50_us")
    t.add("c.added_p50_us", "plain, c=1, added latency p50", f"{p50s:.1f} µs" if p50s else "–", f"{p50c:.1f} µs" if p50c else "–",
          p50s - p50c if p50s and p50c else None, " µs", "lower")

    t.section("Memory")
    g = data["growth"]
    for lang, label in [("python", "Python sync"), ("c", "C sg_chat"), ("node", "Node, c=32")]:
        gv = get(g, lang, "growth_mb")
        n = get(g, lang, "requests")
        native = get(g, lang, "native_growth_mb")
        t.add(f"mem.growth_mb.{lang}", f"RSS growth over {n or '?':,} requests ({label})" if n else f"RSS growth ({label})",
              f"{get(g, lang, 'rss_after_mb') or 0:.1f} MB after", f"{get(g, lang, 'rss_before_mb') or 0:.1f} MB before", gv, " MB",
              "lower", *((None, "–") if native is not None else (5.0, "< 5 MB")))
        if native is not None:
            t.add(f"mem.native_growth_mb.{lang}", f"… of which outside the V8 heap (RSS growth − V8 heapTotal growth of "
                  f"{get(g, lang, 'heap_total_growth_mb') or 0:.1f} MB)", "", "", native, " MB", "lower", 5.0, "< 5 MB")
    st = data["streams"]
    if "error" not in st:
        t.add("mem.streams_added_mb", f"{st['opened_together']:,} concurrent streams (Python async): RSS added",
              f"{st['rss_peak_mb']:.1f} MB peak", f"{st['rss_before_mb']:.1f} MB before", st["rss_added_mb"], " MB", "lower")
        t.add("mem.stream_kb", "… per open stream", "", "", st["per_stream_kb"], " KB", "lower")
    f = data["footprint"]
    t.section("Footprint: import/require + a built client (peak RSS, time)")
    for key, label in [("py_sluicegate", "Python: import sluicegate + Gateway(config)"), ("py_tensorzero", "Python: import tensorzero"),
                       ("py_openai", "Python: import openai + AsyncOpenAI()"), ("py_litellm", "Python: import litellm"),
                       ("py_python", "Python: bare interpreter")]:
        mb, sec = get(f, key, "peak_rss_mb"), get(f, key, "seconds")
        is_ours = key == "py_sluicegate"
        t.add(f"foot.{key}.rss_mb", f"{label}: peak RSS", f"{mb:.1f} MB" if mb else "–", "", mb, " MB", "lower", 25.0 if is_ours else None,
              "≤ 25 MB" if is_ours else "")
        t.add(f"foot.{key}.seconds", f"{label}: time", f"{sec * 1000:.0f} ms" if sec is not None else "–", "", sec, " s", "lower",
              0.1 if is_ours else None, "≤ 0.1 s" if is_ours else "")
    node_base = get(f, "node_node", "peak_rss_mb")
    for key, label in [("node_sluicegate", "Node: require sluicegate + new Gateway"), ("node_openai", "Node: require openai + new OpenAI()")]:
        mb, sec = get(f, key, "peak_rss_mb"), get(f, key, "seconds")
        is_ours = key == "node_sluicegate"
        added = mb - node_base if mb and node_base else None
        t.add(f"foot.{key}.rss_added_mb", f"{label}: peak RSS over bare node", f"{mb:.1f} MB" if mb else "–",
              f"{node_base:.1f} MB bare" if node_base else "–", added, " MB", "lower", 25.0 if is_ours else None, "≤ 25 MB" if is_ours else "")
        t.add(f"foot.{key}.seconds", f"{label}: time", f"{sec * 1000:.0f} ms" if sec is not None else "–", "", sec, " s", "lower",
              0.1 if is_ours else None, "≤ 0.1 s" if is_ours else "")

    m = data["machine"]
    misses = [k for k, v in t.ratios.items() if v["pass"] is False]
    passes = [k for k, v in t.ratios.items() if v["pass"] is True]
    header = (f"Machine: {m['nproc']} cores, {m['cpu']}, Linux {m['kernel']}, Python {m['python']}, Node {m['node']}; "
              f"commit {m['commit']}, {m['date']}{' (--quick)' if quick else ''}; load average at the end {m['loadavg_at_report']}. "
              f"Targets: {len(passes)} pass, {len(misses)} miss.\n\n")
    md = header + "| measure | sluicegate | baseline | ratio / value | target | result |\n|---|---|---|---|---|---|\n" + "\n".join(t.rows) + "\n"
    data["ratios"] = t.ratios
    data["markdown"] = md
    return data


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--rust", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--markdown", required=True)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    data = build(a.dir, a.rust, a.quick)
    with open(a.out, "w") as f:
        json.dump(data, f, indent=1)
    with open(a.markdown, "w") as f:
        f.write(data["markdown"])


if __name__ == "__main__":
    main()
