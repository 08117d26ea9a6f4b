"""Readable mismatch reports: console, Markdown and JUnit XML.

For each failing interaction we show the request that was sent, then the
expected and the actual response side by side, path by path, naming the matching
rule that governs each failing path (pact-python/the Rust core decides *whether*
something matches; this module only explains it).
"""

from __future__ import annotations

import json
import re
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
    missing: bool = False  # an expected key the actual response does not have


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
    source: str = ""  # where the pact came from, when a run had more than one source

    @property
    def title(self) -> str:
        given = f" given {', '.join(self.states)}" if self.states else ""
        origin = f" [{self.source}]" if self.source else ""
        return f"{self.consumer} -> {self.provider}: {self.description}{given}{origin}"


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


_STEP = re.compile(r"\.([^.\[]+)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")
_MISSING = re.compile(r"missing the following keys?: (.+)$")


def child_path(parent: str, key: str) -> str:
    """The JSON path of `key` under `parent`, written as `_flatten` writes it."""
    return f"{parent}.{key}" if key.isidentifier() else f"{parent}['{key}']"


def value_at(value: Any, path: str) -> Any:
    """Follow `$.a['b c'][0]` into a JSON value; None when the path leads nowhere."""
    for name, quoted, index in _STEP.findall(path.removeprefix("$")):
        if index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        elif not index and isinstance(value, dict):
            value = value.get(name or quoted)
        else:
            return None
    return value


def _split_missing_keys(m: Mismatch, inter: Interaction | None) -> list[Mismatch]:
    """The core reports a missing key at the parent map ("$": missing id); report it at `$.id`."""
    found = _MISSING.search(m.message) if m.kind == "BodyMismatch" else None
    if found is None:
        return [m]
    expected_body = inter.response.body if inter is not None and inter.response.has_body else None
    out = []
    for key in (k.strip() for k in found.group(1).split(",")):
        path = child_path(m.path or "$", key)
        rule = rule_at(inter.response.rules, "body", path) if inter is not None else "equality"
        out.append(
            Mismatch(
                m.kind, path, value_at(expected_body, path), None, f"missing key '{key}'", rule, missing=True
            )
        )
    return out


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
            out.mismatches += _split_missing_keys(
                Mismatch(
                    kind,
                    path,
                    _parse_maybe_json(m.get("expected")),
                    _parse_maybe_json(m.get("actual")),
                    str(m.get("mismatch", "")),
                    rule,
                ),
                inter,
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


@dataclass
class Row:
    failed: bool
    path: str
    expected: str
    actual: str
    rule: str


def rows(out: Outcome, width: int = 38, *, show_extra: bool = False) -> tuple[list[Row], int]:
    """Expected vs actual, path by path; (rows, how many extra actual-only paths were left out).

    Failing rows are the paths the verifier named (a missing key at its own path); passing rows name
    the rule they matched by (type, regex, ...). Keys the provider adds are allowed by Pact, so they are
    listed only with `show_extra`.
    """
    expected = out.interaction.response if out.interaction else None
    rules = expected.rules if expected is not None else {}
    exp_flat = _flatten(expected.body) if expected is not None and expected.has_body else {}
    act_flat = _flatten(out.actual.body) if out.actual is not None and out.actual.body is not None else {}
    body = [m for m in out.mismatches if m.kind == "BodyMismatch"]
    failing = {m.path: m for m in body}
    missing = [m.path for m in body if m.missing]

    def culprit(path: str) -> Mismatch | None:
        if path in failing:
            return failing[path]
        under = next((mp for mp in missing if path.startswith((mp + ".", mp + "["))), None)
        return failing[under] if under is not None else None

    table: list[Row] = []
    hidden = 0
    if expected is not None and expected.status is not None:
        st = next((m for m in out.mismatches if m.kind == "StatusMismatch"), None)
        actual_status = out.actual.status if out.actual else (st.actual if st else expected.status)
        table.append(
            Row(
                st is not None,
                "status",
                str(expected.status),
                _status(actual_status),
                "equality" if st else "",
            )
        )
    for p in dict.fromkeys([*exp_flat, *failing, *act_flat]):
        m = culprit(p)
        if p not in exp_flat and m is None:
            hidden += 0 if show_extra else 1
            if not show_extra:
                continue
        e = _short(exp_flat[p], width) if p in exp_flat else (_short(m.expected, width) if m else "—")
        if p in act_flat:
            a = _short(act_flat[p], width)
        elif m is not None and not m.missing and m.path == p:
            a = _short(m.actual, width)
        else:
            a = "(absent)"
        if m is not None:
            rule = m.rule
        elif p in exp_flat:
            governing = rule_at(rules, "body", p)
            rule = "" if governing == "equality" else governing
        else:
            rule = "extra (allowed)"
        table.append(Row(m is not None, p, e, a, rule))
    for m in out.mismatches:
        if m.kind not in ("BodyMismatch", "StatusMismatch"):
            table.append(
                Row(
                    True,
                    f"{m.kind.replace('Mismatch', '').lower()} {m.path}",
                    _short(m.expected, width),
                    _short(m.actual, width),
                    m.rule,
                )
            )
    return table, hidden


def side_by_side(out: Outcome, width: int = 38, *, show_extra: bool = False) -> list[str]:
    """Rows of `path | expected | actual | rule`, failing paths marked with ✘."""
    table, hidden = rows(out, width, show_extra=show_extra)
    if not table:
        return []
    w_path = max(len(r.path) for r in table + [Row(False, "path", "", "", "")])
    w_exp = max(len(r.expected) for r in table + [Row(False, "", "expected", "", "")])
    w_act = max(len(r.actual) for r in table + [Row(False, "", "", "actual", "")])
    head = f"  {'path'.ljust(w_path)} │ {'expected'.ljust(w_exp)} │ {'actual'.ljust(w_act)} │ rule"
    lines = [head, "  " + "─" * (w_path) + "─┼─" + "─" * w_exp + "─┼─" + "─" * w_act + "─┼─" + "─" * 12]
    for r in table:
        mark = "✘" if r.failed else " "
        lines.append(
            f"{mark} {r.path.ljust(w_path)} │ {r.expected.ljust(w_exp)} │ {r.actual.ljust(w_act)} │ {r.rule}"
        )
    if hidden:
        lines.append(
            f"  (+{hidden} extra value(s) in the actual response, allowed by Pact; --show-extra lists them)"
        )
    return lines


def to_console(outcomes: list[Outcome], *, show_extra: bool = False) -> str:
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
        table = side_by_side(o, show_extra=show_extra)
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


def to_markdown(
    outcomes: list[Outcome], title: str = "Contract verification", *, show_extra: bool = False
) -> str:
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
        table, hidden = rows(o, 60, show_extra=show_extra)
        lines += ["| | Path | Expected | Actual | Rule |", "|---|---|---|---|---|"]
        for r in table:
            path = r.path if r.path == "status" else f"`{r.path}`"
            cells = (r.expected, r.actual) if r.path == "status" else (f"`{r.expected}`", f"`{r.actual}`")
            lines.append(
                f"| {'❌' if r.failed else ''} | {_md_escape(path)} | {_md_escape(cells[0])} | "
                f"{_md_escape(cells[1])} | {_md_escape(r.rule)} |"
            )
        if hidden:
            lines.append(
                f"\n{hidden} extra value(s) in the actual response are not shown (Pact allows them)."
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
