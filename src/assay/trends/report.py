"""The plain-text regression report (`--report FILE`) and the console table of a series."""

from __future__ import annotations

from assay.trends.alarms import Alarm
from assay.trends.analyze import Detection, SeriesOutcome


def alarm_lines(alarm: Alarm) -> list[str]:
    kind = "REGRESSION" if alarm.regression else "improvement"
    state = "" if alarm.open else " (earlier, closed)"
    lines = [f"{kind}{state} {alarm.scenario}: {alarm.series}"]
    lines.append(f"  began at run {alarm.run_id[:12]} ({alarm.at:%Y-%m-%d %H:%M}Z)")
    size = f"  size: {alarm.size_text()} ({alarm.before:.4g} -> {alarm.after:.4g})"
    if alarm.pvalue is not None:
        size += f", p={alarm.pvalue:.2g}"
    lines.append(size)
    lines.append(f"  commits: {alarm.commits_text()}")
    lines.append(f"  detector: {alarm.detector}")
    return lines


def render_text(detection: Detection) -> str:
    regressions = detection.regressions
    series = len(detection.outcomes)
    head = f"assay trend detect: {len(regressions)} open regression(s) in {series} series ({detection.store})"
    lines = [head, "methods: " + ", ".join(detection.methods), ""]
    for outcome in detection.outcomes:
        for alarm in outcome.alarms:
            lines += alarm_lines(alarm) + [""]
    for note in detection.notes:
        lines.append(f"warning: {note}")
    if not detection.alarms:
        lines.append("no changes found")
    return "\n".join(lines).rstrip() + "\n"


def table_rows(outcome: SeriesOutcome) -> list[list[str]]:
    """Rows of `trend show`: run, time, value, change vs previous, sha, marks."""
    series = outcome.series
    starts = {a.start_index: a for a in outcome.alarms}
    rows = []
    for i, (run, value) in enumerate(zip(series.runs, series.values, strict=True)):
        delta = f"{(value / series.values[i - 1] - 1) * 100:+.1f}%" if i and series.values[i - 1] else ""
        mark = ""
        if i in starts:
            alarm = starts[i]
            mark = ("▲ regression " if alarm.regression else "▼ improvement ") + alarm.size_text()
        rows.append([run.short_id, f"{run.at:%Y-%m-%d %H:%M}", f"{value:.4g}", delta, run.labels.get("git_sha", "")[:10], mark])
    return rows
