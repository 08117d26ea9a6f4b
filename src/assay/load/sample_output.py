"""k6's streaming outputs: `-o json=F` (one NDJSON line per sample) and `-o csv=F` (one row per sample).

The shapes are k6's (internal/output/json and internal/output/csv): a `Metric` line before a
metric's first `Point`, then `{"type":"Point","data":{"time","value","tags"},"metric"}`; the
CSV header is `metric_name,timestamp,metric_value`, k6's indexable system tags in alphabetical
order, `extra_tags`, `metadata`. A `.gz` file name gzips the stream, as in k6.

Samples are written when the sink folds its buffers, once a second, so a sample's time is the
second it was folded in (the per-request timings themselves are exact). Each worker writes its
own part file; the coordinator joins the parts into the file the user named.

A soak must not fill the disk: each output stops at `limit` bytes (per worker share) and says
so in the run's notes (`--out-limit`, 2 GB by default); the RunResult's aggregates always
cover the whole run. Measured on this engine (GET /, 13 samples per request as k6 writes them):
2.3 kB of NDJSON, 0.96 kB of CSV and 57 B of NDJSON.gz per request, so 1,000 req/s for 30
minutes is 4.2 GB of NDJSON, 1.7 GB of CSV or 0.1 GB of json.gz. Writing NDJSON costs about a
quarter of a worker's request rate at full speed (as k6's JSON output does): use it to debug,
the RunResult for soaks.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from assay.atomic import is_special_file
from assay.errors import UsageError

KINDS = ("json", "csv", "assay")
# k6's indexable system tags that are on by default, alphabetical (the CSV columns)
CSV_TAGS = ("check", "error", "error_code", "expected_response", "group", "method", "name", "proto",
            "scenario", "service", "status", "subproto", "tls_version", "url")
CSV_HEADER = ",".join(("metric_name", "timestamp", "metric_value", *CSV_TAGS, "extra_tags", "metadata")) + "\n"
DEFAULT_LIMIT = 2 * 1000**3


def parse_out(spec: str) -> tuple[str, Path]:
    """`json=FILE`, `csv=FILE` (k6's) or `assay=FILE` (the RunResult), as `-o`/`--out` takes them."""
    kind, sep, target = spec.partition("=")
    kind = kind.strip().lower()
    if not sep:
        raise UsageError(
            f"-o {spec!r}: -o/--out takes TYPE=FILE as in k6 (json=FILE, csv=FILE, or assay=FILE for "
            "assay's RunResult JSON; --result FILE is the same as assay=FILE)"
        )
    if kind not in KINDS or not target.strip():
        raise UsageError(f"-o {spec!r}: expected json=FILE, csv=FILE or assay=FILE")
    path = Path(target.strip())
    check_writable(path, f"-o {spec!r}")
    return kind, path


def check_writable(path: Path, what: str) -> None:
    """Refuse before the test what would fail only when its results are written."""
    if path.is_dir():
        raise UsageError(f"{what}: {str(path)!r} is a folder; expected a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{what}: no folder {str(parent)!r} to write into (it does not exist)")


def parse_size(text: str) -> int:
    """`500MB`, `2GB`, `0` (no limit): bytes."""
    units = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
    raw = text.strip().lower().replace(" ", "")
    number = raw.rstrip("kmgtb")
    unit = raw[len(number):]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if value < 0 or unit not in units:
        raise UsageError(f"--out-limit {text!r}: expected a size such as 500MB or 2GB (0: no limit)")
    return int(value * units[unit])


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _num(v: float) -> str:
    return "1" if v == 1.0 else "0" if v == 0.0 else repr(v)


class SampleWriter:
    """One worker's per-sample stream in k6's NDJSON or CSV shape, bounded by `limit` bytes."""

    def __init__(self, kind: str, path: Path, limit: int = 0, types: Mapping[str, tuple[Any, Any]] | None = None,
                 thresholds: Mapping[str, list[str]] | None = None) -> None:
        self.kind = kind
        self.path = path
        self.limit = limit
        self.types = dict(types or {})
        self.thresholds = dict(thresholds or {})  # metric (base name) -> sources, as k6's Metric lines carry them
        self.written = 0
        self.samples = 0
        self.stopped_at: float | None = None
        self._declared: set[str] = set()
        self._tag_text: dict[int, tuple[Mapping[str, str], str]] = {}
        raw: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._file: Any = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) if str(path).endswith(".gz") else raw
        self._raw = raw

    # -- what the sink calls --------------------------------------------------------------------

    def write(self, metric: str, tags: Mapping[str, str], values: Sequence[float], t: float) -> None:
        """Samples of one metric with one tag set, all folded at second `t`."""
        if self.stopped_at is not None:
            return
        lines: list[str] = []
        if self.kind == "json" and metric not in self._declared:
            self._declared.add(metric)
            lines.append(self._metric_line(metric))
            # thresholds on its sub-metrics (`http_req_duration{name:item}`) travel in Metric lines of their own
            lines.extend(self._metric_line(name, metric) for name in self.thresholds if name.startswith(metric + "{"))
        values = values if isinstance(values, list) else list(values)
        if not values:
            return
        tag_text = self._tags(tags)
        # one join per metric and tag set, the numbers formatted in C: a few hundred ns a sample
        if self.kind == "json":
            head = '{"type":"Point","data":{"time":"' + _iso(t) + '","value":'
            tail = ',"tags":' + tag_text + '},"metric":"' + metric + '"}\n'
            text = head + (tail + head).join(map(_num, values)) + tail
        else:
            head = metric + "," + str(int(t)) + ","
            tail = tag_text + "\n"
            text = head + (tail + head).join(map("{:f}".format, values)) + tail
        if lines:
            text = "\n".join(lines) + "\n" + text
        data = text.encode()
        n = len(values)
        if self.limit and self.written + len(data) > self.limit:
            # the whole lines that still fit, then nothing more
            data = data[: data.rfind(b"\n", 0, self.limit - self.written) + 1]
            n = max(0, data.count(b"\n") - len(lines))
            self.stopped_at = t
        self._file.write(data)
        self.written += len(data)
        self.samples += n

    def close(self) -> None:
        self._file.close()
        if self._file is not self._raw:
            self._raw.close()

    # -- shapes -----------------------------------------------------------------------------------

    def _metric_line(self, metric: str, base: str | None = None) -> str:
        mtype, contains = self.types.get(base or metric, ("trend", "default"))
        data: dict[str, Any] = {"name": metric, "type": str(getattr(mtype, "value", mtype)), "contains": str(getattr(contains, "value", contains)),
                "thresholds": self.thresholds.get(metric, []), "submetrics": None}
        return json.dumps({"type": "Metric", "data": data, "metric": metric}, separators=(",", ":"))

    def _tags(self, tags: Mapping[str, str]) -> str:
        cached = self._tag_text.get(id(tags))
        if cached is not None and cached[0] is tags:
            return cached[1]
        clean = k6_sample_tags(tags)
        if self.kind == "json":
            text = json.dumps(clean, separators=(",", ":"), sort_keys=True)
        else:
            cols = [_csv_cell(clean.get(k, "")) for k in CSV_TAGS]
            extra = "&".join(f"{k}={v}" for k, v in sorted(clean.items()) if k not in CSV_TAGS)
            text = "," + ",".join(cols) + "," + _csv_cell(extra) + ","
        self._tag_text[id(tags)] = (tags, text)
        return text


