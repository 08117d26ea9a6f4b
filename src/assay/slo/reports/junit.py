"""JUnit XML for CI test UIs: one testsuite per result, one testcase per objective.

FAIL and CRITICAL objectives are <failure>s; an objective without a value is an <error>
(the SLI could not be measured); WARNING passes with the warning in <system-out>.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from assay.slo.criteria import format_value
from assay.slo.report import ObjectiveResult, SloCheck, SloReport
from assay.slo.reports.common import delta_text, explanation, value_text


def _timestamp(report: SloReport) -> str:
    when = report.result.started_at or report.evaluated_at
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def _case(suite: ET.Element, report: SloReport, o: ObjectiveResult) -> None:
    case = ET.SubElement(suite, "testcase", name=o.title, classname=f"slo.{report.slo}", time="0")
    detail = (
        f"value: {value_text(o)}\ntarget: {o.target or 'info only'}\nbaseline: {delta_text(o)}\n"
        f"priority: {o.priority}{' (key)' if o.key else ''}\nweight: {o.weight}, score: {o.score:g}\n"
    )
    if o.notes:
        detail += "".join(f"note: {n}\n" for n in o.notes)
    if o.status == "FAIL" and o.value is None:
        node = ET.SubElement(case, "error", message=explanation(o), type="NoValue")
        node.text = detail
    elif o.status == "FAIL":
        node = ET.SubElement(case, "failure", message=f"{o.code}: {explanation(o)}", type=o.code)
        node.text = detail


def render(check: SloCheck) -> str:
    root = ET.Element("testsuites", name=f"assay slo {check.slo}")
    host = socket.gethostname() or "localhost"
    for index, report in enumerate(check.evaluations):
        failures = sum(1 for o in report.objectives if o.status == "FAIL" and o.value is not None)
        errors = sum(1 for o in report.objectives if o.status == "FAIL" and o.value is None)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{report.slo}: {report.result.source or report.result.name}",
            package="assay.slo",
            id=str(index),
            tests=str(len(report.objectives)),
            failures=str(failures),
            errors=str(errors),
            skipped="0",
            time=f"{report.result.duration_s:.3f}",
            timestamp=_timestamp(report),
            hostname=host,
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("status", report.status),
            ("score", format_value(report.score)),
            ("score_status", report.score_status),
            ("total_score.pass", format_value(report.total_score["pass"])),
            ("total_score.warning", format_value(report.total_score["warning"])),
            ("result_id", report.result.id),
        ):
            ET.SubElement(props, "property", name=name, value=value)
        for o in report.objectives:
            _case(suite, report, o)
        out = ET.SubElement(suite, "system-out")
        lines = [f"SLO {report.slo}: {report.status}, score {report.score:.2f}%"]
        lines += [f"{o.code} {o.title}: {value_text(o)} (target {o.target or 'info only'})" for o in report.objectives]
        lines += [f"recommendation: {r.title}: {r.hint} [{'; '.join(r.evidence)}]" for r in report.recommendations]
        out.text = "\n".join(lines) + "\n"
        ET.SubElement(suite, "system-err").text = ""
    root.set("tests", str(sum(int(s.get("tests", "0")) for s in root)))
    root.set("failures", str(sum(int(s.get("failures", "0")) for s in root)))
    root.set("errors", str(sum(int(s.get("errors", "0")) for s in root)))
    root.set("time", f"{sum(r.result.duration_s for r in check.evaluations):.3f}")
    ET.indent(root)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!-- assay slo check, {stamp} -->\n' + ET.tostring(root, encoding="unicode") + "\n"
