"""Flaky steps and tests from the trend store: over the last N nights of a plan, which both
passed and failed, or passed only on retry, and how often they flipped between the two.

A flip rate is the share of consecutive nights whose outcome differs (0 % always the same,
100 % alternating every night). Each night's summary run (kind `plan`, recorded by
`assay plan run`) holds its steps and the tests they ran.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Flaky(BaseModel):
    kind: str  # step | test
    name: str
    passed: int
    failed: int
    passed_on_retry: int
    flip_rate: float
    history: str = Field(description="Oldest first: P passed, F failed, R passed on retry, . absent")


class FlakeReport(BaseModel):
    schema_: str = Field(default="assay.flakes/1", alias="schema")
    plan: str
    nights: int
    flaky: list[Flaky]

    model_config = {"populate_by_name": True}


def _flips(outcomes: list[str]) -> float:
    seen = [o for o in outcomes if o != "."]
    if len(seen) < 2:
        return 0.0
    ok = ["P" if o in "PR" else "F" for o in seen]
    return sum(1 for a, b in zip(ok, ok[1:], strict=False) if a != b) / (len(ok) - 1)


def flaky_from(nights: list[dict[str, Any]]) -> list[Flaky]:
    """From each night's `extra` (steps and tests), oldest first: what is flaky, flakiest first."""
    steps: dict[str, list[str]] = {}
    tests: dict[str, list[str]] = {}
    for i, extra in enumerate(nights):
        for s in extra.get("steps", []) or []:
            code = "R" if s.get("passed_on_retry") else ("P" if s.get("status") in ("passed", "warning") else "F")
            steps.setdefault(str(s.get("key")), ["."] * len(nights))[i] = code
        for t in extra.get("tests", []) or []:
            if t.get("status") == "skipped":
                continue
            code = "P" if t.get("status") == "passed" else "F"
            tests.setdefault(str(t.get("name")), ["."] * len(nights))[i] = code
    out = []
    for kind, table in (("step", steps), ("test", tests)):
        for name, hist in table.items():
            passed = hist.count("P") + hist.count("R")
            failed = hist.count("F")
            retry = hist.count("R")
            if (passed and failed) or retry:
                out.append(Flaky(kind=kind, name=name, passed=passed, failed=failed, passed_on_retry=retry,
                                 flip_rate=_flips(hist), history="".join(hist)))
    out.sort(key=lambda f: (-f.flip_rate, -f.passed_on_retry, f.name))
    return out


def flake_report(plan: str, *, last: int = 14, store_url: str | None = None) -> FlakeReport:
    from assay.trends.store import open_store

    with open_store(store_url) as store:
        runs = store.runs(scenario=f"plan:{plan}")[-last:]
        nights = [r.extra for r in store.results(runs)]
    return FlakeReport(plan=plan, nights=len(nights), flaky=flaky_from(nights))


def to_markdown(report: FlakeReport) -> str:
    lines = [f"# Flaky steps and tests: {report.plan}, last {report.nights} nights", "",
             "| kind | name | passed | failed | passed on retry | flip rate | history (oldest first) |",
             "|---|---|---:|---:|---:|---:|---|"]
    for f in report.flaky:
        lines.append(f"| {f.kind} | `{f.name}` | {f.passed} | {f.failed} | {f.passed_on_retry} | {f.flip_rate:.0%} | `{f.history}` |")
    if not report.flaky:
        lines.append("| | nothing flaky | | | | | |")
    return "\n".join(lines) + "\n"


__all__ = ["FlakeReport", "Flaky", "flake_report", "flaky_from", "to_markdown"]
