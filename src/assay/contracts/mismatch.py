"""Readable mismatch reports: console, Markdown and JUnit XML.

For each failing interaction we show the request that was sent, then the
expected and the actual response side by side, path by path, naming the matching
rule that governs each failing path (pact-python/the Rust core decides *whether*
something matches; this module only explains it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from assay.contracts.pactfile import HttpPart, Interaction, rule_at


@dataclass
class Mismatch:
    kind: str  # BodyMismatch, StatusMismatch, HeaderMismatch, QueryMismatch, ...
    path: str
    expected: Any
    actual: Any
    message: str
    rule: str = "equality"


@dataclass
class ActualResponse:
    status: int | None
    headers: dict[str, str]
    body: Any
    error: str | None = None


@dataclass
class Outcome:
    consumer: str
    provider: str
    description: str
    states: list[str]
    ok: bool
    pending: bool = False
    duration_ms: float = 0.0
    mismatches: list[Mismatch] = field(default_factory=list)
    interaction: Interaction | None = None
    actual: ActualResponse | None = None
    error: str | None = None

    @property
    def title(self) -> str:
        given = f" given {', '.join(self.states)}" if self.states else ""
        return f"{self.consumer} -> {self.provider}: {self.description}{given}"


def _short(value: Any, width: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _status(value: Any) -> str:
    return "(no response)" if value is None else str(value)


def _flatten(value: Any, path: str = "$") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        if not value:
            out[path] = {}
        for k, v in value.items():
            key = f"{path}.{k}" if str(k).isidentifier() else f"{path}['{k}']"
            out.update(_flatten(v, key))
    elif isinstance(value, list):
        if not value:
            out[path] = []
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{path}[{i}]"))
    else:
        out[path] = value
    return out


def _parse_maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def from_results(results: dict[str, Any], interactions: dict[tuple[str, str], Interaction]) -> list[Outcome]:
    """Turn pact-python's `Verifier.results` into outcomes, joined with the pact's interactions."""
    outcomes = []
    for item in results.get("interactionResults") or []:
        consumer = item.get("consumer", "")
        description = item.get("description", "")
        inter = interactions.get((consumer, description))
        duration = str(item.get("duration", "0ms"))
        ms = (
            float(duration[:-2])
            if duration.endswith("ms") and duration[:-2].replace(".", "").isdigit()
            else (
                float(duration[:-1]) * 1000
                if duration.endswith("s") and duration[:-1].replace(".", "").isdigit()
                else 0.0
            )
        )
        out = Outcome(
            consumer=consumer,
            provider=item.get("provider", ""),
            description=description,
            states=list(item.get("providerStates") or []),
            ok=item.get("result") == "OK",
            pending=bool(item.get("pending")),
            duration_ms=ms,
            interaction=inter,
        )
        mismatch = item.get("mismatch") or {}
        if mismatch.get("type") == "error":
            out.error = str(mismatch.get("message"))
        for m in mismatch.get("mismatches") or []:
            kind = str(m.get("type", "Mismatch"))
            path = str(m.get("path") or m.get("key") or m.get("parameter") or "")
            category = {
                "BodyMismatch": "body",
                "HeaderMismatch": "header",
                "QueryMismatch": "query",
                "StatusMismatch": "status",
            }.get(kind, "body")
            if kind == "StatusMismatch":
                path = "status"
            rule = "equality"
            if inter is not None:
                rules = (
                    inter.response.rules if category in ("body", "header", "status") else inter.request.rules
                )
                rule = (
                    rule_at(rules, category, path)
                    if category == "body"
                    else (rule_at(rules, category, path) if path else "equality")
                )
            out.mismatches.append(
                Mismatch(
                    kind,
                    path,
                    _parse_maybe_json(m.get("expected")),
                    _parse_maybe_json(m.get("actual")),
                    str(m.get("mismatch", "")),
                    rule,
                )
            )
        if not out.ok and not out.mismatches and out.error is None:
            out.error = "verification failed (no details from the verifier)"
        outcomes.append(out)
    return outcomes


# ---------------------------------------------------------------------------------------------- text


def request_lines(req: HttpPart) -> list[str]:
    from urllib.parse import urlencode

    q = urlencode([(k, v) for k, vs in req.query.items() for v in vs])
    lines = [f"{req.method or 'GET'} {req.path or '/'}{'?' + q if q else ''}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items()]
    if req.has_body:
        lines.append("")
        lines += (
            json.dumps(req.body, indent=2, ensure_ascii=False).splitlines()
            if not isinstance(req.body, str)
            else [req.body]
        )
    return lines


def side_by_side(out: Outcome, width: int = 38) -> list[str]:
    """Rows of `path | expected | actual | rule`, failing paths marked with ✘."""
    expected = out.interaction.response if out.interaction else None
    exp_flat = _flatten(expected.body) if expected is not None and expected.has_body else {}
    act_flat = _flatten(out.actual.body) if out.actual is not None and out.actual.body is not None else {}
    failing = {m.path: m for m in out.mismatches if m.kind == "BodyMismatch"}
    paths = list(dict.fromkeys([*exp_flat, *act_flat, *failing]))
    rows = []
    if expected is not None and expected.status is not None:
        st = next((m for m in out.mismatches if m.kind == "StatusMismatch"), None)
        actual_status = out.actual.status if out.actual else (st.actual if st else expected.status)
        rows.append(
            (
                "✘" if st else " ",
                "status",
                str(expected.status),
                _status(actual_status),
                "equality" if st else "",
            )
        )
    for p in paths:
        m = failing.get(p)
        e = _short(exp_flat[p], width) if p in exp_flat else (_short(m.expected, width) if m else "—")
        a = _short(act_flat[p], width) if p in act_flat else (_short(m.actual, width) if m else "(absent)")
        rows.append(("✘" if m else " ", p, e, a, m.rule if m else ""))
    for m in out.mismatches:
        if m.kind not in ("BodyMismatch", "StatusMismatch"):
            rows.append(
                (
                    "✘",
                    f"{m.kind.replace('Mismatch', '').lower()} {m.path}",
                    _short(m.expected, width),
                    _short(m.actual, width),
                    m.rule,
                )
            )
    if not rows:
        return []
    w_path = max(len(r[1]) for r in rows + [(" ", "path", "", "", "")])
    w_exp = max(len(r[2]) for r in rows + [(" ", "", "expected", "", "")])
    w_act = max(len(r[3]) for r in rows + [(" ", "", "", "actual", "")])
    head = f"  {'path'.ljust(w_path)} │ {'expected'.ljust(w_exp)} │ {'actual'.ljust(w_act)} │ rule"
    lines = [head, "  " + "─" * (w_path) + "─┼─" + "─" * w_exp + "─┼─" + "─" * w_act + "─┼─" + "─" * 12]
    for mark, p, e, a, rule in rows:
        lines.append(f"{mark} {p.ljust(w_path)} │ {e.ljust(w_exp)} │ {a.ljust(w_act)} │ {rule}")
    return lines


def to_console(outcomes: list[Outcome]) -> str:
    lines: list[str] = []
    failed = [o for o in outcomes if not o.ok]
    for o in outcomes:
        status = "ok" if o.ok else ("FAILED (pending, does not fail the build)" if o.pending else "FAILED")
        lines.append(f"{'✔' if o.ok else '✘'} {o.title} … {status}")
    for n, o in enumerate(failed, 1):
        lines += ["", f"{n}) {o.title}"]
        if o.interaction is not None:
            lines.append("   request sent:")
            lines += [f"     {x}" for x in request_lines(o.interaction.request)]
        if o.error:
            lines.append(f"   error: {o.error}")
        table = side_by_side(o)
        if table:
            lines.append("   response, expected vs actual:")
            lines += [f"   {x}" for x in table]
        for m in o.mismatches:
            lines.append(f"   ✘ {m.path or m.kind}: {m.message} [rule: {m.rule}]")
    passed = sum(1 for o in outcomes if o.ok)
    pending = sum(1 for o in failed if o.pending)
    lines += [
        "",
        f"{len(outcomes)} interactions, {passed} passed, {len(failed) - pending} failed"
        + (f", {pending} pending failures" if pending else ""),
    ]
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(outcomes: list[Outcome], title: str = "Contract verification") -> str:
    lines = [f"# {title}", "", "| | Interaction | Result | Time |", "|---|---|---|---|"]
    for o in outcomes:
        res = "passed" if o.ok else ("failed (pending)" if o.pending else "**failed**")
        lines.append(f"| {'✅' if o.ok else '❌'} | {_md_escape(o.title)} | {res} | {o.duration_ms:.0f} ms |")
    for o in (x for x in outcomes if not x.ok):
        lines += ["", f"## ❌ {_md_escape(o.title)}", ""]
        if o.interaction is not None:
            lines += ["**Request sent**", "", "```http", *request_lines(o.interaction.request), "```", ""]
        if o.error:
            lines += [f"**Error:** {o.error}", ""]
        expected = o.interaction.response if o.interaction else None
        exp_flat = _flatten(expected.body) if expected is not None and expected.has_body else {}
        act_flat = _flatten(o.actual.body) if o.actual is not None and o.actual.body is not None else {}
        failing = {m.path: m for m in o.mismatches}
        lines += ["| | Path | Expected | Actual | Rule |", "|---|---|---|---|---|"]
        if expected is not None and expected.status is not None:
            st = failing.get("status")
            actual_status = o.actual.status if o.actual else (st.actual if st else expected.status)
            lines.append(
                f"| {'❌' if st else ''} | status | {expected.status} | {_status(actual_status)} | "
                f"{'equality' if st else ''} |"
            )
        for p in dict.fromkeys(
            [*exp_flat, *act_flat, *[m.path for m in o.mismatches if m.kind == "BodyMismatch"]]
        ):
            m = failing.get(p)
            e = _short(exp_flat[p], 60) if p in exp_flat else (_short(m.expected, 60) if m else "—")
            a = _short(act_flat[p], 60) if p in act_flat else (_short(m.actual, 60) if m else "(absent)")
            lines.append(
                f"| {'❌' if m else ''} | `{p}` | `{_md_escape(e)}` | `{_md_escape(a)}` | "
                f"{_md_escape(m.rule) if m else ''} |"
            )
        lines.append("")
        for m in o.mismatches:
            lines.append(f"- `{m.path or m.kind}`: {_md_escape(m.message)} (rule: `{_md_escape(m.rule)}`)")
    return "\n".join(lines) + "\n"


def to_junit(outcomes: list[Outcome], suite: str = "contracts") -> str:
    failures = sum(1 for o in outcomes if not o.ok and not o.pending)
    skipped = sum(1 for o in outcomes if not o.ok and o.pending)
    root = ET.Element("testsuites", name=suite, tests=str(len(outcomes)), failures=str(failures))
    by_pair: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_pair.setdefault(f"{o.consumer} -> {o.provider}", []).append(o)
    for name, items in by_pair.items():
        ts = ET.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(items)),
            failures=str(sum(1 for o in items if not o.ok and not o.pending)),
            skipped=str(sum(1 for o in items if not o.ok and o.pending)),
            time=f"{sum(o.duration_ms for o in items) / 1000:.3f}",
        )
        for o in items:
            case_name = o.description + (f" given {', '.join(o.states)}" if o.states else "")
            tc = ET.SubElement(
                ts, "testcase", classname=name, name=case_name, time=f"{o.duration_ms / 1000:.3f}"
            )
            if not o.ok:
                detail = to_console([o]).split("\n", 1)[1] if "\n" in to_console([o]) else ""
                first = o.mismatches[0].message if o.mismatches else (o.error or "failed")
                if o.pending:
                    ET.SubElement(tc, "skipped", message=f"pending pact: {first}").text = detail
                else:
                    ET.SubElement(tc, "failure", message=first, type="ContractMismatch").text = detail
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
