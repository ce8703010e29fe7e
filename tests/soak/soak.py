"""The budget soak (issue 14): Python, Node, Rust and C processes x 16 callers share one $1 budget
on one redis-server and call ONE `sluicegate mock-provider`. Each call is drawn at random:
plain, streamed to the end, dropped right after its finish reason, dropped mid-stream (the
provider stalls), cancelled by the caller, timed out, cut by the provider mid-stream, a provider
fault (500, then a fallback), or embeddings; chat calls ask for n = 1..4 choices.

At the end the spend the gateways recorded (the budget counter on Redis) must equal what the
mock provider billed (its own count of tokens served per model, priced with the built-in
catalog), no reservation may be left behind, and neither may exceed the budget by more than
one call's documented worst-case reservation. Run by tests/soak/run.sh.

Equality holds by construction, not by tolerance: the mock bills a prompt once it has read the
request and output as it sends it, the gateway charges a prompt once it has sent the request and
output as it receives it. The one window where the two can disagree is a cancel or timeout that
lands between the gateway's send and the mock's read; the 2 s cancel/timeout against a 5 s
provider delay keeps every request well clear of it, even on a loaded machine."""
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
WORKER = os.environ.get("SLUICEGATE_SOAK_WORKER", os.path.join(ROOT, "target", "debug", "examples", "soak_worker"))
WORKER_C = os.environ.get("SLUICEGATE_SOAK_C", os.path.join(ROOT, "target", "soak", "worker_c"))
HERE = os.path.dirname(os.path.abspath(__file__))
BUDGET = 1.0
CALLS_EACH = int(os.environ.get("SOAK_CALLS_EACH", "14"))
PREFIX = "soak:"
# 28 characters: 7 tokens a choice, so n choices bill exactly what their joined text estimates.
REPLY = "the quick brown fox jumps ok"
STALL_AFTER = 3
SCRIPT = {
    "gpt-4": [{"reply": REPLY}],
    "gpt-4-turbo": [{"reply": REPLY, "delay": "5s"}],
    "o1": [{"reply": REPLY, "stall_after": STALL_AFTER}],
    "gpt-4o": [{"status": 500}],
    "o3-pro": [{"reply": REPLY, "cut_after": 4}],
}
# USD per million tokens (input, output) in the built-in catalog, for the worst case.
PRICES = {"gpt-4": (30.0, 60.0), "gpt-4-turbo": (10.0, 30.0), "o1": (15.0, 60.0), "gpt-4o": (2.5, 10.0), "o3-pro": (20.0, 80.0)}
KINDS = os.environ.get("SOAK_KINDS", "plain,stream,finish_drop,stall_drop,cancel,timeout,cut,fault,embed").split(",")


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


