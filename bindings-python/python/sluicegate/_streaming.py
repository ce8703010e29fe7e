"""Streams of chat completion chunks: :class:`Stream` (sync) and :class:`AsyncStream`."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Iterator, AsyncIterator, Optional, Type

from .types import ChatCompletionChunk, GatewayInfo

if TYPE_CHECKING:
    from ._native import NativeStream

__all__ = ["Stream", "AsyncStream"]


class _StreamBase:
    def __init__(self, native: "NativeStream") -> None:
        self._native = native

    @property
    def request_id(self) -> str:
        """The call's request id (known as soon as the stream opens)."""
        return self._native.request_id

    @property
    def gateway(self) -> Optional[GatewayInfo]:
        """What the gateway did (usage, cost, timings) once the stream has ended, else ``None``."""
        info = self._native.gateway()
        return GatewayInfo(info) if info is not None else None

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __repr__(self) -> str:
        return f"<{type(self).__name__} request_id={self.request_id!r}>"


class Stream(_StreamBase):
    """Iterate it for :class:`ChatCompletionChunk` objects.

    Leaving early (``break``, an exception, ``close()`` or the end of a ``with`` block) cancels
    the upstream request. Each ``next`` releases the GIL while it waits, and Ctrl-C interrupts it.
    """

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self

    def __next__(self) -> ChatCompletionChunk:
        chunk = self._native.next()
        if chunk is None:
            raise StopIteration
        return ChatCompletionChunk(chunk)

    def close(self) -> None:
        """Stops reading and cancels the upstream request (a no-op once the stream has ended)."""
        self._native.close()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


class AsyncStream(_StreamBase):
    """``async for`` it for :class:`ChatCompletionChunk` objects.

    Leaving early (``break``, task cancellation, ``aclose()`` or the end of an ``async with``
    block) cancels the upstream request.
    """

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        chunk = await self._native.next_async()
        if chunk is None:
            raise StopAsyncIteration
        return ChatCompletionChunk(chunk)

    async def aclose(self) -> None:
        """Stops reading and cancels the upstream request."""
        self._native.close()

    def close(self) -> None:
        self._native.close()

    async def __aenter__(self) -> "AsyncStream":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self._native.close()
