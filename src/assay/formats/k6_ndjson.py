"""k6 `--out json` NDJSON: Metric lines declare a metric once, Point lines carry samples."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from assay import strict
from assay.config import ConfigError, ConfigIssue
from assay.formats.samples import SampleAggregator
from assay.results import Contains, MetricType, RunResult

FORMAT = "k6-ndjson"
MAX_TIMESTAMP = 95_617_584_000.0  # 5000-01-01: later (or before 1970) is not a k6 sample time


def parse_time(text: str) -> float:
    """RFC3339 with up to nanoseconds (k6's `time`) -> unix seconds."""
    s = text.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    # Python 3.11 parses at most 6 fractional digits: trim nanoseconds.
    if "." in s:
        head, _, rest = s.partition(".")
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        s = f"{head}.{digits[:6].ljust(6, '0')}{rest[i:]}"
    t = datetime.fromisoformat(s).timestamp()
    if not 0 <= t <= MAX_TIMESTAMP:
        raise ValueError(f"time {text!r} is outside 1970-5000")
    return t


def looks_like_ndjson(first_line: str) -> bool:
    if not first_line.startswith("{"):
        return False
    try:
        strict.check_depth(first_line)
        obj = json.loads(first_line)
    except (ValueError, RecursionError):  # JSONDecodeError and StrictError are ValueErrors
        return False
    return isinstance(obj, dict) and obj.get("type") in ("Metric", "Point") and "data" in obj


def read_ndjson(lines: Iterable[str], source: str = "<ndjson>") -> RunResult:
    agg = SampleAggregator(source, FORMAT)
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            obj = strict.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError([ConfigIssue(source, lineno, exc.colno, (), f"invalid JSON line: {exc.msg}")]) from None
        except strict.StrictError as exc:
            raise ConfigError([ConfigIssue(source, lineno, exc.column, (), f"invalid JSON line: {exc.message}")]) from None
        if not isinstance(obj, dict):
            raise ConfigError([ConfigIssue(source, lineno, 1, (), "expected a JSON object per line")])
        kind = obj.get("type")
        data = obj.get("data") or {}
        name = obj.get("metric") or data.get("name")
        if not name:
            raise ConfigError([ConfigIssue(source, lineno, 1, ("metric",), "line has no metric name")])
        try:
            if kind == "Metric":
                mtype = MetricType(data.get("type", "trend"))
                contains = Contains(data.get("contains", "default"))
                agg.declare(name, mtype, contains, list(data.get("thresholds") or []))
                for sub in data.get("submetrics") or []:
                    if sub.get("name"):
                        agg.declare(sub["name"], mtype, contains)
            elif kind == "Point":
                known = agg.kind_of(name) or (MetricType.TREND, Contains.DEFAULT)
                tags = {str(k): str(v) for k, v in (data.get("tags") or {}).items()}
                agg.add(name, parse_time(data["time"]), float(data["value"]), tags, known[0], known[1])
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigError([ConfigIssue(source, lineno, 1, ("data",), f"malformed {kind} line: {exc}")]) from None
    return agg.result()
