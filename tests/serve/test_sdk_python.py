"""`sluicegate serve` with the real Python `openai` SDK as its client: plain, stream, tools,
embeddings, every error kind a caller can provoke (HTTP status and SDK exception class), a client
that leaves mid-stream, graceful shutdown, the body limit and TLS."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import httpx2 as httpx
import openai
import pytest

from serving import MockServer, Serve, StartFailed, http_config, metric_sum, mock_config, sse_events

HI = [{"role": "user", "content": "hi"}]
KEY = "sk-sg-virtual-7f3a9c"


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: List[Serve] = []

    def start(config: Any, *extra: str) -> Serve:
        server = Serve(config, *extra)
        servers.append(server)
        return server

    yield start
    for server in servers:
        status, err = server.stop()
        assert KEY not in err, "a virtual key reached the server's log"


@pytest.fixture
def mock() -> Iterator[Any]:
    servers: List[MockServer] = []

    def start(script: Any) -> MockServer:
        server = MockServer(script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class Counting(httpx.Client):
    """An httpx client that counts the requests the SDK sends (to see its retries)."""

    def __init__(self, **kwargs: Any) -> None:
        self.sent = 0

        def count(_: httpx.Request) -> None:
            self.sent += 1

        super().__init__(event_hooks={"request": [count]}, **kwargs)


def client(server: Serve, key: str = "unused", retries: int = 0, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=retries, **kwargs)


def test_plain_chat_with_metadata_in_body_and_headers(serve: Any) -> None:
    server = serve(mock_config())
    raw = client(server).chat.completions.with_raw_response.create(
        model="chat", messages=HI, extra_headers={"x-sluicegate-tags": "team=search,user=u1"}
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello from gpt-4o-mini! You said: hi"
    gateway: Dict[str, Any] = completion.model_extra["gateway"]  # type: ignore[index]
    assert gateway["route"] == "chat" and gateway["deployment"] == "mini"
    assert gateway["tags"] == {"team": "search", "user": "u1"}
    assert raw.headers["x-sluicegate-request-id"] == gateway["request_id"]
    assert raw.headers["x-sluicegate-route"] == "chat"
    assert raw.headers["x-sluicegate-deployment"] == "mini"
    assert float(raw.headers["x-sluicegate-cost-usd"]) == pytest.approx(gateway["cost_usd"])


def test_stream_ends_with_the_gateway_chunk(serve: Any) -> None:
    server = serve(mock_config())
    stream = client(server).chat.completions.create(model="chat", messages=HI, stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from gpt-4o-mini! You said: hi"
    assert chunks[-2].choices[0].finish_reason == "stop"
    last = chunks[-1]
    assert last.choices == []
    gateway = last.model_extra["gateway"]  # type: ignore[index]
    assert gateway["deployment"] == "mini" and gateway["cost_usd"] > 0
    assert stream.response.headers["x-sluicegate-request-id"] == gateway["request_id"]


def test_tools_round_trip(serve: Any) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}
    server = serve(mock_config({"gpt-4o-mini": [{"tool_calls": [call]}, {"tool_calls": [call]}]}))
    tools: Any = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    answer = client(server).chat.completions.create(model="chat", messages=HI, tools=tools)
    got = answer.choices[0].message.tool_calls
    assert answer.choices[0].finish_reason == "tool_calls"
    assert got is not None and got[0].function.name == "weather"  # type: ignore[union-attr]
    assert got[0].function.arguments == '{"city":"Oslo"}'  # type: ignore[union-attr]
    args = ""
    for chunk in client(server).chat.completions.create(model="chat", messages=HI, tools=tools, stream=True):
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                args += delta.function.arguments or "" if delta.function else ""
    assert args == '{"city":"Oslo"}'


def test_embeddings(serve: Any) -> None:
    server = serve(mock_config())
    result = client(server).embeddings.create(model="embed", input=["a", "b"])
    assert [e.index for e in result.data] == [0, 1]
    assert len(result.data[0].embedding) > 0 and result.data[0].embedding != result.data[1].embedding
    models = client(server).models.list()
    assert sorted(m.id for m in models) == ["chat", "embed"]


def keyed_config(**policies: Any) -> Dict[str, Any]:
    config = mock_config()
    config["keys"] = {"search": {"sha256": hashlib.sha256(KEY.encode()).hexdigest(), "routes": ["chat"]}}
    config["policies"] = {"require_key": True, **policies}
    return config


def status_error(call: Any) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    return caught.value


def test_error_kinds_map_to_status_and_sdk_class(serve: Any, mock: Any) -> None:
    keyed = serve(keyed_config(rate_limits=[{"scope": "global", "rpm": 1}]))
    ok = client(keyed, KEY)
    ok.chat.completions.create(model="chat", messages=HI)
    cases = [
        # invalid_request: no messages
        (lambda: ok.chat.completions.create(model="chat", messages=[]), openai.BadRequestError, 400, "invalid_request"),
        (lambda: client(keyed, "sk-wrong").chat.completions.create(model="chat", messages=HI), openai.AuthenticationError, 401, "authentication"),
        (lambda: ok.embeddings.create(model="embed", input="x"), openai.PermissionDeniedError, 403, "permission_denied"),
        (lambda: ok.chat.completions.create(model="chat", messages=HI), openai.RateLimitError, 429, "rate_limited"),
    ]
    for call, cls, status, code in cases:
        e = status_error(call)
        assert type(e) is cls and e.status_code == status, (code, e)
        assert e.code == code and isinstance(e.body, dict) and e.body["code"] == code
    limited = status_error(cases[-1][0])
    assert int(limited.response.headers["retry-after"]) >= 1

    plain = serve(mock_config())
    e = status_error(lambda: client(plain).chat.completions.create(model="nope", messages=HI))
    assert type(e) is openai.NotFoundError and e.code == "not_found"

    guarded = mock_config()
    guarded["policies"] = {"guardrails": [{"name": "no-ssn", "type": "pii", "entities": ["us_ssn"], "action": "block"}]}
    e = status_error(lambda: client(serve(guarded)).chat.completions.create(model="chat", messages=[{"role": "user", "content": "my ssn is 123-45-6789"}]))
    assert type(e) is openai.PermissionDeniedError and e.code == "guardrail_blocked"


def test_budget_is_402_and_not_retried(serve: Any) -> None:
    config = mock_config()
    config["policies"] = {"budgets": [{"scope": "global", "usd": 0.0000001}]}
    server = serve(config)
    http = Counting()
    sdk = client(server, retries=3, http_client=http)
    e = status_error(lambda: sdk.chat.completions.create(model="chat", messages=HI, max_tokens=1000))
    assert e.status_code == 402 and e.code == "budget_exceeded" and e.type == "insufficient_quota"
    assert e.response.headers["x-should-retry"] == "false"
    assert http.sent == 1, "the SDK retried a spent budget"


def test_upstream_errors_are_502_and_504(serve: Any, mock: Any) -> None:
    provider = mock({"gpt-4o": [{"status": 500, "error": "boom"}, {"status": 400, "error": "bad field"}, {"delay": "3s"}]})
    server = serve(http_config(provider))
    e = status_error(lambda: client(server).chat.completions.create(model="chat", messages=HI))
    assert type(e) is openai.InternalServerError and e.status_code == 502 and e.code == "provider_error"
    assert isinstance(e.body, dict) and e.body["status_code"] == 500
    # An upstream 400 is the caller's mistake: 400 here too, and the SDK does not retry it.
    http = Counting()
    sdk = client(server, retries=2, http_client=http)
    e = status_error(lambda: sdk.chat.completions.create(model="chat", messages=HI))
    assert type(e) is openai.BadRequestError and e.code == "invalid_request"
    assert http.sent == 1, "a non-retryable upstream error was retried"
    e = status_error(
        lambda: client(server).chat.completions.create(model="chat", messages=HI, extra_headers={"x-sluicegate-timeout": "200ms"})
    )
    assert e.status_code == 504 and e.code == "timeout" and type(e) is openai.InternalServerError

    dead = http_config(provider)
    dead["providers"]["oai"]["api_base"] = "http://127.0.0.1:9/v1"
    e = status_error(lambda: client(serve(dead)).chat.completions.create(model="chat", messages=HI))
    assert e.status_code == 502 and e.code == "connection"


def test_stream_broken_after_content_raises_in_the_sdk(serve: Any, mock: Any) -> None:
    provider = mock({"gpt-4o": [{"reply": "one two three four", "cut_after": 3}]})
    server = serve(http_config(provider))
    seen = ""
    with pytest.raises(openai.APIError) as caught:
        for chunk in client(server).chat.completions.create(model="chat", messages=HI, stream=True):
            seen += "".join(c.delta.content or "" for c in chunk.choices)
    assert "stream_interrupted" in str(caught.value.body) and seen.startswith("one")


def test_client_leaving_mid_stream_cancels_upstream_and_settles_budget(serve: Any, mock: Any) -> None:
    words = " ".join(f"w{i}" for i in range(40))
    provider = mock({"gpt-4o": [{"reply": words, "chunk_delay": "100ms"}]})
    config = http_config(provider)
    config["policies"] = {"budgets": [{"scope": "global", "usd": 0.001}]}
    server = serve(config)
    stream = client(server).chat.completions.create(model="chat", messages=HI, stream=True, max_tokens=50)
    for i, _ in enumerate(stream):
        if i == 3:
            break
    stream.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and provider.stats()["disconnects"] < 1:
        time.sleep(0.05)
    stats = provider.stats()
    assert stats["disconnects"] == 1 and stats["completed_streams"] == 0, stats
    billed = stats["billed"]["cost_usd"]
    assert billed > 0
    # The gateway settled the cut stream: the budget's use (shown by the next refusal) is
    # exactly what the provider billed for the prompt and the chunks it sent.
    used = f"${billed:.6f} used"
    message = ""
    while time.monotonic() < deadline and used not in message:
        e = status_error(lambda: client(server).chat.completions.create(model="chat", messages=HI, max_tokens=1_000_000))
        assert e.code == "budget_exceeded"
        message = e.message
    assert used in message, (used, message)
    assert "cancelled" in server.metrics()


def test_client_giving_up_on_a_plain_call_cancels_it(serve: Any, mock: Any) -> None:
    provider = mock({"gpt-4o": [{"delay": "3s"}]})
    server = serve(http_config(provider))
    with pytest.raises(openai.APITimeoutError):
        client(server, timeout=0.3).chat.completions.create(model="chat", messages=HI)
    # Recorded as cancelled (not as answered once the provider's 3 s are up).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and metric_sum(server.metrics(), "sluicegate_requests_total") < 1:
        time.sleep(0.05)
    outcomes = [l for l in server.metrics().splitlines() if l.startswith("sluicegate_requests_total{")]
    assert len(outcomes) == 1 and 'outcome="cancelled"' in outcomes[0], outcomes


def test_sigterm_drains_open_streams(mock: Any) -> None:
    provider = mock({"gpt-4o": [{"reply": "a b c d e f", "chunk_delay": "150ms"}]})
    server = Serve(http_config(provider))
    received: List[str] = []

    def read() -> None:
        for chunk in client(server).chat.completions.create(model="chat", messages=HI, stream=True):
            received.extend(c.delta.content or "" for c in chunk.choices)

    reader = threading.Thread(target=read)
    reader.start()
    while not received:
        time.sleep(0.02)
    server.process.send_signal(signal.SIGTERM)
    reader.join(timeout=10)
    status, err = server.stop()
    assert status == 0, err
    assert "".join(received) == "a b c d e f", received
    assert provider.stats()["completed_streams"] == 1


def test_drain_is_bounded(mock: Any, tmp_path: Path) -> None:
    provider = mock({"gpt-4o": [{"reply": " ".join(["x"] * 100), "chunk_delay": "200ms"}]})
    audit = tmp_path / "audit.jsonl"
    server = Serve(http_config(provider, audit={"path": str(audit)}), "--drain", "300ms")
    stream = client(server).chat.completions.create(model="chat", messages=HI, stream=True)
    chunks = iter(stream)
    next(chunks), next(chunks)
    started = time.monotonic()
    status, err = server.stop(signal.SIGINT)
    assert status == 0 and "cutting 1 connection" in err, err
    assert time.monotonic() - started < 5
    with pytest.raises(Exception):
        list(stream)
    stream.close()
    # The cut stream is not lost: it is audited as cancelled, charged what was sent.
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    cut = [r for r in records if r.get("outcome") == "cancelled"]
    assert len(cut) == 1 and cut[0]["cost_usd"] > 0, records


def test_body_limit_is_413(serve: Any) -> None:
    server = serve(mock_config(), "--max-body", "1KiB")
    e = status_error(lambda: client(server).chat.completions.create(model="chat", messages=[{"role": "user", "content": "x" * 4000}]))
    assert e.status_code == 413 and e.code == "invalid_request"
    assert client(server).chat.completions.create(model="chat", messages=HI).choices


def test_bad_start_arguments() -> None:
    with pytest.raises(StartFailed) as caught:
        Serve(mock_config(), "--tls-cert", "/nonexistent.pem")
    assert caught.value.status == 2 and "go together" in caught.value.stderr
    with pytest.raises(StartFailed) as caught:
        Serve("providers: [broken")
    assert caught.value.status == 1 and "invalid_config" in caught.value.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls(serve: Any, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    server = serve(mock_config(), "--tls-cert", str(cert), "--tls-key", str(key))
    assert server.url.startswith("https://")
    sdk = client(server, http_client=httpx.Client(verify=ssl.create_default_context(cafile=str(cert))))
    assert sdk.chat.completions.create(model="chat", messages=HI).choices[0].message.content
    with pytest.raises(openai.APIConnectionError):
        client(server).chat.completions.create(model="chat", messages=HI)


def test_raw_sse_shape(serve: Any) -> None:
    """What non-SDK clients parse: `data:` events, the gateway chunk, then `[DONE]`."""
    server = serve(mock_config())
    status, head, text = server.request("POST", "/v1/chat/completions", {"model": "chat", "messages": HI, "stream": True})
    assert status == 200 and head["content-type"] == "text/event-stream"
    events = sse_events(text)
    assert events[-1] == "[DONE]" and events[-2]["choices"] == [] and events[-2]["gateway"]["route"] == "chat"
    assert server.request("GET", "/healthz")[0] == 200
    assert server.request("GET", "/nope")[0] == 404
    assert server.request("GET", "/v1/chat/completions")[0] == 405
    assert server.request("POST", "/v1/chat/completions", b"{not json")[0] == 400
