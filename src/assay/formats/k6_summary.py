"""k6 end-of-test summaries: `--summary-export` and `handleSummary(data)` JSON, both ways.

The two shapes carry the same numbers differently: the export flattens `values`,
renames a Rate's `rate` to `value`, keeps groups and checks as maps, and stores each
threshold as a boolean where **true means failed** (k6#1498). Reading and writing both
keeps tools written for k6 working on assay results.
"""

from __future__ import annotations

import hashlib
from typing import Any

from assay.errors import UsageError
from assay.results import (
    BUILTIN_METRICS,
    Check,
    Contains,
    Metric,
    MetricType,
    RunResult,
    RunStatus,
    SourceInfo,
    ThresholdResult,
    parse_metric_name,
)

HANDLE_SUMMARY = "k6-handle-summary"
SUMMARY_EXPORT = "k6-summary-export"


def looks_like_handle_summary(data: dict[str, Any]) -> bool:
    metrics = data.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        return "state" in data and "options" in data
    sample = next(iter(metrics.values()))
    return isinstance(sample, dict) and "values" in sample and "type" in sample


def looks_like_summary_export(data: dict[str, Any]) -> bool:
    return isinstance(data.get("metrics"), dict) and not looks_like_handle_summary(data)


# -- reading ------------------------------------------------------------------------------------


def read_handle_summary(data: dict[str, Any], source: str = "<handleSummary>") -> RunResult:
    metrics_in = _mapping(data, "metrics", source)
    duration_ms = float(data.get("state", {}).get("testRunDurationMs") or 0.0)
    trend_stats = list(data.get("options", {}).get("summaryTrendStats") or [])
    result = RunResult(name=source, tool="k6", duration_s=duration_ms / 1000.0, source=SourceInfo(format=HANDLE_SUMMARY, path=source))
    if trend_stats:
        result.trend_stats = trend_stats
    for name, body in metrics_in.items():
        if not isinstance(body, dict) or "type" not in body:
            raise UsageError(f"{source}: metrics.{name}: expected an object with 'type' and 'values'")
        try:
            mtype = MetricType(body["type"])
        except ValueError:
            raise UsageError(f"{source}: metrics.{name}.type: expected counter, gauge, rate or trend, got {body['type']!r}") from None
        metric = _metric_from_values(name, mtype, Contains(body.get("contains", "default")), body.get("values") or {})
        for expr, verdict in (body.get("thresholds") or {}).items():
            ok = verdict.get("ok") if isinstance(verdict, dict) else None
            metric.thresholds.append(ThresholdResult(source=expr, ok=ok))
        result.metrics[name] = metric
    result.checks = _checks_from_group(data.get("root_group") or {}, lists=True)
    if "setup_data" in data:
        result.extra["setup_data"] = data["setup_data"]
    result.status = RunStatus.FAILED if result.failed_thresholds() else RunStatus.PASSED
    return result


def read_summary_export(data: dict[str, Any], source: str = "<summary-export>") -> RunResult:
    metrics_in = _mapping(data, "metrics", source)
    result = RunResult(name=source, tool="k6", source=SourceInfo(format=SUMMARY_EXPORT, path=source))
    trend_keys: list[str] = []
    for name, flat in metrics_in.items():
        if not isinstance(flat, dict):
            raise UsageError(f"{source}: metrics.{name}: expected an object of values")
        values = {k: v for k, v in flat.items() if k != "thresholds"}
        mtype, contains = _infer_type(name, values)
        if mtype is MetricType.RATE:
            values = {"rate": values.get("value"), "passes": values.get("passes", 0), "fails": values.get("fails", 0)}
        elif mtype is MetricType.TREND:
            trend_keys += [k for k in values if k not in trend_keys]
        metric = _metric_from_values(name, mtype, contains, values)
        for expr, failed in (flat.get("thresholds") or {}).items():
            metric.thresholds.append(ThresholdResult(source=expr, ok=not bool(failed)))
        result.metrics[name] = metric
    if trend_keys:
        result.trend_stats = trend_keys
    result.duration_s = _duration_from_counters(result)
    result.checks = _checks_from_group(data.get("root_group") or {}, lists=False)
    result.status = RunStatus.FAILED if result.failed_thresholds() else RunStatus.PASSED
    return result


