"""``gateway.chat.completions`` and ``gateway.embeddings``, blocking and asyncio.

Each ``create`` builds the OpenAI request dict and the gateway's call options, hands both to the
native core and wraps what comes back; nothing here routes, retries or meters.
"""

from __future__ import annotations

from collections.abc import Iterable as _IterableABC
from typing import TYPE_CHECKING, Any, Dict, Iterable, Literal, Mapping, Optional, TypeVar, Union, overload

from ._log import debug_logger
from ._streaming import AsyncStream, Stream
from .errors import GatewayError
from .types import ChatCompletion, CreateEmbeddingResponse

if TYPE_CHECKING:
    from ._client import AsyncGateway, Gateway

__all__ = ["Chat", "Completions", "Embeddings", "AsyncChat", "AsyncCompletions", "AsyncEmbeddings", "MessageParam"]

#: One message: ``{"role": "user", "content": "hi"}`` (any OpenAI message shape).
MessageParam = Mapping[str, Any]

#: A per-call timeout: seconds, or a duration such as ``"30s"``.
Timeout = Union[float, str, None]

#: The response cache for one call: ``False`` skips it, ``True`` uses it with the default TTL,
#: ``{"ttl": "10m"}`` (or seconds) with this TTL; ``None`` leaves it to the config.
CacheOption = Union[bool, Mapping[str, Union[str, float]], None]


def call_options(
    tags: Optional[Mapping[str, str]] = None,
    request_id: Optional[str] = None,
    timeout: Timeout = None,
    key: Optional[str] = None,
    traceparent: Optional[str] = None,
    cache: CacheOption = None,
) -> Optional[Dict[str, Any]]:
    """The gateway's per-call options (``_native.OPTION_KEYS``, the same names in the same
    order); ``None`` when there are none."""
    options: Dict[str, Any] = {}
    if tags is not None:
        options["tags"] = dict(tags) if isinstance(tags, Mapping) else tags
    if request_id is not None:
        options["request_id"] = request_id
    if timeout is not None:
        options["timeout"] = timeout
    if key is not None:
        options["key"] = key
    if traceparent is not None:
        options["traceparent"] = traceparent
    if cache is not None:
        options["cache"] = dict(cache) if isinstance(cache, Mapping) else cache
    return options or None


def _request(base: Dict[str, Any], extra_body: Optional[Mapping[str, Any]], fields: Dict[str, Any]) -> Dict[str, Any]:
    base.update(fields)
    if extra_body:
        base.update(extra_body)
    return base


def _chat_request(
    model: object, messages: object, stream: object, extra_body: Optional[Mapping[str, Any]], fields: Dict[str, Any]
) -> Dict[str, Any]:
    if isinstance(messages, _IterableABC) and not isinstance(messages, (list, tuple, str, bytes, Mapping)):
        messages = list(messages)  # a generator of messages, as openai-python accepts
    request: Dict[str, Any] = {"model": model, "messages": messages}
    if stream is not False and stream is not None:
        request["stream"] = stream
    return _request(request, extra_body, fields)


_Response = TypeVar("_Response", ChatCompletion, CreateEmbeddingResponse)


def _logged(response: _Response) -> _Response:
    logger = debug_logger()
    if logger is not None:
        g = response.gateway
        if g is not None:
            logger.debug(
                "call request_id=%s route=%s deployment=%s attempts=%s cost_usd=%s latency_ms=%s",
                g.request_id, g.route, g.deployment, g.attempts, g.cost_usd, g.latency_ms,
            )
    return response


def _log_error(error: GatewayError) -> None:
    logger = debug_logger()
    if logger is not None:
        logger.debug("call failed request_id=%s code=%s: %s", error.request_id, error.code, error.message)


