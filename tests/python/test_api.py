"""The Python API: construction, response objects, streams, embeddings, explain, usage."""

from __future__ import annotations

import asyncio
import datetime
import json
import pickle
from pathlib import Path
from typing import Any, List

import pytest

import sluicegate
from sluicegate import types
from conftest import HI, mock_config, http_config, wait_for, embed_config



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


def test_stream_batches_keep_chunks_then_error_then_end(mock_server: Any) -> None:
    """Streams pull every chunk already received at once; an error that arrived in the same
    batch still comes after those chunks, once, and then the stream is over."""
    words = "one two three four five six seven eight"
    server = mock_server({"gpt-4o": [{"reply": words, "cut_after": 5}] * 3})
    gw = sluicegate.Gateway(http_config(server))

    def settled(stream: Any) -> Any:
        # Let every chunk and the cut reach the core first, so one batch holds them all.
        assert wait_for(lambda: server.stats()["in_flight"] == 0), server.stats()
        return stream

    native = settled(gw.chat.completions.create(model="chat", messages=HI, stream=True))._native
    batch = native.next_batch()
    assert [c["choices"][0]["delta"].get("content") for c in batch] == ["", "one ", "two ", "three ", "four "]
    with pytest.raises(sluicegate.StreamInterruptedError):
        native.next_batch()
    assert native.next_batch() == []

    stream = settled(gw.chat.completions.create(model="chat", messages=HI, stream=True))
    received: List[Any] = []
    with pytest.raises(sluicegate.StreamInterruptedError):
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 5 and list(stream) == []

    async def main() -> List[Any]:
        agw = sluicegate.AsyncGateway(http_config(server))
        astream = settled(await agw.chat.completions.create(model="chat", messages=HI, stream=True))
        got: List[Any] = []
        with pytest.raises(sluicegate.StreamInterruptedError):
            async for chunk in astream:
                got.append(chunk)
        assert [c async for c in astream] == []
        return got

    def texts(chunks: List[Any]) -> List[Any]:
        return [c.choices[0].delta.content for c in chunks]

    assert texts(asyncio.run(main())) == texts(received) == ["", "one ", "two ", "three ", "four "]


def test_close_drops_chunks_already_pulled() -> None:
    with sluicegate.Gateway(mock_config()).chat.completions.create(model="chat", messages=HI, stream=True) as stream:
        first = next(stream)
        assert first.choices is not None
        stream.close()
        assert list(stream) == []

    async def main() -> None:
        gw = sluicegate.AsyncGateway(mock_config())
        astream = await gw.chat.completions.create(model="chat", messages=HI, stream=True)
        await astream.__anext__()
        await astream.aclose()
        assert [c async for c in astream] == []

    asyncio.run(main())



# --- embeddings, explain, usage, metrics ---------------------------------------------------


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
