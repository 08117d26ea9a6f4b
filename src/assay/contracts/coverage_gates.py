"""Coverage gates stated the way test plans state them: per priority, per error code, per schema field.

- Priorities per operation: the operation's `x-priority`, else a tag such as `P0`, else a
  mapping file (`"GET /users/{id}": P0` or `operationId: P0`); the rest are "unprioritised".
  `--min P0=100 --min all=80` gates the share of *operations* covered in each group.
- `--min errors=100`: of the operations the pacts cover, the share of their documented
  4xx/5xx codes some interaction expects.
- `--schema Dashboard=100`: which fields of a named schema (`components.schemas`) any pact
  body exercises, field by field (nested objects as `a.b`, array items as `a[]`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assay.contracts import pactfile
from assay.contracts.coverage import CoverageReport, Operation, operations
from assay.errors import UsageError

PRIORITY_TAG = re.compile(r"^P\d+$")
UNPRIORITISED = "unprioritised"


@dataclass
class Gate:
    name: str  # "P0", "all", "errors", "schema Dashboard"
    covered: int
    total: int
    minimum: float | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 100.0

    @property
    def passed(self) -> bool:
        return self.minimum is None or self.percent + 1e-9 >= self.minimum

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "covered": self.covered,
            "total": self.total,
            "percent": round(self.percent, 1),
            "minimum": self.minimum,
            "passed": self.passed,
            "missing": self.missing,
        }


@dataclass
class SchemaFields:
    name: str
    fields: dict[str, bool]  # field path -> exercised by some pact

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.name, "fields": self.fields}


def parse_minimums(raw: list[str], flag: str = "--min") -> dict[str, float]:
    out: dict[str, float] = {}
    for text in raw:
        name, sep, value = text.partition("=")
        try:
            pct = float(value)
        except ValueError:
            pct = -1.0
        if not sep or not name or not 0 <= pct <= 100:
            raise UsageError(
                f"{flag} {text!r}: expected NAME=PERCENT with PERCENT in 0..100, e.g. {flag} P0=100"
            )
        out[name] = pct
    return out


def load_priority_map(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the priority mapping ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise UsageError(
            f'{path}: expected a mapping of "METHOD /path" or operationId to a priority such as P0'
        )
    return {str(k): v for k, v in data.items()}


def priority_of(doc: dict[str, Any], op: Operation, mapping: dict[str, str]) -> str:
    spec = doc["paths"][op.path][op.method]
    if isinstance(spec.get("x-priority"), str):
        return str(spec["x-priority"])
    tag = next((t for t in spec.get("tags") or [] if isinstance(t, str) and PRIORITY_TAG.match(t)), None)
    if tag:
        return tag
    key = f"{op.method.upper()} {op.path}"
    return (
        mapping.get(key) or (mapping.get(op.operation_id or "") if op.operation_id else None) or UNPRIORITISED
    )


def priority_gates(
    doc: dict[str, Any], report: CoverageReport, mapping: dict[str, str], minimums: dict[str, float]
) -> list[Gate]:
    groups: dict[str, list[Operation]] = {}
    for op in report.operations:
        groups.setdefault(priority_of(doc, op, mapping), []).append(op)
    gates = []
    for name in sorted(set(groups) | {k for k in minimums if k not in ("all", "errors")}):
        ops = groups.get(name, [])
        if name == UNPRIORITISED and name not in minimums:
            continue
        missing = [f"{o.method.upper()} {o.path}" for o in ops if not o.covered]
        gates.append(Gate(name, len(ops) - len(missing), len(ops), minimums.get(name), missing))
    all_missing = [f"{o.method.upper()} {o.path}" for o in report.operations if not o.covered]
    gates.append(
        Gate(
            "all",
            report.operations_total - len(all_missing),
            report.operations_total,
            minimums.get("all"),
            all_missing,
        )
    )
    return gates


def error_code_gate(report: CoverageReport, minimum: float | None) -> Gate:
    """Every documented 4xx/5xx of a covered operation (ranges such as 4XX count as one code)."""
    total = covered = 0
    missing = []
    for op in report.operations:
        if not op.covered:
            continue
        for code in op.codes:
            if code[0] in "45":
                total += 1
                if code in op.covered_codes:
                    covered += 1
                else:
                    missing.append(f"{op.method.upper()} {op.path} {code}")
    return Gate("errors", covered, total, minimum, missing)


# ------------------------------------------------------------------------------------ schema fields


def _ref_name(node: Any) -> str | None:
    ref = node.get("$ref") if isinstance(node, dict) else None
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return ref.rsplit("/", 1)[-1]
    return None


def schema_fields(doc: dict[str, Any], name: str) -> list[str]:
    """Every field path of a named schema; a field typed by another named schema is one field here."""
    schemas = (doc.get("components") or {}).get("schemas") or {}
    if name not in schemas:
        known = ", ".join(sorted(schemas)) or "none"
        raise UsageError(f"--schema {name}: no such schema in components.schemas (known: {known})")
    out: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if not isinstance(node, dict) or _ref_name(node):
            return
        for key in ("allOf", "oneOf", "anyOf"):
            for branch in node.get(key) or []:
                walk(branch, prefix)
        for prop, sub in (node.get("properties") or {}).items():
            path = f"{prefix}{prop}"
            if path not in out:
                out.append(path)
            walk(sub, path + ".")
        if isinstance(node.get("items"), dict):
            walk(node["items"], prefix.rstrip(".") + "[].")

    walk(schemas[name], "")
    return out


def exercised_fields(doc: dict[str, Any], pact_docs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """For each named schema, the field paths some pact's request or response body fills."""
    schemas = (doc.get("components") or {}).get("schemas") or {}
    hits: dict[str, set[str]] = {}

    def walk(node: Any, value: Any, owner: str | None, prefix: str, depth: int = 0) -> None:
        if depth > 50 or not isinstance(node, dict):
            return
        ref = _ref_name(node)
        if ref is not None:
            walk(schemas.get(ref), value, ref, "", depth + 1)
            return
        for key in ("allOf", "oneOf", "anyOf"):
            for branch in node.get(key) or []:
                walk(branch, value, owner, prefix, depth + 1)
        props = node.get("properties") or {}
        if isinstance(value, dict):
            for k, v in value.items():
                if k in props:
                    if owner is not None:
                        hits.setdefault(owner, set()).add(prefix + k)
                    walk(props[k], v, owner, f"{prefix}{k}.", depth + 1)
        if isinstance(value, list) and isinstance(node.get("items"), dict):
            for item in value:
                walk(node["items"], item, owner, prefix.rstrip(".") + "[].", depth + 1)

    ops = operations(doc)
    for pact in pact_docs:
        for inter in pactfile.interactions(pact):
            if inter.kind != "Synchronous/HTTP" or not inter.request.path:
                continue
            method = (inter.request.method or "GET").lower()
            op = next((o for o in ops if o.method == method and o.pattern.match(inter.request.path)), None)
            if op is None:
                continue
            spec = doc["paths"][op.path][method]
            if inter.request.has_body:
                for media in ((spec.get("requestBody") or {}).get("content") or {}).values():
                    walk(media.get("schema"), inter.request.body, None, "")
            resp = (spec.get("responses") or {}).get(str(inter.response.status)) or {}
            if inter.response.has_body:
                for media in (resp.get("content") or {}).values():
                    walk(media.get("schema"), inter.response.body, None, "")
    return hits


