"""Runs every contract vector (tests/vectors/*.json, format in tests/vectors/README.md) through
the Python API, twice: with `Gateway` (blocking) and with `AsyncGateway` (asyncio).

Calls go through the public API as a user would write them: `gw.chat.completions.create(
**request, **options)`, `gw.embeddings.create(...)`, `gw.explain(model, tags=...,
prompt_tokens=...)`, `gw.usage(**query)` and `gw.metrics_text()`. A few calls cannot be spelled
that way and go to the native layer underneath instead: a request without `model` or `messages`
(`input`) (required keyword arguments in Python), options with a key that is not a call option
(in Python an unknown keyword is a request field), and a usage query with unknown keys.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

import sluicegate
from conftest import VECTORS, MockServer, match

OPTION_KEYS = {"tags", "request_id", "timeout", "key"}
USAGE_KEYS = {"group_by", "since"}
FILES = sorted(VECTORS.glob("*.json"))


def test_vectors_exist() -> None:
    assert len(FILES) >= 12, f"expected the contract vectors in {VECTORS}"


def fold_stream(chunks: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Folds received chunks as the README defines (`chunks`, `content`, `finish_reason`, ...)."""
    content = ""
    finish_reason = None
    usage_chunk = False
    calls: List[Dict[str, Any]] = []
    contents: List[str] = []
    for chunk in chunks:
        if chunk.get("usage") is not None:
            usage_chunk = True
        choices = chunk.get("choices") or []
        for position, each in enumerate(choices):
            index = each.get("index")
            index = index if isinstance(index, int) else position
            while len(contents) <= index:
                contents.append("")
            text = (each.get("delta") or {}).get("content")
            if isinstance(text, str):
                contents[index] += text
        if not choices:
            continue
        choice = choices[0]
        delta = choice.get("delta") or {}
        if isinstance(delta.get("content"), str):
            content += delta["content"]
        if choice.get("finish_reason") is not None:
            finish_reason = choice["finish_reason"]
        for call in delta.get("tool_calls") or []:
            index = call.get("index") or 0
            while len(calls) <= index:
                calls.append({"id": None, "name": None, "arguments": ""})
            merged = calls[index]
            if call.get("id") is not None:
                merged["id"] = call["id"]
            function = call.get("function") or {}
            if function.get("name") is not None:
                merged["name"] = function["name"]
            if isinstance(function.get("arguments"), str):
                merged["arguments"] += function["arguments"]
    return {
        "chunks": len(chunks),
        "content": content,
        "contents": contents,
        "finish_reason": finish_reason,
        "tool_calls": calls,
        "usage_chunk": usage_chunk,
    }


def public_api_can_express(call: Dict[str, Any]) -> bool:
    request = call.get("request")
    options = call.get("options") or {}
    required = "input" if call.get("kind") == "embeddings" else "messages"
    return (
        isinstance(request, dict)
        and "model" in request
        and required in request
        and isinstance(options, dict)
        and set(options) <= OPTION_KEYS
        and not (set(request) & OPTION_KEYS)
    )


def run_report(gw: Any, call: Dict[str, Any]) -> Dict[str, Any]:
    """The calls that are plain methods on both gateways: explain, usage, metrics."""
    kind = call["kind"]
    try:
        if kind == "explain":
            extra = {"key": call["key"]} if "key" in call else {}
            report = gw.explain(call.get("model"), tags=call.get("tags"), prompt_tokens=call.get("prompt_tokens"), **extra)
            return {"explain": report.to_dict()}
        if kind == "usage":
            query = call.get("query") or {}
            if isinstance(query, dict) and set(query) <= USAGE_KEYS:
                return {"usage": gw.usage(**query).to_dict()}
            return {"usage": gw._native_gateway().usage(query)}
        if kind == "metrics":
            return {"metrics": gw.metrics_text()}
    except sluicegate.GatewayError as e:
        return {"error": e.to_dict()}
    raise AssertionError(f"unknown call kind {kind!r}")


def run_embeddings(gw: Any, call: Dict[str, Any], native_call: Any) -> Any:
    request, options = call.get("request"), call.get("options")
    if public_api_can_express(call):
        return gw.embeddings.create(**request, **(options or {}))
    return native_call(request, options)


def run_call_sync(gw: sluicegate.Gateway, call: Dict[str, Any]) -> Dict[str, Any]:
    if call.get("kind", "chat") not in ("chat", "embeddings"):
        return run_report(gw, call)
    if call.get("kind") == "embeddings":
        try:
            response = run_embeddings(gw, call, gw._native_gateway().embeddings)
            return {"response": response.to_dict() if isinstance(response, sluicegate.CreateEmbeddingResponse) else response}
        except sluicegate.GatewayError as e:
            return {"error": e.to_dict()}
    request = call.get("request")
    options = call.get("options")
    streaming = isinstance(request, dict) and request.get("stream") is True
    chunks: List[Dict[str, Any]] = []
    opened = False
    try:
        if not public_api_can_express(call):
            native = gw._native_gateway()
            if streaming:
                stream = sluicegate.Stream(native.chat_stream(request, options))
            else:
                return {"response": native.chat(request, options)}
        else:
            assert isinstance(request, dict)
            stream_or_response = gw.chat.completions.create(**request, **(options or {}))
            if not streaming:
                assert isinstance(stream_or_response, sluicegate.ChatCompletion)
                return {"response": stream_or_response.to_dict()}
            stream = stream_or_response
        assert isinstance(stream, sluicegate.Stream)
        opened = True
        read_chunks = call.get("read_chunks")
        with stream:
            for chunk in stream:
                chunks.append(chunk.to_dict())
                if read_chunks is not None and len(chunks) >= read_chunks:
                    break
        if read_chunks is not None and len(chunks) >= read_chunks:
            return {"stream": fold_stream(chunks)}
        gateway = stream.gateway
        return {"stream": fold_stream(chunks), "gateway": gateway.to_dict() if gateway else None}
    except sluicegate.GatewayError as e:
        outcome: Dict[str, Any] = {"error": e.to_dict()}
        if opened:
            outcome["stream"] = fold_stream(chunks)
        return outcome