def _mapping(data: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise UsageError(f"{source}: expected a {key!r} object at the top level")
    return value


def _infer_type(name: str, values: dict[str, Any]) -> tuple[MetricType, Contains]:
    base, _ = parse_metric_name(name)
    if base in BUILTIN_METRICS:
        return BUILTIN_METRICS[base]
    keys = set(values)
    if {"passes", "fails"} <= keys:
        return MetricType.RATE, Contains.DEFAULT
    if keys <= {"count", "rate"}:
        return MetricType.COUNTER, Contains.DEFAULT
    if keys <= {"value", "min", "max"}:
        return MetricType.GAUGE, Contains.DEFAULT
    return MetricType.TREND, Contains.DEFAULT


def _metric_from_values(name: str, mtype: MetricType, contains: Contains, values: dict[str, Any]) -> Metric:
    _, tags = parse_metric_name(name)
    m = Metric(type=mtype, contains=contains, tags=tags)
    if mtype is MetricType.COUNTER:
        m.sum = float(values.get("count") or 0.0)
        if values.get("rate") is not None:
            m.summary["rate"] = float(values["rate"])
    elif mtype is MetricType.RATE:
        m.passes = int(values.get("passes") or 0)
        m.fails = int(values.get("fails") or 0)
        m.count = m.passes + m.fails
    elif mtype is MetricType.GAUGE:
        m.value = _num(values.get("value"))
        m.min = _num(values.get("min"))
        m.max = _num(values.get("max"))
    else:
        m.min = _num(values.get("min"))
        m.max = _num(values.get("max"))
        m.summary = {k: float(v) for k, v in values.items() if isinstance(v, int | float) and k not in ("min", "max")}
    return m


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) else None


def _duration_from_counters(result: RunResult) -> float:
    """The export has no test duration; a counter's count/rate gives it back."""
    for name in ("iterations", "http_reqs", *result.metrics):
        m = result.metrics.get(name)
        if m is not None and m.type is MetricType.COUNTER and m.summary.get("rate"):
            return m.sum / m.summary["rate"]
    return 0.0


def _checks_from_group(group: dict[str, Any], *, lists: bool) -> list[Check]:
    out: list[Check] = []
    checks = group.get("checks") or ([] if lists else {})
    for c in checks if isinstance(checks, list) else checks.values():
        out.append(Check(name=c["name"], path=c.get("path", ""), passes=int(c.get("passes", 0)), fails=int(c.get("fails", 0))))
    groups = group.get("groups") or ([] if lists else {})
    for g in groups if isinstance(groups, list) else groups.values():
        out += _checks_from_group(g, lists=lists)
    return out


# -- writing ------------------------------------------------------------------------------------


def to_handle_summary(result: RunResult) -> dict[str, Any]:
    """The object k6 passes to handleSummary(data)."""
    metrics: dict[str, Any] = {}
    for name in sorted(result.metrics):
        m = result.metrics[name]
        body: dict[str, Any] = {"type": m.type.value, "contains": m.contains.value, "values": result.values(name)}
        if m.thresholds:
            body["thresholds"] = {t.source: {"ok": t.ok is not False} for t in m.thresholds}
        metrics[name] = body
    out: dict[str, Any] = {
        "root_group": _group_tree(result.checks, lists=True),
        "options": {"summaryTrendStats": list(result.trend_stats), "summaryTimeUnit": "", "noColor": False},
        "state": {"isStdOutTTY": False, "isStdErrTTY": False, "testRunDurationMs": result.duration_s * 1000.0},
        "metrics": metrics,
    }
    if "setup_data" in result.extra:
        out["setup_data"] = result.extra["setup_data"]
    return out


def to_summary_export(result: RunResult) -> dict[str, Any]:
    """The `--summary-export` file (thresholds stored inverted: true means failed)."""
    metrics: dict[str, Any] = {}
    for name in sorted(result.metrics):
        m = result.metrics[name]
        values: dict[str, Any] = dict(result.values(name))
        if m.type is MetricType.RATE:
            values = {"value": values.get("rate", 0.0), "passes": m.passes, "fails": m.fails}
        elif m.type is MetricType.COUNTER and m.sum.is_integer():
            values["count"] = int(m.sum)
        if m.thresholds:
            values["thresholds"] = {t.source: t.ok is False for t in m.thresholds}
        metrics[name] = values
    return {"root_group": _group_tree(result.checks, lists=False), "metrics": metrics}


def group_id(path: str) -> str:
    return hashlib.md5(path.encode("utf-8")).hexdigest()  # noqa: S324 - k6's id, not security


def _group_tree(checks: list[Check], *, lists: bool) -> dict[str, Any]:
    def new_group(name: str, path: str) -> dict[str, Any]:
        return {"name": name, "path": path, "id": group_id(path), "groups": {}, "checks": {}}

    root = new_group("", "")
    for c in checks:
        node = root
        group_path = c.group_path
        names = [p for p in group_path.split("::") if p] if group_path else []
        path = ""
        for part in names:
            path += "::" + part
            node = node["groups"].setdefault(part, new_group(part, path))
        check_path = c.path or f"{group_path}::{c.name}"
        node["checks"][c.name] = {
            "name": c.name,
            "path": check_path,
            "id": group_id(check_path),
            "passes": c.passes,
            "fails": c.fails,
        }

    def finish(node: dict[str, Any]) -> dict[str, Any]:
        groups = {k: finish(v) for k, v in node["groups"].items()}
        out = {k: node[k] for k in ("name", "path", "id")}
        if lists:
            out["groups"] = list(groups.values())
            out["checks"] = list(node["checks"].values())
        else:
            out["groups"] = groups
            out["checks"] = node["checks"]
        return out

    return finish(root)
