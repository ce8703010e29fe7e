"""One Python process of the budget soak: 16 concurrent callers through one AsyncGateway, each
call drawn at random (see soak.py for the kinds). Prints its outcomes as one JSON line."""
import asyncio
import json
import random
import sys

import sluicegate


async def main(config_path: str, calls_each: int, seed: int) -> None:
    with open(config_path) as f:
        config = json.load(f)
    plan = config.pop("soak")
    gw = sluicegate.AsyncGateway(config=config)
    rng = random.Random(seed)
    outcomes: dict = {}

    def count(kind: str, code: str) -> None:
        outcomes.setdefault(kind, {}).setdefault(code, 0)
        outcomes[kind][code] += 1

    async def one(kind: str) -> str:
        n = rng.randint(1, 4)
        messages = [{"role": "user", "content": "a" * rng.randint(100, 400)}]
        chat = gw.chat.completions.create
        if kind == "embed":
            await gw.embeddings.create(model="embed", input=["b" * rng.randint(100, 400)])
        elif kind in ("plain", "fault"):
            await chat(model="ok" if kind == "plain" else "fault", messages=messages, n=n, max_tokens=16)
        elif kind == "timeout":
            await chat(model="slow_timeout", messages=messages, n=n, max_tokens=16)
        elif kind == "cancel":
            try:
                await asyncio.wait_for(chat(model="slow", messages=messages, n=n, max_tokens=16), plan["cancel_after"])
            except asyncio.TimeoutError:
                return "cancelled"
        else:
            route = {"stream": "ok", "finish_drop": "ok", "stall_drop": "stall", "cut": "cut"}[kind]
            stream = await chat(model=route, messages=messages, n=n, max_tokens=16, stream=True)
            seen = 0
            try:
                async for chunk in stream:
                    seen += 1
                    c = chunk.choices[0] if chunk.choices else None
                    if kind == "finish_drop" and c is not None and c.index == 0 and c.finish_reason:
                        break
                    if kind == "stall_drop" and seen == plan["stall_after"]:
                        break
            finally:
                await stream.aclose()
        return "ok"

    async def caller() -> None:
        for _ in range(calls_each):
            kind = rng.choice(plan["kinds"])
            try:
                count(kind, await one(kind))
            except sluicegate.GatewayError as e:
                count(kind, e.code)

    await asyncio.gather(*(caller() for _ in range(16)))
    await gw.aclose()
    del gw
    print(json.dumps({"lang": "python", "outcomes": outcomes}), flush=True)


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
