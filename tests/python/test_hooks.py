"""on_request_end hooks: the event, failures and slowness kept off the request path, asyncio."""

from __future__ import annotations

import asyncio
import datetime
import gc
import hashlib
import logging
import queue
import threading
import weakref
from typing import Any, Callable, Dict, List

import pytest

import sluicegate
from sluicegate.types import RequestEndEvent
from conftest import HI, embed_config, mock_config

KEY = "sk-sg-hooks-0001"


def keyed_config(**extra: Any) -> Dict[str, Any]:
    config = embed_config()
    config["keys"] = {"search-prod": {"sha256": hashlib.sha256(KEY.encode()).hexdigest(), "tags": {"team": "search"}}}
    # Calls without the key are allowed too (keys make require_key default to true).
    config["policies"] = {"require_key": False}
    config.update(extra)
    return config


class Events:
    """Collects events from the hook thread; `next()` waits for the next one."""

    def __init__(self) -> None:
        self.queue: "queue.Queue[RequestEndEvent]" = queue.Queue()
        self.threads: List[str] = []

    def __call__(self, event: RequestEndEvent) -> None:
        self.threads.append(threading.current_thread().name)
        self.queue.put(event)

    def next(self) -> RequestEndEvent:
        return self.queue.get(timeout=5)

    def none_left(self) -> bool:
        return self.queue.empty()


def test_the_event_of_a_successful_call() -> None:
    events = Events()
    gw = sluicegate.Gateway(keyed_config(), on_request_end=events)
    r = gw.chat.completions.create(model="chat", messages=HI, key=KEY, tags={"user": "u1"}, request_id="req-ok-1")
    e = events.next()
    assert isinstance(e, sluicegate.RequestEndEvent)
    assert (e.request_id, e.operation, e.route, e.deployment, e.provider, e.model) == (
        "req-ok-1", "chat", "chat", "mini", "local", "gpt-4o-mini"
    )
    assert e.outcome == "ok" and e.error is None
    assert e.key == "search-prod" and KEY not in e.to_json()  # the key's name, never its secret
    assert e.tags == {"team": "search", "user": "u1"} == r.gateway.tags
    assert e.usage.input_tokens == r.gateway.usage.input_tokens > 0
    assert e.usage.output_tokens == r.gateway.usage.output_tokens > 0
    assert e.usage.cached_tokens == 0 and e.usage.reasoning_tokens == 0
    assert e.cost_usd == r.gateway.cost_usd
    assert 0 < e.latency_ms and e.ttft_ms is not None and e.overhead_us is not None
    ended = datetime.datetime.fromisoformat(e.ts.replace("Z", "+00:00"))
    assert abs((datetime.datetime.now(datetime.timezone.utc) - ended).total_seconds()) < 60
    assert events.threads[0] != threading.main_thread().name  # off the caller's thread
    # A stream reports once it has ended, and embeddings are their own operation.
    chunks = list(gw.chat.completions.create(model="chat", messages=HI, stream=True, request_id="req-stream"))
    assert chunks
    streamed = events.next()
    assert (streamed.request_id, streamed.outcome, streamed.operation) == ("req-stream", "ok", "chat")
    assert streamed.ttft_ms is not None and streamed.usage.output_tokens > 0
    gw.embeddings.create(model="embed", input="x")
    assert (events.next().operation) == "embeddings"
    assert events.none_left()


def test_the_event_of_a_failed_call() -> None:
    events = Events()
    gw = sluicegate.Gateway(mock_config(script={"gpt-4o-mini": [{"status": 500, "error": "upstream broke"}]}))
    gw.on_request_end(events)
    with pytest.raises(sluicegate.ProviderError) as info:
        gw.chat.completions.create(model="chat", messages=HI, tags={"team": "a"})
    e = events.next()
    assert e.request_id == info.value.request_id
    assert e.outcome == "provider_error" and e.route == "chat"
    assert e.error is not None and e.error.code == "provider_error" and e.error.message == info.value.message
    assert e.tags == {"team": "a"} and e.key is None
    assert e.usage.output_tokens == 0 and e.cost_usd is None
    # A call refused before routing still reports, with no deployment.
    with pytest.raises(sluicegate.NotFoundError):
        gw.chat.completions.create(model="no-such-route", messages=HI)
    e = events.next()
    assert (e.outcome, e.route, e.deployment, e.provider) == ("not_found", "no-such-route", None, None)
    assert e.error is not None and e.error.code == "not_found"


def test_registration_forms() -> None:
    order: List[str] = []
    done = threading.Event()
    gw = sluicegate.Gateway(mock_config(), on_request_end=lambda e: order.append("init"))

    @gw.on_request_end
    def second(event: RequestEndEvent) -> None:
        order.append("decorated")
        done.set()

    assert callable(second) and second.__name__ == "second"  # the decorator returns the function
    gw.chat.completions.create(model="chat", messages=HI)
    assert done.wait(5)
    assert order == ["init", "decorated"]  # every callback, in the order registered
    # Hooks belong to one gateway.
    other = sluicegate.Gateway(mock_config())
    done.clear()
    other.chat.completions.create(model="chat", messages=HI)
    gw.chat.completions.create(model="chat", messages=HI)
    assert done.wait(5) and order == ["init", "decorated"] * 2
    with pytest.raises(TypeError, match="callable"):
        gw.on_request_end("not a function")  # type: ignore[arg-type]
    for factory in (sluicegate.Gateway.from_text, sluicegate.AsyncGateway.from_text):
        seen = Events()
        factory('{"providers": {"l": {"type": "mock"}}, "deployments": {"d": {"provider": "l", "model": "m"}}, '
                '"routes": {"chat": {"targets": ["d"]}}}', on_request_end=seen)
    gw.close()
    with pytest.raises(sluicegate.BadRequestError, match="closed"):
        gw.on_request_end(lambda e: None)


