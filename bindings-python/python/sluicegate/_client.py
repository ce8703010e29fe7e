"""The clients: :class:`Gateway` (blocking) and :class:`AsyncGateway` (asyncio).

Both take one config and expose ``chat.completions.create(...)`` in the openai-python shape.
All behaviour (routing, retries, policies, metering) is in the native core; this module only
builds the request dict, passes it down and wraps what comes back.
"""

from __future__ import annotations

import logging
import os
import pathlib
from collections.abc import Iterable as _IterableABC
from types import TracebackType
from typing import Any, Dict, Iterable, Literal, Mapping, Optional, Tuple, Type, TypeVar, Union, overload

from ._native import NativeGateway
from ._streaming import AsyncStream, Stream
from .errors import BadRequestError, GatewayError
from .types import ChatCompletion


__all__ = ["Gateway", "AsyncGateway", "ConfigInput"]

logger = logging.getLogger("sluicegate")

#: A config: a dict (the YAML shape), YAML or JSON text (``str`` or ``bytes``), or a file path.
ConfigInput = Union[Mapping[str, Any], str, bytes, "os.PathLike[str]"]

#: One message: ``{"role": "user", "content": "hi"}`` (any OpenAI message shape).
MessageParam = Mapping[str, Any]

_Self = TypeVar("_Self")


def _load(config: object) -> NativeGateway:
    if isinstance(config, Mapping):
        return NativeGateway.from_value(config if isinstance(config, dict) else dict(config))
    if isinstance(config, str):
        return NativeGateway.from_text(config)
    if isinstance(config, bytes):
        return NativeGateway.from_text(config.decode("utf-8"))
    if isinstance(config, os.PathLike):
        return NativeGateway.from_file(os.fspath(config))
    raise TypeError(
        "config must be a dict, YAML/JSON text (str) or a pathlib.Path, not "
        f"{type(config).__name__}; to read a file given as a str use Gateway.from_file(path)"
    )


def _request_and_options(
    model: object,
    messages: object,
    stream: object,
    tags: Optional[Mapping[str, str]],
    request_id: Optional[str],
    timeout: Union[float, str, None],
    extra_body: Optional[Mapping[str, Any]],
    fields: Dict[str, Any],
) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
    if (
        isinstance(messages, _IterableABC)
        and not isinstance(messages, (list, tuple, str, bytes, Mapping))
    ):
        messages = list(messages)  # a generator of messages, as openai-python accepts
    request: Dict[str, Any] = {"model": model, "messages": messages}
    if stream is not False and stream is not None:
        request["stream"] = stream
    request.update(fields)
    if extra_body:
        request.update(extra_body)
    options: Dict[str, Any] = {}
    if tags is not None:
        options["tags"] = dict(tags) if isinstance(tags, Mapping) else tags
    if request_id is not None:
        options["request_id"] = request_id
    if timeout is not None:
        options["timeout"] = timeout
    return request, (options or None)


def _log_response(response: ChatCompletion) -> ChatCompletion:
    if logger.isEnabledFor(logging.DEBUG):
        g = response.gateway
        if g is not None:
            logger.debug(
                "chat request_id=%s route=%s deployment=%s attempts=%s cost_usd=%s latency_ms=%s",
                g.request_id, g.route, g.deployment, g.attempts, g.cost_usd, g.latency_ms,
            )
    return response


def _log_error(error: GatewayError) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("chat failed request_id=%s code=%s: %s", error.request_id, error.code, error.message)


