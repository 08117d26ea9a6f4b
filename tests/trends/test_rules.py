"""The teams' rules on hand-made series, with the exact expected verdicts (incl. the "3 in a row" edges)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assay.errors import UsageError
from assay.trends.rules import Rule, apply_rule, verdicts
from assay.trends.series import Series
from assay.trends.store import StoredRun
from assay.trends.windows import Window

MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TEAM = "10% above the mean of the last 7 days"
TEAM_3 = TEAM + " for 3 consecutive nights"


def nightly(values: list[float], *, direction: str = "higher", days: list[int] | None = None) -> Series:
    offsets = days if days is not None else list(range(len(values)))
    runs = [
        StoredRun(i + 1, f"r{i:03d}", "s", "s", "load", "passed", MONDAY + timedelta(days=d), 60.0, {"git_sha": f"sha{i}"})
        for i, d in enumerate(offsets)
    ]
    return Series("s", "http_req_duration", "p(95)", direction, runs, list(values))  # type: ignore[arg-type]


def breaches(rule: str, series: Series) -> list[int]:
    return [v.index for v in verdicts(Rule.parse(rule), series) if v.breach]


def alarms(rule: str, series: Series) -> list[tuple[int, int]]:
    return [(a.start_index, a.confirmed_index) for a in apply_rule(Rule.parse(rule), series)]


def test_more_than_ten_percent_breaches_exactly_ten_does_not() -> None:
    assert breaches(TEAM, nightly([100] * 7 + [111])) == [7]
    assert breaches(TEAM, nightly([100] * 7 + [110])) == []
    assert alarms(TEAM, nightly([100] * 7 + [111])) == [(7, 7)]


def test_three_in_a_row_fires_on_the_third_and_names_the_first() -> None:
    series = nightly([100] * 7 + [115, 115, 115])
    # the window of night 9 holds nights 2..8: (5*100 + 2*115)/7 = 104.29, limit 114.71 < 115
    assert breaches(TEAM_3, series) == [7, 8, 9]
    assert alarms(TEAM_3, series) == [(7, 9)]
    alarm = apply_rule(Rule.parse(TEAM_3), series)[0]
    assert alarm.run_id == "r007" and alarm.commits_text() == "sha6..sha7"
    assert alarm.before == pytest.approx(100) and alarm.after == 115


def test_two_breaches_then_a_good_night_reset_the_count() -> None:
    series = nightly([100] * 7 + [120, 120, 100, 130, 130])
    assert breaches(TEAM_3, series) == [7, 8, 10, 11]
    assert alarms(TEAM_3, series) == []


def test_a_long_streak_is_one_alarm_and_a_new_streak_another() -> None:
    values = [100] * 7 + [200] * 4 + [100] * 8 + [300] * 3
    series = nightly(values)
    rule = "10% above mean of last 3 runs for 3 consecutive runs"
    assert alarms(rule, series) == [(7, 9), (19, 21)]
    # the window catches up with the new level: night 10's window is all 200s, so the streak ends there
    assert [v.streak for v in verdicts(Rule.parse(rule), series)][7:11] == [1, 2, 3, 0]


def test_the_breach_that_makes_three_is_the_newest_run() -> None:
    assert alarms(TEAM_3, nightly([100] * 7 + [130, 130])) == []  # two so far: not yet
    assert alarms(TEAM_3, nightly([100] * 7 + [130, 130, 150])) == [(7, 9)]


def test_nights_without_history_break_the_streak() -> None:
    # a ten-day gap: night 8 has no run in its last 7 days, so it has no verdict and no streak
    series = nightly([100, 100, 100, 150, 150, 150, 150], days=[0, 1, 2, 13, 14, 15, 16])
    result = verdicts(Rule.parse(TEAM_3), series)
    assert [v.baseline for v in result][:4] == [None, 100, 100, None]
    # nights 14..16 compare with the 150s only (nights 0..2 are out of the 7-day window)
    assert breaches(TEAM_3, series) == []
    assert alarms("10% above mean of last 7 runs for 3 consecutive", series) == [(3, 5)]


def test_lower_is_worse_for_throughput() -> None:
    rule = "10% worse than the median of the last 5 runs"
    assert breaches(rule, nightly([100] * 5 + [89], direction="lower")) == [5]
    assert breaches(rule, nightly([100] * 5 + [130], direction="lower")) == []  # faster is no regression
    # "above" forces the direction even on a lower-is-worse series
    assert breaches("10% above median of last 5 runs", nightly([100] * 5 + [130], direction="lower")) == [5]


def test_mean_and_median_differ_on_an_outlier_night() -> None:
    series = nightly([100, 100, 100, 100, 200, 115])
    assert breaches("10% above mean of last 5 runs", series) == [4]  # night 5: mean 120, limit 132
    assert breaches("10% above median of last 5 runs", series) == [4, 5]  # median 100, limit 110


def test_same_weekday_window() -> None:
    # Mondays run at 100, other days at 300; a Monday at 115 breaches a same-weekday rule only
    values, days = [], []
    for week in range(3):
        for d in range(7):
            values.append(100.0 if d == 0 else 300.0)
            days.append(week * 7 + d)
    values.append(115.0)
    days.append(21)
    series = nightly(values, days=days)
    assert breaches("10% above mean of same weekday 3", series) == [21]
    assert Window.parse("same weekday 3").indices(series.runs, 21) == [0, 7, 14]
    assert 21 not in breaches("10% above mean of last 7 days", series)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TEAM_3, Rule(10, "mean", Window("days", 7), 3, "higher")),
        ("5% worse than median of last 10 runs", Rule(5, "median", Window("runs", 10), 1, None)),
        ("12.5% below the average of 7d, 2 nights in a row", Rule(12.5, "mean", Window("days", 7), 2, "lower")),
        ("10% above mean of same weekday", Rule(10, "mean", Window("weekday", 4), 1, "higher")),
    ],
)
def test_rule_phrasings(text: str, expected: Rule) -> None:
    assert Rule.parse(text) == expected
    assert Rule.parse(str(expected)) == expected  # the printed form reads back


@pytest.mark.parametrize("text", ["10 above mean of last 7 days", "10% above mean", "10% above mean of last week", "10% above mean of last 0 runs"])
def test_bad_rules_say_what_is_expected(text: str) -> None:
    with pytest.raises(UsageError, match="expected"):
        Rule.parse(text)
