"""Shared pieces of the Python benchmarks: the request, the sluicegate config, timing loops.

Every loop is bounded twice: by a request count and by a wall-clock budget.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable, Dict, List

PROMPT = "Summarise the quarterly report in one line."
MESSAGES = [{"role": "user", "content": PROMPT}]
MAX_TOKENS = 64
UPSTREAM_MODEL = "gpt-4o-mini"
UPSTREAM_KEY = "sk-bench-0000"
VIRTUAL_KEY = "sk-sg-bench"


def sluicegate_config(url: str, audit_path: str) -> Dict[str, Any]:
    """The full pipeline of bench/src/main.rs: a two-target route, a virtual key, a rate limit,
    a budget, a PII guardrail (input and output), metering and an audit log."""
    return {
        "providers": {
            "primary": {"type": "openai", "api_base": f"{url}/v1", "api_key": UPSTREAM_KEY},
            "backup": {"type": "openai", "api_base": f"{url}/v1", "api_key": UPSTREAM_KEY},
        },
        "deployments": {
            "a": {"provider": "primary", "model": UPSTREAM_MODEL},
            "b": {"provider": "backup", "model": "gpt-4o"},
        },
        "routes": {"chat": {"targets": ["a", "b"]}},
        "keys": {"bench": {"sha256": hashlib.sha256(VIRTUAL_KEY.encode()).hexdigest(), "tags": {"team": "bench"}}},
        "policies": {
            "rate_limits": [{"scope": {"tag": "team"}, "rpm": 100_000_000}],
            "budgets": [{"scope": {"tag": "team"}, "usd": 1_000_000.0}],
            "guardrails": [{"type": "pii", "entities": ["email", "credit_card"], "action": "redact"}],
        },
        "audit": {"path": audit_path},
    }


def audit_file() -> str:
    fd, path = tempfile.mkstemp(prefix="sluicegate-bench-", suffix=".jsonl")
    os.close(fd)
    return path


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def hwm_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _summary(lat: List[float], elapsed: float) -> Dict[str, Any]:
    lat.sort()
    n = len(lat)
    if n == 0:
        return {"n": 0, "rps": 0.0}

    def pct(p: float) -> float:
        return lat[min(n, max(1, int(-(-p * n // 100)))) - 1] * 1e6

    return {"n": n, "seconds": round(elapsed, 3), "rps": n / elapsed, "p50_us": pct(50), "p99_us": pct(99)}


async def run_async(fn: Callable[[], Awaitable[Any]], concurrency: int, max_n: int, max_s: float) -> Dict[str, Any]:
    lat: List[float] = []
    started = 0
    deadline = time.perf_counter() + max_s

    async def worker() -> None:
        nonlocal started
        while started < max_n and time.perf_counter() < deadline:
            started += 1
            t = time.perf_counter()
            await fn()
            lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return _summary(lat, time.perf_counter() - t0)


def run_sync(fn: Callable[[], Any], concurrency: int, max_n: int, max_s: float) -> Dict[str, Any]:
    lat: List[float] = []
    lock = threading.Lock()
    started = [0]
    deadline = time.perf_counter() + max_s

    def worker() -> None:
        while True:
            with lock:
                if started[0] >= max_n or time.perf_counter() >= deadline:
                    return
                started[0] += 1
            t = time.perf_counter()
            fn()
            d = time.perf_counter() - t
            with lock:
                lat.append(d)

    t0 = time.perf_counter()
    if concurrency == 1:
        worker()
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            for f in [pool.submit(worker) for _ in range(concurrency)]:
                f.result()
    return _summary(lat, time.perf_counter() - t0)
