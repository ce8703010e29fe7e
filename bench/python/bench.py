"""Python benchmarks: sluicegate (sync and async, full pipeline) against httpx, the openai SDK,
LiteLLM's Router and TensorZero's embedded gateway, all calling the same loopback mock.

    python bench.py throughput --url URL [--quick]      every client, each in its own process; JSON on stdout
    python bench.py client NAME --url URL [--quick] [--scenarios stream_c1,stream_c32]
                                                         one client (used by `throughput`), optionally
                                                         only some scenarios (names as in its JSON)
    python bench.py streams --url URL [--n 1000]         RSS with N concurrent sluicegate streams
    python bench.py growth --url URL [--n 100000]        RSS growth over N sluicegate calls

Each measurement is bounded by a request count and a wall-clock budget.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Set

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import (  # noqa: E402
    MAX_TOKENS, MESSAGES, UPSTREAM_KEY, UPSTREAM_MODEL, VIRTUAL_KEY,
    audit_file, rss_kb, run_async, run_sync, sluicegate_config,
)

# Which client runs which scenarios. (kind, concurrency, stream)
ASYNC_SCENARIOS = [("plain", 1), ("plain", 32), ("stream", 1), ("stream", 32)]
SYNC_SCENARIOS = [("plain", 1), ("plain", 32), ("stream", 1), ("stream", 32)]
CLIENTS = ["sluicegate_sync", "httpx_sync", "openai_sync", "sluicegate_async", "httpx_async", "openai_async",
           "tensorzero_async", "litellm_router"]


def budgets(quick: bool, client: str) -> Dict[str, float]:
    slow = client == "litellm_router"
    if quick:
        return {"max_n": 300 if slow else 5_000, "max_s": 1.0, "warm": 20 if slow else 100}
    return {"max_n": 2_000 if slow else 30_000, "max_s": 3.0, "warm": 50 if slow else 300}


# ---------------------------------------------------------------------------------------------
# Clients. Each returns (plain, stream, close); plain/stream make one call and consume it fully.

def sse_chunks(lines: Any) -> int:
    n = 0
    for line in lines:
        if line.startswith("data: ") and line != "data: [DONE]":
            json.loads(line[6:])
            n += 1
    return n


def make_sync(name: str, url: str):
    body = {"model": UPSTREAM_MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS}
    if name == "sluicegate_sync":
        import sluicegate
        gw = sluicegate.Gateway(config=sluicegate_config(url, audit_file()))
        create = gw.chat.completions.create

        def plain():
            r = create(model="chat", messages=MESSAGES, max_tokens=MAX_TOKENS, key=VIRTUAL_KEY)
            assert r.choices[0].message.content

        def stream():
            n = 0
            for chunk in create(model="chat", messages=MESSAGES, max_tokens=MAX_TOKENS, key=VIRTUAL_KEY, stream=True):
                n += 1
            assert n > 1

        return plain, stream, gw.close
    if name == "httpx_sync":
        import httpx
        client = httpx.Client(base_url=url, headers={"authorization": f"Bearer {UPSTREAM_KEY}"},
                              limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))

        def plain():
            r = client.post("/v1/chat/completions", json=body)
            assert r.json()["choices"][0]["message"]["content"]

        def stream():
            with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
                assert sse_chunks(r.iter_lines()) > 1

        return plain, stream, client.close
    if name == "openai_sync":
        import openai
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=UPSTREAM_KEY, max_retries=0)

        def plain():
            r = client.chat.completions.create(model=UPSTREAM_MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
            assert r.choices[0].message.content

        def stream():
            n = 0
            for _ in client.chat.completions.create(model=UPSTREAM_MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS, stream=True):
                n += 1
            assert n > 1

        return plain, stream, client.close
    raise SystemExit(f"unknown sync client {name}")


async def make_async(name: str, url: str):
    body = {"model": UPSTREAM_MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS}
    if name == "sluicegate_async":
        import sluicegate
        gw = sluicegate.AsyncGateway(config=sluicegate_config(url, audit_file()))
        create = gw.chat.completions.create

        async def plain():
            r = await create(model="chat", messages=MESSAGES, max_tokens=MAX_TOKENS, key=VIRTUAL_KEY)
            assert r.choices[0].message.content

        async def stream():
            n = 0
            async for _ in await create(model="chat", messages=MESSAGES, max_tokens=MAX_TOKENS, key=VIRTUAL_KEY, stream=True):
                n += 1
            assert n > 1

        async def close():
            r = gw.close()
            if asyncio.iscoroutine(r):
                await r

        return plain, stream, close
    if name == "httpx_async":
        import httpx
        client = httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {UPSTREAM_KEY}"},
                                   limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))

        async def plain():
            r = await client.post("/v1/chat/completions", json=body)
            assert r.json()["choices"][0]["message"]["content"]

        async def stream():
            n = 0
            async with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        json.loads(line[6:])
                        n += 1
            assert n > 1

        return plain, stream, client.aclose
    if name == "openai_async":
        import openai
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=UPSTREAM_KEY, max_retries=0)

        async def plain():
            r = await client.chat.completions.create(model=UPSTREAM_MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
            assert r.choices[0].message.content

        async def stream():
            n = 0
            async for _ in await client.chat.completions.create(model=UPSTREAM_MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS, stream=True):
                n += 1
            assert n > 1

        return plain, stream, client.close
    if name == "litellm_router":
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_LOG", "ERROR")
        import litellm
        litellm.telemetry = False
        litellm.suppress_debug_info = True
        router = litellm.Router(model_list=[{"model_name": "chat", "litellm_params": {
            "model": f"openai/{UPSTREAM_MODEL}", "api_base": f"{url}/v1", "api_key": UPSTREAM_KEY}}], num_retries=0)

        async def plain():
            r = await router.acompletion(model="chat", messages=MESSAGES, max_tokens=MAX_TOKENS)
            assert r.choices[0].message.content

        async def stream():
            n = 0
            async for _ in await router.acompletion(model="chat", messages=MESSAGES, max_tokens=MAX_TOKENS, stream=True):
                n += 1
            assert n > 1

        async def close():
            pass

        return plain, stream, close
    if name == "tensorzero_async":
        from tensorzero import AsyncTensorZeroGateway
        config = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"sluicegate-bench-tensorzero-{os.getpid()}.toml")
        with open(config, "w") as f:
            f.write(TENSORZERO_TOML.format(url=url, model=UPSTREAM_MODEL))
        client = await AsyncTensorZeroGateway.build_embedded(config_file=config, async_setup=True)
        inp = {"messages": MESSAGES}
        params = {"chat_completion": {"max_tokens": MAX_TOKENS}}

        async def plain():
            r = await client.inference(model_name="mock", input=inp, params=params)
            assert r.content

        async def stream():
            n = 0
            async for _ in await client.inference(model_name="mock", input=inp, params=params, stream=True):
                n += 1
            assert n > 1

        async def close():
            r = client.close()
            if asyncio.iscoroutine(r):
                await r

        return plain, stream, close
    raise SystemExit(f"unknown async client {name}")


# TensorZero's embedded gateway, with one model whose provider is OpenAI-compatible at the mock.
# No ClickHouse / Postgres: observability is off, as for an app that embeds it without a store.
TENSORZERO_TOML = """
[gateway.observability]
enabled = false

