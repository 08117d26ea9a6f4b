"""Detection on generated series with known change points and realistic noise.

The floor is set where the teams' 10% rule does not reach it on the same series: the
plain rule cries wolf (low precision) and the 3-nights version misses drifts and
changes hidden in noise (low recall). assay's detector must clear both.
"""

from __future__ import annotations

import numpy as np
import pytest
from trend_corpus import NOISES, Score, as_series, evaluate, make_corpus, score_case

from assay.trends.detect import DetectorSettings, detect, percentile_interval
from assay.trends.rules import Rule, apply_rule

FLOOR_PRECISION = 0.85
FLOOR_RECALL = 0.85
CASES = make_corpus(64, seed=20261204)


def team_rule(consecutive: int):  # type: ignore[no-untyped-def]
    rule = Rule.parse(f"10% above mean of last 7 days for {consecutive} consecutive nights")
    return lambda series: apply_rule(rule, series)


def test_the_teams_rules_do_not_reach_the_floor() -> None:
    plain = evaluate(CASES, team_rule(1))
    three = evaluate(CASES, team_rule(3))
    assert plain.precision < FLOOR_PRECISION, plain
    assert three.recall < FLOOR_RECALL, three


@pytest.mark.slow
def test_assay_clears_the_floor_overall_and_per_noise_family() -> None:
    found = [(case, detect(as_series(case))) for case in CASES]
    total = Score()
    per_noise = {noise: Score() for noise in NOISES}
    for case, alarms in found:
        score = score_case(case, alarms)
        total.add(score)
        per_noise[case.noise].add(score)
    assert total.precision >= FLOOR_PRECISION and total.recall >= FLOOR_RECALL, total
    plain = evaluate(CASES, team_rule(1))
    assert total.alarms - total.true_alarms < (plain.alarms - plain.true_alarms) / 5  # far fewer false alarms
    for noise, part in per_noise.items():
        assert part.precision >= 0.7 and part.recall >= 0.7, (noise, part)


def test_quiet_series_with_outlier_nights_raise_no_alarm() -> None:
    quiet = [c for c in make_corpus(80, seed=99) if not c.changes and c.noise == "outliers"]
    assert quiet
    for case in quiet:
        assert [a for a in detect(as_series(case)) if a.regression] == [], case.outliers


def test_each_alarm_names_its_first_run_size_interval_and_commits() -> None:
    values = [100.0 + d for d in np.random.default_rng(1).normal(0, 3, 40)]
    values[25:] = [v * 1.2 for v in values[25:]]
    from trend_corpus import Case

    case = Case("gaussian", values, [25], [25])
    [alarm] = detect(as_series(case))
    assert alarm.start_index == 25 and alarm.run_id == "run0025" and alarm.regression
    assert alarm.interval is not None and alarm.interval[0] < alarm.change < alarm.interval[1]
    assert 0.1 < alarm.interval[0] and alarm.interval[1] < 0.3
    assert alarm.commits_text() == "0000018..0000019" and alarm.pvalue is not None and alarm.pvalue < 0.005


def test_the_alarm_names_the_first_changed_run_after_a_high_last_night() -> None:
    """The night before the change is the highest of its segment: a rank test cannot place
    the split, the levels can (found by hand on a store: the alarm named the night before)."""
    from trend_corpus import Case

    before = [148.6, 141.7, 150.1, 152.3, 152.3, 150.5, 149.0, 144.1, 153.1, 148.1, 144.0, 149.2, 149.2, 153.3]
    after = [196.9, 197.0, 191.2, 194.4, 204.7, 188.0]
    [alarm] = detect(as_series(Case("gaussian", before + after, [14], [14])))
    assert alarm.start_index == 14 and alarm.run_id == "run0014"
    assert alarm.commits_text() == "000000d..000000e"


def test_alarms_name_the_exact_first_run_of_step_changes() -> None:
    """Over the corpus's step changes (not ramps), the alarm's run is the true first changed
    run in at least 90% of the found changes, and never more than 3 runs off."""
    offsets = []
    for case in (c for c in CASES if c.noise != "drift" and c.changes):
        starts = [a.start_index for a in detect(as_series(case)) if a.regression]
        for change in case.changes:
            near = [s - change for s in starts if abs(s - change) <= 3]
            if near:
                offsets.append(min(near, key=abs))
    assert len(offsets) >= 30
    assert sum(o == 0 for o in offsets) / len(offsets) >= 0.9, offsets


def test_percentile_interval_from_a_histogram_narrows_with_more_samples(run_factory) -> None:  # type: ignore[no-untyped-def]
    settings = DetectorSettings()
    small = run_factory(100, samples=100, seed=1).metrics["http_req_duration"]
    large = run_factory(100, samples=5000, seed=1).metrics["http_req_duration"]
    lo_s, hi_s = percentile_interval(small, "p(95)", settings)  # type: ignore[misc]
    lo_l, hi_l = percentile_interval(large, "p(95)", settings)  # type: ignore[misc]
    assert lo_s <= small.stat("p(95)") <= hi_s and lo_l <= large.stat("p(95)") <= hi_l  # type: ignore[operator]
    assert hi_l - lo_l < (hi_s - lo_s) / 2
    assert percentile_interval(small, "avg", settings) is None


@pytest.mark.parametrize("noise", NOISES)
def test_generated_noise_families_have_what_they_claim(noise: str) -> None:
    cases = [c for c in make_corpus(40, seed=5) if c.noise == noise]
    assert cases and any(c.changes for c in cases) and any(not c.changes for c in cases)
    if noise == "outliers":
        assert all(c.outliers for c in cases)
    if noise == "drift":
        assert any(e - c >= 15 for case in cases for c, e in zip(case.changes, case.ends, strict=True))
