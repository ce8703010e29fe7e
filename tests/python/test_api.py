"""Python-specific behaviour: objects, exceptions, types, threads, cancellation, stubs."""

from __future__ import annotations

import ast
import asyncio
import datetime
import inspect
import json
import pickle
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import sluicegate
from sluicegate import _native, errors, types
from conftest import ROOT, MockServer

HI = [{"role": "user", "content": "hi"}]
SECRET = "sk-live-SECRET-4f9a2b7c1d"
PACKAGE = ROOT / "bindings-python" / "python" / "sluicegate"


def mock_config(latency: str = "1ms", script: Any = None) -> Dict[str, Any]:
    provider: Dict[str, Any] = {"type": "mock", "latency": latency}
    if script is not None:
        provider["script"] = script
    return {
        "providers": {"local": provider},
        "deployments": {"mini": {"provider": "local", "model": "gpt-4o-mini"}},
        "routes": {"chat": {"targets": ["mini"]}},
    }


def http_config(server: MockServer, api_key: str = "sk-test-0000") -> Dict[str, Any]:
    return {
        "providers": {"oai": {"type": "openai", "api_base": server.url + "/v1", "api_key": api_key}},
        "deployments": {"a": {"provider": "oai", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["a"]}},
    }


def wait_for(condition: Callable[[], bool], limit: float = 3.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# --- construction -------------------------------------------------------------------------


def test_config_as_dict_text_and_file(tmp_path: Path) -> None:
    config = mock_config()
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(config))
    yaml = "providers: {local: {type: mock}}\ndeployments: {mini: {provider: local, model: m}}\nroutes: {chat: {targets: [mini]}}\n"
    yaml_path = tmp_path / "gateway.yaml"
    yaml_path.write_text(yaml)
    for gw in [
        sluicegate.Gateway(config),
        sluicegate.Gateway(config=json.dumps(config)),
        sluicegate.Gateway(yaml),
        sluicegate.Gateway(yaml.encode()),
        sluicegate.Gateway(path),
        sluicegate.Gateway.from_file(str(yaml_path)),
        sluicegate.Gateway.from_file(yaml_path),
        sluicegate.Gateway.from_text(yaml),
    ]:
        assert gw.chat.completions.create(model="chat", messages=HI).choices[0].message.content


def test_bad_config_types_are_type_errors() -> None:
    for bad in [42, None, 1.5, ["providers"], object()]:
        with pytest.raises(TypeError, match="config must be a dict"):
            sluicegate.Gateway(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path must be"):
        sluicegate.Gateway.from_file(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"config\[\"providers\"\]\[\"x\"\]: cannot send a value of type object"):
        sluicegate.Gateway({"providers": {"x": object()}})


def test_config_errors() -> None:
    with pytest.raises(sluicegate.InvalidConfigError) as info:
        sluicegate.Gateway({"providers": {"local": {"type": "mock"}}, "routs": {}})
    e = info.value
    assert e.code == "invalid_config" and isinstance(e, ValueError)
    assert "routes" in str(e)  # the near miss is suggested
    assert e.problems
    with pytest.raises(sluicegate.InvalidConfigError):
        sluicegate.Gateway("providers: [broken")
    with pytest.raises(sluicegate.InvalidConfigError):
        sluicegate.Gateway.from_file("/nonexistent/gateway.yaml")


# --- responses ----------------------------------------------------------------------------


def test_response_attribute_access_and_dicts() -> None:
    gw = sluicegate.Gateway(mock_config())
    r = gw.chat.completions.create(model="chat", messages=HI, tags={"team": "search"}, request_id="req-1")
    assert isinstance(r, sluicegate.ChatCompletion)
    assert isinstance(r.choices[0], types.Choice)
    assert r.choices[0].message.role == "assistant"
    assert "gpt-4o-mini" in r.choices[0].message.content
    assert r.choices[0].message.tool_calls is None  # declared but absent: None, as in openai-python
    assert r.usage is not None and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    g = r.gateway
    assert isinstance(g, sluicegate.GatewayInfo)
    assert (g.request_id, g.route, g.deployment, g.provider, g.attempts) == ("req-1", "chat", "mini", "local", 1)
    assert g.tags == {"team": "search"}
    assert g.usage.input_tokens == r.usage.prompt_tokens
    assert g.skipped == []
    d = r.to_dict()
    assert d["choices"][0]["message"]["content"] == r.choices[0].message.content
    assert d["gateway"]["request_id"] == "req-1"
    d["choices"][0]["message"]["content"] = "changed"  # a copy: the response is unchanged
    assert r.choices[0].message.content != "changed"
    assert json.loads(r.to_json()) == r.to_dict() == r.model_dump() == json.loads(r.model_dump_json())
    assert r["gateway"]["route"] == "chat" and "gateway" in r
    with pytest.raises(AttributeError, match="no field"):
        r.no_such_field  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match="read-only"):
        r.id = "x"  # type: ignore[misc]
    assert "choices" in dir(r)
    assert pickle.loads(pickle.dumps(r)) == r
    assert repr(r).startswith("ChatCompletion(id=")


