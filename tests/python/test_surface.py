"""The package surface: stubs, public names, typing under mypy, logging."""

from __future__ import annotations

import ast
import inspect
import shutil
from pathlib import Path
from typing import Dict, List

import pytest

import sluicegate
from sluicegate import _native, errors, types
from conftest import PACKAGE, HI, mock_config



# --- the package surface ------------------------------------------------------------------


def _stub_names(tree: ast.Module) -> Dict[str, List[str]]:
    names: Dict[str, List[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = sorted(
                n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            )
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = []
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = []
    return names


def test_native_stub_matches_the_module() -> None:
    stub = _stub_names(ast.parse((PACKAGE / "_native.pyi").read_text()))
    runtime: Dict[str, List[str]] = {}
    for name, value in vars(_native).items():
        if name.startswith("__"):
            continue
        if inspect.isclass(value):
            runtime[name] = sorted(n for n in vars(value) if not n.startswith("__"))
        else:
            runtime[name] = []
    assert stub == runtime, "bindings-python/python/sluicegate/_native.pyi is stale"


def test_response_types_are_generated_from_the_core_schema() -> None:
    """types.py's classes come from core/schema/types.schema.json (the core checks that schema
    against what it returns); a hand edit or a schema change without regenerating fails here."""
    import subprocess
    import sys

    root = PACKAGE.parents[2]
    run = subprocess.run([sys.executable, str(root / "scripts" / "gen_types.py"), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    schema = __import__("json").loads((root / "core" / "schema" / "types.schema.json").read_text())
    objects = [n for n, d in schema["$defs"].items() if d.get("type") == "object"]
    for name in objects:
        assert set(getattr(types, name).__annotations__) == set(schema["$defs"][name]["properties"]), name


def test_types_catch_misuse_under_mypy_strict(tmp_path: Path) -> None:
    """The stubs and annotations are worth something: typical code passes mypy --strict and
    typos or wrong types are flagged."""
    api = pytest.importorskip("mypy.api")
    good = tmp_path / "good.py"
    good.write_text(
        "import sluicegate\n"
        "gw = sluicegate.Gateway({})\n"
        "r = gw.chat.completions.create(model='chat', messages=[{'role': 'user', 'content': 'hi'}])\n"
        "text: str | None = r.choices[0].message.content\n"
        "cost: float | None = r.gateway.cost_usd\n"
        "for chunk in gw.chat.completions.create(model='chat', messages=[], stream=True):\n"
        "    delta: str | None = chunk.choices[0].delta.content\n"
        "e: sluicegate.GatewayError = sluicegate.RateLimitError('x')\n"
        "after: float | None = e.retry_after\n"
        "emb: list[float] | str = gw.embeddings.create(model='e', input='x').data[0].embedding\n"
        "who: str | None = gw.explain('chat').would_serve\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sluicegate\n"
        "gw = sluicegate.Gateway({})\n"
        "r = gw.chat.completions.create(model='chat', messages=[])\n"
        "r.choices[0].message.contnt\n"  # a typo
        "n: int = r.gateway.route\n"  # a wrong type
        "for c in gw.chat.completions.create(model='chat', messages=[]): pass\n"  # not a stream
        "gw.chat.completions.create('chat', [])\n"  # keyword-only
    )
    flags = ["--strict", "--no-incremental", "--python-version", "3.10", "--cache-dir", str(tmp_path / "cache")]
    out, err, status = api.run([*flags, str(good)])
    assert status == 0, out + err
    out, err, status = api.run([*flags, str(bad)])
    assert status == 1
    for line in ['"ChatCompletionMessage" has no attribute "contnt"', "bad.py:5", "bad.py:6", "bad.py:7"]:
        assert line in out, out


def test_public_names_and_typed_fields() -> None:
    for name in sluicegate.__all__:
        assert hasattr(sluicegate, name), name
    for name in errors.__all__:
        assert hasattr(errors, name), name
    import typing

    codes = {c.code for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.GatewayError) and c is not errors.GatewayError}
    assert set(typing.get_args(types.ErrorCode)) == codes
    for name in types.__all__:
        if name == "ErrorCode":
            continue
        cls = getattr(types, name)
        assert issubclass(cls, types.BaseObject)
        for field, spec in cls._specs.items():
            assert not field.startswith("_"), (name, field, spec)
    assert types.ChatCompletion._specs["choices"] == ("list", types.Choice)
    assert types.ChatCompletion._specs["gateway"] == ("one", types.GatewayInfo)
    assert types.GatewayInfo._specs["tags"] == "raw"
    assert (PACKAGE / "py.typed").exists()
    assert sluicegate.__version__ == _native.VERSION and sluicegate.__version__.count(".") == 2



# --- logging ---------------------------------------------------------------------------


def test_core_warnings_reach_python_logging(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "audit"
    folder.mkdir()
    config = mock_config()
    config["audit"] = {"path": str(folder / "audit.jsonl"), "max_bytes": 1, "on_error": "warn"}
    gw = sluicegate.Gateway(config)
    gw.chat.completions.create(model="chat", messages=HI)
    shutil.rmtree(folder)  # the next record must rotate the log, and cannot
    with caplog.at_level("WARNING", logger="sluicegate"):
        r = gw.chat.completions.create(model="chat", messages=HI)
    warnings = [rec for rec in caplog.records if rec.name == "sluicegate" and rec.levelname == "WARNING"]
    assert warnings and r.gateway.request_id in warnings[0].getMessage(), caplog.text


def test_logging_goes_to_the_sluicegate_logger(caplog: pytest.LogCaptureFixture) -> None:
    gw = sluicegate.Gateway(mock_config())
    with caplog.at_level("DEBUG", logger="sluicegate"):
        r = gw.chat.completions.create(model="chat", messages=[{"role": "user", "content": "private prompt"}])
    records = [rec for rec in caplog.records if rec.name == "sluicegate"]
    assert records and r.gateway.request_id in records[0].getMessage()
    assert "private prompt" not in caplog.text  # no prompts in logs