def schema_gates(
    doc: dict[str, Any], pact_docs: list[dict[str, Any]], minimums: dict[str, float]
) -> tuple[list[Gate], list[SchemaFields]]:
    hits = exercised_fields(doc, pact_docs)
    gates, tables = [], []
    for name, minimum in minimums.items():
        fields = schema_fields(doc, name)
        got = hits.get(name, set())
        table = {f: f in got for f in fields}
        tables.append(SchemaFields(name, table))
        missing = [f for f, ok in table.items() if not ok]
        gates.append(Gate(f"schema {name}", len(fields) - len(missing), len(fields), minimum, missing))
    return gates, tables


# ------------------------------------------------------------------------------------------ output


def to_text(gates: list[Gate], tables: list[SchemaFields]) -> str:
    rows = [("gate", "covered", "percent", "minimum", "result")]
    for g in gates:
        verdict = "-" if g.minimum is None else ("pass" if g.passed else "FAIL")
        minimum = "-" if g.minimum is None else f"{g.minimum:g}%"
        rows.append((g.name, f"{g.covered}/{g.total}", f"{g.percent:.1f}%", minimum, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    lines.insert(1, "  ".join("─" * w for w in widths))
    for g in gates:
        if g.minimum is not None and not g.passed:
            lines += [f"! {g.name}: not covered: {m}" for m in g.missing]
    for t in tables:
        lines += ["", f"schema {t.name}:"] + [f"  {'✔' if ok else '✘'} {f}" for f, ok in t.fields.items()]
    return "\n".join(lines)


def to_markdown(gates: list[Gate], tables: list[SchemaFields]) -> str:
    lines = ["## Coverage gates", "", "| Gate | Covered | % | Minimum | Result |", "|---|---|---|---|---|"]
    for g in gates:
        verdict = "" if g.minimum is None else ("✅" if g.passed else "❌")
        minimum = "" if g.minimum is None else f"{g.minimum:g}%"
        lines.append(f"| {g.name} | {g.covered}/{g.total} | {g.percent:.1f}% | {minimum} | {verdict} |")
    for t in tables:
        lines += ["", f"### Schema `{t.name}`", "", "| Field | Exercised |", "|---|---|"]
        lines += [f"| `{f}` | {'✅' if ok else '❌'} |" for f, ok in t.fields.items()]
    return "\n".join(lines) + "\n"


def to_junit(gates: list[Gate]) -> str:
    gated = [g for g in gates if g.minimum is not None]
    failures = sum(1 for g in gated if not g.passed)
    root = ET.Element("testsuites", name="contract coverage", tests=str(len(gated)), failures=str(failures))
    ts = ET.SubElement(
        root, "testsuite", name="contract coverage", tests=str(len(gated)), failures=str(failures)
    )
    for g in gated:
        tc = ET.SubElement(ts, "testcase", classname="coverage", name=g.name)
        if not g.passed:
            msg = f"{g.percent:.1f}% < {g.minimum:g}% ({g.covered}/{g.total})"
            ET.SubElement(tc, "failure", message=msg, type="CoverageGate").text = "\n".join(g.missing)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
