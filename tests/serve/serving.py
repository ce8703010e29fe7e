"""Helpers for the `sluicegate serve` tests: the server as a child process on a free port, the mock
provider and the vector matcher shared with the Python tests (tests/python/conftest.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("sg_python_conftest", ROOT / "tests" / "python" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

MockServer = _shared.MockServer
match = _shared.match
sluicegate_bin = _shared.sluicegate_bin
VECTORS = _shared.VECTORS
PREFIX = "sluicegate serve listening on "


class Serve:
    """`sluicegate serve CONFIG --port 0` as a child process; `url` once it listens."""

    def __init__(self, config: Any, *extra: str, env: Optional[Dict[str, str]] = None) -> None:
        fd, self.config_path = tempfile.mkstemp(suffix=".json" if not isinstance(config, str) else ".yaml", prefix="sg-serve-")
        with os.fdopen(fd, "w") as f:
            f.write(config if isinstance(config, str) else json.dumps(config))
        args = [str(sluicegate_bin()), "serve", self.config_path, "--port", "0", *extra]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith(PREFIX):
            self.process.kill()
            _, err = self.process.communicate(timeout=5)
            self.error = err
            self.url = ""
            os.unlink(self.config_path)
            raise StartFailed(self.process.returncode, err)
        self.url = line[len(PREFIX):]

    def request(self, method: str, path: str, body: Any = None, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], Any]:
        """One request with the standard library: (status, headers, parsed JSON or text)."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"content-type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                status, head, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as e:
            status, head, raw = e.code, dict(e.headers), e.read()
        text = raw.decode()
        try:
            return status, {k.lower(): v for k, v in head.items()}, json.loads(text)
        except ValueError:
            return status, {k.lower(): v for k, v in head.items()}, text

    def metrics(self) -> str:
        _, _, text = self.request("GET", "/metrics")
        assert isinstance(text, str)
        return text

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> Tuple[int, str]:
        """Sends `sig` and waits: (exit status, stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            _, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate(timeout=5)
        try:
            os.unlink(self.config_path)
        except OSError:
            pass
        return self.process.returncode, err


class StartFailed(Exception):
    def __init__(self, status: Optional[int], stderr: str) -> None:
        super().__init__(f"sluicegate serve exited with {status}: {stderr.strip()}")
        self.status = status
        self.stderr = stderr


def metric_sum(text: str, name: str) -> float:
    """The sum of every sample of `name` in Prometheus text."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def mock_config(script: Any = None, **extra: Any) -> Dict[str, Any]:
    provider: Dict[str, Any] = {"type": "mock", "latency": "1ms"}
    if script is not None:
        provider["script"] = script
    config: Dict[str, Any] = {
        "providers": {"local": provider},
        "deployments": {
            "mini": {"provider": "local", "model": "gpt-4o-mini"},
            "emb": {"provider": "local", "model": "text-embedding-3-small"},
        },
        "routes": {"chat": {"targets": ["mini"]}, "embed": {"targets": ["emb"]}},
    }
    config.update(extra)
    return config


def http_config(server: Any, **extra: Any) -> Dict[str, Any]:
    """A config whose one deployment is the mock provider process, over HTTP."""
    config: Dict[str, Any] = {
        "providers": {"oai": {"type": "openai", "api_base": server.url + "/v1", "api_key": "sk-test-0000"}},
        "deployments": {"a": {"provider": "oai", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["a"], "breaker": False}},
    }
    config.update(extra)
    return config


def sse_events(raw: str) -> List[Any]:
    """The `data:` payloads of an SSE body, parsed (`[DONE]` kept as the string)."""
    out: List[Any] = []
    for line in raw.splitlines():
        if line.startswith("data: "):
            payload = line[len("data: "):]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out
