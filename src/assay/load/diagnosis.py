"""Why requests failed: the causes and endpoints behind `http_req_failed`, for the summary.

A run where every request is refused must say so: the end-of-test summary lists, as k6
users expect, the top error codes with their meaning and counts (network errors by k6
error_code, unexpected responses by HTTP status) and the endpoints that failed. Computed
from the run's sub-metrics once the workers are merged, and kept in `RunResult.extra`
so `assay results show` prints it too.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from assay.load.http.errors import MEANINGS
from assay.results import RunResult, parse_metric_name

TOP = 5


def failure_summary(result: RunResult, top: int = TOP) -> dict[str, Any] | None:
    """`{"failed", "requests", "causes": [{code, meaning, count}], "endpoints": [{name, failed, requests}]}`, or None."""
    base = result.metrics.get("http_req_failed")
    if base is None or base.passes == 0:
        return None
    causes: list[dict[str, Any]] = []
    endpoints: list[dict[str, Any]] = []
    for name, metric in result.metrics.items():
        metric_base, tags = parse_metric_name(name)
        if len(tags) != 1:
            continue
        (key, value), = tags.items()
        if metric_base == "http_reqs" and key == "error_code" and value.isdigit():
            code = int(value)
            if 1400 <= code < 1600:
                continue  # k6's code for an HTTP 4xx/5xx answer: counted by its status below
            causes.append({"code": value, "meaning": MEANINGS.get(code, "network error"), "count": int(metric.sum)})
        elif metric_base == "http_req_failed" and key == "status" and value not in ("0", "") and metric.passes:
            causes.append({"code": f"HTTP {value}", "meaning": _phrase(value), "count": metric.passes})
        elif metric_base == "http_req_failed" and key == "name" and metric.passes:
            endpoints.append({"name": value, "failed": metric.passes, "requests": metric.count})
    causes.sort(key=lambda c: -c["count"])
    endpoints.sort(key=lambda e: (-e["failed"], e["name"]))
    return {
        "failed": base.passes,
        "requests": base.count,
        "causes": causes[:top],
        "more_causes": max(0, len(causes) - top),
        "endpoints": endpoints[:top],
        "more_endpoints": max(0, len(endpoints) - top),
    }


def _phrase(status: str) -> str:
    try:
        return HTTPStatus(int(status)).phrase
    except ValueError:
        return "unexpected status"
