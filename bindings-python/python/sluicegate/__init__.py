"""sluicegate: an embedded LLM gateway.

Routes, polices and meters LLM calls in-process, with the same behaviour from Python, Node, C
and Rust. The API mirrors openai-python::

    import sluicegate

    with sluicegate.Gateway.from_file("gateway.yaml") as gw:
        r = gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
        print(r.choices[0].message.content, r.gateway.cost_usd)

Use :class:`AsyncGateway` from asyncio code. Every error is a :class:`GatewayError`.
"""

import logging as _logging

from . import errors, types
from ._client import AsyncGateway, ConfigInput, Gateway, MessageParam
from ._native import ERROR_CODES as _ERROR_CODES
from ._native import VERSION as __version__
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
from .types import ChatCompletion, ChatCompletionChunk, GatewayInfo

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

# A library logs only what the host asks for: no output unless the app configures logging.
_logging.getLogger("sluicegate").addHandler(_logging.NullHandler())
