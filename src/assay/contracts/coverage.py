"""Contract coverage: which operations and response codes of a provider's OpenAPI document the pacts exercise.

An operation is covered when some consumer's interaction hits its method and path
template; a response code is covered when an interaction expects exactly it (or a
code inside a documented `4XX`-style range).  Interactions that hit nothing in the
document are reported too: they are drift between the contract and the API.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from assay.contracts import pactfile
from assay.errors import UsageError

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass
class Operation:
    method: str
    path: str
    operation_id: str | None
    codes: list[str]
    pattern: re.Pattern[str]
    covered_codes: dict[str, set[str]] = field(default_factory=dict)  # code -> consumers
    consumers: set[str] = field(default_factory=set)

    @property
    def covered(self) -> bool:
        return bool(self.consumers)


@dataclass
class CoverageReport:
    title: str
    operations: list[Operation]
    unmatched: list[tuple[str, str, str, int | None]]  # consumer, method, path, status
    undocumented_codes: list[tuple[str, str, str, int]]  # consumer, method, template, status

    @property
    def operations_total(self) -> int:
        return len(self.operations)

    @property
    def operations_covered(self) -> int:
        return sum(1 for o in self.operations if o.covered)

    @property
    def codes_total(self) -> int:
        return sum(len(o.codes) for o in self.operations)

    @property
    def codes_covered(self) -> int:
        return sum(len(o.covered_codes) for o in self.operations)

    @property
    def operation_pct(self) -> float:
        return 100.0 * self.operations_covered / self.operations_total if self.operations_total else 100.0

    @property
    def response_pct(self) -> float:
        return 100.0 * self.codes_covered / self.codes_total if self.codes_total else 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "operations": {
                "covered": self.operations_covered,
                "total": self.operations_total,
                "percent": round(self.operation_pct, 1),
            },
            "responses": {
                "covered": self.codes_covered,
                "total": self.codes_total,
                "percent": round(self.response_pct, 1),
            },
            "table": [
                {
                    "method": o.method.upper(),
                    "path": o.path,
                    "operationId": o.operation_id,
                    "consumers": sorted(o.consumers),
                    "responses": {c: sorted(o.covered_codes.get(c, set())) for c in o.codes},
                }
                for o in self.operations
            ],
            "unmatched": [
                {"consumer": c, "method": m, "path": p, "status": s} for c, m, p, s in self.unmatched
            ],
            "undocumentedResponses": [
                {"consumer": c, "method": m, "path": p, "status": s} for c, m, p, s in self.undocumented_codes
            ],
        }


def load_openapi(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{p}: no such OpenAPI document") from exc
    try:
        doc = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{p}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
        raise UsageError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise UsageError(f"{p}: not an OpenAPI document (no 'paths' object)")
    if "openapi" not in doc and "swagger" not in doc:
        raise UsageError(f"{p}: not an OpenAPI document (no 'openapi' version key)")
    return doc


def _base_path(doc: dict[str, Any]) -> str:
    servers = doc.get("servers") or []
    if servers and isinstance(servers[0], dict) and servers[0].get("url"):
        return urlparse(str(servers[0]["url"])).path.rstrip("/")
    return str(doc.get("basePath", "")).rstrip("/")


def _template_regex(base: str, template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^/{}]+\})", base + template)
    regex = "".join(
        "[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part) for part in parts
    )
    return re.compile(f"^{regex}/?$")


def operations(doc: dict[str, Any]) -> list[Operation]:
    base = _base_path(doc)
    out = []
    for template, item in doc["paths"].items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            codes = [str(c).upper() for c in (op.get("responses") or {}) if str(c).lower() != "default"]
            out.append(
                Operation(method, template, op.get("operationId"), codes, _template_regex(base, template))
            )
    # literal segments beat parameters: /users/me before /users/{id}
    out.sort(key=lambda o: (o.path.count("{"), -len(o.path)))
    return out


def _code_matches(documented: str, status: int) -> bool:
    if documented == str(status):
        return True
    return bool(re.fullmatch(r"[1-5]XX", documented)) and documented[0] == str(status)[0]


def measure(openapi: dict[str, Any], pact_docs: list[dict[str, Any]]) -> CoverageReport:
    ops = operations(openapi)
    unmatched: list[tuple[str, str, str, int | None]] = []
    undocumented: list[tuple[str, str, str, int]] = []
    for doc in pact_docs:
        for inter in pactfile.interactions(doc):
            if inter.kind != "Synchronous/HTTP" or not inter.request.path:
                continue
            method = (inter.request.method or "GET").lower()
            path = inter.request.path.split("?")[0]
            status = inter.response.status
            op = next((o for o in ops if o.method == method and o.pattern.match(path)), None)
            if op is None:
                unmatched.append((inter.consumer, method.upper(), path, status))
                continue
            op.consumers.add(inter.consumer)
            if status is None:
                continue
            code = next((c for c in op.codes if c == str(status)), None) or next(
                (c for c in op.codes if _code_matches(c, status)), None
            )
            if code is None:
                undocumented.append((inter.consumer, method.upper(), op.path, status))
            else:
                op.covered_codes.setdefault(code, set()).add(inter.consumer)
    title = str((openapi.get("info") or {}).get("title", "API"))
    ops.sort(key=lambda o: (o.path, METHODS.index(o.method)))
    return CoverageReport(title, ops, unmatched, undocumented)


def to_text(report: CoverageReport) -> str:
    rows = [("", "operation", "responses (covered ✔ / not ✘)", "consumers")]
    for o in report.operations:
        codes = " ".join(f"{c}{'✔' if c in o.covered_codes else '✘'}" for c in o.codes) or "-"
        rows.append(
            ("✔" if o.covered else "✘", f"{o.method.upper()} {o.path}", codes, ", ".join(sorted(o.consumers)))
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    lines.insert(1, "  ".join("─" * w for w in widths))
    lines.append("")
    lines.append(
        f"operations covered: {report.operations_covered}/{report.operations_total} "
        f"({report.operation_pct:.1f}%)"
    )
    lines.append(
        f"responses covered:  {report.codes_covered}/{report.codes_total} ({report.response_pct:.1f}%)"
    )
    for c, m, p, s in report.unmatched:
        lines.append(f"! {c}: {m} {p} (status {s}) matches no operation in the OpenAPI document")
    for c, m, p, s in report.undocumented_codes:
        lines.append(f"! {c}: {m} {p} expects status {s}, which the OpenAPI document does not declare")
    return "\n".join(lines)


def to_markdown(report: CoverageReport) -> str:
    lines = [
        f"# Contract coverage: {report.title}",
        "",
        f"- operations: **{report.operations_covered}/{report.operations_total} "
        f"({report.operation_pct:.1f}%)**",
        f"- responses: **{report.codes_covered}/{report.codes_total} ({report.response_pct:.1f}%)**",
        "",
        "| | Operation | Responses | Consumers |",
        "|---|---|---|---|",
    ]
    for o in report.operations:
        codes = " ".join(f"{c} {'✅' if c in o.covered_codes else '❌'}" for c in o.codes)
        lines.append(
            f"| {'✅' if o.covered else '❌'} | `{o.method.upper()} {o.path}` | {codes} | "
            f"{', '.join(sorted(o.consumers))} |"
        )
    return "\n".join(lines) + "\n"
