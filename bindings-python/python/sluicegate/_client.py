"""The clients: :class:`Gateway` (blocking) and :class:`AsyncGateway` (asyncio).

Both take one config and expose ``chat.completions.create(...)`` and ``embeddings.create(...)``
in the openai-python shape, plus the gateway's own ``explain``, ``usage``, ``metrics_text`` and
``on_request_end`` hooks. All behaviour (routing, retries, policies, metering) is in the native
core.
"""

from __future__ import annotations

import atexit
import os
import weakref
from types import TracebackType
from typing import (
    TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, Set, Type, TypeVar, Union, cast,
)

from . import _log
from ._native import NativeGateway
from ._resources import AsyncChat, AsyncEmbeddings, Chat, Embeddings, call_options
from .errors import BadRequestError
from .types import ExplainReport, RequestEndEvent, UsageReport

if TYPE_CHECKING:
    # Imported where used at run time: asyncio alone (with ssl, socket, concurrent.futures...)
    # is ~5 MB and ~25 ms of `import sluicegate`, and blocking code never needs it.
    import asyncio
    import datetime

__all__ = ["Gateway", "AsyncGateway", "ConfigInput", "RequestEndCallback"]

#: An ``on_request_end`` callback: a function, or an ``async def`` (a coroutine function).
RequestEndCallback = Callable[[RequestEndEvent], object]
_Callback = TypeVar("_Callback", bound=RequestEndCallback)

#: A config: a dict (the YAML shape), YAML or JSON text (``str`` or ``bytes``), or a file path.
ConfigInput = Union[Mapping[str, Any], str, bytes, "os.PathLike[str]"]

#: When a usage report starts: a date, a datetime, unix seconds, or a duration ago (``"1h"``).
Since = Union[str, float, "datetime.date", None]

_Self = TypeVar("_Self", bound="_GatewayBase")


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


def _since(since: object) -> object:
    import datetime

    if isinstance(since, datetime.datetime):
        return since.timestamp()
    if isinstance(since, datetime.date):
        return since.isoformat()
    return since


def _is_async(callback: object) -> bool:
    import inspect

    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
        getattr(callback, "__call__", None)
    )


class _OnLoop:
    """Runs an async ``on_request_end`` callback as a task on the loop it was registered from."""

    def __init__(self, callback: RequestEndCallback, loop: asyncio.AbstractEventLoop) -> None:
        self.callback = callback
        self.loop = loop
        self.tasks: Set["asyncio.Future[Any]"] = set()  # the loop keeps only weak references
        self.dropped = False

    def __call__(self, event: RequestEndEvent) -> None:
        try:
            self.loop.call_soon_threadsafe(self._start, event)
        except RuntimeError:
            if not self.loop.is_closed():
                raise
            # Once (calls cancelled as the loop closed also end here, so do not repeat it).
            import logging

            level, self.dropped = (logging.DEBUG if self.dropped else logging.WARNING), True
            _log.logger().log(
                level, "on_request_end: the event loop of %r is closed; events for it are dropped (request %s)",
                self.callback, event.request_id,
            )

    def _start(self, event: RequestEndEvent) -> None:
        import asyncio  # already loaded: this runs on a running event loop

        try:
            task = asyncio.ensure_future(cast(Awaitable[Any], self.callback(event)))
        except BaseException as e:  # noqa: BLE001 - e.g. called with the wrong arguments
            _log_failure(self.callback, e)
            return
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: "asyncio.Future[Any]") -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log_failure(self.callback, task.exception())

    def __repr__(self) -> str:
        return repr(self.callback)


def _log_failure(callback: object, error: Optional[BaseException]) -> None:
    _log.logger().error("on_request_end callback %r raised; the call was not affected", callback, exc_info=error)


# Gateways still open when the interpreter exits are closed then, so that each writes the
# `close` record of its audit log (a log whose end lacks it is reported as possibly cut). Weak:
# a gateway the program dropped is not kept alive by this set.
_open_gateways: "weakref.WeakSet[_GatewayBase]" = weakref.WeakSet()


@atexit.register
def _close_open_gateways() -> None:
    for gateway in list(_open_gateways):
        gateway.close()


