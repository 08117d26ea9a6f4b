"""One detection pass over the store: resolve the series, apply the rules and/or the detector, judge.

An alarm is *open* when its change began within the newest `recent` runs: that is what
fails a nightly CI job (exit 2). Older alarms stay in the report as history. A series
with too little history is skipped with "not enough history: N of M runs", never alarmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from assay.errors import ExitCode, UsageError
from assay.trends.alarms import Alarm
from assay.trends.detect import DetectorSettings, detect, percentile_interval
from assay.trends.rules import Rule, apply_rule
from assay.trends.series import Series, SeriesSpec, default_specs, did_you_mean, load_series
from assay.trends.store import StoredRun, TrendStore
from assay.trends.windows import Window


@dataclass
class SeriesOutcome:
    series: Series
    alarms: list[Alarm] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    baseline_name: str | None = None

    @property
    def band(self) -> tuple[float, float] | None:
        if not self.baseline:
            return None
        arr = np.asarray(self.baseline, dtype=float)
        centre = float(np.median(arr))
        spread = max(1.4826 * float(np.median(np.abs(arr - centre))), abs(centre) * 1e-3)
        return centre - 3 * spread, centre + 3 * spread


@dataclass
class Detection:
    store: str
    outcomes: list[SeriesOutcome]
    methods: list[str]

    @property
    def alarms(self) -> list[Alarm]:
        return [a for o in self.outcomes for a in o.alarms]

    @property
    def regressions(self) -> list[Alarm]:
        return [a for a in self.alarms if a.regression and a.open]

    @property
    def notes(self) -> list[str]:
        return [n for o in self.outcomes for n in o.notes]

    @property
    def exit_code(self) -> int:
        return int(ExitCode.GATE_FAILED) if self.regressions else int(ExitCode.OK)

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": "assay.trend/1",
            "store": self.store,
            "methods": self.methods,
            "regressions": len(self.regressions),
            "exit_code": self.exit_code,
            "series": [
                {
                    "scenario": o.series.scenario,
                    "series": o.series.name,
                    "direction": o.series.direction,
                    "runs": len(o.series),
                    "notes": o.notes,
                    "alarms": [a.to_dict() for a in o.alarms],
                }
                for o in self.outcomes
            ],
        }


def select_runs(
    store: TrendStore, *, scenario: str | None, labels: dict[str, str] | None, since: datetime | None = None
) -> dict[str, list[StoredRun]]:
    """The runs to look at, grouped by scenario (an unknown scenario is a usage error)."""
    runs = store.runs(labels=labels, since=since)
    grouped: dict[str, list[StoredRun]] = {}
    for run in runs:
        grouped.setdefault(run.scenario, []).append(run)
    if scenario is not None:
        if scenario not in grouped:
            known = store.scenarios()
            raise UsageError(f"no runs of scenario {scenario!r} in the store {store.url}{did_you_mean(scenario, known)}")
        return {scenario: grouped[scenario]}
    if not grouped:
        raise UsageError(f"no runs in the store {store.url} match; record some with `assay trend record FILE`")
    return grouped


def resolve(
    store: TrendStore,
    specs: Sequence[SeriesSpec],
    *,
    scenario: str | None = None,
    labels: dict[str, str] | None = None,
    since: datetime | None = None,
    skip_missing: bool = False,
) -> list[Series]:
    """The series of `specs` (else each scenario's defaults). `skip_missing`: the specs are a
    default set (a scenario page's p50/p95/p99), so one a scenario lacks is left out, not an error
    (runs recorded from a k6 summary have p(90)/p(95) but no p(99))."""
    out: list[Series] = []
    grouped = select_runs(store, scenario=scenario, labels=labels, since=since)
    for name, runs in grouped.items():
        wanted = list(specs) or default_specs(store, name)
        for spec in wanted:
            if specs and len(grouped) > 1 and spec.metric not in store.metric_names(name):
                continue  # a named series need only exist in some scenarios
            try:
                out.append(load_series(store, spec, runs, scenario=name))
            except UsageError:
                if specs and not skip_missing:
                    raise
                # a series picked by default that has no values (a rate with no samples, as a
                # chaos run's hypothesis-during rate when no probe ran during the method): nothing to watch
                continue
    if specs and not out:
        spec = specs[0]
        known = store.metric_names()
        raise UsageError(f"no series {spec.metric!r} in the store{did_you_mean(spec.metric, known)}")
    return out


def baseline_values(store: TrendStore, name: str, series: Series) -> list[float]:
    """The named baseline's values for the newest run of `series`."""
    row = store.baseline(name)
    if row.run_id is not None:
        idx = next((i for i, r in enumerate(series.runs) if r.run_id == row.run_id), None)
        if idx is None:
            if not store.runs_with_ids([row.run_id]):
                raise UsageError(f"baseline {name!r}: its run {row.run_id[:12]} is no longer in the store {store.url}; pin another run")
            raise UsageError(
                f"baseline {name!r}: run {row.run_id[:12]} is not among the selected runs of scenario {series.scenario!r} "
                f"with {series.name} (another scenario, or left out by --since/--label)"
            )
        return [series.values[idx]]
    assert row.window is not None
    window = Window.parse(row.window)
    return [series.values[j] for j in window.indices(series.runs, len(series) - 1)]


def required_runs(rule: Rule) -> int:
    if rule.window.kind == "runs":
        return int(rule.window.size) + rule.consecutive
    return rule.consecutive + 1


def compare_with_baseline(series: Series, baseline: list[float], name: str, settings: DetectorSettings) -> Alarm | None:
    """The newest run against a named baseline, through the run's own percentile interval."""
    if not baseline or len(series) < 2:
        return None
    i = len(series) - 1
    interval = percentile_interval(series.metrics[i], series.aggregation, settings) if series.metrics else None
    low, high = interval or (series.values[i], series.values[i])
    ref = float(np.median(baseline))
    if len(baseline) > 1:
        arr = np.asarray(baseline, dtype=float)
        spread = max(1.4826 * float(np.median(np.abs(arr - ref))), abs(ref) * 1e-3)
        band = (ref - settings.band_sigmas * spread, ref + settings.band_sigmas * spread)
    else:
        band = (ref * (1 - settings.min_magnitude), ref * (1 + settings.min_magnitude))
    worse = low > band[1] if series.direction == "higher" else high < band[0]
    if not worse:
        return None
    ratio = (low / ref - 1, high / ref - 1) if ref else None
    return Alarm.build(
        series, start=i, confirmed=i, detector=f"baseline {name!r}: newest run outside the band",
        before=ref, after=series.values[i], interval=ratio,
    )


def analyze(
    store: TrendStore,
    specs: Sequence[SeriesSpec] = (),
    *,
    scenario: str | None = None,
    labels: dict[str, str] | None = None,
    since: datetime | None = None,
    rules: Sequence[Rule] = (),
    stats: bool = True,
    baseline: str | None = None,
    settings: DetectorSettings | None = None,
    min_runs: int = 10,
    recent: int = 5,
    skip_missing: bool = False,
) -> Detection:
    settings = settings or DetectorSettings()
    if baseline is not None:
        store.baseline(baseline)  # an unknown name fails before any work
    outcomes: list[SeriesOutcome] = []
    for series in resolve(store, specs, scenario=scenario, labels=labels, since=since, skip_missing=skip_missing):
        outcome = SeriesOutcome(series)
        n = len(series)
        for rule in rules:
            need = required_runs(rule)
            if n < need:
                outcome.notes.append(f"{series.title}: not enough history for rule '{rule}': {n} of {need} runs")
                continue
            outcome.alarms += apply_rule(rule, series)
        if stats:
            if n < min_runs:
                outcome.notes.append(f"{series.title}: not enough history: {n} of {min_runs} runs")
            else:
                outcome.alarms += detect(series, settings)
        if baseline is not None and n:
            outcome.baseline_name = baseline
            outcome.baseline = baseline_values(store, baseline, series)
            if n >= 2 and outcome.baseline:
                alarm = compare_with_baseline(series, outcome.baseline, baseline, settings)
                if alarm is not None:
                    outcome.alarms.append(alarm)
        if not outcome.baseline and n >= 2:
            default = Window("runs", 7)
            outcome.baseline_name = str(default)
            outcome.baseline = [series.values[j] for j in default.indices(series.runs, n - 1)]
        window = max([recent, *(r.consecutive for r in rules)])
        for alarm in outcome.alarms:
            alarm.open = alarm.start_index >= n - window
        outcome.alarms.sort(key=lambda a: a.start_index)
        outcomes.append(outcome)
    methods = [f"rule: {r}" for r in rules] + (["assay detector"] if stats else []) + ([f"baseline {baseline}"] if baseline else [])
    return Detection(store.url, outcomes, methods)
