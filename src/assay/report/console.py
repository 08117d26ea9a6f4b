"""The k6-style end-of-test summary, for `assay results show` and the end of `assay load run`.

k6 users read this layout without thinking: checks by group, then one dotted line per
metric with its aggregates, sub-metrics indented under their metric, a ✓/✗ in front of
metrics that have thresholds, and a THRESHOLDS block saying which ones were crossed.
"""

from __future__ import annotations

import math

from rich.text import Text

from assay.report.units import gauge_text
from assay.results import Check, Contains, Metric, MetricType, RunResult, ThresholdResult, parse_metric_name
from assay.thresholds import ThresholdError, parse_threshold

OK = "✓"
FAIL = "✗"


def format_duration_ms(ms: float) -> str:
    """Milliseconds the way k6 prints them: 9.56µs, 164.54ms, 1.2s, 2m3.5s."""
    if ms < 0:
        return "-" + format_duration_ms(-ms)
    if ms == 0:
        return "0s"
    if ms < 1:
        return f"{ms * 1000:.2f}µs"
    if ms < 1000:
        return f"{ms:.2f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)}m{secs:.1f}s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)}h{int(minutes)}m{secs:.0f}s"


def format_bytes(n: float) -> str:
    """SI units, as k6 prints data: 4.5 MB, 76 kB."""
    units = ["B", "kB", "MB", "GB", "TB"]
    value = float(n)
    for unit in units:
        if abs(value) < 1000 or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" or value >= 100 else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def format_number(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


def format_value(metric: Metric, key: str, value: float, name: str = "") -> str:
    """An aggregate as k6 prints it (`164.54ms`, `4.5 MB`, `3.00%`); a gauge whose `name` carries a
    unit (`proc_rss_bytes`) in that unit (`117.7 MiB`), its growth in % and its slope per hour."""
    if metric.type is MetricType.GAUGE and name and (text := gauge_text(name, key, value)) is not None:
        return text
    if metric.type is MetricType.TREND and key != "count":
        if metric.contains is Contains.TIME:
            return format_duration_ms(value)
        if metric.contains is Contains.DATA:
            return format_bytes(value)
    if metric.type is MetricType.RATE:
        return f"{value * 100:.2f}%"
    return format_number(value)


def observed_text(result: RunResult, name: str, threshold: ThresholdResult) -> str:
    """A threshold's observed value as the summary prints it, for `threshold crossed: ... (observed X)`
    lines and a plan's gates: `19.74 MiB`, `512.30ms`, `3.00%`; a cross-metric one's left side."""
    value = threshold.observed
    if value is None:
        return "n/a"
    metric = result.metrics.get(name)
    try:
        parsed = parse_threshold(threshold.source)
    except ThresholdError:
        parsed = None
    if metric is None or parsed is None or parsed.composite:
        return f"{value:.4g}"
    return format_value(metric, parsed.aggregation, value, name)


def metric_line_values(result: RunResult, name: str) -> str:
    m = result.metrics[name]
    values = result.values(name)
    if m.type is MetricType.COUNTER:
        count = values.get("count", 0.0)
        rate = values.get("rate")
        if m.contains is Contains.DATA:
            text = format_bytes(count)
            return text + (f" {format_bytes(rate)}/s" if rate is not None else "")
        return format_number(count) + (f" {rate:.6g}/s" if rate is not None else "")
    if m.type is MetricType.RATE:
        rate = values.get("rate")
        shown = f"{rate * 100:.2f}%" if rate is not None else "n/a"
        return f"{shown} {OK} {m.passes} {FAIL} {m.fails}"
    if m.type is MetricType.GAUGE:
        return " ".join(
            [format_value(m, "value", values.get("value", 0.0), name)]
            + [f"{k}={format_value(m, k, values[k], name)}" for k in ("min", "max") if k in values]
        )
    parts = []
    for key in result.trend_stats:
        if key in values:
            parts.append(f"{key}={format_value(m, key, values[key])}")
    if not parts:
        return "no samples"
    return " ".join(parts)


def _checks_block(checks: list[Check]) -> list[Text]:
    lines: list[Text] = []
    by_group: dict[str, list[Check]] = {}
    for c in checks:
        by_group.setdefault(c.group_path, []).append(c)
    for group in sorted(by_group):
        indent = "     "
        if group:
            depth = group.count("::")
            name = group.rsplit("::", 1)[-1]
            lines.append(Text(f"{'  ' * (depth - 1)}     █ {name}", style="bold"))
            lines.append(Text(""))
            indent = "  " * depth + "     "
        for c in by_group[group]:
            if c.fails == 0:
                lines.append(Text(f"{indent}{OK} {c.name}", style="green"))
            else:
                lines.append(Text(f"{indent}{FAIL} {c.name}", style="red"))
                lines.append(
                    Text(f"{indent} ↳  {math.floor(c.rate * 100)}% — {OK} {c.passes} / {FAIL} {c.fails}", style="red")
                )
        lines.append(Text(""))
    return lines


