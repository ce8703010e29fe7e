"""One OS process of the multi-process test: 16 concurrent callers through one AsyncGateway."""
import asyncio
import json
import sys

import sluicegate


async def main(config_path: str, calls_each: int) -> None:
    with open(config_path) as f:
        config = json.load(f)
    gw = sluicegate.AsyncGateway(config=config)
    outcome: dict = {"ok": 0, "errors": {}, "spent": 0.0}

    async def caller() -> None:
        for _ in range(calls_each):
            try:
                r = await gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
                outcome["ok"] += 1
                outcome["spent"] += r.gateway.cost_usd or 0.0
            except sluicegate.GatewayError as e:
                outcome["errors"][e.code] = outcome["errors"].get(e.code, 0) + 1

    await asyncio.gather(*(caller() for _ in range(16)))
    print(json.dumps(outcome), flush=True)


asyncio.run(main(sys.argv[1], int(sys.argv[2])))
