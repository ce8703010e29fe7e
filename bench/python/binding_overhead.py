"""What the Python binding adds to a call: sluicegate from Python (sync and asyncio) against a
direct HTTP call from the same Python process to the same `sluicegate mock-provider` process.

    python bench/python/binding_overhead.py [--calls 2000] [--bin target/release/sluicegate]

Build what you measure in release mode first (a debug build measures the debugger's code):

    cargo build --release -p sluicegate-cli
    (cd bindings-python && maturin build --release -o /tmp/wheels) && pip install /tmp/wheels/sluicegate-*.whl

The direct floor is the fastest plain-Python client at hand: `http.client` with keep-alive
(sync) and a minimal keep-alive HTTP/1.1 client on asyncio streams (async), plus httpx when it
is importable. Every client sends the same request and parses the JSON answer. The gateway is
configured with one route and no policies, so what it adds beyond the direct call is the
binding (argument conversion, GIL hand-off, asyncio bridge, response objects) plus the core's
own pipeline, which each response reports as `gateway.overhead_us`.

Prints a markdown table: per-call latency at concurrency 1 and throughput at concurrency 32
(threads for sync clients, tasks for async ones), each with its ratio to the direct client of
the same kind. Not part of the test suite: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import sluicegate

ROOT = Path(__file__).resolve().parents[2]
REQUEST: Dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Summarise the quarterly report in one line."}],
    "max_tokens": 64,
}
BODY = json.dumps(REQUEST).encode()
API_KEY = "sk-bench-0000"


# --- the mock provider ----------------------------------------------------------------------


class Mock:
    def __init__(self, binary: Path) -> None:
        self.process = subprocess.Popen(
            [str(binary), "mock-provider", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        prefix = "sluicegate mock-provider listening on "
        if not line.startswith(prefix):
            self.process.kill()
            raise SystemExit(f"the mock provider did not start: {line!r}")
        self.url = line[len(prefix):]
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def find_binary(given: Optional[str]) -> Path:
    for candidate in [given, os.environ.get("SLUICEGATE_BIN"), ROOT / "target/release/sluicegate", ROOT / "target/debug/sluicegate"]:
        if candidate and Path(candidate).exists():
            if "debug" in str(candidate):
                print(f"warning: using the debug mock provider {candidate}; build the release one", file=sys.stderr)
            return Path(candidate)
    raise SystemExit("no sluicegate binary: cargo build --release -p sluicegate-cli (or pass --bin)")


# --- direct clients -------------------------------------------------------------------------


class DirectSync:
    """http.client on one keep-alive connection per thread."""

    def __init__(self, mock: Mock) -> None:
        self.mock = mock
        self.local = threading.local()

    def __call__(self) -> Any:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.mock.host, self.mock.port)
        conn.request(
            "POST", "/v1/chat/completions", BODY,
            {"content-type": "application/json", "authorization": f"Bearer {API_KEY}"},
        )
        response = conn.getresponse()
        data = json.loads(response.read())
        assert response.status == 200 and data["choices"], data
        return data


class DirectAsync:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: a pool of connections."""

    def __init__(self, mock: Mock) -> None:
        self.mock = mock
        self.idle: List[Tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nhost: {mock.host}:{mock.port}\r\n"
            f"content-type: application/json\r\nauthorization: Bearer {API_KEY}\r\n"
            f"content-length: {len(BODY)}\r\n\r\n"
        ).encode() + BODY

    async def __call__(self) -> Any:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.mock.host, self.mock.port)
        writer.write(self.head)
        status = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        data = json.loads(await reader.readexactly(length))
        assert status.split()[1] == b"200" and data["choices"], (status, data)
        self.idle.append((reader, writer))
        return data

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


# --- measuring ------------------------------------------------------------------------------


class Result:
    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind
        self.p50_us = self.p99_us = self.rps1 = self.rps32 = 0.0