[models.mock]
routing = ["mock"]

[models.mock.providers.mock]
type = "openai"
model_name = "{model}"
api_base = "{url}/v1/"
api_key_location = "none"
"""


def run_client(name: str, url: str, quick: bool, only: Optional[Set[str]] = None) -> Dict[str, Any]:
    b = budgets(quick, name)
    results: Dict[str, Any] = {}
    if name.endswith("_sync"):
        plain, stream, close = make_sync(name, url)
        for kind, c in SYNC_SCENARIOS:
            if only and f"{kind}_c{c}" not in only:
                continue
            fn = plain if kind == "plain" else stream
            run_sync(fn, c, int(b["warm"]), 1.0)
            results[f"{kind}_c{c}"] = run_sync(fn, c, int(b["max_n"]), b["max_s"])
        close()
        return results

    async def main() -> None:
        plain, stream, close = await make_async(name, url)
        for kind, c in ASYNC_SCENARIOS:
            if only and f"{kind}_c{c}" not in only:
                continue
            fn = plain if kind == "plain" else stream
            await run_async(fn, c, int(b["warm"]), 1.0)
            results[f"{kind}_c{c}"] = await run_async(fn, c, int(b["max_n"]), b["max_s"])
        await close()

    asyncio.run(main())
    return results


def throughput(url: str, quick: bool, clients: List[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for name in clients:
        t = time.time()
        proc = subprocess.run([sys.executable, __file__, "client", name, "--url", url] + (["--quick"] if quick else []),
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            err = (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]
            print(f"   python {name}: FAILED: {err}", file=sys.stderr)
            out[name] = {"error": err}
            continue
        out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        summary = ", ".join(f"{k} {v['rps']:.0f}/s" for k, v in out[name].items())
        print(f"   python {name}: {summary} ({time.time() - t:.1f}s)", file=sys.stderr)
    return out


# ---------------------------------------------------------------------------------------------
# Memory

def streams(url: str, n: int) -> Dict[str, Any]:
    """RSS while N sluicegate streams are open at once. The mock paces chunks (see run.sh), so a
    stream lasts seconds; every stream is read as it arrives, as an application would."""
    import sluicegate

    async def main() -> Dict[str, Any]:
        gw = sluicegate.AsyncGateway(config=sluicegate_config(url, audit_file()))
        async def warm() -> None:
            async for _ in await gw.chat.completions.create(model="chat", messages=MESSAGES, key=VIRTUAL_KEY, stream=True):
                pass

        await asyncio.gather(*(warm() for _ in range(4)))
        before = rss_kb()
        state = {"open": 0, "max_open": 0, "chunks": 0, "peak": before, "rss_at_max_open": before}

        async def one() -> None:
            s = await gw.chat.completions.create(model="chat", messages=MESSAGES, key=VIRTUAL_KEY, stream=True)
            first = True
            async for _ in s:
                state["chunks"] += 1
                if first:
                    first = False
                    state["open"] += 1
                    state["max_open"] = max(state["max_open"], state["open"])
            state["open"] -= 1

        tasks = [asyncio.create_task(one()) for _ in range(n)]
        t0 = time.time()
        while not all(t.done() for t in tasks) and time.time() - t0 < 90:
            await asyncio.sleep(0.02)
            rss = rss_kb()
            state["peak"] = max(state["peak"], rss)
            if state["open"] == state["max_open"]:
                state["rss_at_max_open"] = max(state["rss_at_max_open"], rss)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        await asyncio.sleep(0.5)
        after = rss_kb()
        return {"streams": n, "opened_together": state["max_open"], "chunks": state["chunks"], "seconds": round(time.time() - t0, 2),
                "rss_before_mb": before / 1024, "rss_peak_mb": state["peak"] / 1024, "rss_after_mb": after / 1024,
                "rss_added_mb": (state["peak"] - before) / 1024, "per_stream_kb": (state["peak"] - before) / max(1, state["max_open"])}

    return asyncio.run(main())


def growth(url: str, n: int, max_s: float) -> Dict[str, Any]:
    """RSS growth over N sync calls, after a warm-up that fills pools and caches."""
    import sluicegate
    gw = sluicegate.Gateway(config=sluicegate_config(url, audit_file()))
    create = gw.chat.completions.create
    warm = min(5_000, n // 10)
    for _ in range(warm):
        create(model="chat", messages=MESSAGES, max_tokens=MAX_TOKENS, key=VIRTUAL_KEY)
    before = rss_kb()
    samples = []
    t0 = time.time()
    done = 0
    step = max(1, n // 10)
    while done < n and time.time() - t0 < max_s:
        create(model="chat", messages=MESSAGES, max_tokens=MAX_TOKENS, key=VIRTUAL_KEY)
        done += 1
        if done % step == 0:
            samples.append(round(rss_kb() / 1024, 2))
    after = rss_kb()
    return {"requests": done, "warmup": warm, "seconds": round(time.time() - t0, 2), "rss_before_mb": before / 1024,
            "rss_after_mb": after / 1024, "growth_mb": (after - before) / 1024, "samples_mb": samples}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["throughput", "client", "streams", "growth"])
    p.add_argument("name", nargs="?")
    p.add_argument("--url", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--n", type=int, default=0)
    p.add_argument("--max-s", type=float, default=120.0)
    p.add_argument("--clients", default=",".join(CLIENTS))
    p.add_argument("--scenarios", default="", help="client mode: only these, e.g. stream_c1,stream_c32")
    a = p.parse_args()
    if a.mode == "throughput":
        r = throughput(a.url, a.quick, [c for c in a.clients.split(",") if c])
    elif a.mode == "client":
        r = run_client(a.name, a.url, a.quick, {s for s in a.scenarios.split(",") if s})
    elif a.mode == "streams":
        r = streams(a.url, a.n or 1000)
    else:
        r = growth(a.url, a.n or 100_000, a.max_s)
    print(json.dumps(r))


if __name__ == "__main__":
    main()
