"""Streams of chat completion chunks: :class:`Stream` (sync) and :class:`AsyncStream`.

Both pull chunks from the native stream in batches (every chunk already received, in one
call) and hand them out one at a time from a local buffer: an async stream then pays one
hand-off from the core's threads to the event loop per batch instead of one per chunk. The
native side raises an error only after the chunks that arrived before it, and ``close()``
empties the buffer, so iteration looks exactly as it would one chunk at a time.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, AsyncIterator, Iterator, Optional, Type

from .types import ChatCompletionChunk, GatewayInfo

if TYPE_CHECKING:
    from ._native import NativeStream

__all__ = ["Stream", "AsyncStream"]

#: An empty buffer (an exhausted iterator stays exhausted, so one can be shared).
_EMPTY: Iterator[ChatCompletionChunk] = iter(())


class _StreamBase:
    def __init__(self, native: "NativeStream") -> None:
        self._native = native
        # Chunks pulled but not handed out yet, wrapped as they are taken (map runs in C).
        self._buffer: Iterator[ChatCompletionChunk] = _EMPTY

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
        chunk = next(self._buffer, None)
        if chunk is None:
            native = self._native
            if native.drained:  # the end came with the last batch: no pull needed to learn it
                raise StopIteration
            batch = native.next_batch()
            if not batch:
                raise StopIteration
            self._buffer = map(ChatCompletionChunk, batch)
            chunk = next(self._buffer)
        return chunk

    def close(self) -> None:
        """Stops reading and cancels the upstream request (a no-op once the stream has ended)."""
        self._buffer = _EMPTY
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
        chunk = next(self._buffer, None)
        if chunk is None:
            native = self._native
            if native.drained:  # the end came with the last batch: no hop needed to learn it
                raise StopAsyncIteration
            batch = await native.next_batch_async()
            if not batch:
                raise StopAsyncIteration
            self._buffer = map(ChatCompletionChunk, batch)
            chunk = next(self._buffer)
        return chunk

    async def aclose(self) -> None:
        """Stops reading and cancels the upstream request."""
        self.close()

    def close(self) -> None:
        self._buffer = _EMPTY
        self._native.close()

    async def __aenter__(self) -> "AsyncStream":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()