async def run_call_async(gw: sluicegate.AsyncGateway, call: Dict[str, Any]) -> Dict[str, Any]:
    if call.get("kind", "chat") not in ("chat", "embeddings"):
        return run_report(gw, call)
    if call.get("kind") == "embeddings":
        try:
            response = await run_embeddings(gw, call, gw._native_gateway().embeddings_async)
            return {"response": response.to_dict() if isinstance(response, sluicegate.CreateEmbeddingResponse) else response}
        except sluicegate.GatewayError as e:
            return {"error": e.to_dict()}
    request = call.get("request")
    options = call.get("options")
    streaming = isinstance(request, dict) and request.get("stream") is True
    chunks: List[Dict[str, Any]] = []
    opened = False
    try:
        if not public_api_can_express(call):
            native = gw._native_gateway()
            if streaming:
                stream = sluicegate.AsyncStream(await native.chat_stream_async(request, options))
            else:
                return {"response": await native.chat_async(request, options)}
        else:
            assert isinstance(request, dict)
            stream_or_response = await gw.chat.completions.create(**request, **(options or {}))
            if not streaming:
                assert isinstance(stream_or_response, sluicegate.ChatCompletion)
                return {"response": stream_or_response.to_dict()}
            stream = stream_or_response
        assert isinstance(stream, sluicegate.AsyncStream)
        opened = True
        read_chunks = call.get("read_chunks")
        async with stream:
            async for chunk in stream:
                chunks.append(chunk.to_dict())
                if read_chunks is not None and len(chunks) >= read_chunks:
                    break
        if read_chunks is not None and len(chunks) >= read_chunks:
            return {"stream": fold_stream(chunks)}
        gateway = stream.gateway
        return {"stream": fold_stream(chunks), "gateway": gateway.to_dict() if gateway else None}
    except sluicegate.GatewayError as e:
        outcome: Dict[str, Any] = {"error": e.to_dict()}
        if opened:
            outcome["stream"] = fold_stream(chunks)
        return outcome


def load(vector: Dict[str, Any], cls: Any) -> Any:
    """Builds the gateway, or returns the error outcome when building fails."""
    has_config, has_text = "config" in vector, "config_text" in vector
    assert has_config != has_text, "a vector needs exactly one of `config` and `config_text`"
    try:
        return cls(vector["config"] if has_config else vector["config_text"])
    except sluicegate.GatewayError as e:
        return {"error": e.to_dict()}


def run_vector(path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> List[str]:
    vector = json.loads(path.read_text())
    for key, value in (vector.get("env") or {}).items():
        monkeypatch.setenv(key, str(value))
    for key in vector.get("env_unset") or []:
        monkeypatch.delenv(key, raising=False)
    server: Optional[MockServer] = None
    if "mock_server" in vector:
        server = MockServer(vector["mock_server"], vector.get("mock_server_api_key"))
        monkeypatch.setenv("SG_MOCK_URL", server.url)
    try:
        failures: List[str] = []
        cls = sluicegate.Gateway if mode == "sync" else sluicegate.AsyncGateway
        gw = load(vector, cls)
        expect_load = vector.get("load")
        if isinstance(gw, dict):
            match(expect_load if expect_load is not None else {"ok": True}, gw, "load", failures)
            return failures
        if expect_load is not None:
            return [f"load: expected {expect_load}, but the gateway was built"]
        calls = vector.get("calls") or []
        if mode == "sync":
            outcomes = [run_call_sync(gw, call) for call in calls]
        else:

            async def run_all() -> List[Dict[str, Any]]:
                return [await run_call_async(gw, call) for call in calls]

            outcomes = asyncio.run(run_all())
        for i, (call, outcome) in enumerate(zip(calls, outcomes)):
            match(call.get("expect"), outcome, f"calls[{i}]", failures)
        if "expect_mock" in vector and server is not None:
            match(vector["expect_mock"], server.stats(), "expect_mock", failures)
        gw.close()
        return failures
    finally:
        if server is not None:
            server.stop()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    failures = run_vector(path, mode, monkeypatch)
    assert not failures, f"{path.name} ({mode}):\n  " + "\n  ".join(failures)


def test_matcher_rejects_mismatches() -> None:
    """The runner is only as strict as its matcher: check it fails where the README says."""
    cases = [
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, {"a": True}),
        ({"a": None}, {"a": 0}),
        ({"a": [1, 2]}, {"a": [1]}),
        ({"m_contains": "x"}, {"m": "abc"}),
        ({"m_contains": ["a", "z"]}, {"m": "abc"}),
        ({"m_excludes": "b"}, {"m": "abc"}),
        ({"m_present": True}, {}),
        ({"m_present": False}, {"m": 0}),
        ({"a": {"b": "c"}}, {"a": {"b": "d"}}),
        ({"a": 1.0}, {"a": 1.001}),
    ]
    for expect, actual in cases:
        failures: List[str] = []
        match(expect, actual, "x", failures)
        assert failures, f"{expect} should not match {actual}"
    for expect, actual in [
        ({"a": None}, {}),
        ({"a": 1}, {"a": 1.0, "b": 2}),
        ({"m_contains": ["a", "c"], "m_excludes": "z"}, {"m": "abc"}),
        ({"m_present": True, "n_present": False}, {"m": "", "n": None}),
    ]:
        failures = []
        match(expect, actual, "x", failures)
        assert not failures, failures
