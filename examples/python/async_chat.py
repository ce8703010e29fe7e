"""asyncio with sluicegate: concurrent calls, a stream, and cancellation that reaches upstream.

Run: python examples/python/async_chat.py
"""

from __future__ import annotations

import asyncio

import sluicegate

CONFIG = {
    "providers": {"local": {"type": "mock", "latency": "20ms"}},
    "deployments": {"mini": {"provider": "local", "model": "gpt-4o-mini"}},
    "routes": {"chat": {"targets": ["mini"]}},
}


async def main() -> None:
    async with sluicegate.AsyncGateway(CONFIG) as gw:
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


if __name__ == "__main__":
    asyncio.run(main())
