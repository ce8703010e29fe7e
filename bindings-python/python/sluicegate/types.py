"""Response objects: OpenAI Chat Completions JSON with attribute access.

Each object wraps the JSON the gateway returned, unchanged: ``r.choices[0].message.content``
reads it, ``r.to_dict()`` gives a copy back, and fields the gateway does not know about
(a provider's extras) are kept and reachable as ``r["field"]`` or, at run time, ``r.field``.
A known field that is absent reads as ``None``, as in openai-python.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Literal, Mapping, Optional, Tuple, Union

# How a field's raw JSON becomes a Python value: kept as is, one object, a list of objects,
# or (fields nobody declared) dicts become `Object`s wherever they are.
_RAW = "raw"
_GENERIC = "generic"
_Spec = Union[str, Tuple[str, type]]


def _wrap(value: Any, spec: _Spec) -> Any:
    if value is None or spec == _RAW:
        return value
    if not isinstance(spec, tuple):  # _GENERIC
        if isinstance(value, dict):
            return Object(value)
        if isinstance(value, list):
            return [_wrap(v, _GENERIC) for v in value]
        return value
    shape, cls = spec
    if shape == "one":
        return cls(value) if isinstance(value, dict) else value
    if isinstance(value, list):
        return [cls(v) if isinstance(v, dict) else v for v in value]
    return value


class _Specs:
    """``cls._specs``: how each declared field of ``cls`` is wrapped, worked out from its
    annotations on first use and then kept on the class itself (shadowing this descriptor).

    Lazy because resolving the annotations of ~30 classes (``typing.get_type_hints``) was a
    third of the time of ``import sluicegate``, and a program touches only a few classes.
    """

    def __get__(self, obj: object, cls: type) -> Dict[str, _Spec]:
        hints = typing.get_type_hints(cls)
        specs = {field: _spec_for(hint) for field, hint in hints.items() if not field.startswith("_")}
        if cls is not BaseObject:  # kept there, it would hide this descriptor from every subclass
            type.__setattr__(cls, "_specs", specs)
        return specs


class BaseObject:
    """A read-only view of one JSON object, with typed attribute access to its declared fields."""

    if TYPE_CHECKING:
        _specs: ClassVar[Dict[str, _Spec]]
    else:
        _specs = _Specs()
    _data: Dict[str, Any]

    def __init__(self, data: Mapping[str, Any]) -> None:
        # Written for speed (a stream builds one per chunk): the exact-type test comes first, and
        # the instance dict is written directly (about half the time of object.__setattr__).
        if type(data) is not dict and not isinstance(data, dict):
            data = dict(data)
        self.__dict__["_data"] = data

    if not TYPE_CHECKING:
        # Hidden from type checkers so that they flag typos in declared models.
        def __getattr__(self, name: str) -> Any:
            if name.startswith("_"):
                raise AttributeError(name)
            data = self._data
            if name in data:
                value = _wrap(data[name], self._specs.get(name, _GENERIC))
            elif name in self._specs:
                value = None
            else:
                raise AttributeError(f"{type(self).__name__} has no field {name!r}")
            self.__dict__[name] = value  # later reads skip __getattr__
            return value

    def __getitem__(self, key: str) -> Any:
        """Any field, declared or not, by its JSON name (``KeyError`` when absent)."""
        return _wrap(self._data[key], self._specs.get(key, _GENERIC))

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only; use .to_dict() for a mutable copy")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only; use .to_dict() for a mutable copy")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BaseObject):
            return type(self) is type(other) and self._data == other._data
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={self[k]!r}" for k in self._data if isinstance(k, str))
        return f"{type(self).__name__}({fields})"

    def __dir__(self) -> List[str]:
        names = set(super().__dir__()) | set(self._specs)
        names.update(k for k in self._data if isinstance(k, str) and k.isidentifier())
        return sorted(names)

    def to_dict(self) -> Dict[str, Any]:
        """A deep copy of the JSON object, unknown fields included."""
        import copy  # here, not at import: most programs never call it

        return copy.deepcopy(self._data)

    def to_json(self, *, indent: Optional[int] = 2) -> str:
        """The JSON object as text."""
        import json  # here, not at import: ~2 ms that most programs never need

        return json.dumps(self._data, indent=indent, ensure_ascii=False)

    # pydantic's names, which openai-python's objects also answer to, for code that migrates.
    def model_dump(self) -> Dict[str, Any]:
        """The same as :meth:`to_dict`."""
        return self.to_dict()

    def model_dump_json(self, *, indent: Optional[int] = None) -> str:
        """The same as :meth:`to_json`, compact by default as in pydantic."""
        return self.to_json(indent=indent)


class Object(BaseObject):
    """A JSON object with no declared fields: every key is an attribute."""

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...


# BEGIN GENERATED by scripts/gen_types.py from core/schema/types.schema.json: do not edit
__all__ = [
    "BaseObject",
    "Object",
    "ErrorCode",
    "Function",
    "ChatCompletionMessageToolCall",
    "ChatCompletionMessage",
    "Choice",
    "CompletionUsage",
    "GatewayUsage",
    "SkippedDeployment",
    "CostBreakdown",
    "AttemptLogEntry",
    "PolicyReservation",
    "GuardrailReport",
    "PolicyReport",
    "GatewayInfo",
    "ChatCompletion",
    "ChoiceDeltaToolCallFunction",
    "ChoiceDeltaToolCall",
    "ChoiceDelta",
    "ChunkChoice",
    "ChatCompletionChunk",
    "Embedding",
    "EmbeddingUsage",
    "CreateEmbeddingResponse",
    "ExplainCandidate",
    "ExplainReport",
    "Percentiles",
    "UsageGroup",
    "UsageReport",
    "RequestEndError",
    "RequestEndEvent",
]

ErrorCode = Literal[
    "invalid_request",
    "invalid_config",
    "authentication",
    "permission_denied",
    "not_found",
    "rate_limited",
    "budget_exceeded",
    "guardrail_blocked",
    "provider_error",
    "timeout",
    "connection",
    "stream_interrupted",
    "cancelled",
    "internal",
]


class Function(BaseObject):
    name: str
    arguments: str


class ChatCompletionMessageToolCall(BaseObject):
    id: str
    type: Literal["function"]
    function: Function


class ChatCompletionMessage(BaseObject):
    role: Literal["assistant"]
    content: Optional[str]
    refusal: Optional[str]
    tool_calls: Optional[List[ChatCompletionMessageToolCall]]
    function_call: Optional[Object]
    annotations: Optional[List[Object]]
    audio: Optional[Object]


class Choice(BaseObject):
    index: int
    message: ChatCompletionMessage
    finish_reason: Optional[str]
    logprobs: Optional[Object]


class CompletionUsage(BaseObject):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: Optional[Object]
    completion_tokens_details: Optional[Object]


class GatewayUsage(BaseObject):
    """Tokens as the gateway metered them (``estimated`` when the provider reported none)."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int
    #: Prompt tokens written to the provider's prompt cache (absent from request-end events).
    cache_write_tokens: Optional[int]
    #: The part of cache_write_tokens cached for an hour (Anthropic's 1-hour TTL, billed higher;
    #: absent from request-end events).
    cache_write_1h_tokens: Optional[int]
    reasoning_tokens: int
    #: True when the provider reported no usage and the gateway estimated it.
    estimated: Optional[bool]


