"""A blocking chat through sluicegate, with an in-process mock provider (no network, no keys).

Run: python examples/python/sync_chat.py
"""

from __future__ import annotations

import sluicegate

CONFIG = """
providers:
  local:
    type: mock
    latency: 5ms
    script:
      flaky-model: [ { status: 503, error: "overloaded (scripted)" } ]
deployments:
  mini:  { provider: local, model: gpt-4o-mini }
  flaky: { provider: local, model: flaky-model }
routes:
  chat:   { targets: [mini] }
  shaky:  { targets: [flaky, mini] }     # the first target fails; the gateway moves on
"""


def main() -> None:
    with sluicegate.Gateway(CONFIG) as gw:
        messages = [{"role": "user", "content": "Say hello"}]

        r = gw.chat.completions.create(model="chat", messages=messages, tags={"team": "search"})
        print("reply:   ", r.choices[0].message.content)
        print("gateway: ", r.gateway.deployment, f"{r.gateway.usage.input_tokens}+{r.gateway.usage.output_tokens} tokens")

        r = gw.chat.completions.create(model="shaky", messages=messages)
        print("failover:", r.gateway.attempts, "attempts, answered by", r.gateway.deployment)

        stream = gw.chat.completions.create(model="chat", messages=messages, stream=True)
        print("stream:  ", end=" ")
        for chunk in stream:
            if chunk.choices:
                print(chunk.choices[0].delta.content or "", end="", flush=True)
        gateway = stream.gateway
        print(f"\n          ({gateway.latency_ms if gateway else '?'} ms)")

        report = gw.explain("shaky")
        print("explain: ", report.would_serve, [(c.deployment, c.reason) for c in report.candidates])
        for group in gw.usage(group_by=["route"]).groups:
            print("usage:   ", group.group, group.requests, "requests", group.errors or "")

        try:
            gw.chat.completions.create(model="no-such-route", messages=messages)
        except sluicegate.NotFoundError as e:
            print("error:   ", e.code, "-", e.message)


if __name__ == "__main__":
    main()
