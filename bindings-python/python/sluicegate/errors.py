"""Exceptions raised by sluicegate: one base class, one subclass per error code.

Every exception is a :class:`GatewayError` and carries the same facts in every language:
``code`` (a stable string such as ``"rate_limited"``), ``message``, ``status_code`` (the HTTP
status a provider answered with, or the code's usual one), ``retryable``, ``retry_after``
(seconds, when the provider said), ``request_id`` and, for configs, ``problems``.

Class names follow openai-python where one exists, so ``except sluicegate.RateLimitError``
reads the same as ``except openai.RateLimitError``, and match the Node binding's classes (its
timeout class is openai-node's ``APIConnectionTimeoutError``). Three classes also have an alias
named after their code: ``InvalidRequestError``, ``GuardrailBlockedError``, ``InternalError``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type

from ._native import ERROR_DEFAULTS as _DEFAULTS

__all__ = [
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
    "ERROR_CLASSES",
    "error_class",
]


class GatewayError(Exception):
    """Base class of every sluicegate error.

    Raised by the gateway with the facts of the failure; when you build one yourself (in a
    test double, say), ``status_code`` and ``retryable`` default to the code's usual values.
    """

    #: The error code this class stands for (the base class has none of its own).
    code: str = "internal"
    message: str
    status_code: Optional[int]
    retryable: bool
    retry_after: Optional[float]
    request_id: Optional[str]
    problems: List[str]

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status_code: Optional[int] = None,
        retryable: Optional[bool] = None,
        retry_after: Optional[float] = None,
        request_id: Optional[str] = None,
        problems: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        default_status, default_retryable = _DEFAULTS.get(self.code, (None, False))
        self.status_code = status_code if status_code is not None else default_status
        self.retryable = retryable if retryable is not None else default_retryable
        self.retry_after = retry_after
        self.request_id = request_id
        self.problems = list(problems)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, request_id={self.request_id!r})"

    def to_dict(self) -> Dict[str, Any]:
        """The error as the JSON object every binding sees (as in the contract vectors)."""
        return {
            "code": self.code,
            "message": self.message,
            "status_code": self.status_code,
            "retryable": self.retryable,
            "retry_after": self.retry_after,
            "request_id": self.request_id,
            "problems": list(self.problems),
        }

    def __reduce__(self) -> Tuple[Any, ...]:
        # Keyword-only attributes would be lost by the default exception pickling.
        return (_from_native, (self.to_dict(),))


class BadRequestError(GatewayError, ValueError):
    """The request or call options are malformed (``invalid_request``)."""

    code = "invalid_request"


#: The same class, named after its code.
InvalidRequestError = BadRequestError


class InvalidConfigError(GatewayError, ValueError):
    """The gateway config is wrong; ``problems`` lists every problem found (``invalid_config``)."""

    code = "invalid_config"


class AuthenticationError(GatewayError):
    """A provider rejected the credentials, or a virtual key is unknown (``authentication``)."""

    code = "authentication"


class PermissionDeniedError(GatewayError):
    """The caller may not use this route or model (``permission_denied``)."""

    code = "permission_denied"


class NotFoundError(GatewayError):
    """A provider does not know the model or endpoint (``not_found``)."""

    code = "not_found"


class RateLimitError(GatewayError):
    """A provider or a gateway rate limit refused the call; see ``retry_after`` (``rate_limited``)."""

    code = "rate_limited"


class BudgetExceededError(GatewayError):
    """A budget policy blocked the call (``budget_exceeded``)."""

    code = "budget_exceeded"


class GuardrailError(GatewayError):
    """A guardrail policy blocked the input or the output (``guardrail_blocked``)."""

    code = "guardrail_blocked"


#: The same class, named after its code.
GuardrailBlockedError = GuardrailError


class ProviderError(GatewayError):
    """A provider failed (5xx, malformed answer) and no fallback succeeded (``provider_error``)."""

    code = "provider_error"


class APIConnectionError(GatewayError):
    """A provider could not be reached (``connection``)."""

    code = "connection"


class APITimeoutError(APIConnectionError):
    """The call ran out of time (``timeout``). As in openai-python, a kind of connection error."""

    code = "timeout"


class StreamInterruptedError(GatewayError):
    """A stream broke after content was delivered; the reply is incomplete (``stream_interrupted``)."""

    code = "stream_interrupted"


class CancelledError(GatewayError):
    """The call was cancelled (``cancelled``). Not :class:`asyncio.CancelledError`."""

    code = "cancelled"


class InternalServerError(GatewayError):
    """A bug in sluicegate; please report it (``internal``). The Node binding's name too."""

    code = "internal"


#: The same class, named after its code.
InternalError = InternalServerError


#: The class for each error code; covers every code of the core (a test checks it).
ERROR_CLASSES: Mapping[str, Type[GatewayError]] = {
    cls.code: cls
    for cls in (
        BadRequestError,
        InvalidConfigError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        RateLimitError,
        BudgetExceededError,
        GuardrailError,
        ProviderError,
        APITimeoutError,
        APIConnectionError,
        StreamInterruptedError,
        CancelledError,
        InternalServerError,
    )
}


def error_class(code: str) -> Type[GatewayError]:
    """The exception class for an error code (:class:`GatewayError` itself for an unknown one)."""
    return ERROR_CLASSES.get(code, GatewayError)


def _from_native(error: Mapping[str, Any]) -> GatewayError:
    """Builds the exception for the core's error object (called by the native module)."""
    code = str(error.get("code") or "internal")
    retry_after = error.get("retry_after")
    return error_class(code)(
        str(error.get("message") or code),
        code=code,
        status_code=error.get("status_code"),
        retryable=bool(error.get("retryable")),
        retry_after=float(retry_after) if retry_after is not None else None,
        request_id=error.get("request_id"),
        problems=error.get("problems") or (),
    )