class SkippedDeployment(BaseObject):
    """A route target the gateway passed over, and why (cooldown, capacity, region...)."""

    deployment: str
    reason: str


class CostBreakdown(BaseObject):
    """A call's cost in USD by part; ``reasoning`` is the share of ``output`` spent reasoning."""

    input: float
    cached_input: float
    cache_write: float
    output: float
    reasoning: float
    total: float


class AttemptLogEntry(BaseObject):
    """One attempt of a call: the deployment tried, ``"ok"`` or the error code, and how long."""

    deployment: str
    outcome: str
    latency_ms: float


class PolicyReservation(BaseObject):
    """One policy a call was counted under, and what it reserved (requests, tokens or USD)."""

    policy: str
    reserved: float


class GuardrailReport(BaseObject):
    """What guardrails did to a call: counts by entity of redacted and logged matches."""

    redacted: Dict[str, int]
    logged: Dict[str, int]


class PolicyReport(BaseObject):
    """The policies a call went through (``gateway.policy``)."""

    rate_limits: List[PolicyReservation]
    budgets: List[PolicyReservation]
    #: where the limits and budgets were counted: ``"memory"``, ``"redis"``, or ``"local (shared
    #: store unreachable)"`` while a shared store is down (fail-open policies)
    state: Optional[str]
    key: Optional[str]
    guardrails: Optional[GuardrailReport]


class GatewayInfo(BaseObject):
    """What the gateway did for one call: route, deployment, attempts, usage, cost, timings.
    ``saved_cost_usd`` is what a cache hit saved; ``trace_id`` and ``span_id`` name the call's
    trace span (the caller's trace when a ``traceparent`` was given).
    """

    request_id: str
    #: The route the call's `model` named.
    route: str
    #: The deployment that answered (null when none did).
    deployment: Optional[str]
    provider: Optional[str]
    #: The provider's model name.
    model: Optional[str]
    #: How many deployments were tried.
    attempts: int
    cache_hit: bool
    saved_cost_usd: Optional[float]
    usage: GatewayUsage
    #: Null when the model has no known price.
    cost_usd: Optional[float]
    cost: Optional[CostBreakdown]
    latency_ms: float
    ttft_ms: Optional[float]
    #: The gateway's own time, in microseconds.
    overhead_us: int
    tags: Dict[str, str]
    trace_id: str
    span_id: str
    attempt_log: List[AttemptLogEntry]
    #: Deployments skipped while planning the call, with the reason.
    skipped: List[SkippedDeployment]
    #: What the policies did: rate limits, budgets, the virtual key, guardrails.
    policy: Optional[PolicyReport]


