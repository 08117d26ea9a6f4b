"""k6 `--out csv`: metric_name,timestamp,metric_value, then one column per system tag.

CSV rows carry no metric types; built-in names have known types, and a custom metric
whose samples are all 0 or 1 is read as a Rate, anything else as a Trend.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable

from assay.config import ConfigError, ConfigIssue
from assay.formats.k6_ndjson import MAX_TIMESTAMP, parse_time
from assay.formats.samples import SampleAggregator
from assay.results import Contains, MetricType, RunResult

FORMAT = "k6-csv"
HEADER_START = ["metric_name", "timestamp", "metric_value"]


def looks_like_csv(first_line: str) -> bool:
    return [c.strip() for c in first_line.split(",")[:3]] == HEADER_START


def _timestamp(text: str) -> float:
    """unix, unix_milli, unix_micro or unix_nano (by magnitude), or RFC3339."""
    try:
        value = float(text)
    except ValueError:
        return parse_time(text)
    if value > 1e17:
        return value / 1e9
    if value > 1e14:
        return value / 1e6
    if value > 1e11:
        return value / 1e3
    return value


def read_csv(lines: Iterable[str], source: str = "<csv>") -> RunResult:
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise ConfigError([ConfigIssue(source, 1, 1, (), "empty CSV file")]) from None
    if [h.strip() for h in header[:3]] != HEADER_START:
        raise ConfigError([ConfigIssue(source, 1, 1, (), f"expected a k6 CSV header starting with {','.join(HEADER_START)}")])
    tag_columns = [(i, h) for i, h in enumerate(header) if i >= 3 and h not in ("extra_tags", "metadata")]
    extra_idx = header.index("extra_tags") if "extra_tags" in header else None
    rows: list[tuple[str, float, float, dict[str, str]]] = []
    custom_values: dict[str, bool] = {}
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) < 3:
            raise ConfigError([ConfigIssue(source, lineno, 1, (), f"expected at least 3 columns, got {len(row)}")])
        try:
            t = _timestamp(row[1])
            value = float(row[2])
        except (ValueError, OverflowError) as exc:
            raise ConfigError([ConfigIssue(source, lineno, 1, (), f"bad timestamp or value: {exc}")]) from None
        if not math.isfinite(value):
            raise ConfigError([ConfigIssue(source, lineno, 1, (), f"metric_value {row[2]!r}: not a finite number")])
        if not 0 <= t <= MAX_TIMESTAMP:
            raise ConfigError([ConfigIssue(source, lineno, 1, (), f"timestamp {row[1]!r}: outside 1970-5000")])
        tags = {h: row[i] for i, h in tag_columns if i < len(row) and row[i] != ""}
        if extra_idx is not None and extra_idx < len(row) and row[extra_idx]:
            for pair in row[extra_idx].split("&"):
                k, _, v = pair.partition("=")
                if k:
                    tags[k] = v
        rows.append((row[0], t, value, tags))
        custom_values[row[0]] = custom_values.get(row[0], True) and value in (0.0, 1.0)
    agg = SampleAggregator(source, FORMAT)
    for name, all_binary in custom_values.items():
        if agg.kind_of(name) is None:
            agg.declare(name, MetricType.RATE if all_binary else MetricType.TREND, Contains.DEFAULT)
    for name, t, value, tags in rows:
        mtype, contains = agg.kind_of(name) or (MetricType.TREND, Contains.DEFAULT)
        agg.add(name, t, value, tags, mtype, contains)
    return agg.result()
