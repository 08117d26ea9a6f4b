"""Chaos run reports beside the journal: JUnit XML (one test case per hypothesis probe and its
tolerance, per activity, per rollback and for the recovery target) and Markdown."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any


def _cases(journal: dict[str, Any]) -> list[tuple[str, str, str | None, float]]:
    """(classname, name, failure message or None, seconds) for every judged step."""
    out: list[tuple[str, str, str | None, float]] = []
    for phase in ("before", "after"):
        state = journal["steady_states"].get(phase)
        for p in (state or {}).get("probes", []):
            name = str(p["activity"].get("name"))
            failed = _failure(p)
            out.append((f"chaos.hypothesis.{phase}", f"probe {name}", failed, float(p.get("duration") or 0)))
            if failed is None:
                tol = None if p.get("tolerance_met") else f"output {p.get('output')!r} is not within tolerance {p['activity'].get('tolerance')!r}"
                out.append((f"chaos.hypothesis.{phase}", f"tolerance {name}", tol, 0.0))
    for i, state in enumerate(journal["steady_states"].get("during") or []):
        met = (state or {}).get("steady_state_met")
        out.append(("chaos.hypothesis.during", f"iteration {i + 1}", None if met else "steady state not met", 0.0))
    for section in ("run", "rollbacks"):
        for e in journal.get(section, []):
            out.append((f"chaos.{'method' if section == 'run' else 'rollbacks'}", str(e["activity"].get("name")), _failure(e),
                        float(e.get("duration") or 0)))
    recovery = (journal.get("x-assay") or {}).get("recovery")
    if recovery:
        msg = None if recovery["within_target"] else (
            "did not recover before the timeout" if not recovery["recovered"]
            else f"recovered in {recovery['time_to_recover_s']:.2f}s, target {recovery['target_s']}s")
        out.append(("chaos.recovery", "time to recover", msg, float(recovery.get("time_to_recover_s") or 0)))
    detection = (journal.get("x-assay") or {}).get("detection") or {}
    if detection.get("time_to_detect_s") is not None:
        out.append(("chaos.detection", f"time to detect (by the {detection['detected_by']})", None,
                    float(detection["time_to_detect_s"])))
    guard = (journal.get("x-assay") or {}).get("guard")
    if guard:
        out.append(("chaos.guard", "safety guard", f"aborted: {guard}", 0.0))
    return out


def _failure(entry: dict[str, Any]) -> str | None:
    if entry.get("status") == "succeeded":
        return None
    return (entry.get("exception") or ["failed"])[-1].strip()


def to_junit(journal: dict[str, Any]) -> str:
    cases = _cases(journal)
    title = str(journal["experiment"].get("title"))
    root = ET.Element("testsuites", name=f"assay chaos {title}")
    start = datetime.fromisoformat(journal["start"]).astimezone(UTC).replace(tzinfo=None)
    suite = ET.SubElement(root, "testsuite", name=title, package="assay.chaos", id="0", tests=str(len(cases)),
                          failures=str(sum(1 for c in cases if c[2] is not None)), errors="0", skipped="0",
                          time=f"{float(journal.get('duration') or 0):.3f}", timestamp=start.strftime("%Y-%m-%dT%H:%M:%S"),
                          hostname=socket.gethostname() or "localhost")
    ET.SubElement(suite, "properties")
    for classname, name, failure, seconds in cases:
        case = ET.SubElement(suite, "testcase", name=name, classname=classname, time=f"{seconds:.3f}")
        if failure is not None:
            node = ET.SubElement(case, "failure", message=failure.splitlines()[0][:200], type="ChaosFailure")
            node.text = failure
    out = ET.SubElement(suite, "system-out")
    out.text = f"status: {journal.get('status')}\ndeviated: {journal.get('deviated')}\n"
    ET.SubElement(suite, "system-err")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def to_markdown_rows(journal: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(step, name, "ok" or "FAILED: why", duration) for every judged step (Markdown and HTML)."""
    return [(classname.removeprefix("chaos."), name, "ok" if failure is None else "FAILED: " + failure.splitlines()[0],
             f"{seconds:.2f}s") for classname, name, failure, seconds in _cases(journal)]


def to_markdown(journal: dict[str, Any]) -> str:
    verdict = "deviated" if journal.get("deviated") else str(journal.get("status"))
    lines = [f"# {journal['experiment'].get('title')}", "",
             f"**{verdict}** in {float(journal.get('duration') or 0):.2f}s", ""]
    detect = (journal.get("x-assay") or {}).get("detection") or {}
    if detect.get("time_to_detect_s") is not None:
        lines += [f"Time to detect: {detect['time_to_detect_s']:.2f}s (by the {detect['detected_by']})", ""]
    lines += ["| step | name | result | duration |", "|---|---|---|---|"]
    for step, name, result, seconds in to_markdown_rows(journal):
        lines.append(f"| {step} | {name.replace('|', chr(92) + '|')} | {result.replace('|', chr(92) + '|')} | {seconds} |")
    load = (journal.get("x-assay") or {}).get("load") or {}
    if load:
        lines += ["", "| phase | requests | availability | error rate | p95 |", "|---|---|---|---|---|"]
        for phase, st in load.items():
            av = "-" if st.get("availability") is None else f"{st['availability']:.1%}"
            er = "-" if st.get("error_rate") is None else f"{st['error_rate']:.1%}"
            p95 = "-" if st.get("p95_ms") is None else f"{st['p95_ms']:.1f} ms"
            lines.append(f"| {phase} | {int(st.get('requests') or 0)} | {av} | {er} | {p95} |")
    return "\n".join(lines) + "\n"