class _GatewayBase:
    _native: Optional[NativeGateway]
    _request_end: List[RequestEndCallback]

    def __init__(self, config: ConfigInput, *, on_request_end: Optional[RequestEndCallback] = None) -> None:
        self._native = _load(config)
        _open_gateways.add(self)
        self._request_end = []
        if on_request_end is not None:
            self.on_request_end(on_request_end)

    @classmethod
    def from_file(
        cls: Type[_Self], path: Union[str, "os.PathLike[str]"], *, on_request_end: Optional[RequestEndCallback] = None
    ) -> _Self:
        """Loads a YAML or JSON config file (relative paths in it are read from its folder)."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
        import pathlib  # here, not at import: ~0.5 MB and ~4 ms that most programs never use

        return cls(pathlib.Path(path), on_request_end=on_request_end)

    @classmethod
    def from_text(cls: Type[_Self], text: str, *, on_request_end: Optional[RequestEndCallback] = None) -> _Self:
        """Loads a config from YAML or JSON text."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        return cls(text, on_request_end=on_request_end)

    def on_request_end(self, callback: _Callback) -> _Callback:
        """Calls ``callback(event)`` after every call this gateway makes, successful or not, with
        a :class:`~sluicegate.types.RequestEndEvent` (route, deployment, outcome, usage, cost,
        latency). Returns ``callback``, so it also works as a decorator.

        Callbacks run off the request path, on a background thread: a slow one never delays a
        call, and what one raises is logged to the ``sluicegate`` logger, never to the caller.
        An ``async def`` callback is scheduled on the event loop running when it is registered
        (so register it from async code); events that end after that loop closed are dropped.
        """
        if not callable(callback):
            raise TypeError(f"on_request_end needs a callable, not {type(callback).__name__}")
        runner: RequestEndCallback = callback
        if _is_async(callback):
            import asyncio

            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise TypeError(
                    f"{callback!r} is async, and no event loop is running to schedule it on; register it "
                    "from async code (e.g. create the AsyncGateway inside your main coroutine)"
                ) from None
            runner = _OnLoop(callback, loop)
        native = self._native_gateway()
        self._request_end.append(runner)
        if len(self._request_end) == 1:
            native.set_request_end(self._request_ended)
        return callback

    def _request_ended(self, data: Dict[str, Any]) -> None:
        """The native dispatcher: runs on a core thread after each call."""
        event = RequestEndEvent(data)
        for callback in tuple(self._request_end):
            try:
                callback(event)
            except BaseException as e:  # noqa: BLE001 - a hook never breaks anything
                _log_failure(callback, e)

    def _native_gateway(self) -> NativeGateway:
        native = self._native
        if native is None:
            # The same error as the Node binding's for a closed gateway.
            raise BadRequestError("this gateway is closed; create a new Gateway to make more calls")
        return native

    def explain(
        self,
        model: str,
        *,
        tags: Optional[Mapping[str, str]] = None,
        key: Optional[str] = None,
        prompt_tokens: Optional[int] = None,
    ) -> ExplainReport:
        """Which deployment would serve a call to ``model`` with these tags, and why each
        candidate is kept or skipped, for a prompt of ``prompt_tokens`` (100 when not given).
        Makes no call."""
        report = self._native_gateway().explain(model, call_options(tags=tags, key=key), prompt_tokens)
        return ExplainReport(report)

    def usage(self, *, group_by: Union[str, Sequence[str], None] = None, since: Since = None) -> UsageReport:
        """Requests, errors, tokens, cost and latency percentiles of the calls this gateway made,
        grouped by ``group_by`` (key, team, user, route, deployment, provider, model, ``tag:NAME``)."""
        query: Dict[str, Any] = {}
        if group_by is not None:
            query["group_by"] = group_by if isinstance(group_by, str) else list(group_by)
        if since is not None:
            query["since"] = _since(since)
        return UsageReport(self._native_gateway().usage(query))

    def metrics_text(self) -> str:
        """The gateway's metrics in the Prometheus text format, for your ``/metrics`` endpoint."""
        return self._native_gateway().metrics_text()

    @property
    def closed(self) -> bool:
        return self._native is None

    def close(self) -> None:
        """Releases the gateway; streams already open keep working until they end. Waits (up to
        5 s) until the spend of finished calls has reached a shared state store."""
        native, self._native = self._native, None
        if native is not None:
            native.flush()


class Gateway(_GatewayBase):
    """A gateway for blocking code. Thread-safe: share one across threads.

    >>> gw = Gateway.from_file("gateway.yaml")               # or Gateway({...}) / Gateway(yaml_text)
    >>> r = gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    >>> r.choices[0].message.content, r.gateway.cost_usd
    """

    chat: Chat
    embeddings: Embeddings

    def __init__(self, config: ConfigInput, *, on_request_end: Optional[RequestEndCallback] = None) -> None:
        super().__init__(config, on_request_end=on_request_end)
        self.chat = Chat(self)
        self.embeddings = Embeddings(self)

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

    ``explain``, ``usage`` and ``metrics_text`` do no I/O and are plain methods here too.

    >>> async with AsyncGateway.from_file("gateway.yaml") as gw:
    ...     r = await gw.chat.completions.create(model="chat", messages=[...])
    """

    chat: AsyncChat
    embeddings: AsyncEmbeddings

    def __init__(self, config: ConfigInput, *, on_request_end: Optional[RequestEndCallback] = None) -> None:
        super().__init__(config, on_request_end=on_request_end)
        self.chat = AsyncChat(self)
        self.embeddings = AsyncEmbeddings(self)

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
