"""A messaging run as JUnit XML: one test case per delivery property, one per threshold.

CI shows "no message lost", "no duplicates", "in order", "no misdelivery" as tests that
pass or fail, with the lost ids in the failure text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from assay.results import RunResult

__all__ = ["to_junit"]

_PROPERTIES = (
    ("no message lost", "messages_lost", "lost_ids"),
    ("no duplicate receipts", "messages_duplicated", None),
    ("receipts in order per key", "messages_out_of_order", None),
    ("no misdelivery", "messages_misdelivered", None),
)


def to_junit(result: RunResult) -> str:
    ledger: dict[str, Any] = result.extra.get("ledger", {})
    cases: list[tuple[str, str, str | None, str]] = []  # (classname, name, failure message or None, detail)
    for name, metric, ids in _PROPERTIES:
        n = int(ledger.get(metric, 0))
        detail = "\n".join(ledger.get(ids, [])) if ids and n else ""
        cases.append(("ledger", name, f"{metric} = {n}" if n else None, detail))
    for metric_name, t in result.thresholds():
        failure = None if t.ok is not False else f"observed {t.observed:g}" if t.observed is not None else "crossed"
        cases.append(("thresholds", f"{metric_name}: {t.source}", failure, ""))
    failures = sum(1 for c in cases if c[2] is not None)
    suite_name = f"messaging {result.name}"
    root = ET.Element("testsuites", name=suite_name, tests=str(len(cases)), failures=str(failures))
    suite = ET.SubElement(
        root, "testsuite", name=suite_name, tests=str(len(cases)), failures=str(failures), time=f"{result.duration_s:.3f}"
    )
    for classname, name, failure, detail in cases:
        case = ET.SubElement(suite, "testcase", classname=classname, name=name)
        if failure is not None:
            ET.SubElement(case, "failure", message=failure, type="Delivery" if classname == "ledger" else "Threshold").text = detail
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
