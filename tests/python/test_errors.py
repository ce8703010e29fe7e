"""Exceptions: one class per core code, the facts they carry, bad arguments, no secrets."""

from __future__ import annotations

import asyncio
import inspect
import json
import pickle
import re
from typing import Any, Dict, List

import pytest

import sluicegate
from sluicegate import _native, errors
from conftest import ROOT, HI, SECRET, mock_config, http_config, embed_config



# --- errors -------------------------------------------------------------------------------


def test_every_error_code_maps_to_its_class() -> None:
    assert set(_native.ERROR_CODES) == set(errors.ERROR_CLASSES), "a core error code has no Python class"
    for code in _native.ERROR_CODES:
        cls = errors.ERROR_CLASSES[code]
        assert issubclass(cls, sluicegate.GatewayError) and cls.code == code
        e = errors._from_native({"code": code, "message": "m", "status_code": 500, "retryable": True})
        assert type(e) is cls and e.code == code and e.retryable is True
    assert len(set(errors.ERROR_CLASSES.values())) == len(errors.ERROR_CLASSES), "two codes share a class"
    # openai-python's names
    assert sluicegate.BadRequestError is sluicegate.InvalidRequestError
    assert sluicegate.InternalServerError is errors.ERROR_CLASSES["internal"]
    assert issubclass(sluicegate.APITimeoutError, sluicegate.APIConnectionError)
    assert errors.error_class("something_new") is sluicegate.GatewayError


def test_error_classes_match_the_node_binding() -> None:
    """One product: each code's class has the Node binding's name, or an alias of it
    (timeouts differ on purpose: openai-python says APITimeoutError, openai-node
    APIConnectionTimeoutError)."""
    node = ROOT / "bindings-node" / "lib" / "errors.js"
    if not node.exists():
        pytest.skip("no Node binding in this checkout")

    pairs = re.findall(r"define\('(\w+)', '(\w+)'", node.read_text())
    assert len(pairs) == len(errors.ERROR_CLASSES)
    for name, code in pairs:
        if code == "timeout":
            continue
        cls = errors.ERROR_CLASSES[code]
        assert cls.__name__ == name or getattr(sluicegate, name, None) is cls, (code, name, cls.__name__)


def test_errors_built_in_python_carry_the_core_defaults() -> None:
    assert set(_native.ERROR_DEFAULTS) == set(_native.ERROR_CODES)
    for code, (status, retryable) in _native.ERROR_DEFAULTS.items():
        e = errors.ERROR_CLASSES[code]("m")
        assert (e.code, e.status_code, e.retryable) == (code, status, retryable)
    assert (sluicegate.RateLimitError("m").status_code, sluicegate.RateLimitError("m").retryable) == (429, True)
    assert sluicegate.RateLimitError("m", status_code=503, retryable=False).to_dict()["status_code"] == 503


def test_raised_errors_carry_the_facts() -> None:
    gw = sluicegate.Gateway(mock_config(script={"gpt-4o-mini": [{"status": 429, "retry_after": "7"}]}))
    with pytest.raises(sluicegate.RateLimitError) as info:
        gw.chat.completions.create(model="chat", messages=HI, request_id="req-429")
    e = info.value
    assert isinstance(e, sluicegate.GatewayError)
    assert (e.code, e.status_code, e.request_id, e.retry_after) == ("rate_limited", 429, "req-429", 7.0)
    assert e.message == str(e) and "mini" in e.message
    copy = pickle.loads(pickle.dumps(e))
    assert type(copy) is sluicegate.RateLimitError and copy.to_dict() == e.to_dict()
    with pytest.raises(sluicegate.NotFoundError):
        gw.chat.completions.create(model="no-such-route", messages=HI)


def test_no_secret_in_errors(mock_server: Any) -> None:
    server = mock_server({"gpt-4o": [{"reply": "ok"}]}, api_key="sk-expected")
    gw = sluicegate.Gateway(http_config(server, api_key=SECRET))
    with pytest.raises(sluicegate.AuthenticationError) as info:
        gw.chat.completions.create(model="chat", messages=HI)
    e = info.value
    for text in [str(e), repr(e), json.dumps(e.to_dict()), str(e.__cause__), str(e.__context__)]:
        assert SECRET not in text and SECRET[8:] not in text
    with pytest.raises(sluicegate.AuthenticationError) as info2:
        for _ in gw.chat.completions.create(model="chat", messages=HI, stream=True):
            pass
    assert SECRET not in str(info2.value)