class Completions:
    """``gateway.chat.completions``: blocking chat completions."""

    def __init__(self, gateway: "Gateway") -> None:
        self._gateway = gateway

    @overload
    def create(
        self, *, model: str, messages: Iterable[MessageParam], stream: Literal[False] = False,
        tags: Optional[Mapping[str, str]] = None, request_id: Optional[str] = None, timeout: Timeout = None,
        key: Optional[str] = None, traceparent: Optional[str] = None, cache: CacheOption = None,
        extra_body: Optional[Mapping[str, Any]] = None, **fields: Any,
    ) -> ChatCompletion: ...

    @overload
    def create(
        self, *, model: str, messages: Iterable[MessageParam], stream: Literal[True],
        tags: Optional[Mapping[str, str]] = None, request_id: Optional[str] = None, timeout: Timeout = None,
        key: Optional[str] = None, traceparent: Optional[str] = None, cache: CacheOption = None,
        extra_body: Optional[Mapping[str, Any]] = None, **fields: Any,
    ) -> Stream: ...

    @overload
    def create(
        self, *, model: str, messages: Iterable[MessageParam], stream: bool,
        tags: Optional[Mapping[str, str]] = None, request_id: Optional[str] = None, timeout: Timeout = None,
        key: Optional[str] = None, traceparent: Optional[str] = None, cache: CacheOption = None,
        extra_body: Optional[Mapping[str, Any]] = None, **fields: Any,
    ) -> Union[ChatCompletion, Stream]: ...

    def create(
        self, *, model: str, messages: Iterable[MessageParam], stream: bool = False,
        tags: Optional[Mapping[str, str]] = None, request_id: Optional[str] = None, timeout: Timeout = None,
        key: Optional[str] = None, traceparent: Optional[str] = None, cache: CacheOption = None,
        extra_body: Optional[Mapping[str, Any]] = None, **fields: Any,
    ) -> Union[ChatCompletion, Stream]:
        """Sends a chat completion through the gateway.

        ``model`` names a route (or deployment) from the config. Other OpenAI request fields
        (``temperature``, ``tools``, ``max_tokens``...) go in ``**fields`` or ``extra_body`` and
        pass through to the provider. ``tags``, ``request_id``, ``timeout`` (seconds, or a
        duration like ``"30s"``), ``key`` (a virtual key), ``traceparent`` (a W3C trace
        context to continue) and ``cache`` (``False``, ``True`` or ``{"ttl": "10m"}``) are the
        gateway's per-call options.

        Blocks without holding the GIL; Ctrl-C interrupts it and cancels the upstream request.
        With ``stream=True`` returns a :class:`Stream` once the first content has arrived.
        """
        native = self._gateway._native_gateway()
        request = _chat_request(model, messages, stream, extra_body, fields)
        options = call_options(tags, request_id, timeout, key, traceparent, cache)
        try:
            if stream is True:
                return Stream(native.chat_stream(request, options))
            return _logged(ChatCompletion(native.chat(request, options)))
        except GatewayError as e:
            _log_error(e)
            raise


class Embeddings:
    """``gateway.embeddings``: blocking embeddings, routed like chat."""

    def __init__(self, gateway: "Gateway") -> None:
        self._gateway = gateway

    def create(
        self, *, model: str, input: Union[str, Iterable[str], Iterable[int], Iterable[Iterable[int]]],
        tags: Optional[Mapping[str, str]] = None, request_id: Optional[str] = None, timeout: Timeout = None,
        key: Optional[str] = None, traceparent: Optional[str] = None, cache: CacheOption = None,
        extra_body: Optional[Mapping[str, Any]] = None, **fields: Any,
    ) -> CreateEmbeddingResponse:
        """Embeds ``input`` (a string or a list of them) with the route ``model``."""
        native = self._gateway._native_gateway()
        request = _request({"model": model, "input": _listed(input)}, extra_body, fields)
        try:
            return _logged(CreateEmbeddingResponse(native.embeddings(request, call_options(tags, request_id, timeout, key, traceparent, cache))))
        except GatewayError as e:
            _log_error(e)
            raise


def _listed(value: object) -> object:
    if isinstance(value, _IterableABC) and not isinstance(value, (list, tuple, str, bytes, Mapping)):
        return list(value)
    return value


