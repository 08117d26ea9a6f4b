"""Per-second aggregates of a run as NDJSON (`--out json=F`) and CSV (`--out csv=F`).

Unlike k6's `--out json` (one line per sample), these carry one line per second and
metric, so a 30-minute soak stays a few MB: `{"time": RFC3339, "t": epoch, "metric":
"http_req_duration", "values": {"count":.., "avg":.., "p(95)":..}}`. The CSV is one row per
second with the columns people chart: requests/s, failure rate, latency percentiles, VUs.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from assay.atomic import write_text_atomic
from assay.errors import UsageError
from assay.results import RunResult

CSV_COLUMNS = [
    ("http_reqs", "count", "requests"),
    ("http_req_failed", "rate", "failed_rate"),
    ("http_req_duration", "avg", "duration_avg_ms"),
    ("http_req_duration", "med", "duration_p50_ms"),
    ("http_req_duration", "p(90)", "duration_p90_ms"),
    ("http_req_duration", "p(95)", "duration_p95_ms"),
    ("http_req_duration", "p(99)", "duration_p99_ms"),
    ("http_req_duration", "max", "duration_max_ms"),
    ("http_req_corrected_duration", "p(99)", "corrected_p99_ms"),
    ("iterations", "count", "iterations"),
    ("dropped_iterations", "count", "dropped_iterations"),
    ("checks", "rate", "checks_rate"),
    ("vus", "value", "vus"),
    ("data_sent", "count", "data_sent_bytes"),
    ("data_received", "count", "data_received_bytes"),
]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def timeseries_ndjson(result: RunResult) -> str:
    lines = []
    for bucket in result.timeseries:
        for metric, values in sorted(bucket.metrics.items()):
            lines.append(json.dumps({"time": _iso(bucket.t), "t": bucket.t, "metric": metric, "values": values}, separators=(",", ":")))
    return "\n".join(lines) + ("\n" if lines else "")


def timeseries_csv(result: RunResult) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["timestamp", "time"] + [c[2] for c in CSV_COLUMNS])
    for bucket in result.timeseries:
        row: list[str] = [f"{bucket.t:.0f}", _iso(bucket.t)]
        for metric, key, _ in CSV_COLUMNS:
            v = bucket.metrics.get(metric, {}).get(key)
            row.append("" if v is None else (f"{v:.0f}" if float(v).is_integer() else f"{v:.6f}"))
        writer.writerow(row)
    return buf.getvalue()


def parse_out(spec: str) -> tuple[str, Path]:
    """`json=FILE` or `csv=FILE` (k6's --out syntax)."""
    kind, sep, target = spec.partition("=")
    kind = kind.strip().lower()
    if not sep or kind not in ("json", "csv") or not target.strip():
        raise UsageError(f"--out {spec!r}: expected json=FILE or csv=FILE")
    path = Path(target.strip())
    check_writable(path, f"--out {spec!r}")
    return kind, path


def check_writable(path: Path, what: str) -> None:
    """Refuse before the test what would fail only when its results are written."""
    if path.is_dir():
        raise UsageError(f"{what}: {str(path)!r} is a folder; expected a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{what}: the folder {str(parent)!r} does not exist")


def write_out(result: RunResult, spec: str) -> Path:
    kind, path = parse_out(spec)
    text = timeseries_ndjson(result) if kind == "json" else timeseries_csv(result)
    return write_text_atomic(path, text)