def percentile(values: List[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def sequential_sync(call: Callable[[], Any], n: int, result: Result) -> None:
    for _ in range(min(200, n // 5)):
        call()
    times = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1e6)
    result.rps1 = n / (time.perf_counter() - start)
    result.p50_us, result.p99_us = percentile(times, 50), percentile(times, 99)


def concurrent_sync(call: Callable[[], Any], n: int, workers: int, result: Result) -> None:
    def work(count: int) -> None:
        for _ in range(count):
            call()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, [20] * workers))  # warm up every thread's connection
        start = time.perf_counter()
        list(pool.map(work, [n // workers] * workers))
        result.rps32 = (n // workers * workers) / (time.perf_counter() - start)


def sequential_async(call: Callable[[], Awaitable[Any]], n: int, result: Result) -> None:
    async def main() -> None:
        for _ in range(min(200, n // 5)):
            await call()
        times = []
        start = time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            await call()
            times.append((time.perf_counter() - t) * 1e6)
        result.rps1 = n / (time.perf_counter() - start)
        result.p50_us, result.p99_us = percentile(times, 50), percentile(times, 99)

    asyncio.run(main())


def concurrent_async(call: Callable[[], Awaitable[Any]], n: int, workers: int, result: Result) -> None:
    async def work(count: int) -> None:
        for _ in range(count):
            await call()

    async def main() -> None:
        await asyncio.gather(*[work(20) for _ in range(workers)])
        start = time.perf_counter()
        await asyncio.gather(*[work(n // workers) for _ in range(workers)])
        result.rps32 = (n // workers * workers) / (time.perf_counter() - start)

    asyncio.run(main())


# --- the run --------------------------------------------------------------------------------


def gateway_config(mock: Mock) -> Dict[str, Any]:
    return {
        "providers": {"oai": {"type": "openai", "api_base": mock.url + "/v1", "api_key": API_KEY}},
        "deployments": {"mini": {"provider": "oai", "model": "gpt-4o-mini"}},
        "routes": {"chat": {"targets": ["mini"]}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per measurement (default 2000)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--bin", help="the sluicegate binary (default: target/release/sluicegate)")
    args = parser.parse_args()
    n, c = args.calls, args.concurrency

    mock = Mock(find_binary(args.bin))
    results: List[Result] = []
    overhead_us: List[float] = []
    try:
        messages = REQUEST["messages"]
        gw = sluicegate.Gateway(gateway_config(mock))

        def gateway_sync() -> Any:
            r = gw.chat.completions.create(model="chat", messages=messages, max_tokens=64)
            overhead_us.append(r.gateway.overhead_us)
            return r

        native = gw._native_gateway()
        request = {"model": "chat", "messages": messages, "max_tokens": 64}

        def native_sync() -> Any:
            return native.chat(request)

        sync_clients: List[Tuple[str, Callable[[], Any]]] = [
            ("direct http.client (sync)", DirectSync(mock)),
            ("sluicegate Gateway (sync)", gateway_sync),
            ("sluicegate _native.chat (sync, dicts)", native_sync),
        ]
        for name, call in sync_clients:
            result = Result(name, "sync")
            sequential_sync(call, n, result)
            concurrent_sync(call, n, c, result)
            results.append(result)

        async_clients: List[Tuple[str, Callable[[], Any]]] = []
        holder: Dict[str, Any] = {}

        def make_direct_async() -> Callable[[], Awaitable[Any]]:
            holder["direct"] = DirectAsync(mock)
            return holder["direct"]  # type: ignore[no-any-return]

        def make_gateway_async() -> Callable[[], Awaitable[Any]]:
            agw = sluicegate.AsyncGateway(gateway_config(mock))

            async def call() -> Any:
                return await agw.chat.completions.create(model="chat", messages=messages, max_tokens=64)

            return call

        async_clients = [("direct asyncio streams (async)", make_direct_async),
                         ("sluicegate AsyncGateway (async)", make_gateway_async)]
        try:
            import httpx  # type: ignore[import-not-found]

            def make_httpx_sync() -> Callable[[], Any]:
                client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=c, max_connections=c))
                return lambda: client.post(mock.url + "/v1/chat/completions", content=BODY, headers={
                    "content-type": "application/json", "authorization": f"Bearer {API_KEY}"}).json()

            result = Result("httpx.Client (sync)", "sync")
            call = make_httpx_sync()
            sequential_sync(call, n, result)
            concurrent_sync(call, n, c, result)
            results.insert(1, result)

            def make_httpx_async() -> Callable[[], Awaitable[Any]]:
                box: Dict[str, Any] = {}

                async def call() -> Any:
                    if "client" not in box:  # made inside the loop that uses it
                        box["client"] = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=c, max_connections=c))
                    response = await box["client"].post(mock.url + "/v1/chat/completions", content=BODY, headers={
                        "content-type": "application/json", "authorization": f"Bearer {API_KEY}"})
                    return response.json()

                return call

            async_clients.insert(1, ("httpx.AsyncClient (async)", make_httpx_async))
        except ImportError:
            pass

        for name, make in async_clients:
            result = Result(name, "async")
            # A fresh client per event loop: asyncio connections belong to the loop that made them.
            sequential_async(make(), n, result)
            concurrent_async(make(), n, c, result)
            results.append(result)
    finally:
        mock.stop()

    floor = {r.kind: r for r in results if r.name.startswith("direct")}
    print(f"sluicegate {sluicegate.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{n} calls per cell, mock provider {mock.url}\n")
    print(f"| client | c=1 p50 µs | c=1 p99 µs | c=1 calls/s | c={c} calls/s | c=1 vs direct | c={c} vs direct |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        base = floor[r.kind]
        print(f"| {r.name} | {r.p50_us:.0f} | {r.p99_us:.0f} | {r.rps1:,.0f} | {r.rps32:,.0f} | "
              f"{r.rps1 / base.rps1:.2f} | {r.rps32 / base.rps32:.2f} |")
    by_name = {r.name: r for r in results}
    sync_added = by_name["sluicegate Gateway (sync)"].p50_us - floor["sync"].p50_us
    async_added = by_name["sluicegate AsyncGateway (async)"].p50_us - floor["async"].p50_us
    core = statistics.median(overhead_us) if overhead_us else float("nan")
    print(f"\nAdded per call at c=1 (p50 vs the direct client of the same kind): sync {sync_added:+.0f} µs, "
          f"async {async_added:+.0f} µs; of which the core's own pipeline (gateway.overhead_us, p50): {core:.0f} µs.")


if __name__ == "__main__":
    main()