class Completions:
    """``gateway.chat.completions``: blocking chat completions."""

    def __init__(self, gateway: "Gateway") -> None:
        self._gateway = gateway

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        stream: Literal[False] = False,
        tags: Optional[Mapping[str, str]] = None,
        request_id: Optional[str] = None,
        timeout: Union[float, str, None] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> ChatCompletion: ...

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        stream: Literal[True],
        tags: Optional[Mapping[str, str]] = None,
        request_id: Optional[str] = None,
        timeout: Union[float, str, None] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> Stream: ...

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        stream: bool,
        tags: Optional[Mapping[str, str]] = None,
        request_id: Optional[str] = None,
        timeout: Union[float, str, None] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> Union[ChatCompletion, Stream]: ...

    def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        stream: bool = False,
        tags: Optional[Mapping[str, str]] = None,
        request_id: Optional[str] = None,
        timeout: Union[float, str, None] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> Union[ChatCompletion, Stream]:
        """Sends a chat completion through the gateway.

        ``model`` names a route (or deployment) from the config. Other OpenAI request fields
        (``temperature``, ``tools``, ``max_tokens``...) go in ``**fields`` or ``extra_body`` and
        pass through to the provider. ``tags``, ``request_id`` and ``timeout`` (seconds, or a
        duration like ``"30s"``) are the gateway's per-call options.

        Blocks without holding the GIL; Ctrl-C interrupts it and cancels the upstream request.
        With ``stream=True`` returns a :class:`Stream` once the first content has arrived.
        """
        native = self._gateway._native_gateway()
        request, options = _request_and_options(model, messages, stream, tags, request_id, timeout, extra_body, fields)
        try:
            if stream is True:
                return Stream(native.chat_stream(request, options))
            return _log_response(ChatCompletion(native.chat(request, options)))
        except GatewayError as e:
            _log_error(e)
            raise


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
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        stream: Literal[False] = False,
        tags: Optional[Mapping[str, str]] = None,
        request_id: Optional[str] = None,
        timeout: Union[float, str, None] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> ChatCompletion: ...

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        stream: Literal[True],
        tags: Optional[Mapping[str, str]] = None,
        request_id: Optional[str] = None,
        timeout: Union[float, str, None] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> AsyncStream: ...

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        stream: bool,
        tags: Optional[Mapping[str, str]] = None,
        request_id: Optional[str] = None,
        timeout: Union[float, str, None] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> Union[ChatCompletion, AsyncStream]: ...

    async def create(
        self,
        *,
        model: str,
        messages: Iterable[MessageParam],
        stream: bool = False,
        tags: Optional[Mapping[str, str]] = None,
        request_id: Optional[str] = None,
        timeout: Union[float, str, None] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        **fields: Any,
    ) -> Union[ChatCompletion, AsyncStream]:
        """The same as :meth:`Completions.create`, awaited. Cancelling the task cancels the
        upstream request; with ``stream=True`` returns an :class:`AsyncStream`."""
        native = self._gateway._native_gateway()
        request, options = _request_and_options(model, messages, stream, tags, request_id, timeout, extra_body, fields)
        try:
            if stream is True:
                return AsyncStream(await native.chat_stream_async(request, options))
            return _log_response(ChatCompletion(await native.chat_async(request, options)))
        except GatewayError as e:
            _log_error(e)
            raise


class AsyncChat:
    """``gateway.chat`` for :class:`AsyncGateway`."""

    def __init__(self, gateway: "AsyncGateway") -> None:
        self.completions = AsyncCompletions(gateway)


class _GatewayBase:
    _native: Optional[NativeGateway]

    def __init__(self, config: ConfigInput) -> None:
        self._native = _load(config)

    @classmethod
    def from_file(cls: Type[_Self], path: Union[str, "os.PathLike[str]"]) -> _Self:
        """Loads a YAML or JSON config file (relative paths in it are read from its folder)."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
        return cls(pathlib.Path(path))  # type: ignore[call-arg]

    @classmethod
    def from_text(cls: Type[_Self], text: str) -> _Self:
        """Loads a config from YAML or JSON text."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        return cls(text)  # type: ignore[call-arg]

    def _native_gateway(self) -> NativeGateway:
        native = self._native
        if native is None:
            # The same error as the Node binding's for a closed gateway.
            raise BadRequestError(
                "this gateway is closed; create a new Gateway to make more calls", status_code=400
            )
        return native

    @property
    def closed(self) -> bool:
        return self._native is None

    def close(self) -> None:
        """Releases the gateway; streams already open keep working until they end."""
        self._native = None


class Gateway(_GatewayBase):
    """A gateway for blocking code. Thread-safe: share one across threads.

    >>> gw = Gateway.from_file("gateway.yaml")               # or Gateway({...}) / Gateway(yaml_text)
    >>> r = gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    >>> r.choices[0].message.content, r.gateway.cost_usd
    """

    chat: Chat

    def __init__(self, config: ConfigInput) -> None:
        super().__init__(config)
        self.chat = Chat(self)

    def __enter__(self) -> "Gateway":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<sluicegate.Gateway{' closed' if self.closed else ''}>"


class AsyncGateway(_GatewayBase):
    """A gateway for asyncio code: the same surface as :class:`Gateway`, with ``await``.

    >>> async with AsyncGateway.from_file("gateway.yaml") as gw:
    ...     r = await gw.chat.completions.create(model="chat", messages=[...])
    """

    chat: AsyncChat

    def __init__(self, config: ConfigInput) -> None:
        super().__init__(config)
        self.chat = AsyncChat(self)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> "AsyncGateway":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<sluicegate.AsyncGateway{' closed' if self.closed else ''}>"
