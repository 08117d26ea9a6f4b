"""The plain-text regression report (`--report FILE`) and the console table of a series.

Values print in the unit the metric's name carries (`19.66 MiB`, `27.2%`), by report/units.py;
the JSON detection keeps the raw numbers.
"""

from __future__ import annotations

from assay.report.units import format_quantity, format_value, named_unit
from assay.results import MetricType
from assay.trends.alarms import Alarm
from assay.trends.analyze import Detection, SeriesOutcome
from assay.trends.series import Series

# Aggregates that count samples or checks: plain numbers whatever the metric measures.
_COUNTS = {"passes", "fails"}


def value_text(series: Series, value: float) -> str:
    """One value of the series for people: `proc_rss_bytes max` 20610000.0 -> `19.66 MiB`, a byte
    counter's rate in MiB/s; a count of samples, or a metric whose name carries no unit, as a number."""
    unit = named_unit(series.metric)
    counter = series.metric_type == str(MetricType.COUNTER)
    if unit is None or series.aggregation in _COUNTS or (series.aggregation == "count" and not counter):
        return format_value(value)
    if series.aggregation == "rate":
        return f"{format_quantity(value, unit)}/s" if counter and unit == "B" else format_value(value)
    return format_quantity(value, unit)


def alarm_lines(alarm: Alarm, series: Series) -> list[str]:
    kind = "REGRESSION" if alarm.regression else "improvement"
    state = "" if alarm.open else " (earlier, closed)"
    lines = [f"{kind}{state} {alarm.scenario}: {alarm.series}"]
    lines.append(f"  began at run {alarm.run_id[:12]} ({alarm.at:%Y-%m-%d %H:%M}Z)")
    size = f"  size: {alarm.size_text()} ({value_text(series, alarm.before)} -> {value_text(series, alarm.after)})"
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
            lines += alarm_lines(alarm, outcome.series) + [""]
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
        rows.append([run.short_id, f"{run.at:%Y-%m-%d %H:%M}", value_text(series, value), delta, run.labels.get("git_sha", "")[:10], mark])
    return rows