def test_a_raising_callback_is_logged_and_breaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    after = Events()
    gw = sluicegate.Gateway(mock_config())

    @gw.on_request_end
    def broken(event: RequestEndEvent) -> None:
        raise ValueError(f"broken hook for {event.request_id}")

    gw.on_request_end(after)  # runs after the broken one, so its event means the log line exists
    with caplog.at_level(logging.ERROR, logger="sluicegate"):
        r = gw.chat.completions.create(model="chat", messages=HI)
        assert after.next().request_id == r.gateway.request_id  # later callbacks still run
        r2 = gw.chat.completions.create(model="chat", messages=HI)  # and later calls work
        assert after.next().request_id == r2.gateway.request_id
    failures = [rec for rec in caplog.records if rec.name == "sluicegate" and "on_request_end" in rec.getMessage()]
    assert len(failures) == 2, caplog.text
    assert failures[0].exc_info is not None and failures[0].exc_info[0] is ValueError
    assert "broken" in failures[0].getMessage()
    assert str(failures[0].exc_info[1]) == f"broken hook for {r.gateway.request_id}"


def test_a_slow_callback_never_delays_a_call() -> None:
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()
    gw = sluicegate.Gateway(mock_config())

    @gw.on_request_end
    def slow(event: RequestEndEvent) -> None:
        entered.set()
        if release.wait(20):
            finished.set()

    try:
        gw.chat.completions.create(model="chat", messages=HI)
        assert entered.wait(5)
        # The callback is blocked, and calls (sync, streamed, async) still come back.
        gw.chat.completions.create(model="chat", messages=HI)
        assert list(gw.chat.completions.create(model="chat", messages=HI, stream=True))

        async def from_asyncio() -> None:
            agw = sluicegate.AsyncGateway(mock_config())
            agw.on_request_end(slow)
            await agw.chat.completions.create(model="chat", messages=HI)

        asyncio.run(from_asyncio())
        assert not finished.is_set()
    finally:
        release.set()
    assert finished.wait(5)


def test_async_callbacks_run_on_the_loop_they_were_registered_from(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        seen: "asyncio.Queue[RequestEndEvent]" = asyncio.Queue()
        where: List[Any] = []

        async def record(event: RequestEndEvent) -> None:
            where.append((asyncio.get_running_loop(), threading.current_thread()))
            await asyncio.sleep(0)
            seen.put_nowait(event)

        async def broken(event: RequestEndEvent) -> None:
            await asyncio.sleep(0)
            raise RuntimeError("async hook failed")

        async with sluicegate.AsyncGateway(mock_config(), on_request_end=record) as gw:
            gw.on_request_end(broken)
            r = await gw.chat.completions.create(model="chat", messages=HI, request_id="req-async")
            e = await asyncio.wait_for(seen.get(), 5)
            assert e.request_id == r.gateway.request_id == "req-async" and e.outcome == "ok"
            assert where == [(loop, threading.main_thread())]
            with pytest.raises(sluicegate.NotFoundError):
                await gw.chat.completions.create(model="nope", messages=HI)
            assert (await asyncio.wait_for(seen.get(), 5)).outcome == "not_found"
            for _ in range(100):  # let the broken callback's tasks finish
                if len(failures()) >= 2:
                    break
                await asyncio.sleep(0.01)

    def failures() -> List[logging.LogRecord]:
        return [rec for rec in caplog.records if rec.name == "sluicegate" and rec.exc_info is not None]

    with caplog.at_level(logging.ERROR, logger="sluicegate"):
        asyncio.run(main())
    assert len(failures()) == 2, caplog.text
    assert all(rec.exc_info and str(rec.exc_info[1]) == "async hook failed" for rec in failures()), caplog.text


def test_an_async_callback_needs_a_running_loop() -> None:
    async def hook(event: RequestEndEvent) -> None:
        pass

    with pytest.raises(TypeError, match="no event loop is running"):
        sluicegate.AsyncGateway(mock_config(), on_request_end=hook)


def test_a_callback_that_keeps_its_gateway_alive_is_still_collected() -> None:
    """The usual shape (an app object owning the gateway registers its own method) is a
    reference cycle through the native object; the garbage collector must see through it."""

    class App:
        def __init__(self) -> None:
            self.gw = sluicegate.Gateway(mock_config())
            self.gw.on_request_end(self.record)
            self.events: List[RequestEndEvent] = []

        def record(self, event: RequestEndEvent) -> None:
            self.events.append(event)

    app = App()
    app.gw.chat.completions.create(model="chat", messages=HI)
    alive: Callable[[], Any] = weakref.ref(app)
    del app
    for _ in range(50):
        gc.collect()
        if alive() is None:
            break
        threading.Event().wait(0.02)  # the hook thread may still hold the event's references
    assert alive() is None, "an App that registered its own method on its gateway is never freed"