def test_every_core_call_option_is_a_keyword() -> None:
    """A call option the core adds must become a keyword of create(): otherwise Python would
    silently send it upstream as a request field. The core lists its options in OPTION_KEYS."""
    from sluicegate._resources import call_options

    keys = _native.OPTION_KEYS
    assert len(keys) >= 4 and len(set(keys)) == len(keys)
    # The one place that builds the options dict takes exactly the core's options, in order.
    assert tuple(inspect.signature(call_options).parameters) == keys
    gw, agw = sluicegate.Gateway(embed_config()), sluicegate.AsyncGateway(mock_config())
    creates = [gw.chat.completions.create, gw.embeddings.create, agw.chat.completions.create, agw.embeddings.create]
    for fn in creates:
        params = inspect.signature(fn).parameters
        missing = [k for k in keys if k not in params or params[k].kind is not inspect.Parameter.KEYWORD_ONLY]
        assert not missing, f"core call options {missing} are not keywords of {fn.__qualname__}"
    # And each keyword reaches the core as an option (not as a request field): a value no
    # option accepts is refused by the core under the option's name.
    for key in keys:
        bad: Dict[str, Any] = {key: [1]}
        with pytest.raises(sluicegate.InvalidRequestError, match=f"option `{key}`"):
            gw.chat.completions.create(model="chat", messages=HI, **bad)
        with pytest.raises(sluicegate.InvalidRequestError, match=f"option `{key}`"):
            gw.embeddings.create(model="embed", input="x", **bad)
        with pytest.raises(sluicegate.InvalidRequestError, match=f"option `{key}`"):
            asyncio.run(agw.chat.completions.create(model="chat", messages=HI, **bad))
    # The core refuses an option it does not know, and names the ones it does.
    with pytest.raises(sluicegate.InvalidRequestError) as info:
        gw._native_gateway().chat({"model": "chat", "messages": HI}, {"no_such_option": 1})
    assert info.value.message.split("known options:")[1].strip(" )").split(", ") == list(keys)


def test_config_errors_do_not_echo_the_key() -> None:
    config = {
        "providers": {"oai": {"type": "openai", "api_key": SECRET, "timeout": "forever"}},
        "deployments": {"a": {"provider": "oai", "model": "gpt-4o", "weight": "heavy"}},
        "routes": {"chat": {"targets": ["a", "b"]}},
    }
    with pytest.raises(sluicegate.InvalidConfigError) as info:
        sluicegate.Gateway(config)
    text = " ".join([str(info.value), repr(info.value), json.dumps(info.value.to_dict())])
    assert SECRET not in text and len(info.value.problems) >= 2


def test_bad_argument_types_never_crash() -> None:
    gw = sluicegate.Gateway(mock_config())
    create: Any = gw.chat.completions.create
    with pytest.raises(sluicegate.InvalidRequestError, match="messages"):
        create(model="chat", messages=5)
    with pytest.raises(sluicegate.InvalidRequestError, match="model"):
        create(model=None, messages=HI)
    with pytest.raises(sluicegate.InvalidRequestError, match="role"):
        create(model="chat", messages=[{"content": "no role"}])
    with pytest.raises(TypeError, match=r"request\[\"messages\"\]\[0\]\[\"content\"\]: cannot send a value of type object"):
        create(model="chat", messages=[{"role": "user", "content": object()}])
    with pytest.raises(TypeError, match="dict keys must be str"):
        create(model="chat", messages=[{"role": "user", "content": "x", 1: 2}])
    with pytest.raises(ValueError, match="NaN"):
        create(model="chat", messages=HI, temperature=float("nan"))
    with pytest.raises(ValueError, match="64 bits"):
        create(model="chat", messages=HI, seed=2**70)
    loop: List[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contain itself"):
        create(model="chat", messages=HI, metadata=loop)
    with pytest.raises(sluicegate.InvalidRequestError, match="tags"):
        create(model="chat", messages=HI, tags="team")
    with pytest.raises(sluicegate.InvalidRequestError, match="timeout"):
        create(model="chat", messages=HI, timeout=-1)
    with pytest.raises(sluicegate.InvalidRequestError, match="stream"):
        create(model="chat", messages=HI, stream="yes")
    with pytest.raises(TypeError):
        create("chat", HI)  # keyword-only, as in openai-python
    # Still works afterwards, with tuples and generators of messages.
    assert create(model="chat", messages=tuple(HI)).choices
    assert create(model="chat", messages=(m for m in HI)).choices


def test_huge_numbers_are_errors_never_a_panic() -> None:
    """Huge but finite numbers used to overflow Duration arithmetic in the core and surface as
    pyo3's PanicException; each must be a plain InvalidRequestError / InvalidConfigError."""
    gw = sluicegate.Gateway(mock_config())
    create: Any = gw.chat.completions.create
    for bad in [1e300, "1000000000000000000000s"]:
        with pytest.raises(sluicegate.InvalidRequestError, match="option `timeout`.*longest"):
            create(model="chat", messages=HI, timeout=bad)
        with pytest.raises(sluicegate.InvalidRequestError, match="option `cache.ttl`"):
            create(model="chat", messages=HI, cache={"ttl": bad})
    config = mock_config()
    config["routes"]["chat"]["timeout"] = "1000000000000000000000s"
    with pytest.raises(sluicegate.InvalidConfigError, match="routes.chat.timeout"):
        sluicegate.Gateway(config)
    assert create(model="chat", messages=HI).choices  # and the gateway still works
