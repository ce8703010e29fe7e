"""Four OS processes (two Python, two Node) x 16 concurrent callers share one RPM limit and one
budget through a real redis-server: the limit and the budget hold across all of them, counted
at the mock provider. Run by tests/multiprocess/run.sh."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SLUICEGATE_BIN", os.path.join(ROOT, "target", "debug", "sluicegate"))
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis() -> tuple:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def start_mock() -> tuple:
    proc = subprocess.Popen([BIN, "mock-provider", "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, line.strip().rsplit(" ", 1)[-1]


def stats(url: str) -> dict:
    with urllib.request.urlopen(url + "/_mock/stats", timeout=5) as r:
        return json.load(r)


def phase(name: str, redis_port: int, mock_url: str, policies: dict, calls_each: int) -> tuple:
    config = {
        "providers": {"p": {"type": "openai", "api_base": mock_url + "/v1", "api_key": "sk-mp-0000"}},
        "deployments": {"d": {"provider": "p", "model": f"priced-{name}"}},
        "routes": {"chat": {"targets": ["d"], "breaker": False}},
        "pricing": {"models": {f"priced-{name}": {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0}}},
        "state": {"backend": "redis", "url": f"redis://127.0.0.1:{redis_port}/0", "prefix": f"mp-{name}-{os.getpid()}:", "on_unavailable": "fail_closed"},
        "policies": policies,
    }
    path = os.path.join(tempfile.mkdtemp(), "gateway.json")
    with open(path, "w") as f:
        json.dump(config, f)
    py = os.path.join(ROOT, ".venv", "bin", "python")
    workers = [[py, os.path.join(HERE, "worker.py"), path, str(calls_each)]] * 2 + [["node", os.path.join(HERE, "worker.mjs"), path, str(calls_each)]] * 2
    started = time.time()
    procs = [subprocess.Popen(w, stdout=subprocess.PIPE, text=True) for w in workers]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, f"a worker failed: {out}"
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results, time.time() - started, stats(mock_url)["by_model"].get(f"priced-{name}", 0)


def main() -> None:
    redis, redis_port = start_redis()
    mock, mock_url = start_mock()
    failures = 0
    try:
        rpm = 40
        results, seconds, reached = phase("rpm", redis_port, mock_url, {"rate_limits": [{"scope": "global", "rpm": rpm}]}, 4)
        ok = sum(r["ok"] for r in results)
        limited = sum(r["errors"].get("rate_limited", 0) for r in results)
        bound = rpm + int(seconds * rpm / 60) + 1
        print(f"rpm phase: {ok} served, {limited} rate_limited, {reached} reached the provider in {seconds:.1f}s (limit {rpm}/min, bound {bound})")
        if not (reached == ok and ok <= bound and limited > 0):
            print("FAIL: the RPM limit did not hold across processes")
            failures += 1

        budget = 0.25
        results, seconds, reached = phase("budget", redis_port, mock_url, {"budgets": [{"scope": "global", "usd": budget}]}, 4)
        spent = sum(r["spent"] for r in results)
        ok = sum(r["ok"] for r in results)
        refused = sum(r["errors"].get("budget_exceeded", 0) for r in results)
        print(f"budget phase: {ok} served, {refused} budget_exceeded, spent ${spent:.4f} of ${budget} across {len(results)} processes")
        if not (spent <= budget + 1e-9 and refused > 0 and reached == ok and spent > budget / 2):
            print("FAIL: the budget did not hold across processes")
            failures += 1
    finally:
        mock.kill()
        redis.kill()
    print(f"multiprocess: {2 - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


main()