def redis(port: int, *args: str) -> str:
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def start_mock() -> tuple:
    proc = subprocess.Popen([BIN, "mock-provider", "--port", "0", "--script", json.dumps(SCRIPT)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, line.strip().rsplit(" ", 1)[-1]


def stats(url: str) -> dict:
    with urllib.request.urlopen(url + "/_mock/stats", timeout=5) as r:
        return json.load(r)


def config(mock_url: str, redis_port: int) -> dict:
    d = lambda model: {"provider": "p", "model": model}  # noqa: E731
    return {
        "providers": {"p": {"type": "openai", "api_base": mock_url + "/v1", "api_key": "sk-soak-0000"}},
        "deployments": {"ok-d": d("gpt-4"), "slow-d": d("gpt-4-turbo"), "stall-d": d("o1"), "fault-d": d("gpt-4o"),
                        "cut-d": d("o3-pro"), "embed-d": d("text-embedding-3-large")},
        "routes": {
            "ok": {"targets": ["ok-d"], "breaker": False},
            "slow": {"targets": ["slow-d"], "breaker": False},
            "slow_timeout": {"targets": ["slow-d"], "breaker": False, "timeout": {"total": "2s"}},
            "stall": {"targets": ["stall-d"], "breaker": False},
            "cut": {"targets": ["cut-d"], "breaker": False},
            "fault": {"targets": ["fault-d", "ok-d"], "breaker": False},
            "embed": {"targets": ["embed-d"], "breaker": False},
        },
        "state": {"backend": "redis", "url": f"redis://127.0.0.1:{redis_port}/0", "prefix": PREFIX, "on_unavailable": "fail_closed", "timeout": "1s"},
        "policies": {"budgets": [{"scope": "global", "usd": BUDGET}]},
        "soak": {"kinds": KINDS, "cancel_after": 2.0, "stall_after": STALL_AFTER},
    }


def worst_case() -> float:
    """The largest reservation a call can take (docs/config.md § policies): 400 characters of
    prompt = 103 tokens x 1.5, and 16 output tokens x n = 4, on the dearest model of its route."""
    prompt = -(-103 * 3 // 2)
    return max(prompt * i / 1e6 + 64 * o / 1e6 for i, o in PRICES.values())


def main() -> None:
    redis_proc, redis_port = start_redis()
    mock, mock_url = start_mock()
    try:
        path = os.path.join(tempfile.mkdtemp(), "soak.json")
        with open(path, "w") as f:
            json.dump(config(mock_url, redis_port), f)
        py = os.path.join(ROOT, ".venv", "bin", "python")
        workers = [
            [py, os.path.join(HERE, "worker.py"), path, str(CALLS_EACH), "1"],
            ["node", os.path.join(HERE, "worker.mjs"), path, str(CALLS_EACH), "2"],
            [WORKER, path, str(CALLS_EACH), "3"],
            [WORKER_C, path, str(CALLS_EACH), "4"],
        ]
        langs = os.environ.get("SOAK_LANGS", "python,node,rust,c").split(",")
        workers = [w for w, lang in zip(workers, ["python", "node", "rust", "c"]) if lang in langs]
        started = time.time()
        procs = [subprocess.Popen(w, stdout=subprocess.PIPE, text=True) for w in workers]
        outcomes = {}
        for w, p in zip(workers, procs):
            out, _ = p.communicate(timeout=300)
            if p.returncode != 0:
                raise SystemExit(f"FAIL: worker {w[0]} exited {p.returncode}: {out}")
            line = json.loads(out.strip().splitlines()[-1])
            for kind, codes in line["outcomes"].items():
                for code, n in codes.items():
                    outcomes.setdefault(kind, {}).setdefault(code, 0)
                    outcomes[kind][code] += n
        seconds = time.time() - started
        recorded = float(redis(redis_port, "GET", f"{PREFIX}bg:0:*:total") or 0)
        left = int(redis(redis_port, "ZCARD", f"{PREFIX}bg:0:*:total:res"))
        billed = stats(mock_url)["billed"]
    finally:
        mock.kill()
        redis_proc.kill()
    worst = worst_case()
    calls = sum(sum(c.values()) for c in outcomes.values())
    print(f"soak: {calls} calls from {len(workers)} processes x 16 callers in {seconds:.1f}s")
    for kind in KINDS:
        print(f"  {kind:12} {json.dumps(outcomes.get(kind, {}), sort_keys=True)}")
    for model, b in sorted(billed["models"].items()):
        print(f"  billed {model:24} in {b['input_tokens']:7} out {b['output_tokens']:6} ${b['cost_usd']:.6f}")
    print(f"recorded ${recorded:.9f}, billed ${billed['cost_usd']:.9f}, budget ${BUDGET}, worst-case call ${worst:.6f}, reservations left {left}")
    failures = []
    if abs(recorded - billed["cost_usd"]) > 1e-7:
        failures.append(f"the gateways recorded ${recorded:.9f} but the provider billed ${billed['cost_usd']:.9f}")
    if max(recorded, billed["cost_usd"]) > BUDGET + worst + 1e-9:
        failures.append("the budget was overspent by more than one call's worst case")
    if left:
        failures.append(f"{left} reservations were never settled")
    if not any("budget_exceeded" in c for c in outcomes.values()):
        failures.append("the budget never ran out: raise SOAK_CALLS_EACH")
    for f in failures:
        print("FAIL:", f)
    print("soak: " + ("FAILED" if failures else "ok"))
    sys.exit(1 if failures else 0)


main()
