"""k6 NDJSON and CSV samples: trends from points, tags as sub-metrics, checks, buckets."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from k6_gen_formats import generate, k6_percentile, to_csv, to_ndjson

from assay.config import ConfigError
from assay.formats import load_result

HDR_REL = 1e-3  # three significant digits


@pytest.fixture(scope="module")
def generated():  # type: ignore[no-untyped-def]
    return generate(seconds=30, rps=60)


@pytest.fixture(scope="module")
def ndjson_path(generated, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("k6") / "out.json"
    path.write_text(to_ndjson(generated))
    return path


def test_ndjson_counts_and_trends(generated, ndjson_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = load_result(ndjson_path)
    assert result.source and result.source.format == "k6-ndjson"
    durations = generated.values("http_req_duration")
    assert len(durations) == 1800
    assert result.stat("http_reqs", "count") == 1800
    assert result.stat("http_req_duration", "count") == 1800
    assert result.stat("http_req_duration", "avg") == pytest.approx(sum(durations) / len(durations))
    assert result.stat("http_req_duration", "min") == pytest.approx(min(durations))
    assert result.stat("http_req_duration", "max") == pytest.approx(max(durations))
    for p in (50, 90, 95, 99):
        assert result.stat("http_req_duration", f"p({p})") == pytest.approx(k6_percentile(durations, p), rel=0.02)
    failed = generated.values("http_req_failed")
    assert result.stat("http_req_failed", "rate") == pytest.approx(sum(failed) / len(failed))
    assert result.stat("data_received", "count") == sum(generated.values("data_received"))
    assert result.metrics["data_received"].contains.value == "data"
    assert result.stat("vus", "max") == 11
    # a custom trend declared by its Metric line
    assert result.metrics["cart_value"].type.value == "trend"
    assert result.stat("cart_value", "count") == len(generated.values("cart_value"))


def test_ndjson_tags_become_submetrics(generated, ndjson_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = load_result(ndjson_path)
    for name in ("list", "create", "update", "delete"):
        key = f"http_req_duration{{name:{name}}}"
        assert result.stat(key, "count") == len(generated.values("http_req_duration", name=name))
    assert result.stat("http_req_duration{status:503}", "count") == len(generated.values("http_req_duration", status="503"))
    assert result.stat("http_req_duration{method:POST}", "count") == len(generated.values("http_req_duration", method="POST"))
    assert "http_req_duration{expected_response:true}" in result.metrics
    assert not any(n.startswith("http_req_duration{url:") for n in result.metrics)
    create = generated.values("http_req_duration", name="create")
    assert result.stat("http_req_duration{name:create}", "p(95)") == pytest.approx(k6_percentile(create, 95), rel=0.02)


def test_ndjson_checks_and_thresholds(generated, ndjson_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = load_result(ndjson_path)
    checks = {c.path: c for c in result.checks}
    assert set(checks) == {"::api::list ok", "::api::create ok", "::api::update ok", "::api::delete ok"}
    assert sum(c.passes + c.fails for c in checks.values()) == 1800
    verdicts = {(n, t.source): t.ok for n, t in result.thresholds()}
    assert verdicts[("http_req_duration", "p(95)<300")] is True
    assert verdicts[("http_req_duration", "p(99)<5")] is False
    assert verdicts[("http_req_failed", "rate<0.05")] is True
    assert "http_req_duration{name:create}" in result.metrics  # declared in the Metric line's submetrics
    assert result.status.value == "failed"


def test_ndjson_time_series_adds_up(generated, ndjson_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = load_result(ndjson_path)
    assert len(result.timeseries) == 30
    assert sum(b.metrics["http_reqs"]["count"] for b in result.timeseries) == 1800
    assert all("http_req_duration" in b.hdr for b in result.timeseries)
    assert result.duration_s == pytest.approx(30, abs=1.1)


def test_gzipped_ndjson(generated, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "out.json.gz"
    path.write_bytes(gzip.compress(to_ndjson(generated).encode()))
    assert load_result(path).stat("http_reqs", "count") == 1800


@pytest.mark.parametrize("time_format", ["unix_micro", "rfc3339"])
def test_csv_matches_ndjson(generated, ndjson_path: Path, tmp_path: Path, time_format: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "out.csv"
    path.write_text(to_csv(generated, time_format))
    from_csv = load_result(path)
    from_ndjson = load_result(ndjson_path)
    assert from_csv.source and from_csv.source.format == "k6-csv"
    for name in ("http_reqs", "http_req_duration", "http_req_failed", "http_req_duration{name:create}", "checks"):
        assert from_csv.values(name) == pytest.approx(from_ndjson.values(name), rel=1e-6), name
    assert from_csv.metrics["cart_value"].type.value == "trend"
    assert len(from_csv.checks) == 4


def test_malformed_ndjson_line_is_located(generated, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lines = to_ndjson(generated).splitlines()
    lines[5] = lines[5][:20]
    path = tmp_path / "broken.json"
    path.write_text("\n".join(lines))
    with pytest.raises(ConfigError) as err:
        load_result(path)
    assert err.value.message.startswith(f"{path}:6:")


def test_the_http_timing_phases_are_one_list_for_the_reader_and_the_load_engine(ndjson_path: Path) -> None:
    """k6's six request phases are named once (formats.samples); the load engine's per-request
    columns are those phases, then the duration and the corrected duration, as before."""
    from assay.formats import samples
    from assay.load import sink_series

    assert sink_series.HTTP_TRENDS[:6] == samples.HTTP_TIMING_PHASES
    assert sink_series.HTTP_TRENDS == (
        "http_req_blocked", "http_req_connecting", "http_req_tls_handshaking", "http_req_sending", "http_req_waiting",
        "http_req_receiving", "http_req_duration", "http_req_corrected_duration")
    assert sink_series.HTTP_TRENDS[sink_series.DURATION_COL] == "http_req_duration"
    assert sink_series.HTTP_TRENDS[sink_series.CORRECTED_COL] == sink_series.CORRECTED
    # the reader's rule is unchanged: a phase gets no per-tag sub-metrics, the duration does
    result = load_result(ndjson_path)
    assert "http_req_waiting" in result.metrics and not any(n.startswith("http_req_waiting{") for n in result.metrics)
    assert "http_req_duration{name:create}" in result.metrics
