"""Resource watching around any run: sample targets, then judge leaks and resource thresholds.

One object so a command adds sampling with three lines: build it from the user's
`--sample` and `--threshold` values, wrap the run in it, and `finish(result)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from assay.observe.leak import DEFAULT_WARMUP, LeakVerdict, growth_and_slope, judge
from assay.observe.sampler import RESOURCE_METRICS, Sampler, parse_target
from assay.results import MetricType, RunResult, RunStatus, ThresholdResult, parse_metric_name
from assay.thresholds import ThresholdError, evaluate_metric, validate_threshold

LEAK_RESOURCES = ("proc_rss_bytes", "proc_uss_bytes", "proc_open_fds", "proc_threads", "proc_tcp_connections")


def is_resource_metric(metric: str) -> bool:
    try:
        base, _ = parse_metric_name(metric)
    except ValueError:
        return False
    return base in RESOURCE_METRICS


def split_thresholds(pairs: Iterable[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(engine's thresholds, resource thresholds): the sampler's gauges are not the engine's metrics."""
    engine: list[tuple[str, str]] = []
    resources: list[tuple[str, str]] = []
    for metric, expr in pairs:
        (resources if is_resource_metric(metric) else engine).append((metric, expr))
    return engine, resources


class ResourceWatch:
    """Samples while the run lasts; afterwards adds gauges, leak verdicts and threshold verdicts."""

    def __init__(
        self,
        targets: Sequence[str],
        thresholds: Sequence[tuple[str, str]] = (),
        *,
        interval: float = 1.0,
        warmup: float | str = DEFAULT_WARMUP,
        services: Mapping[str, int] | None = None,
    ) -> None:
        for metric, expr in thresholds:
            try:
                validate_threshold(metric, MetricType.GAUGE, expr)
            except ThresholdError as exc:
                raise ThresholdError(f"--threshold {metric}:{expr}: {exc}") from None
        if thresholds and not targets:
            raise ThresholdError(f"--threshold {thresholds[0][0]}: resource thresholds need --sample")
        self.thresholds = list(thresholds)
        self.warmup = warmup
        self.sampler: Sampler | None = (
            Sampler([parse_target(t, services) for t in targets], interval=interval) if targets else None
        )
        names = {t.name for t in self.sampler.targets} if self.sampler else set()
        for metric, expr in thresholds:
            proc = parse_metric_name(metric)[1].get("proc")
            if proc not in names:
                raise ThresholdError(
                    f"--threshold {metric}:{expr}: needs a proc tag naming a sampled process; sampled: {', '.join(sorted(names))}"
                )

    def __enter__(self) -> ResourceWatch:
        if self.sampler is not None:
            self.sampler.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.sampler is not None:
            self.sampler.stop()

    def finish(self, result: RunResult) -> RunResult:
        """Attach samples, verdicts and resource thresholds (re-evaluated on the whole result)."""
        if self.sampler is None:
            return result
        self.sampler.attach(result)
        raw = self.sampler.metric_names()  # verdicts read every reading, not one per second

        def readings(name: str) -> tuple[list[float], list[float]]:
            target, key = raw[name]
            series = self.sampler.series[target][key]  # type: ignore[union-attr]
            return series.times, series.values

        leaks: list[dict[str, Any]] = []
        for name in sorted(raw):
            base, tags = parse_metric_name(name)
            if base in LEAK_RESOURCES and "state" not in tags:
                leaks.append(judge(name, *readings(name), warmup=self.warmup).to_dict())
        result.extra["leaks"] = leaks
        for metric, expr in self.thresholds:
            m = result.metrics.get(metric)
            if m is None:  # the process never showed up (or the OS hid that resource)
                result.notes.append(f"resource threshold {metric}:{expr}: no such series was sampled")
                continue
            m.thresholds.append(ThresholdResult(source=expr))
            times, values = readings(metric)

            def stat(aggregation: str, times: list[float] = times, values: list[float] = values) -> float | None:
                fitted = growth_and_slope(times, values, self.warmup)
                return None if fitted is None else fitted[0] if aggregation == "growth" else fitted[1]

            evaluate_metric(m, result.duration_s or None, stat)
        if result.failed_thresholds() and result.status is RunStatus.PASSED:
            result.status = RunStatus.FAILED
        return result


def describe_leaks(result: RunResult) -> list[str]:
    """One line per judged resource, with its numbers (for the console)."""
    lines = []
    for item in result.extra.get("leaks") or []:
        verdict = LeakVerdict(**item)
        lines.append(verdict.describe("B" if "_bytes" in verdict.metric else ""))
    return lines