class Chat:
    """``gateway.chat``."""

    def __init__(self, gateway: "Gateway") -> None:
        self.completions = Completions(gateway)


class AsyncCompletions:
    """``gateway.chat.completions`` for :class:`AsyncGateway`."""

    def __init__(self, gateway: "AsyncGateway") -> None:
        self._gateway = gateway

    @overload
    async def create(
        self, *, model: str, messages: Iterable[MessageParam], stream: Literal[False] = False,
        tags: Optional[Mapping[str, str]] = None, request_id: Optional[str] = None, timeout: Timeout = None,
        key: Optional[str] = None, traceparent: Optional[str] = None, cache: CacheOption = None,
        extra_body: Optional[Mapping[str, Any]] = None, **fields: Any,
    ) -> ChatCompletion: ...

    @overload
    async def create(
        self, *, model: str, messages: Iterable[MessageParam], stream: Literal[True],
        tags: Optional[Mapping[str, str]] = None, request_id: Optional[str] = None, timeout: Timeout = None,
        key: Optional[str] = None, traceparent: Optional[str] = None, cache: CacheOption = None,
        extra_body: Optional[Mapping[str, Any]] = None, **fields: Any,
    ) -> AsyncStream: ...

    @overload
    async def create(
        self, *, model: str, messages: Iterable[MessageParam], stream: bool,
        tags: Optional[Mapping[str, str]] = None, request_id: Optional[str] = None, timeout: Timeout = None,
        key: Optional[str] = None, traceparent: Optional[str] = None, cache: CacheOption = None,
        extra_body: Optional[Mapping[str, Any]] = None, **fields: Any,
    ) -> Union[ChatCompletion, AsyncStream]: ...

    async def create(
        self, *, model: str, messages: Iterable[MessageParam], stream: bool = False,
        tags: Optional[Mapping[str, str]] = None, request_id: Optional[str] = None, timeout: Timeout = None,
        key: Optional[str] = None, traceparent: Optional[str] = None, cache: CacheOption = None,
        extra_body: Optional[Mapping[str, Any]] = None, **fields: Any,
    ) -> Union[ChatCompletion, AsyncStream]:
        """The same as :meth:`Completions.create`, awaited. Cancelling the task cancels the
        upstream request; with ``stream=True`` returns an :class:`AsyncStream`."""
        native = self._gateway._native_gateway()
        request = _chat_request(model, messages, stream, extra_body, fields)
        options = call_options(tags, request_id, timeout, key, traceparent, cache)
        try:
            if stream is True:
                return AsyncStream(await native.chat_stream_async(request, options))
            return _logged(ChatCompletion(await native.chat_async(request, options)))
        except GatewayError as e:
            _log_error(e)
            raise


class AsyncEmbeddings:
    """``gateway.embeddings`` for :class:`AsyncGateway`."""

    def __init__(self, gateway: "AsyncGateway") -> None:
        self._gateway = gateway

    async def create(
        self, *, model: str, input: Union[str, Iterable[str], Iterable[int], Iterable[Iterable[int]]],
        tags: Optional[Mapping[str, str]] = None, request_id: Optional[str] = None, timeout: Timeout = None,
        key: Optional[str] = None, traceparent: Optional[str] = None, cache: CacheOption = None,
        extra_body: Optional[Mapping[str, Any]] = None, **fields: Any,
    ) -> CreateEmbeddingResponse:
        """The same as :meth:`Embeddings.create`, awaited."""
        native = self._gateway._native_gateway()
        request = _request({"model": model, "input": _listed(input)}, extra_body, fields)
        options = call_options(tags, request_id, timeout, key, traceparent, cache)
        try:
            return _logged(CreateEmbeddingResponse(await native.embeddings_async(request, options)))
        except GatewayError as e:
            _log_error(e)
            raise


class AsyncChat:
    """``gateway.chat`` for :class:`AsyncGateway`."""

    def __init__(self, gateway: "AsyncGateway") -> None:
        self.completions = AsyncCompletions(gateway)