def k6_sample_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """A sample's tags as k6 writes them: `group` also when it is the root's "", and on an HTTP
    request's samples `url` (k6 gives it the `name` tag's value: the URL, or the name the script
    set) and, when an answer came, `proto` (assay's client speaks HTTP/1.1 only)."""
    if "method" not in tags or "name" not in tags:
        return dict(tags)
    out = dict(tags)
    out.setdefault("url", tags["name"])
    if tags.get("status", "0") != "0":
        out.setdefault("proto", "HTTP/1.1")
    return out


def _csv_cell(value: str) -> str:
    if any(c in value for c in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def part_path(path: Path, worker: int) -> Path:
    """Worker `worker`'s part of `path`, beside it (the name keeps `.gz` at the end)."""
    return path.with_name(f".part{worker}.{path.name}")


def join_parts(kind: str, path: Path, parts: Sequence[Path]) -> int:
    """Concatenate the workers' part files into `path` (atomically; gzip members concatenate);
    returns the file's size. CSV gets k6's header once; NDJSON keeps one Metric line per metric."""
    in_place = is_special_file(path)  # /dev/null or a pipe: never rename over it
    tmp = path if in_place else path.with_name(f".{path.name}.tmp{os.getpid()}")
    gz = str(path).endswith(".gz")
    declared: set[str] = set()
    with open(tmp, "wb") as out:
        if kind == "csv":
            head = CSV_HEADER.encode()
            out.write(gzip.compress(head, compresslevel=1) if gz else head)
        for part in parts:
            if not part.exists():
                continue
            if kind == "json" and len(parts) > 1:
                # drop Metric lines another worker already declared (streamed: parts may be GBs)
                sink: Any = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) if gz else out
                with (gzip.open(part, "rb") if gz else open(part, "rb")) as fh:
                    for line in fh:
                        if line.startswith(b'{"type":"Metric"'):
                            name = json.loads(line)["metric"]
                            if name in declared:
                                continue
                            declared.add(name)
                        sink.write(line)
                if sink is not out:
                    sink.close()
            else:
                with open(part, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        out.write(chunk)
            part.unlink()
        out.flush()
        if not in_place:
            os.fsync(out.fileno())
    if in_place:
        return 0
    os.replace(tmp, path)
    return path.stat().st_size
