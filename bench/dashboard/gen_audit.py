"""Writes a large, valid audit log (hash chain, `seq`, a checkpoint every 100 records, a final
`close`) for the dashboard's load benchmark (bench/dashboard/run.sh):

    python3 bench/dashboard/gen_audit.py OUT.jsonl [LINES]   (default 1,000,000)

Records have the shape `core/src/policy/audit_record.rs` writes (unsigned: no audit key), over
10 teams, 6 routes, 4 models, 20 keys and 30 days; 3% are rate-limit rejections, 1% guardrail
blocks, 5% cache hits, 4% failovers. Deterministic (seeded), so every run loads the same log.
"""

import hashlib
import json
import random
import sys

out = sys.argv[1]
total = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
rng = random.Random(16)
teams = [f"team-{i}" for i in range(10)]
routes = ["chat", "cheap", "search", "summarize", "code", "embed"]
models = [("gpt-4o", 2.5, 10.0), ("gpt-4o-mini", 0.15, 0.6), ("claude-haiku-4-5", 1.0, 5.0), ("gemini-2.5-flash", 0.3, 2.5)]
start = 1_796_000_000  # 2026-11-30
writer = "4242-1796000000000"
prev = "0" * 64
seq = 0


def ts(secs):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{int(secs * 1000) % 1000:03d}Z"


def write(f, record):
    global prev, seq
    seq += 1
    record["writer"] = writer
    record["seq"] = seq
    record["prev"] = prev
    line = json.dumps(record, separators=(",", ":"))
    f.write(line + "\n")
    prev = hashlib.sha256(line.encode()).hexdigest()


with open(out, "w") as f:
    calls = 0
    while seq < total - 1:
        calls += 1
        t = start + calls * (30 * 86400 / total)
        team, route = rng.choice(teams), rng.choice(routes)
        model, pin, pout = rng.choice(models)
        key = f"key-{rng.randrange(20)}"
        dep = f"{model}-{rng.choice(['us', 'eu'])}"
        r = {"ts": ts(t), "kind": "chat", "request_id": f"sg-{calls:024x}", "principal": {"key": key, "tags": {"team": team}}, "route": route}
        roll = rng.random()
        if roll < 0.03:
            r |= {"outcome": "rate_limited", "error": f"rate limit policies.rate_limits[0] (600 requests/min for tag team `{team}`) is used up; retry in 0.1s"}
        elif roll < 0.04:
            r |= {"outcome": "guardrail_blocked", "error": "guardrail `no-ssn` blocked the request: it found us_ssn; remove it, or change the rule's action to `redact`"}
        else:
            tin, tout = rng.randrange(20, 4000), rng.randrange(10, 1000)
            hit = roll > 0.95
            cost = 0.0 if hit else round((tin * pin + tout * pout) / 1e6, 9)
            attempts = [{"deployment": dep, "outcome": "ok", "latency_ms": 300.0}]
            if 0.04 <= roll < 0.08:
                attempts.insert(0, {"deployment": f"{model}-xx", "outcome": "provider_error", "latency_ms": 50.0})
            r |= {"outcome": "ok", "deployment": dep, "provider": "p", "model": model, "attempts": len(attempts),
                  "usage": {"input_tokens": tin, "output_tokens": tout, "cached_tokens": 0, "reasoning_tokens": 0},
                  "cost_usd": cost, "latency_ms": round(rng.lognormvariate(6, 0.5), 3),
                  "policy": {"rate_limits": [], "budgets": [], "state": "memory", "key": key,
                             "guardrails": {"redacted": {"email": 1} if roll < 0.1 else {}, "logged": {}}},
                  "skipped": [], "cache_hit": hit, "saved_cost_usd": 0.001 if hit else None,
                  "ttft_ms": round(rng.lognormvariate(5, 0.5), 3), "attempt_log": [] if hit else attempts}
        write(f, r)
        if seq % 100 == 99 and seq < total - 1:
            write(f, {"ts": ts(t), "kind": "checkpoint", "records": seq, "head": prev})
    write(f, {"ts": ts(t), "kind": "close", "records": seq, "head": prev})
print(f"{seq} lines ({calls} calls) in {out}")
