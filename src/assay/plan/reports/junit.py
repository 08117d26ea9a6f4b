"""The night as JUnit XML, so CI shows it natively: a test suite per stage, a test case per
step and one per gate of each step (the threshold, SLO objective, hypothesis or contract that
decided). Skipped steps are skipped cases; quarantined failures are reported as skipped with
the failure in the message, so they are seen but do not fail the CI job."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from assay.plan.outcome import FAILING, PlanReport, StepOutcome


def _case(suite: ET.Element, classname: str, name: str, seconds: float, status: str, message: str,
          quarantined: bool = False) -> tuple[int, int, int]:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name or "?", time=f"{max(0.0, seconds):.3f}")
    if status in FAILING and quarantined:
        ET.SubElement(case, "skipped", message=f"quarantined: {status}: {message}"[:2000])
        return 0, 0, 1
    if status == "failed":
        node = ET.SubElement(case, "failure", message=message[:2000] or "failed", type="failed")
        node.text = message
        return 1, 0, 0
    if status in ("error", "aborted"):
        node = ET.SubElement(case, "error", message=message[:2000] or status, type=status)
        node.text = message
        return 0, 1, 0
    if status in ("skipped", "pending"):
        ET.SubElement(case, "skipped", message=message[:2000] or status)
        return 0, 0, 1
    return 0, 0, 0


def _step(suite: ET.Element, step: StepOutcome) -> list[tuple[int, int, int]]:
    out = [_case(suite, step.stage, step.name, step.duration_s, step.status, step.reason, step.quarantined)]
    for gate in step.gates:
        out.append(_case(suite, f"{step.stage}.{step.name}", gate.name, 0.0, gate.status, gate.detail, step.quarantined))
    return out


def render(report: PlanReport) -> str:
    import socket

    root = ET.Element("testsuites", name=f"plan {report.plan}", time=f"{report.duration_s:.3f}")
    totals = [0, 0, 0, 0]
    host = socket.gethostname() or "localhost"
    for i, stage in enumerate(report.stages):
        suite = ET.SubElement(root, "testsuite", name=stage.key, time=f"{stage.duration_s:.3f}",
                              timestamp=(stage.started_at or report.started_at).strftime("%Y-%m-%dT%H:%M:%S"),
                              hostname=host, id=str(i), package=f"plan.{report.plan}")
        props = ET.SubElement(suite, "properties")
        for name, value in (("plan", report.plan), ("run_id", report.run_id), ("status", stage.status),
                            ("continue_on_error", str(stage.continue_on_error).lower()),
                            *((f"matrix.{k}", str(v)) for k, v in stage.matrix.items())):
            ET.SubElement(props, "property", name=name, value=value)
        counts = [c for step in stage.steps for c in _step(suite, step)]
        failures, errors, skipped = (sum(c[i] for c in counts) for i in range(3))
        suite.set("tests", str(len(counts)))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
        ET.SubElement(suite, "system-out").text = stage.reason
        ET.SubElement(suite, "system-err").text = ""
        for j, v in enumerate((len(counts), failures, errors, skipped)):
            totals[j] += v
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("errors", str(totals[2]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


__all__ = ["render"]
