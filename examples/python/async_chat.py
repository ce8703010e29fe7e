"""asyncio with sluicegate: concurrent calls, a stream, cancellation that reaches upstream, and an
on_request_end hook that tallies spend per route on the event loop.

Run: python examples/python/async_chat.py
"""

from __future__ import annotations

import asyncio
from collections import Counter

import sluicegate

CONFIG = {
    "providers": {"local": {"type": "mock", "latency": "20ms"}},
    "deployments": {"mini": {"provider": "local", "model": "gpt-4o-mini"}},
    "routes": {"chat": {"targets": ["mini"]}},
}


async def main() -> None:
    calls: "Counter[str]" = Counter()
    ended = asyncio.Event()

    async def on_request_end(event: sluicegate.RequestEndEvent) -> None:
        # Runs as a task on this loop after every call, off the request path (send it to your
        # metrics or billing system here).
        calls[f"{event.route} {event.outcome}"] += 1
        if sum(calls.values()) == 6:  # the five calls and the stream
            ended.set()

    async with sluicegate.AsyncGateway(CONFIG, on_request_end=on_request_end) as gw:
        questions = [f"question {i}" for i in range(5)]
        replies = await asyncio.gather(
            *[gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": q}]) for q in questions]
        )
        for r in replies:
            print(f"{r.gateway.request_id}: {r.choices[0].message.content}")

        stream = await gw.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "stream please"}], stream=True
        )
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        print("stream:", "".join(parts), f"(cost_usd={stream.gateway.cost_usd if stream.gateway else None})")

        # A timeout cancels the call, and with it the upstream request.
        try:
            await asyncio.wait_for(
                gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "slow"}]), 0.001
            )
        except asyncio.TimeoutError:
            print("timed out and cancelled")

        await asyncio.wait_for(ended.wait(), 5)
        print("calls by route and outcome:", dict(calls))


if __name__ == "__main__":
    asyncio.run(main())