class ChatCompletion(BaseObject):
    """A chat completion, with the gateway's report in ``gateway``."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: List[Choice]
    usage: Optional[CompletionUsage]
    system_fingerprint: Optional[str]
    service_tier: Optional[str]
    gateway: GatewayInfo


class ChoiceDeltaToolCallFunction(BaseObject):
    name: Optional[str]
    arguments: Optional[str]


class ChoiceDeltaToolCall(BaseObject):
    index: int
    id: Optional[str]
    type: Optional[str]
    function: Optional[ChoiceDeltaToolCallFunction]


class ChoiceDelta(BaseObject):
    role: Optional[str]
    content: Optional[str]
    refusal: Optional[str]
    tool_calls: Optional[List[ChoiceDeltaToolCall]]
    function_call: Optional[Object]


class ChunkChoice(BaseObject):
    index: int
    delta: ChoiceDelta
    finish_reason: Optional[str]
    logprobs: Optional[Object]


class ChatCompletionChunk(BaseObject):
    """One chunk of a streamed chat completion."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: List[ChunkChoice]
    #: Present (and non-null) only when the request set `stream_options.include_usage`.
    usage: Optional[CompletionUsage]
    system_fingerprint: Optional[str]
    service_tier: Optional[str]


class Embedding(BaseObject):
    object: Literal["embedding"]
    index: int
    embedding: Union[List[float], str]


class EmbeddingUsage(BaseObject):
    prompt_tokens: int
    total_tokens: int


class CreateEmbeddingResponse(BaseObject):
    """An embeddings response, with the gateway's report in ``gateway``."""

    object: Literal["list"]
    data: List[Embedding]
    model: str
    usage: Optional[EmbeddingUsage]
    gateway: GatewayInfo


class ExplainCandidate(BaseObject):
    """One target of the route, and why it would be used or passed over."""

    deployment: str
    route: str
    provider: str
    model: str
    region: Optional[str]
    weight: float
    kept: bool
    reason: str
    breaker: Optional[str]
    in_flight: Optional[int]
    latency_ewma_ms: Optional[float]


class ExplainReport(BaseObject):
    """Which deployment would serve a call, and why (``gateway.explain(...)``)."""

    route: str
    strategy: str
    #: The deployment a call would go to now (null when every candidate is skipped).
    would_serve: Optional[str]
    estimated_prompt_tokens: int
    candidates: List[ExplainCandidate]


class Percentiles(BaseObject):
    p50: Optional[float]
    p95: Optional[float]
    p99: Optional[float]


class UsageGroup(BaseObject):
    """Requests, errors by code, tokens, cost and latency for one group of calls."""

    group: Dict[str, Optional[str]]
    requests: int
    #: Failed calls by error code.
    errors: Dict[str, int]
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost_usd: Optional[float]
    latency_ms: Percentiles
    ttft_ms: Percentiles


class UsageReport(BaseObject):
    """Usage since a time, grouped by the dimensions asked for (``gateway.usage(...)``)."""

    since: str
    group_by: List[str]
    groups: List[UsageGroup]


class RequestEndError(BaseObject):
    """Why a call failed: the error's ``code`` (as on :class:`GatewayError`) and message."""

    code: ErrorCode
    message: str


class RequestEndEvent(BaseObject):
    """One finished call, as ``on_request_end`` callbacks receive it (successes and failures).
    ``outcome`` is ``"ok"`` or the error's code, ``ts`` when the call ended (RFC 3339), ``key``
    the name of the virtual key used (never its secret), ``operation`` ``"chat"`` or
    ``"embeddings"``. Deployment, provider, model, cost and timings are ``None`` when no
    deployment answered.
    """

    request_id: str
    #: RFC 3339 time of the call's end.
    ts: str
    operation: str
    route: str
    deployment: Optional[str]
    provider: Optional[str]
    model: Optional[str]
    #: 'ok', or the error code.
    outcome: Union[Literal["ok"], ErrorCode]
    error: Optional[RequestEndError]
    #: The virtual key's name, when one was used (never its secret).
    key: Optional[str]
    tags: Dict[str, str]
    usage: GatewayUsage
    cost_usd: Optional[float]
    latency_ms: float
    ttft_ms: Optional[float]
    overhead_us: Optional[int]
# END GENERATED


def _spec_for(hint: Any) -> _Spec:
    """The wrapping rule for a declared field's type."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is Union and len(args) == 1:
        hint = args[0]  # Optional[X] -> X
    if isinstance(hint, type) and issubclass(hint, BaseObject):
        return ("one", hint)
    if typing.get_origin(hint) in (list, List):
        (item,) = typing.get_args(hint)
        if isinstance(item, type) and issubclass(item, BaseObject):
            return ("list", item)
    return _RAW

