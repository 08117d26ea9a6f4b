"""Recommendation rules: each failure pattern gives its hint with evidence; a clean run gets none."""

from __future__ import annotations

from collections.abc import Callable

from assay.config import parse_config
from assay.results import Check, Metric, RunResult, ThresholdResult
from assay.slo.evaluate import evaluate
from assay.slo.report import Recommendation
from assay.slo.spec import SloFile

SLO = parse_config(
    """
objectives:
  - {sli: http_req_duration, aggregation: p(95), pass: ["<250"]}
  - {sli: http_req_failed, pass: ["<0.01"]}
  - {sli: http_reqs, aggregation: rate, pass: [">=9"]}
""",
    SloFile,
)


def rules(result: RunResult, spec: SloFile = SLO) -> dict[str, Recommendation]:
    return {r.rule: r for r in evaluate(spec, result).recommendations}


def test_clean_run_gets_no_recommendations(k6_run: Callable[..., RunResult]) -> None:
    result = k6_run(seconds=12, rps=10, latency=lambda t, name: 40.0)
    report = evaluate(SLO, result)
    assert report.status == "PASS"
    assert report.recommendations == []


P99 = parse_config("objectives: [{sli: http_req_duration, aggregation: p(99), pass: ['<250']}]", SloFile)


def test_tail_latency(k6_run: Callable[..., RunResult]) -> None:
    result = k6_run(seconds=10, rps=20, latency=lambda t, name: 2000.0 if int(t * 20) % 50 == 7 else 20.0)
    found = rules(result, P99)["tail-latency"]
    assert any("http_req_duration: p(99)" in e and "x the median" in e for e in found.evidence)
    assert "GC pauses" in found.hint
    assert found.objectives == ["http_req_duration p(99)"]


def test_a_passing_run_gets_no_advice_whatever_its_shape(k6_run: Callable[..., RunResult]) -> None:
    # p99 ~12 ms against a 2 ms median: a 6x tail, but 12 ms meets the objective, so there is nothing to fix.
    result = k6_run(seconds=10, rps=20, latency=lambda t, name: 12.0 if int(t * 20) % 20 == 3 else 2.0)
    assert result.stat("http_req_duration", "p(99)") > 5 * result.stat("http_req_duration", "med")
    report = evaluate(P99, result)
    assert report.status == "PASS" and report.recommendations == []
    # Errors and drops the gate does not judge give no advice either, however concentrated.
    noisy = k6_run(seconds=10, rps=10, dropped=30, status=lambda t, name, i: 503 if name == "write" and i % 10 == 1 else 200)
    assert evaluate(P99, noisy).recommendations == []


def test_the_run_s_own_crossed_threshold_is_a_reason(k6_run: Callable[..., RunResult]) -> None:
    result = k6_run(seconds=10, rps=20, latency=lambda t, name: 12.0 if int(t * 20) % 20 == 3 else 2.0)
    result.metrics["http_req_duration"].thresholds = [ThresholdResult(source="p(99)<10", ok=False)]
    found = rules(result, P99)
    assert set(found) == {"tail-latency", "thresholds-crossed"}
    assert found["tail-latency"].objectives == []


def test_evidence_lists_only_endpoints_that_failed(k6_run: Callable[..., RunResult]) -> None:
    result = k6_run(
        seconds=10, rps=10, endpoints=("search", "cart", "pay"), status=lambda t, name, i: 503 if name == "pay" and i % 2 else 200
    )
    found = rules(result)
    one = found["errors-one-endpoint"]
    assert len(one.evidence) == 1 and one.evidence[0].startswith("pay: ") and "of 33 request(s) failed" in one.evidence[0]
    assert not any(" 0 " in e or e.endswith(": 0") for r in found.values() for e in r.evidence)


def test_errors_on_one_endpoint_and_status_hints(k6_run: Callable[..., RunResult]) -> None:
    result = k6_run(
        seconds=10,
        rps=10,
        endpoints=("search", "cart", "pay"),
        status=lambda t, name, i: 503 if name == "pay" and i % 2 else (429 if i == 4 else 200),
    )
    found = rules(result)
    one = found["errors-one-endpoint"]
    assert one.title == "Errors concentrated on pay"
    assert one.evidence[0].startswith("pay: ")
    assert "http_req_failed" in one.objectives
    s503 = found["status-503"]
    assert "circuit breaker" in s503.hint and "status 503" in s503.evidence[0]
    assert "rate limit" in found["status-429"].hint


def test_dropped_iterations_with_throughput_below_target(k6_run: Callable[..., RunResult]) -> None:
    result = k6_run(seconds=10, rps=5, dropped=40)
    found = rules(result)["dropped-iterations"]
    assert found.evidence[0] == "dropped_iterations: 40 iteration(s) were planned but never started"
    assert found.objectives == ["http_reqs rate"]
    assert "preAllocatedVUs" in found.hint
    # With the throughput target met, the drops do not explain anything in this gate.
    met = k6_run(seconds=10, rps=10, dropped=2)
    assert "dropped-iterations" not in rules(met)


def test_latency_rising_over_the_run(k6_run: Callable[..., RunResult]) -> None:
    rising = k6_run(seconds=30, rps=10, latency=lambda t, name: 50.0 + 8.0 * t)
    found = rules(rising)["latency-rising"]
    assert "first third" in found.evidence[0] and "ms per minute" in found.evidence[1]
    assert "leaks" in found.hint
    flat = k6_run(seconds=30, rps=10, latency=lambda t, name: 80.0)
    assert "latency-rising" not in rules(flat)


def test_check_failures_by_name() -> None:
    result = RunResult(duration_s=10.0)
    m = Metric.builtin("http_req_failed")
    m.fails = m.count = 10
    result.metrics["http_req_failed"] = m
    result.checks = [
        Check(name="body has id", path="::create::body has id", passes=90, fails=10),
        Check(name="status is 200", path="::status is 200", passes=100, fails=0),
    ]
    checks = parse_config("objectives: [{sli: checks, pass: ['>0.99']}]", SloFile)
    found = rules(result, checks)["check-failures"]
    assert found.title == "1 check(s) failed" and found.objectives == ["checks"]
    assert found.evidence == ["check 'body has id' in ::create failed 10 of 100 (10.00%)"]
