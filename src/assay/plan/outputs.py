"""Reading back what steps wrote: JUnit XML test cases, the JSON a command printed, the
numbers of a load result and the timeline of a chaos journal; and labelling each result with
the plan, stage and step so the trend store groups nights."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

from assay.plan.context import StepContext
from assay.plan.model import StepBase
from assay.plan.outcome import TestCase


def load_details(result: Any) -> dict[str, Any]:
    """The numbers the report shows for a load step."""
    keys = {"http_req_duration": ("avg", "p(95)", "p(99)", "max"), "http_reqs": ("count", "rate"),
            "http_req_failed": ("rate",), "iterations": ("count",)}
    out: dict[str, Any] = {"duration_s": result.duration_s, "status": str(result.status)}
    for metric, stats in keys.items():
        if result.metric(metric) is not None:
            out[metric] = {k: result.stat(metric, k) for k in stats}
    return out


def chaos_timeline(journal: dict[str, Any]) -> list[dict[str, Any]]:
    """Each activity with its start/end relative to the experiment's start (for the report's timeline)."""
    from datetime import datetime

    def at(text: Any) -> float | None:
        try:
            return datetime.fromisoformat(str(text)).timestamp()
        except ValueError:
            return None

    t0 = at(journal.get("start"))
    rows: list[dict[str, Any]] = []
    states = journal.get("steady_states") or {}
    entries = [("hypothesis before", r) for r in ((states.get("before") or {}).get("probes") or [])]
    entries += [("method", r) for r in journal.get("run") or []]
    entries += [("hypothesis after", r) for r in ((states.get("after") or {}).get("probes") or [])]
    entries += [("rollback", r) for r in journal.get("rollbacks") or []]
    for phase, run in entries:
        act = run.get("activity") or {}
        start, end = at(run.get("start")), at(run.get("end"))
        if t0 is None or start is None:
            continue
        rows.append({"phase": phase, "name": act.get("name", "?"), "type": act.get("type", "?"),
                     "status": run.get("status"), "start_s": start - t0, "end_s": (end or start) - t0})
    return rows


def last_json_object(log: Path) -> dict[str, Any] | None:
    """The last top-level JSON object printed in a log (a command's --output json)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    decoder = json.JSONDecoder()
    found = None
    i = text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            found = obj
        i = text.find("{", end)
    return found


def read_junit(path: Path, quarantine: list[str]) -> list[TestCase]:
    """Test cases of a JUnit XML file (pytest's, k6's, assay's); scenario ids from <property name="scenario">."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return []
    out: list[TestCase] = []
    for case in root.iter("testcase"):
        name = case.get("name", "?")
        classname = case.get("classname", "")
        status = "passed"
        message = ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                status = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = node.get("message") or (node.text or "")
                break
        scenarios = [p.get("value", "") for p in case.iter("property") if p.get("name") == "scenario"]
        full = f"{classname}.{name}" if classname else name
        quarantined = any(fnmatch.fnmatch(full, q) or fnmatch.fnmatch(name, q) for q in quarantine)
        try:
            duration = float(case.get("time") or 0)
        except ValueError:
            duration = 0.0
        out.append(TestCase(name=name, classname=classname, status=status, duration_s=duration,  # type: ignore[arg-type]
                            message=message.strip()[:500], scenarios=[s for s in scenarios if s], quarantined=quarantined))
    return out


def label_result(path: Path, ctx: StepContext, step: StepBase) -> None:
    """Label a step's RunResult with the plan, stage, step and matrix, so the trend store groups nights."""
    from assay.formats import load_result

    try:
        result = load_result(path)
    except Exception:  # an unreadable file stays as it is; the report links it
        return
    labels = {**ctx.labels, "plan": ctx.plan_name, "stage": ctx.stage, "step": step.name}
    result.labels = {**labels, **result.labels}
    result.labels.setdefault("scenario", f"{ctx.plan_name}.{ctx.stage_key}.{step.name}")
    result.save(path)


__all__ = ["chaos_timeline", "label_result", "last_json_object", "load_details", "read_junit"]
