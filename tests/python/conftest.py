"""Shared helpers for the Python tests: the mock provider process and a matcher for vectors."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
PACKAGE = ROOT / "bindings-python" / "python" / "sluicegate"


def sluicegate_bin() -> Path:
    path = Path(os.environ.get("SLUICEGATE_BIN") or ROOT / "target" / "debug" / "sluicegate")
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `cargo build -p sluicegate-cli` (or set SLUICEGATE_BIN)")
    return path


class MockServer:
    """`sluicegate mock-provider` as a child process, on a free port."""

    def __init__(self, script: Any, api_key: Optional[str] = None) -> None:
        fd, self.script_path = tempfile.mkstemp(suffix=".json", prefix="sg-mock-")
        with os.fdopen(fd, "w") as f:
            json.dump(script, f)
        args = [str(sluicegate_bin()), "mock-provider", "--port", "0", "--script", self.script_path]
        if api_key is not None:
            args += ["--api-key", api_key]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        prefix = "sluicegate mock-provider listening on "
        if not line.startswith(prefix):
            self.process.kill()
            _, err = self.process.communicate(timeout=5)
            self.stop()
            raise RuntimeError(f"the mock provider did not start: {line!r} {err.strip()}")
        self.url = line[len(prefix):]

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return json.loads(response.read())

    def post(self, path: str, body: Any) -> Any:
        data = json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read() or b"null")

    def stats(self) -> Dict[str, Any]:
        stats: Dict[str, Any] = self.get("/_mock/stats")
        return stats

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
        try:
            os.unlink(self.script_path)
        except OSError:
            pass


@pytest.fixture
def mock_server() -> Iterator[Any]:
    """A factory: `mock_server(script, api_key=None)` starts a server, stopped after the test."""
    servers: List[MockServer] = []

    def start(script: Any, api_key: Optional[str] = None) -> MockServer:
        server = MockServer(script, api_key)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _texts(want: Any) -> List[str]:
    if isinstance(want, list):
        return [w if isinstance(w, str) else "" for w in want]
    if isinstance(want, str):
        return [want]
    return [json.dumps(want)]


def match(expect: Any, actual: Any, path: str, failures: List[str]) -> None:
    """The subset match of tests/vectors/README.md; mismatches are appended with their path."""
    if isinstance(expect, dict):
        for key, want in expect.items():
            base, check = key, ""
            for suffix in ("_contains", "_excludes", "_present"):
                if key.endswith(suffix):
                    base, check = key[: -len(suffix)], suffix
                    break
            got = actual.get(base) if isinstance(actual, dict) else None
            at = f"{path}.{base}"
            if check == "_contains":
                for needle in _texts(want):
                    if not (isinstance(got, str) and needle in got):
                        failures.append(f"{at}: expected to contain {needle!r}, got {got!r}")
            elif check == "_excludes":
                for needle in _texts(want):
                    if isinstance(got, str) and needle in got:
                        failures.append(f"{at}: must not contain {needle!r}, got {got!r}")
            elif check == "_present":
                if not isinstance(want, bool) or want != (got is not None):
                    failures.append(f"{at}: expected present={want}, got {got!r}")
            else:
                match(want, got, at, failures)
    elif isinstance(expect, list):
        if isinstance(actual, list) and len(actual) == len(expect):
            for i, (want, got) in enumerate(zip(expect, actual)):
                match(want, got, f"{path}[{i}]", failures)
        else:
            failures.append(f"{path}: expected {expect!r}, got {actual!r}")
    elif isinstance(expect, (int, float)) and not isinstance(expect, bool):
        ok = isinstance(actual, (int, float)) and not isinstance(actual, bool)
        if not (ok and abs(actual - expect) <= 1e-9 * max(abs(expect), 1.0)):
            failures.append(f"{path}: expected {expect!r}, got {actual!r}")
    elif expect != actual or type(expect) is not type(actual):
        failures.append(f"{path}: expected {expect!r}, got {actual!r}")


# --- configs and helpers shared by the API tests ----------------------------------------

HI = [{"role": "user", "content": "hi"}]
SECRET = "sk-live-SECRET-4f9a2b7c1d"


def mock_config(latency: str = "1ms", script: Any = None) -> Dict[str, Any]:
    provider: Dict[str, Any] = {"type": "mock", "latency": latency}
    if script is not None:
        provider["script"] = script
    return {
        "providers": {"local": provider},
        "deployments": {"mini": {"provider": "local", "model": "gpt-4o-mini"}},
        "routes": {"chat": {"targets": ["mini"]}},
    }


def http_config(server: MockServer, api_key: str = "sk-test-0000") -> Dict[str, Any]:
    return {
        "providers": {"oai": {"type": "openai", "api_base": server.url + "/v1", "api_key": api_key}},
        "deployments": {"a": {"provider": "oai", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["a"]}},
    }


def wait_for(condition: Callable[[], bool], limit: float = 3.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def embed_config() -> Dict[str, Any]:
    config = mock_config()
    config["deployments"]["emb"] = {"provider": "local", "model": "text-embedding-3-small"}
    config["routes"]["embed"] = {"targets": ["emb"]}
    return config
