"""metrics_text() read back by the real Prometheus client parser."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Tuple

import pytest

import sluicegate
from conftest import HI, embed_config

parser = pytest.importorskip("prometheus_client.parser")

Labels = Tuple[Tuple[str, str], ...]


def samples(text: str) -> Dict[str, Dict[str, Any]]:
    """family name -> {"type": ..., "samples": {(sample name, sorted labels): value}}."""
    out: Dict[str, Dict[str, Any]] = {}
    for family in parser.text_string_to_metric_families(text):
        values: Dict[Tuple[str, Labels], float] = {}
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in values, f"duplicate sample {key}"
            values[key] = s.value
        out[family.name] = {"type": family.type, "samples": values}
    return out


def histogram(family: Dict[str, Any], **labels: str) -> Dict[str, Any]:
    """One series of a histogram family: its cumulative buckets, sum and count."""
    want = tuple(sorted(labels.items()))
    buckets: List[Tuple[float, float]] = []
    found: Dict[str, Any] = {}
    for (name, sample_labels), value in family["samples"].items():
        rest = tuple((k, v) for k, v in sample_labels if k != "le")
        if rest != want:
            continue
        if name.endswith("_bucket"):
            buckets.append((float(dict(sample_labels)["le"]), value))
        else:
            found[name.rsplit("_", 1)[1]] = value
    assert buckets, f"no series {labels} in {sorted(set(l for _, l in family['samples']))}"
    buckets.sort()
    counts = [c for _, c in buckets]
    assert counts == sorted(counts), f"buckets are not cumulative: {buckets}"
    assert math.isinf(buckets[-1][0]) and buckets[-1][1] == found["count"]
    found["buckets"] = buckets
    return found


def test_metrics_parse_with_the_prometheus_client() -> None:
    gw = sluicegate.Gateway(embed_config())
    answers = [gw.chat.completions.create(model="chat", messages=HI, tags={"team": "a"}) for _ in range(3)]
    stream = gw.chat.completions.create(model="chat", messages=HI, stream=True)
    assert list(stream) and stream.gateway is not None
    embedded = gw.embeddings.create(model="embed", input=["one", "two"])
    with pytest.raises(sluicegate.NotFoundError):
        gw.chat.completions.create(model="missing", messages=HI)

    metrics = samples(gw.metrics_text())
    chat = dict(gen_ai_operation_name="chat", gen_ai_provider_name="sluicegate.mock", gen_ai_request_model="gpt-4o-mini")
    gateways = [a.gateway for a in answers] + [stream.gateway]

    duration = metrics["gen_ai_client_operation_duration_seconds"]
    assert duration["type"] == "histogram"
    ok = histogram(duration, **chat)
    assert ok["count"] == 4
    # Seconds (not milliseconds), and the same latencies the calls reported.
    assert ok["sum"] == pytest.approx(sum(g.latency_ms for g in gateways) / 1000, abs=0.002)
    assert ok["sum"] > 0
    failed = histogram(duration, gen_ai_operation_name="chat", gen_ai_provider_name="_OTHER",
                       gen_ai_request_model="", error_type="not_found")
    assert failed["count"] == 1
    emb = histogram(duration, gen_ai_operation_name="embeddings", gen_ai_provider_name="sluicegate.mock",
                    gen_ai_request_model="text-embedding-3-small")
    assert emb["count"] == 1

    tokens = metrics["gen_ai_client_token_usage"]
    assert tokens["type"] == "histogram"
    given = histogram(tokens, **chat, gen_ai_token_type="input")
    produced = histogram(tokens, **chat, gen_ai_token_type="output")
    assert given["count"] == produced["count"] == 4
    assert given["sum"] == sum(g.usage.input_tokens for g in gateways) > 0
    assert produced["sum"] == sum(g.usage.output_tokens for g in gateways) > 0
    # Each bucket counts the calls with at most `le` tokens.
    for series, field in ((given, "input_tokens"), (produced, "output_tokens")):
        for le, count in series["buckets"]:
            assert count == sum(getattr(g.usage, field) <= le for g in gateways), (field, le, series["buckets"])
    emb_tokens = histogram(tokens, gen_ai_operation_name="embeddings", gen_ai_provider_name="sluicegate.mock",
                           gen_ai_request_model="text-embedding-3-small", gen_ai_token_type="input")
    assert emb_tokens["sum"] == embedded.gateway.usage.input_tokens

    requests = metrics["sluicegate_requests"]  # the parser names counter families without _total
    assert requests["type"] == "counter"
    assert requests["samples"] == {
        ("sluicegate_requests_total", (("deployment", "mini"), ("outcome", "ok"), ("route", "chat"))): 4.0,
        ("sluicegate_requests_total", (("deployment", "emb"), ("outcome", "ok"), ("route", "embed"))): 1.0,
        ("sluicegate_requests_total", (("deployment", ""), ("outcome", "not_found"), ("route", "unknown"))): 1.0,
    }
