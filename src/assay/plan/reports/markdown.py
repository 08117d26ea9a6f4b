"""The night in Markdown: for a CI job summary ($GITHUB_STEP_SUMMARY) or a pull-request comment."""

from __future__ import annotations

from assay.plan.outcome import PlanReport

ICONS = {"passed": "✅", "warning": "⚠️", "failed": "❌", "error": "❌", "aborted": "⏹", "skipped": "⏭", "pending": "…"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: PlanReport) -> str:
    lines = [f"# {ICONS.get(report.status, '')} {report.plan}: {report.status.upper()}", "",
             f"run `{report.run_id}`, {report.duration_s:.0f} s, exit {report.exit_code}", ""]
    if report.reasons:
        lines += [f"- {_cell(r)}" for r in report.reasons[:20]] + [""]
    lines += ["| stage | step | kind | status | duration | deciding gate |", "|---|---|---|---|---:|---|"]
    for stage in report.stages:
        for step in stage.steps:
            gate = step.deciding_gate
            decided = (gate.name + (f": {gate.detail}" if gate.detail else "")) if gate else ""
            why = "; ".join(x for x in (decided, step.reason) if x)
            flags = (" (quarantined)" if step.quarantined else "") + (f" ({len(step.attempts)} attempts)" if step.retried else "")
            lines.append(f"| {_cell(stage.key)} | {_cell(step.name)}{flags} | {step.kind} | {ICONS.get(step.status, '')} {step.status} "
                         f"| {step.duration_s:.1f} s | {_cell(why)[:300]} |")
    slo = [s for s in report.steps() if s.kind == "slo" and s.details.get("scores")]
    if slo:
        lines += ["", "## SLO scores", ""]
        for step in slo:
            for score in step.details["scores"]:
                lines.append(f"- {step.key} on {score.get('result')}: {score.get('status')}, score {score.get('score')}")
    if report.regressions:
        lines += ["", "## Regressions", ""] + [f"- {r}" for r in report.regressions]
    if report.quarantined:
        lines += ["", "## Quarantined", ""] + [f"- `{q}`" for q in report.quarantined]
    lines += ["", f"Artifacts: `{report.artifacts_dir}` (report.html, report.json, junit.xml)", ""]
    return "\n".join(lines)


__all__ = ["render"]
