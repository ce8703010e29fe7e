"""The contract vectors (tests/vectors/*.json) through `sluicegate serve`: the fifth runner.

Each vector gets its own server (its `env`, its config file) and each call becomes an HTTP
request: chat and embeddings calls are POSTed as they are (the body is the vector's `request`),
`metrics` is `GET /metrics`, and options become headers (`key` -> `Authorization: Bearer`, `tags`
-> `x-sluicegate-tags`, `request_id`, `timeout`, `cache` -> `x-sluicegate-*`). A stream's outcome
folds the `data:` chunks before the final `gateway` chunk, which gives the stream's `gateway`.
An error's facts come from the OpenAI error body (`code`, `message`, and the gateway's
`status_code`, `retryable`, `retry_after`, `request_id` beside them).

What has no HTTP form is skipped by the explicit list below, never silently: each skipped call
is named in the test output (`-rs`), and a vector whose every call is skipped still has its
load checked.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlparse

import pytest

from serving import VECTORS, MockServer, Serve, StartFailed, match, metric_sum

FILES = sorted(VECTORS.glob("*.json"))

# Call kinds with no HTTP endpoint: the server exposes no report API (use the CLI's
# `sluicegate explain` / `sluicegate usage`, which read the same config and audit log).
SKIPPED_KINDS = {
    "explain": "routing explanations are `sluicegate explain`, not an HTTP endpoint",
    "usage": "usage reports are `sluicegate usage` over the audit log, not an HTTP endpoint",
}
# Call options that headers can carry; any other option (a misspelt one that the embedded API
# rejects, say) has no HTTP form, because an unknown header is ignored, not an error.
HEADER_OPTIONS = {"tags", "key", "request_id", "timeout", "cache"}
# A failed load is a server that does not start: its exit status and stderr carry the error's
# code and message, not the other facts of the error object.
LOAD_ERROR_KEYS = ("code", "message")


def fold_stream(chunks: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Folds chunks as tests/vectors/README.md defines (the same fold as the Python runner)."""
    content, finish_reason, usage_chunk = "", None, False
    calls: List[Dict[str, Any]] = []
    contents: List[str] = []
    for chunk in chunks:
        if chunk.get("usage") is not None:
            usage_chunk = True
        choices = chunk.get("choices") or []
        for position, each in enumerate(choices):
            index = each.get("index") if isinstance(each.get("index"), int) else position
            while len(contents) <= index:
                contents.append("")
            text = (each.get("delta") or {}).get("content")
            if isinstance(text, str):
                contents[index] += text
        if not choices:
            continue
        delta = choices[0].get("delta") or {}
        if isinstance(delta.get("content"), str):
            content += delta["content"]
        if choices[0].get("finish_reason") is not None:
            finish_reason = choices[0]["finish_reason"]
        for call in delta.get("tool_calls") or []:
            index = call.get("index") or 0
            while len(calls) <= index:
                calls.append({"id": None, "name": None, "arguments": ""})
            merged, function = calls[index], call.get("function") or {}
            if call.get("id") is not None:
                merged["id"] = call["id"]
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


def headers_for(options: Any) -> Tuple[Optional[Dict[str, str]], str]:
    """The headers for a call's options, or None and why they cannot be sent."""
    if options is None:
        return {}, ""
    if not isinstance(options, dict):
        return None, "options that are not an object have no header form"
    unknown = set(options) - HEADER_OPTIONS
    if unknown:
        return None, f"option(s) {sorted(unknown)} have no header (an unknown header is ignored, not refused)"
    headers: Dict[str, str] = {}
    tags = options.get("tags")
    if tags is not None:
        if not isinstance(tags, dict) or any(
            any(c in str(x) for c in ",=") for kv in tags.items() for x in kv
        ):
            return None, "tags that are not a flat map of plain values have no `x-sluicegate-tags` form"
        headers["x-sluicegate-tags"] = ",".join(f"{k}={v}" for k, v in tags.items())
    if options.get("key") is not None:
        headers["authorization"] = f"Bearer {options['key']}"
    if options.get("request_id") is not None:
        headers["x-sluicegate-request-id"] = str(options["request_id"])
    if options.get("timeout") is not None:
        headers["x-sluicegate-timeout"] = str(options["timeout"])
    cache = options.get("cache")
    if cache is not None:
        if isinstance(cache, bool):
            headers["x-sluicegate-cache"] = "true" if cache else "false"
        elif isinstance(cache, dict) and set(cache) == {"ttl"}:
            headers["x-sluicegate-cache"] = str(cache["ttl"])
        else:
            return None, "this `cache` option has no `x-sluicegate-cache` form"
    return headers, ""


def error_facts(body: Any, status: int) -> Dict[str, Any]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return {"code": None, "message": f"HTTP {status} without an OpenAI error body: {body!r}"}
    keys = ("code", "message", "status_code", "retryable", "retry_after", "request_id")
    return {k: error.get(k) for k in keys}


