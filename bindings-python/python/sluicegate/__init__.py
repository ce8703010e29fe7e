"""sluicegate: an embedded LLM gateway.

Routes, polices and meters LLM calls in-process, with the same behaviour from Python, Node, C
and Rust. The API mirrors openai-python::

    import sluicegate

    with sluicegate.Gateway.from_file("gateway.yaml") as gw:
        r = gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
        print(r.choices[0].message.content, r.gateway.cost_usd)

Use :class:`AsyncGateway` from asyncio code. ``gw.on_request_end(callback)`` reports every
finished call (route, outcome, usage, cost, latency) to your code, off the request path. Every error is a :class:`GatewayError`. Log lines
go to the ``sluicegate`` logger: debug lines per call (never prompts), and the core's warnings,
which reach stderr through Python's last-resort handler when the app configures no logging.
"""

from . import errors, types
from ._client import AsyncGateway, ConfigInput, Gateway, RequestEndCallback
from ._native import VERSION as __version__
from ._resources import MessageParam
from ._streaming import AsyncStream, Stream
from .errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    CancelledError,
    GatewayError,
    GuardrailBlockedError,
    GuardrailError,
    InternalError,
    InternalServerError,
    InvalidConfigError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    StreamInterruptedError,
)
from .types import ChatCompletion, ChatCompletionChunk, CreateEmbeddingResponse, ExplainReport, GatewayInfo, RequestEndEvent, UsageReport

__all__ = [
    "__version__",
    "Gateway",
    "AsyncGateway",
    "Stream",
    "AsyncStream",
    "ConfigInput",
    "MessageParam",
    "ChatCompletion",
    "ChatCompletionChunk",
    "GatewayInfo",
    "CreateEmbeddingResponse",
    "ExplainReport",
    "UsageReport",
    "RequestEndEvent",
    "RequestEndCallback",
    "errors",
    "types",
    "GatewayError",
    "InvalidRequestError",
    "BadRequestError",
    "InvalidConfigError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "BudgetExceededError",
    "GuardrailBlockedError",
    "GuardrailError",
    "ProviderError",
    "InternalServerError",
    "APIConnectionError",
    "APITimeoutError",
    "StreamInterruptedError",
    "CancelledError",
    "InternalError",
]