def test_declared_fields_cover_what_the_core_returns(mock_server: Any) -> None:
    """The typed objects must keep up with the core: every field it sends is declared."""
    gw = sluicegate.Gateway(mock_config())
    r = gw.chat.completions.create(model="chat", messages=HI)
    stream = gw.chat.completions.create(model="chat", messages=HI, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    server = mock_server({"gpt-4o": [{"tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]})
    tool = sluicegate.Gateway(http_config(server)).chat.completions.create(model="chat", messages=HI)
    pairs: List[Any] = [(r, types.ChatCompletion), (tool, types.ChatCompletion), (stream.gateway, types.GatewayInfo)]
    pairs += [(c, types.ChatCompletionChunk) for c in chunks]

    def check(obj: Any, cls: Any, path: str) -> None:
        if not isinstance(obj, types.BaseObject):
            return
        assert type(obj) is cls, path
        undeclared = set(obj.to_dict()) - set(cls._specs)
        assert not undeclared, f"{path}: the core sends {sorted(undeclared)}, not declared in types.{cls.__name__}"
        for field, spec in cls._specs.items():
            value = getattr(obj, field)
            if isinstance(spec, tuple):
                for i, item in enumerate(value if isinstance(value, list) else [value]):
                    check(item, spec[1], f"{path}.{field}[{i}]")

    for obj, cls in pairs:
        check(obj, cls, cls.__name__)


def test_unknown_fields_are_kept() -> None:
    data = {
        "id": "c1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "x", "x_cited": [{"url": "u"}]}}],
        "provider_extra": {"region": "eu", "nested": {"k": [1, 2]}},
    }
    r = types.ChatCompletion(data)
    assert r.provider_extra.region == "eu"  # type: ignore[attr-defined]
    assert r.provider_extra.nested.k == [1, 2]  # type: ignore[attr-defined]
    assert isinstance(r["provider_extra"], types.Object)
    assert r.choices[0].message["x_cited"][0].url == "u"
    assert r.to_dict() == data


def test_unknown_provider_fields_pass_through_end_to_end(mock_server: Any) -> None:
    server = mock_server({"gpt-4o": [{"reply": "ok"}]})
    gw = sluicegate.Gateway(http_config(server))
    r = gw.chat.completions.create(
        model="chat", messages=HI, temperature=0.25, extra_body={"x_vendor": {"a": 1}}, tags={"team": "t"}
    )
    assert r.choices[0].message.content == "ok"
    sent = server.get("/_mock/requests")[-1]["body"]
    assert sent["temperature"] == 0.25 and sent["x_vendor"] == {"a": 1}
    assert sent["model"] == "gpt-4o"
    assert "tags" not in sent and "gateway" not in sent  # gateway options stay in the gateway


# --- errors -------------------------------------------------------------------------------


def test_every_error_code_maps_to_its_class() -> None:
    assert set(_native.ERROR_CODES) == set(errors.ERROR_CLASSES), "a core error code has no Python class"
    for code in _native.ERROR_CODES:
        cls = errors.ERROR_CLASSES[code]
        assert issubclass(cls, sluicegate.GatewayError) and cls.code == code
        e = errors._from_native({"code": code, "message": "m", "status_code": 500, "retryable": True})
        assert type(e) is cls and e.code == code and e.retryable is True
    assert len(set(errors.ERROR_CLASSES.values())) == len(errors.ERROR_CLASSES), "two codes share a class"
    # openai-python's names
    assert sluicegate.BadRequestError is sluicegate.InvalidRequestError
    assert sluicegate.InternalServerError is errors.ERROR_CLASSES["internal"]
    assert issubclass(sluicegate.APITimeoutError, sluicegate.APIConnectionError)
    assert errors.error_class("something_new") is sluicegate.GatewayError


def test_error_classes_match_the_node_binding() -> None:
    """One product: each code's class has the Node binding's name, or an alias of it
    (timeouts differ on purpose: openai-python says APITimeoutError, openai-node
    APIConnectionTimeoutError)."""
    node = ROOT / "bindings-node" / "lib" / "errors.js"
    if not node.exists():
        pytest.skip("no Node binding in this checkout")
    import re

    pairs = re.findall(r"define\('(\w+)', '(\w+)'", node.read_text())
    assert len(pairs) == len(errors.ERROR_CLASSES)
    for name, code in pairs:
        if code == "timeout":
            continue
        cls = errors.ERROR_CLASSES[code]
        assert cls.__name__ == name or getattr(sluicegate, name, None) is cls, (code, name, cls.__name__)


def test_errors_built_in_python_carry_the_core_defaults() -> None:
    assert set(_native.ERROR_DEFAULTS) == set(_native.ERROR_CODES)
    for code, (status, retryable) in _native.ERROR_DEFAULTS.items():
        e = errors.ERROR_CLASSES[code]("m")
        assert (e.code, e.status_code, e.retryable) == (code, status, retryable)
    assert (sluicegate.RateLimitError("m").status_code, sluicegate.RateLimitError("m").retryable) == (429, True)
    assert sluicegate.RateLimitError("m", status_code=503, retryable=False).to_dict()["status_code"] == 503


def test_raised_errors_carry_the_facts() -> None:
    gw = sluicegate.Gateway(mock_config(script={"gpt-4o-mini": [{"status": 429, "retry_after": "7"}]}))
    with pytest.raises(sluicegate.RateLimitError) as info:
        gw.chat.completions.create(model="chat", messages=HI, request_id="req-429")
    e = info.value
    assert isinstance(e, sluicegate.GatewayError)
    assert (e.code, e.status_code, e.request_id, e.retry_after) == ("rate_limited", 429, "req-429", 7.0)
    assert e.message == str(e) and "mini" in e.message
    copy = pickle.loads(pickle.dumps(e))
    assert type(copy) is sluicegate.RateLimitError and copy.to_dict() == e.to_dict()
    with pytest.raises(sluicegate.NotFoundError):
        gw.chat.completions.create(model="no-such-route", messages=HI)


def test_no_secret_in_errors(mock_server: Any) -> None:
    server = mock_server({"gpt-4o": [{"reply": "ok"}]}, api_key="sk-expected")
    gw = sluicegate.Gateway(http_config(server, api_key=SECRET))
    with pytest.raises(sluicegate.AuthenticationError) as info:
        gw.chat.completions.create(model="chat", messages=HI)
    e = info.value
    for text in [str(e), repr(e), json.dumps(e.to_dict()), str(e.__cause__), str(e.__context__)]:
        assert SECRET not in text and SECRET[8:] not in text
    with pytest.raises(sluicegate.AuthenticationError) as info2:
        for _ in gw.chat.completions.create(model="chat", messages=HI, stream=True):
            pass
    assert SECRET not in str(info2.value)


def test_every_core_call_option_is_a_keyword() -> None:
    """A call option the core adds must become a keyword of create(): otherwise Python would
    silently send it upstream as a request field. The core lists its options when given an
    unknown one."""
    native = sluicegate.Gateway(mock_config())._native_gateway()
    with pytest.raises(sluicegate.InvalidRequestError) as info:
        native.chat({"model": "chat", "messages": HI}, {"no_such_option": 1})
    known = info.value.message.split("known options:")[1].strip(" )").split(", ")
    assert len(known) >= 3
    keywords = set(inspect.signature(sluicegate.Gateway(mock_config()).chat.completions.create).parameters)
    assert set(known) <= keywords, f"core call options {set(known) - keywords} are not keywords of create()"
    for fn in (sluicegate.Gateway(embed_config()).embeddings.create, sluicegate.AsyncGateway(mock_config()).chat.completions.create):
        assert set(known) <= set(inspect.signature(fn).parameters), fn


def test_config_errors_do_not_echo_the_key() -> None:
    config = {
        "providers": {"oai": {"type": "openai", "api_key": SECRET, "timeout": "forever"}},
        "deployments": {"a": {"provider": "oai", "model": "gpt-4o", "weight": "heavy"}},
        "routes": {"chat": {"targets": ["a", "b"]}},
    }
    with pytest.raises(sluicegate.InvalidConfigError) as info:
        sluicegate.Gateway(config)
    text = " ".join([str(info.value), repr(info.value), json.dumps(info.value.to_dict())])
    assert SECRET not in text and len(info.value.problems) >= 2


def test_bad_argument_types_never_crash() -> None:
    gw = sluicegate.Gateway(mock_config())
    create: Any = gw.chat.completions.create
    with pytest.raises(sluicegate.InvalidRequestError, match="messages"):
        create(model="chat", messages=5)
    with pytest.raises(sluicegate.InvalidRequestError, match="model"):
        create(model=None, messages=HI)
    with pytest.raises(sluicegate.InvalidRequestError, match="role"):
        create(model="chat", messages=[{"content": "no role"}])
    with pytest.raises(TypeError, match=r"request\[\"messages\"\]\[0\]\[\"content\"\]: cannot send a value of type object"):
        create(model="chat", messages=[{"role": "user", "content": object()}])
    with pytest.raises(TypeError, match="dict keys must be str"):
        create(model="chat", messages=[{"role": "user", "content": "x", 1: 2}])
    with pytest.raises(ValueError, match="NaN"):
        create(model="chat", messages=HI, temperature=float("nan"))
    with pytest.raises(ValueError, match="64 bits"):
        create(model="chat", messages=HI, seed=2**70)
    loop: List[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contain itself"):
        create(model="chat", messages=HI, metadata=loop)
    with pytest.raises(sluicegate.InvalidRequestError, match="tags"):
        create(model="chat", messages=HI, tags="team")
    with pytest.raises(sluicegate.InvalidRequestError, match="timeout"):
        create(model="chat", messages=HI, timeout=-1)
    with pytest.raises(sluicegate.InvalidRequestError, match="stream"):
        create(model="chat", messages=HI, stream="yes")
    with pytest.raises(TypeError):
        create("chat", HI)  # keyword-only, as in openai-python
    # Still works afterwards, with tuples and generators of messages.
    assert create(model="chat", messages=tuple(HI)).choices
    assert create(model="chat", messages=(m for m in HI)).choices


# --- streams ------------------------------------------------------------------------------


def test_stream_chunks_and_gateway() -> None:
    gw = sluicegate.Gateway(mock_config())
    stream = gw.chat.completions.create(model="chat", messages=HI, stream=True, request_id="req-s")
    assert isinstance(stream, sluicegate.Stream)
    assert stream.request_id == "req-s"
    assert stream.gateway is None  # not before the end
    chunks = list(stream)
    assert all(isinstance(c, sluicegate.ChatCompletionChunk) for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "gpt-4o-mini" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    g = stream.gateway
    assert g is not None and g.request_id == "req-s" and g.deployment == "mini" and g.usage.output_tokens > 0
    assert list(stream) == []  # ended streams stay ended


def test_break_cancels_upstream(mock_server: Any) -> None:
    words = " ".join(f"w{i}" for i in range(200))
    server = mock_server({"gpt-4o": [{"reply": words, "chunk_delay": "20ms"}]})
    gw = sluicegate.Gateway(http_config(server))
    for chunk in gw.chat.completions.create(model="chat", messages=HI, stream=True):
        break
    assert wait_for(lambda: server.stats()["in_flight"] == 0), server.stats()
    stats = server.stats()
    assert stats["disconnects"] == 1 and stats["completed_streams"] == 0, stats
    # close() and `with` do the same for a stream that is still referenced.
    with gw.chat.completions.create(model="chat", messages=HI, stream=True) as stream:
        next(stream)
    assert stream.closed
    assert wait_for(lambda: server.stats()["disconnects"] == 2), server.stats()
    assert list(stream) == []


def test_gateway_context_manager_and_close() -> None:
    with sluicegate.Gateway(mock_config()) as gw:
        stream = gw.chat.completions.create(model="chat", messages=HI, stream=True)
        assert not gw.closed
    assert gw.closed
    assert list(stream)  # a stream already open keeps working
    with pytest.raises(sluicegate.BadRequestError, match="closed") as info:
        gw.chat.completions.create(model="chat", messages=HI)
    assert info.value.code == "invalid_request"
    gw.close()  # closing twice is fine


def test_stream_interrupted_error_after_content(mock_server: Any) -> None:
    server = mock_server({"gpt-4o": [{"reply": "one two three four five", "cut_after": 2}]})
    gw = sluicegate.Gateway(http_config(server))
    received = []
    with pytest.raises(sluicegate.StreamInterruptedError) as info:
        for chunk in gw.chat.completions.create(model="chat", messages=HI, stream=True):
            received.append(chunk)
    assert received and info.value.request_id


# --- threads, GIL, signals ----------------------------------------------------------------


def test_threads_share_one_gateway() -> None:
    gw = sluicegate.Gateway(mock_config(latency="300ms"))
    results: List[str] = []
    failures: List[BaseException] = []

    def work(i: int) -> None:
        try:
            r = gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": f"t{i}"}])
            results.append(r.choices[0].message.content)
        except BaseException as e:  # noqa: BLE001
            failures.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert not failures and len(results) == 8
    assert sorted(results) == sorted(set(results))  # each thread got its own answer
    # Eight 300 ms calls overlap only if the GIL is released while they wait.
    assert elapsed < 1.5, f"8 calls took {elapsed:.2f}s: the GIL is held while waiting"


def test_ctrl_c_interrupts_a_blocking_call(mock_server: Any) -> None:
    server = mock_server({"gpt-4o": [{"reply": "late", "delay": "20s"}]})
    script = f"""
import json, os, signal, sys, threading, time, sluicegate
gw = sluicegate.Gateway(json.loads(sys.argv[1]))
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
start = time.monotonic()
try:
    gw.chat.completions.create(model="chat", messages=[{{"role": "user", "content": "hi"}}])
    print("completed")
except KeyboardInterrupt:
    print("interrupted", round(time.monotonic() - start, 2))
"""
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(http_config(server))], capture_output=True, text=True, timeout=15
    )
    assert done.stdout.startswith("interrupted"), done.stdout + done.stderr
    assert float(done.stdout.split()[1]) < 2.0
    assert wait_for(lambda: server.stats()["in_flight"] == 0), server.stats()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork()")
def test_fork_after_use_fails_fast_and_a_fresh_child_works() -> None:
    script = """
import os, sys, sluicegate
cfg = {"providers": {"l": {"type": "mock"}}, "deployments": {"d": {"provider": "l", "model": "m"}},
       "routes": {"chat": {"targets": ["d"]}}}
m = [{"role": "user", "content": "x"}]
if sys.argv[1] == "before":
    sluicegate.Gateway(cfg).chat.completions.create(model="chat", messages=m)
gw = sluicegate.Gateway(cfg)
pid = os.fork()
if pid == 0:
    try:
        gw.chat.completions.create(model="chat", messages=m)
        print("child ok", flush=True)
    except RuntimeError as e:
        print("child refused:", e, flush=True)
    os._exit(0)
os.waitpid(pid, 0)
gw.chat.completions.create(model="chat", messages=m)
print("parent ok", flush=True)
"""
    used = subprocess.run([sys.executable, "-c", script, "before"], capture_output=True, text=True, timeout=20)
    assert "child refused: sluicegate was used before this process was forked" in used.stdout, used.stdout + used.stderr
    assert "parent ok" in used.stdout
    fresh = subprocess.run([sys.executable, "-c", script, "fresh"], capture_output=True, text=True, timeout=20)
    assert "child ok" in fresh.stdout, fresh.stdout + fresh.stderr


# --- asyncio ------------------------------------------------------------------------------


def test_async_gateway_calls_and_streams() -> None:
    async def main() -> None:
        async with sluicegate.AsyncGateway(mock_config(latency="50ms")) as gw:
            r = await gw.chat.completions.create(model="chat", messages=HI, tags={"team": "a"})
            assert r.gateway.tags == {"team": "a"}
            start = time.monotonic()
            many = await asyncio.gather(*[gw.chat.completions.create(model="chat", messages=HI) for _ in range(20)])
            assert len(many) == 20 and time.monotonic() - start < 0.9  # concurrent: serial takes 1 s
            stream = await gw.chat.completions.create(model="chat", messages=HI, stream=True)
            assert isinstance(stream, sluicegate.AsyncStream)
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            assert "gpt-4o-mini" in text and stream.gateway is not None
            with pytest.raises(sluicegate.NotFoundError):
                await gw.chat.completions.create(model="nope", messages=HI)
        assert gw.closed
        with pytest.raises(sluicegate.BadRequestError, match="closed"):
            await gw.chat.completions.create(model="chat", messages=HI)

    asyncio.run(main())


def test_async_cancellation_cancels_upstream(mock_server: Any) -> None:
    server = mock_server({"gpt-4o": [{"reply": " ".join(["w"] * 300), "chunk_delay": "20ms"}]})

    async def main() -> None:
        gw = sluicegate.AsyncGateway(http_config(server))
        # A task cancelled while it reads a stream.
        async def read_all() -> None:
            async for _ in await gw.chat.completions.create(model="chat", messages=HI, stream=True):
                pass

        task = asyncio.create_task(read_all())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # `break` out of `async for`.
        async for _ in await gw.chat.completions.create(model="chat", messages=HI, stream=True):
            break
        # A timeout around a plain call that is still waiting for its answer.
        await server_script(server, {"gpt-4o": [{"reply": "late", "delay": "10s"}]})
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(gw.chat.completions.create(model="chat", messages=HI), 0.3)

    asyncio.run(main())
    assert wait_for(lambda: server.stats()["in_flight"] == 0), server.stats()
    assert server.stats()["disconnects"] == 2, server.stats()


async def server_script(server: MockServer, script: Any) -> None:
    await asyncio.get_running_loop().run_in_executor(None, server.post, "/_mock/script", script)


def test_exit_with_calls_in_flight_does_not_crash() -> None:
    """The async bridge must not touch the interpreter while it shuts down (build notes, pitfall 3)."""
    script = """
import asyncio, sluicegate
cfg = {"providers": {"l": {"type": "mock", "latency": "%s"}}, "deployments": {"d": {"provider": "l", "model": "m"}},
       "routes": {"chat": {"targets": ["d"]}}}
async def main():
    gw = sluicegate.AsyncGateway(cfg)
    await asyncio.gather(*[gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}]) for _ in range(20)])
    for _ in range(20):  # left running when the loop closes
        asyncio.ensure_future(gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}]))
    await asyncio.sleep(0)
asyncio.run(main())
print("ok")
"""
    for i in range(12):
        latency = ["0ms", "1ms", "3ms"][i % 3]
        done = subprocess.run([sys.executable, "-c", script % latency], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stderr[-2000:])


# --- the package surface ------------------------------------------------------------------


def _stub_names(tree: ast.Module) -> Dict[str, List[str]]:
    names: Dict[str, List[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = sorted(
                n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            )
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = []
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = []
    return names


def test_native_stub_matches_the_module() -> None:
    stub = _stub_names(ast.parse((PACKAGE / "_native.pyi").read_text()))
    runtime: Dict[str, List[str]] = {}
    for name, value in vars(_native).items():
        if name.startswith("__"):
            continue
        if inspect.isclass(value):
            runtime[name] = sorted(n for n in vars(value) if not n.startswith("__"))
        else:
            runtime[name] = []
    assert stub == runtime, "bindings-python/python/sluicegate/_native.pyi is stale"


def test_types_catch_misuse_under_mypy_strict(tmp_path: Path) -> None:
    """The stubs and annotations are worth something: typical code passes mypy --strict and
    typos or wrong types are flagged."""
    api = pytest.importorskip("mypy.api")
    good = tmp_path / "good.py"
    good.write_text(
        "import sluicegate\n"
        "gw = sluicegate.Gateway({})\n"
        "r = gw.chat.completions.create(model='chat', messages=[{'role': 'user', 'content': 'hi'}])\n"
        "text: str | None = r.choices[0].message.content\n"
        "cost: float | None = r.gateway.cost_usd\n"
        "for chunk in gw.chat.completions.create(model='chat', messages=[], stream=True):\n"
        "    delta: str | None = chunk.choices[0].delta.content\n"
        "e: sluicegate.GatewayError = sluicegate.RateLimitError('x')\n"
        "after: float | None = e.retry_after\n"
        "emb: list[float] | str = gw.embeddings.create(model='e', input='x').data[0].embedding\n"
        "who: str | None = gw.explain('chat').would_serve\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sluicegate\n"
        "gw = sluicegate.Gateway({})\n"
        "r = gw.chat.completions.create(model='chat', messages=[])\n"
        "r.choices[0].message.contnt\n"  # a typo
        "n: int = r.gateway.route\n"  # a wrong type
        "for c in gw.chat.completions.create(model='chat', messages=[]): pass\n"  # not a stream
        "gw.chat.completions.create('chat', [])\n"  # keyword-only
    )
    flags = ["--strict", "--no-incremental", "--python-version", "3.10", "--cache-dir", str(tmp_path / "cache")]
    out, err, status = api.run([*flags, str(good)])
    assert status == 0, out + err
    out, err, status = api.run([*flags, str(bad)])
    assert status == 1
    for line in ['"ChatCompletionMessage" has no attribute "contnt"', "bad.py:5", "bad.py:6", "bad.py:7"]:
        assert line in out, out


def test_public_names_and_typed_fields() -> None:
    for name in sluicegate.__all__:
        assert hasattr(sluicegate, name), name
    for name in errors.__all__:
        assert hasattr(errors, name), name
    for name in types.__all__:
        cls = getattr(types, name)
        assert issubclass(cls, types.BaseObject)
        for field, spec in cls._specs.items():
            assert not field.startswith("_"), (name, field, spec)
    assert types.ChatCompletion._specs["choices"] == ("list", types.Choice)
    assert types.ChatCompletion._specs["gateway"] == ("one", types.GatewayInfo)
    assert types.GatewayInfo._specs["tags"] == "raw"
    assert (PACKAGE / "py.typed").exists()
    assert sluicegate.__version__ == _native.VERSION and sluicegate.__version__.count(".") == 2


def embed_config() -> Dict[str, Any]:
    config = mock_config()
    config["deployments"]["emb"] = {"provider": "local", "model": "text-embedding-3-small"}
    config["routes"]["embed"] = {"targets": ["emb"]}
    return config


def test_embeddings() -> None:
    gw = sluicegate.Gateway(embed_config())
    r = gw.embeddings.create(model="embed", input=["a", "b"], tags={"team": "t"})
    assert isinstance(r, sluicegate.CreateEmbeddingResponse)
    assert [d.index for d in r.data] == [0, 1] and all(isinstance(x, float) for x in r.data[0].embedding)
    assert r.gateway.deployment == "emb" and r.gateway.tags == {"team": "t"}
    again = gw.embeddings.create(model="embed", input=(s for s in ["a", "b"]))  # any iterable
    assert again.data[0].embedding == r.data[0].embedding  # the mock is deterministic
    with pytest.raises(sluicegate.InvalidRequestError):
        gw.embeddings.create(model="embed", input=5)  # type: ignore[arg-type]

    async def main() -> None:
        agw = sluicegate.AsyncGateway(embed_config())
        ar = await agw.embeddings.create(model="embed", input="a")
        assert ar.data[0].embedding == r.data[0].embedding

    asyncio.run(main())


def test_explain_usage_and_metrics() -> None:
    gw = sluicegate.Gateway(embed_config())
    report = gw.explain("chat", tags={"team": "t"}, prompt_tokens=10)
    assert isinstance(report, sluicegate.ExplainReport)
    assert report.route == "chat" and report.would_serve == "mini"
    assert report.candidates[0].deployment == "mini" and report.candidates[0].kept is True
    assert report.estimated_prompt_tokens == 10
    with pytest.raises(sluicegate.NotFoundError):
        gw.explain("nope")
    gw.chat.completions.create(model="chat", messages=HI, tags={"team": "a"})
    gw.chat.completions.create(model="chat", messages=HI, tags={"team": "b"})
    gw.embeddings.create(model="embed", input="x", tags={"team": "b"})
    usage = gw.usage(group_by=["team"], since=datetime.datetime.now() - datetime.timedelta(hours=1))
    assert isinstance(usage, sluicegate.UsageReport) and usage.group_by == ["team"]
    by_team = {g.group["team"]: g for g in usage.groups}
    assert by_team["a"].requests == 1 and by_team["b"].requests == 2
    assert by_team["a"].latency_ms is not None and by_team["a"].latency_ms.p50 is not None
    assert gw.usage().groups[0].requests == 3
    assert gw.usage(group_by="route", since="1h").groups
    with pytest.raises(sluicegate.InvalidRequestError, match="did you mean"):
        gw.usage(group_by=["teem"])
    text = gw.metrics_text()
    assert "# TYPE gen_ai_client_operation_duration_seconds histogram" in text

    async def main() -> None:  # plain methods on AsyncGateway too
        agw = sluicegate.AsyncGateway(embed_config())
        assert agw.explain("chat").would_serve == "mini"
        assert agw.usage().groups == [] or agw.usage().groups[0].requests == 0
        assert isinstance(agw.metrics_text(), str)

    asyncio.run(main())


def test_core_warnings_reach_python_logging(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "audit"
    folder.mkdir()
    config = mock_config()
    config["audit"] = {"path": str(folder / "audit.jsonl"), "max_bytes": 1}
    gw = sluicegate.Gateway(config)
    gw.chat.completions.create(model="chat", messages=HI)
    shutil.rmtree(folder)  # the next record must rotate the log, and cannot
    with caplog.at_level("WARNING", logger="sluicegate"):
        r = gw.chat.completions.create(model="chat", messages=HI)
    warnings = [rec for rec in caplog.records if rec.name == "sluicegate" and rec.levelname == "WARNING"]
    assert warnings and r.gateway.request_id in warnings[0].getMessage(), caplog.text


def test_logging_goes_to_the_sluicegate_logger(caplog: pytest.LogCaptureFixture) -> None:
    gw = sluicegate.Gateway(mock_config())
    with caplog.at_level("DEBUG", logger="sluicegate"):
        r = gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "private prompt"}])
    records = [rec for rec in caplog.records if rec.name == "sluicegate"]
    assert records and r.gateway.request_id in records[0].getMessage()
    assert "private prompt" not in caplog.text  # no prompts in logs