def summary_text(result: RunResult, *, width: int = 32) -> Text:
    """The whole summary as rich Text: colours on a TTY, plain text elsewhere."""
    out = Text()
    lines: list[Text] = []
    if result.checks:
        lines += _checks_block(result.checks)
    for base in result.base_metrics():
        lines.append(_metric_line(result, base, base, width, indent=0))
        for sub in result.submetrics_of(base):
            _, tags = parse_metric_name(sub)
            label = "{ " + ", ".join(f"{k}:{v}" for k, v in tags.items()) + " }"
            lines.append(_metric_line(result, sub, label, width, indent=2))
    orphan_subs = [n for n in result.metrics if "{" in n and parse_metric_name(n)[0] not in result.metrics]
    for sub in sorted(orphan_subs):
        lines.append(_metric_line(result, sub, sub, width, indent=0))
    thresholds = list(result.thresholds())
    if thresholds:
        lines += [Text(""), Text("     THRESHOLDS", style="bold"), Text("")]
        for name, t in thresholds:
            observed = ""
            m = result.metrics[name]
            composite = False
            try:
                parsed = parse_threshold(t.source)
                agg, composite = parsed.aggregation, parsed.composite
            except ThresholdError:
                agg = ""
            value = t.observed if t.observed is not None else (m.stat(agg, result.duration_s or None) if agg and not composite else None)
            if value is not None:
                # a cross-metric expression shows the value of its left side
                observed = f" observed={value:.6g}" if composite else f" {agg}={format_value(m, agg, value, name)}"
            if t.ok is False:
                lines.append(Text(f"     {FAIL} {name}: '{t.source}'{observed}", style="bold red"))
            elif t.ok is True:
                lines.append(Text(f"     {OK} {name}: '{t.source}'{observed}", style="green"))
            else:
                lines.append(Text(f"     ? {name}: '{t.source}' (not evaluated)", style="yellow"))
    lines += problems_block(result)
    header = Text(f"     {result.name}  ({result.tool}, {result.duration_s:.1f}s, {result.status.value})\n\n", style="bold")
    out.append_text(header)
    for line in lines:
        out.append_text(line)
        out.append("\n")
    return out


def problems_block(result: RunResult, *, shown: int = 5) -> list[Text]:
    """Why requests failed (top causes, endpoints), iteration exceptions with where they were
    raised, and exceptions inside check predicates: each once, with its count."""
    extra = result.extra or {}
    where: dict[str, str] = extra.get("error_where") or {}
    lines: list[Text] = []
    failures = extra.get("failures")
    if failures:
        pct = 100.0 * failures["failed"] / failures["requests"] if failures["requests"] else 0.0
        lines += [Text(""), Text(f"     FAILED REQUESTS  {failures['failed']} of {failures['requests']} ({pct:.2f}%)", style="bold red"), Text("")]
        for c in failures["causes"]:
            lines.append(Text(f"     {c['code']:>9}  {c['meaning']}: {c['count']}", style="red"))
        if failures.get("more_causes"):
            lines.append(Text(f"                ... and {failures['more_causes']} more causes"))
        if failures["endpoints"]:
            lines.append(Text("     by endpoint:"))
            for e in failures["endpoints"]:
                lines.append(Text(f"       {e['name']}: {e['failed']} of {e['requests']} failed", style="red"))
            if failures.get("more_endpoints"):
                lines.append(Text(f"       ... and {failures['more_endpoints']} more endpoints"))
    warning = extra.get("omission_warning")
    if warning:
        lines += [Text(""), Text("     LATENCY HIDDEN BY THE CLOSED MODEL", style="bold yellow"), Text(""), Text(f"     {warning}", style="yellow")]
    errors: dict[str, int] = extra.get("errors") or {}
    if errors:
        total = sum(errors.values())
        lines += [Text(""), Text(f"     ITERATION ERRORS  {total} iteration(s) raised an exception", style="bold red"), Text("")]
        samples = extra.get("error_samples") or sorted(errors, key=lambda k: -errors[k])
        for key in samples[:shown]:
            lines.append(Text(f"     {key}  (x{errors.get(key, 1)})", style="red"))
            if key in where:
                lines.append(Text(f"         at {where[key]}"))
        if len(errors) > shown:
            lines.append(Text(f"     ... and {len(errors) - min(shown, len(samples))} more kinds"))
    check_errors: dict[str, int] = extra.get("check_errors") or {}
    if check_errors:
        lines += [Text(""), Text("     CHECK ERRORS  predicates that raised (each counted as a failed check)", style="bold red"), Text("")]
        for key, n in sorted(check_errors.items(), key=lambda kv: -kv[1])[:shown]:
            lines.append(Text(f"     {key}  (x{n})", style="red"))
            if key in where:
                lines.append(Text(f"         at {where[key]}"))
    return lines


def _metric_line(result: RunResult, name: str, label: str, width: int, *, indent: int) -> Text:
    m = result.metrics[name]
    mark = "  "
    style = ""
    if m.thresholds:
        failed = any(t.ok is False for t in m.thresholds)
        mark = f"{FAIL} " if failed else f"{OK} "
        style = "red" if failed else "green"
    pad = " " * indent
    dotted = (pad + label).ljust(width + 2, ".") if len(pad + label) < width + 2 else pad + label
    line = Text(f"   {mark}")
    if style:
        line.stylize(style)
    line.append(f"{dotted}: ", style="bold" if indent == 0 else "")
    line.append(metric_line_values(result, name))
    return line


def render_summary(result: RunResult) -> str:
    """The summary as plain text (no colour codes)."""
    return summary_text(result).plain
