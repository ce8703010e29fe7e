"""Footprint: peak RSS of this interpreter and the time to import a library (and, for
sluicegate, build a Gateway with the bench's full-pipeline config). Imports nothing else first.

    python -I footprint.py WHAT URL      WHAT: python | sluicegate | openai | tensorzero | litellm
"""

import time

t0 = time.perf_counter()
import sys  # noqa: E402

what, url = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if what == "sluicegate":
    import hashlib

    import sluicegate

    gw = sluicegate.Gateway(config={
        "providers": {"primary": {"type": "openai", "api_base": f"{url}/v1", "api_key": "sk-bench-0000"},
                      "backup": {"type": "openai", "api_base": f"{url}/v1", "api_key": "sk-bench-0000"}},
        "deployments": {"a": {"provider": "primary", "model": "gpt-4o-mini"}, "b": {"provider": "backup", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["a", "b"]}},
        "keys": {"bench": {"sha256": hashlib.sha256(b"sk-sg-bench").hexdigest(), "tags": {"team": "bench"}}},
        "policies": {"rate_limits": [{"scope": {"tag": "team"}, "rpm": 100_000_000}],
                     "budgets": [{"scope": {"tag": "team"}, "usd": 1_000_000.0}],
                     "guardrails": [{"type": "pii", "entities": ["email", "credit_card"], "action": "redact"}]},
    })
elif what == "openai":
    import openai

    openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-bench-0000")
elif what == "tensorzero":
    import tensorzero  # noqa: F401
elif what == "litellm":
    import os

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # noqa: F401
elif what != "python":
    raise SystemExit(f"unknown footprint {what}")
seconds = time.perf_counter() - t0
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print('{"what": "%s", "seconds": %.4f, "peak_rss_mb": %.2f}' % (what, seconds, hwm / 1024))