class Client:
    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80

    def open(self, method: str, path: str, body: Any, headers: Dict[str, str]) -> Tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"content-type": "application/json", **headers})
        return conn, conn.getresponse()

    def call(self, call: Dict[str, Any], headers: Dict[str, str]) -> Dict[str, Any]:
        kind = call.get("kind", "chat")
        if kind == "metrics":
            conn, response = self.open("GET", "/metrics", None, headers)
            text = response.read().decode()
            conn.close()
            return {"metrics": text}
        path = "/v1/embeddings" if kind == "embeddings" else "/v1/chat/completions"
        request = call.get("request")
        conn, response = self.open("POST", path, request, headers)
        try:
            if response.status != 200:
                return {"error": error_facts(json.loads(response.read() or b"null"), response.status)}
            if response.getheader("content-type", "").startswith("text/event-stream"):
                return self.read_stream(response, call.get("read_chunks"))
            return {"response": json.loads(response.read())}
        finally:
            response.close()
            conn.close()

    @staticmethod
    def read_stream(response: http.client.HTTPResponse, read_chunks: Optional[int]) -> Dict[str, Any]:
        chunks: List[Dict[str, Any]] = []
        gateway = None
        while True:
            line = response.readline()
            if not line:
                break
            text = line.decode().rstrip("\r\n")
            if not text.startswith("data: "):
                continue
            payload = text[len("data: "):]
            if payload == "[DONE]":
                break
            event = json.loads(payload)
            if "error" in event:
                return {"error": error_facts(event, 200), "stream": fold_stream(chunks)}
            if "gateway" in event and not event.get("choices"):
                gateway = event["gateway"]
                continue
            chunks.append(event)
            if read_chunks is not None and len(chunks) >= read_chunks:
                return {"stream": fold_stream(chunks)}
        return {"stream": fold_stream(chunks), "gateway": gateway}


def environment(vector: Dict[str, Any], mock: Optional[MockServer]) -> Dict[str, str]:
    env = dict(os.environ)
    for key, value in (vector.get("env") or {}).items():
        env[key] = str(value)
    for key in vector.get("env_unset") or []:
        env.pop(key, None)
    if mock is not None:
        env["SG_MOCK_URL"] = mock.url
    return env


def load_failure(expect: Dict[str, Any], failed: StartFailed) -> Dict[str, Any]:
    """`sluicegate: CODE: message` on stderr, exit status 1, as the expected error's shape."""
    line = failed.stderr.strip().split("sluicegate: ", 1)[-1]
    code, _, message = line.partition(": ")
    want = {k: v for k, v in (expect.get("error") or {}).items() if k.startswith(LOAD_ERROR_KEYS)}
    return {"expect": {"error": want}, "actual": {"error": {"code": code, "message": message}}, "status": failed.status}


def run_vector(path: Path) -> Tuple[List[str], List[str]]:
    vector = json.loads(path.read_text())
    failures: List[str] = []
    skipped: List[str] = []
    mock = MockServer(vector["mock_server"], vector.get("mock_server_api_key")) if "mock_server" in vector else None
    server: Optional[Serve] = None
    try:
        config = vector["config"] if "config" in vector else vector["config_text"]
        expect_load = vector.get("load")
        try:
            server = Serve(config, env=environment(vector, mock))
        except StartFailed as failed:
            if expect_load is None or "error" not in expect_load:
                return [f"load: the server did not start: {failed}"], skipped
            seen = load_failure(expect_load, failed)
            if seen["status"] != 1:
                failures.append(f"load: exit status {seen['status']}, expected 1")
            match(seen["expect"], seen["actual"], "load", failures)
            return failures, skipped
        if expect_load is not None and "error" in expect_load:
            return [f"load: expected {expect_load}, but the server started"], skipped
        client = Client(server.url)
        for i, call in enumerate(vector.get("calls") or []):
            kind = call.get("kind", "chat")
            if kind in SKIPPED_KINDS:
                skipped.append(f"calls[{i}] ({kind}): {SKIPPED_KINDS[kind]}")
                continue
            headers, why = headers_for(call.get("options"))
            if headers is None:
                skipped.append(f"calls[{i}]: {why}")
                continue
            before = metric_sum(server.metrics(), "sluicegate_requests_total")
            outcome = client.call(call, headers)
            if call.get("read_chunks") is not None:
                # The stream was dropped: wait until the server has noticed and recorded it, so
                # that the next call sees it charged (as a dropped stream is in every runner).
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and metric_sum(server.metrics(), "sluicegate_requests_total") <= before:
                    time.sleep(0.02)
            match(call.get("expect"), outcome, f"calls[{i}]", failures)
        if "expect_mock" in vector and mock is not None:
            match(vector["expect_mock"], mock.stats(), "expect_mock", failures)
        return failures, skipped
    finally:
        if server is not None:
            server.stop()
        if mock is not None:
            mock.stop()


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path) -> None:
    failures, skipped = run_vector(path)
    assert not failures, f"{path.name} over HTTP:\n  " + "\n  ".join(failures)
    if skipped:
        pytest.skip(f"{path.name}: ran the rest; no HTTP form for " + "; ".join(skipped))


def test_skips_are_only_the_listed_ones() -> None:
    """Every call kind in the vectors is either sent over HTTP or named in SKIPPED_KINDS."""
    kinds = {call.get("kind", "chat") for p in FILES for call in json.loads(p.read_text()).get("calls") or []}
    assert kinds <= {"chat", "embeddings", "metrics"} | set(SKIPPED_KINDS), kinds
