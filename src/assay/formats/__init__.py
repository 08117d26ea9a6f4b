"""Read and write run results in assay's format and k6's, detecting the format by content.

`load_result(path)` reads assay JSON, k6 `--summary-export`, k6 handleSummary JSON,
k6 `--out json` NDJSON (optionally gzipped) and k6 `--out csv`. `save_result` writes
assay's format or either k6 summary shape, atomically.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Literal

from assay import strict
from assay.atomic import write_text_atomic
from assay.config import ConfigError, ConfigIssue, key_positions, validate_data
from assay.errors import UsageError
from assay.formats.k6_csv import looks_like_csv, read_csv
from assay.formats.k6_ndjson import looks_like_ndjson, read_ndjson
from assay.formats.k6_summary import (
    looks_like_handle_summary,
    looks_like_summary_export,
    read_handle_summary,
    read_summary_export,
    to_handle_summary,
    to_summary_export,
)
from assay.results import RunResult, SourceInfo

OutputFormat = Literal["assay", "k6-summary", "k6-handle-summary"]
OUTPUT_FORMATS: tuple[str, ...] = ("assay", "k6-summary", "k6-handle-summary")


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, expected a result file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UsageError(f"{path}: truncated or corrupt gzip ({exc})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def detect_format(text: str) -> str:
    """Name the format of a result file's text: assay, k6-summary-export, k6-handle-summary, k6-ndjson, k6-csv."""
    stripped = text.lstrip()
    first_line = stripped.split("\n", 1)[0]
    if looks_like_csv(first_line):
        return "k6-csv"
    if looks_like_ndjson(first_line) and "\n" in stripped.strip():
        return "k6-ndjson"
    if stripped.startswith("{"):
        if looks_like_ndjson(first_line):
            return "k6-ndjson"
        return "json"
    return "unknown"


def load_result(path: str | Path) -> RunResult:
    """Read any supported result file into a RunResult; bad input raises a located UsageError."""
    p = Path(path)
    text = read_text(p)
    source = str(p)
    fmt = detect_format(text)
    if fmt == "k6-csv":
        return read_csv(text.splitlines(), source)
    if fmt == "k6-ndjson":
        return read_ndjson(text.splitlines(), source)
    if fmt == "unknown":
        raise UsageError(
            f"{source}: not a result file assay knows: expected assay JSON, a k6 summary "
            "(--summary-export or handleSummary), k6 --out json NDJSON or k6 --out csv"
        )
    try:
        data = strict.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([ConfigIssue(source, exc.lineno, exc.colno, (), f"invalid JSON: {exc.msg}")]) from None
    except strict.StrictError as exc:
        raise ConfigError([ConfigIssue(source, exc.line, exc.column, (), f"invalid JSON: {exc.message}")]) from None
    return result_from_data(data, source, positions_text=text)


def result_from_data(data: Any, source: str, *, positions_text: str | None = None) -> RunResult:
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a JSON object at the top level")
    schema = data.get("schema")
    if isinstance(schema, str) and schema.startswith("assay.run/"):
        if schema != "assay.run/1":
            raise UsageError(f"{source}: result schema {schema!r} is newer than this assay understands (assay.run/1)")
        positions = key_positions(positions_text, "json") if positions_text else None
        result = validate_data(data, RunResult, source=source, positions=positions)
        check_histograms(result, source, positions or {})
        if result.source is None:
            result.source = SourceInfo(format="assay", path=source)
        return result
    if looks_like_handle_summary(data):
        return read_handle_summary(data, source)
    if looks_like_summary_export(data):
        return read_summary_export(data, source)
    raise UsageError(f"{source}: a JSON object but not a result: expected 'schema: assay.run/1' or a k6 'metrics' object")


def check_histograms(result: RunResult, source: str, positions: dict[Any, tuple[int, int]]) -> None:
    """Decode every encoded histogram once: a corrupt one is a located error now, not a crash
    (or a silently wrong percentile) in whatever reads the result next."""
    for name, metric in result.metrics.items():
        if metric.hdr:
            _decode_or_fail(metric.hdr, source, ("metrics", name, "hdr"), positions)
    for i, bucket in enumerate(result.timeseries):
        for name, encoded in bucket.hdr.items():
            _decode_or_fail(encoded, source, ("timeseries", i, "hdr", name), positions)


def _decode_or_fail(encoded: str, source: str, path: tuple[Any, ...], positions: dict[Any, tuple[int, int]]) -> None:
    from assay.results import Histogram

    try:
        hist = Histogram.decode(encoded)
        ok = hist.hdr.get_total_count() >= 0 and (
            hist.hdr.lowest_trackable_value == Histogram.LOWEST and hist.hdr.significant_figures == Histogram.DIGITS
        )
    except Exception:  # noqa: BLE001 - hdrh raises anything from binascii/zlib/struct errors to its own
        ok = False
    if not ok:
        line = col = None
        for n in range(len(path), 0, -1):
            if path[:n] in positions:
                line, col = positions[path[:n]]
                break
        raise ConfigError([ConfigIssue(source, line, col, path, "corrupt encoded histogram (expected HdrHistogram base64 as assay writes it)")])


def render_result(result: RunResult, fmt: str) -> str:
    if fmt == "assay":
        return result.to_json()
    if fmt == "k6-summary":
        return json.dumps(to_summary_export(result), indent=4)
    if fmt == "k6-handle-summary":
        return json.dumps(to_handle_summary(result), indent=4)
    raise UsageError(f"unknown output format {fmt!r}; expected one of {', '.join(OUTPUT_FORMATS)}")


def save_result(result: RunResult, path: str | Path, fmt: str = "assay") -> Path:
    """Write a result atomically in assay's format or one of k6's summary shapes."""
    return write_text_atomic(path, render_result(result, fmt) + "\n")
