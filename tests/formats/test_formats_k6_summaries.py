"""k6 summary files: both shapes read to the same numbers, verdicts survive, round trips hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.formats import detect_format, load_result, render_result
from assay.formats.k6_summary import to_handle_summary, to_summary_export
from assay.report.console import render_summary

EXPORT = "k6-summary-export.sample.json"
HANDLE = "k6-handle-summary.sample.json"


def test_both_shapes_hold_the_same_numbers(reference_dir: Path) -> None:
    export = load_result(reference_dir / EXPORT)
    handle = load_result(reference_dir / HANDLE)
    assert export.source and export.source.format == "k6-summary-export"
    assert handle.source and handle.source.format == "k6-handle-summary"
    assert set(export.metrics) == set(handle.metrics)
    for name in export.metrics:
        assert export.values(name) == pytest.approx(handle.values(name)), name
    assert export.duration_s == pytest.approx(handle.duration_s, rel=1e-9)
    assert {(c.path, c.passes, c.fails) for c in export.checks} == {(c.path, c.passes, c.fails) for c in handle.checks}


def test_inverted_threshold_booleans_are_read_right(reference_dir: Path) -> None:
    for f in (EXPORT, HANDLE):
        result = load_result(reference_dir / f)
        failed = [(n, t.source) for n, t in result.failed_thresholds()]
        assert failed == [("http_req_duration{name:GET /items}", "p(95)<300")], f
        assert result.status.value == "failed"
        verdicts = {(n, t.source): t.ok for n, t in result.thresholds()}
        assert verdicts[("http_req_failed", "rate<0.01")] is True


def test_summary_table_marks_the_failed_threshold_in_both(reference_dir: Path) -> None:
    tables = []
    for f in (EXPORT, HANDLE):
        text = render_summary(load_result(reference_dir / f))
        assert "✗ http_req_duration{name:GET /items}: 'p(95)<300' p(95)=381.07ms" in text
        assert "✓ http_req_failed: 'rate<0.01'" in text
        tables.append(text.split("\n", 1)[1])  # drop the header naming the file
    assert tables[0] == tables[1]


def test_summary_export_round_trip_is_exact(reference_dir: Path) -> None:
    original = json.loads((reference_dir / EXPORT).read_text())
    again = to_summary_export(load_result(reference_dir / EXPORT))
    assert again["root_group"] == original["root_group"]
    assert set(again["metrics"]) == set(original["metrics"])
    for name, values in original["metrics"].items():
        got = dict(again["metrics"][name])
        assert got.pop("thresholds", None) == values.pop("thresholds", None), name
        assert got == pytest.approx(values), name


def test_handle_summary_round_trip_keeps_metrics_and_verdicts(reference_dir: Path) -> None:
    original = json.loads((reference_dir / HANDLE).read_text())
    again = to_handle_summary(load_result(reference_dir / HANDLE))
    assert again["options"]["summaryTrendStats"] == original["options"]["summaryTrendStats"]
    assert again["state"]["testRunDurationMs"] == pytest.approx(original["state"]["testRunDurationMs"])
    for name, body in original["metrics"].items():
        assert again["metrics"][name]["type"] == body["type"]
        assert again["metrics"][name]["contains"] == body["contains"]
        assert again["metrics"][name]["values"] == pytest.approx(body["values"]), name
        assert again["metrics"][name].get("thresholds") == body.get("thresholds"), name
    groups = {g["name"]: g for g in again["root_group"]["groups"]}
    assert groups["browse"]["checks"][0]["id"] == "7e71c4b92e8ad013e5a5168761aa9022"


def test_cross_conversion_export_to_handle_summary(reference_dir: Path, tmp_path: Path) -> None:
    handle_text = render_result(load_result(reference_dir / EXPORT), "k6-handle-summary")
    path = tmp_path / "converted.json"
    path.write_text(handle_text)
    assert detect_format(handle_text) == "json"
    converted = load_result(path)
    assert converted.source and converted.source.format == "k6-handle-summary"
    original = load_result(reference_dir / HANDLE)
    for name in original.metrics:
        assert converted.values(name) == pytest.approx(original.values(name)), name


def test_assay_format_round_trip(reference_dir: Path, tmp_path: Path) -> None:
    result = load_result(reference_dir / HANDLE)
    path = tmp_path / "run.json"
    path.write_text(result.to_json())
    back = load_result(path)
    assert json.loads(back.to_json())["schema"] == "assay.run/1"
    for name in result.metrics:
        assert back.values(name) == result.values(name)
    assert [t.model_dump() for _, t in back.thresholds()] == [t.model_dump() for _, t in result.thresholds()]
