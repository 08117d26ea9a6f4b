"""Trends benchmark: detectors on a generated corpus, the change-point library choice, and store speed.

    .venv/bin/python benchmarks/trends/bench_trends.py [--series 240] [--runs 10000] [--postgres URL]

1. Precision, recall and detection delay on >= 200 generated nightly series with known
   changes (Gaussian, heavy-tailed, outlier nights, slow drift; tests/trends/trend_corpus.py):
   (a) 10% above the 7-day mean, (b) the same for 3 consecutive nights, (c) Apache Otava's
   defaults, (d) assay's detector. Delay = runs after the change until the detector, run
   every night on the history so far, first raises a matching alarm (capped at 15).
2. The change-point library: Otava's windowed E-Divisive vs MongoDB's
   signal-processing-algorithms `e_divisive` (permutation test), same corpus, CPU time.
3. The store with N runs on SQLite and PostgreSQL: record time per run against an anchor
   (serialising the same RunResult to JSON), and detection time over the whole history
   against an anchor (Otava's own call on the same values).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2] / "tests" / "trends"))

from trend_corpus import Case, Score, as_series, make_corpus, score_case  # noqa: E402

from assay.trends.alarms import Alarm  # noqa: E402
from assay.trends.detect import detect, otava_defaults  # noqa: E402
from assay.trends.rules import Rule, apply_rule  # noqa: E402
from assay.trends.series import Series  # noqa: E402

MAX_DELAY = 15


def rule(text: str) -> Callable[[Series], list[Alarm]]:
    parsed = Rule.parse(text)
    return lambda s: apply_rule(parsed, s)


DETECTORS: dict[str, Callable[[Series], list[Alarm]]] = {
    "(a) 10% > 7-day mean": rule("10% above mean of last 7 days"),
    "(b) same, 3 consecutive": rule("10% above mean of last 7 days for 3 consecutive nights"),
    "(c) Otava defaults": otava_defaults,
    "(d) assay detector": detect,
}


def delay(case: Case, change: int, end: int, detector: Callable[[Series], list[Alarm]]) -> int | None:
    """Nights after `change` until a nightly run of the detector raises an alarm for it."""
    for upto in range(change + 1, min(len(case.values), change + MAX_DELAY + 1) + 1):
        alarms = detector(as_series(case, upto))
        if any(a.regression and change - 2 <= a.start_index <= end + 5 for a in alarms):
            return upto - 1 - change
    return None


def detectors_table(cases: list[Case]) -> None:
    print(f"\n## Detectors on {len(cases)} generated series ({sum(len(c.changes) for c in cases)} changes)\n")
    print("| detector | precision | recall | false alarms | median delay (nights) | found within 15 nights | CPU s |")
    print("|---|---|---|---|---|---|---|")
    for name, detector in DETECTORS.items():
        start = time.process_time()
        total = Score()
        for case in cases:
            total.add(score_case(case, detector(as_series(case))))
        cpu = time.process_time() - start
        delays = []
        for case in cases:
            for c, e in zip(case.changes, case.ends, strict=True):
                d = delay(case, c, e, detector)
                if d is not None:
                    delays.append(d)
        n_changes = sum(len(c.changes) for c in cases)
        med = statistics.median(delays) if delays else float("nan")
        print(f"| {name} | {total.precision:.2f} | {total.recall:.2f} | {total.alarms - total.true_alarms} | {med:.0f} | {len(delays)}/{n_changes} | {cpu:.1f} |")
    print("\nper noise family (precision / recall):\n")
    print("| detector | gaussian | heavy | outliers | drift |")
    print("|---|---|---|---|---|")
    for name, detector in DETECTORS.items():
        cells = []
        for noise in ("gaussian", "heavy", "outliers", "drift"):
            part = Score()
            for case in (c for c in cases if c.noise == noise):
                part.add(score_case(case, detector(as_series(case))))
            cells.append(f"{part.precision:.2f} / {part.recall:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def library_table(cases: list[Case]) -> None:
    from assay.trends.changepoints import otava_change_points

    print("\n## Change-point library (raw calls, default settings, regressions only)\n")
    print("| library | precision | recall | CPU s |")
    print("|---|---|---|---|")

    def run(name: str, find: Callable[[list[float]], list[int]]) -> None:
        start = time.process_time()
        total = Score()
        for case in cases:
            series = as_series(case)
            alarms = []
            for idx in find(case.values):
                before = float(np.mean(case.values[max(0, idx - 10) : idx]))
                after = float(np.mean(case.values[idx : idx + 10]))
                alarms.append(Alarm.build(series, start=idx, confirmed=idx, detector=name, before=before, after=after))
            total.add(score_case(case, alarms))
        print(f"| {name} | {total.precision:.2f} | {total.recall:.2f} | {time.process_time() - start:.1f} |")

    run("apache-otava 0.8.0 compute_change_points (p 0.001, window 50)", lambda v: [c.index for c in otava_change_points(v)])
    try:
        from signal_processing_algorithms.energy_statistics.energy_statistics import e_divisive
    except ImportError:
        print("| signal-processing-algorithms | not installed (make bench) | | |")
        return
    run("signal-processing-algorithms 2.1.6 e_divisive (p 0.05, 100 permutations)", lambda v: [int(i) for i in e_divisive(np.asarray(v), pvalue=0.05, permutations=100)])


def store_table(runs: int, urls: dict[str, str], reuse_store: bool = False) -> None:
    from tests_runs import make_run  # type: ignore[import-not-found]

    from assay.trends.analyze import analyze
    from assay.trends.changepoints import otava_change_points
    from assay.trends.series import SeriesSpec
    from assay.trends.store import open_store

    print(f"\n## Store with {runs} runs\n")
    print(
        "| store | record ms/run | anchor: to_json ms/run | ratio | detect s (1 series) | anchor: Otava call s | ratio "
        "| detect s (default series) | detect CPU s | anchor CPU s | CPU ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    templates = [make_run(100 * (1.2 if k >= 25 else 1.0) * (1 + 0.03 * np.sin(k)), day=k, samples=200, seed=k) for k in range(50)]
    for name, url in urls.items():
        store = open_store(url)
        from assay.trends.models import Base

        reuse = reuse_store and store.count() >= runs
        if not reuse:
            with store.engine.begin() as conn:
                for table in reversed(Base.metadata.sorted_tables):
                    conn.execute(table.delete())
        record_s = anchor_s = 0.0
        for k in range(0 if reuse else runs):
            run = templates[k % 50].model_copy(update={"id": uuid.uuid4().hex})
            at = templates[0].finished_at + timedelta(hours=6 * k)  # type: ignore[operator]
            t0 = time.perf_counter()
            run.to_json(indent=None)
            t1 = time.perf_counter()
            store.record(run, at=at)
            t2 = time.perf_counter()
            anchor_s += t1 - t0
            record_s += t2 - t1
            if k and k % 1000 == 0:
                print(f"  ... {name}: {k} runs recorded", file=sys.stderr)
        spec = SeriesSpec("http_req_duration", "p(95)")
        t0, c0 = time.perf_counter(), time.process_time()
        detection = analyze(store, [spec])
        detect_s = time.perf_counter() - t0
        detect_cpu = time.process_time() - c0  # this process only (SQLite: all of it; PostgreSQL: not the server)
        values = detection.outcomes[0].series.values
        t0, c0 = time.perf_counter(), time.process_time()
        otava_change_points(values)
        otava_s = time.perf_counter() - t0
        otava_cpu = time.process_time() - c0
        t0 = time.perf_counter()
        analyze(store)
        default_s = time.perf_counter() - t0
        store.close()
        recorded = f"{record_s / runs * 1000:.1f} | {anchor_s / runs * 1000:.2f} | {record_s / anchor_s:.1f}" if not reuse else "(reused) | | "
        print(
            f"| {name} | {recorded} | "
            f"{detect_s:.2f} | {otava_s:.2f} | {detect_s / otava_s:.1f} | {default_s:.2f} | "
            f"{detect_cpu:.2f} | {otava_cpu:.2f} | {detect_cpu / otava_cpu:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=240)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL for the store part (a scratch database)")
    parser.add_argument("--sqlite", default="sqlite:////tmp/assay-bench-trends.db")
    parser.add_argument("--reuse", action="store_true", help="time detection on an already filled store")
    parser.add_argument("--no-sqlite", action="store_true", help="store part on PostgreSQL only")
    parser.add_argument("--skip", default="", help="comma list of parts to skip: detectors,library,store")
    args = parser.parse_args()
    print(f"load average at start: {Path('/proc/loadavg').read_text().split()[:3]}")
    cases = make_corpus(args.series, seed=2026)
    skip = set(args.skip.split(","))
    if "detectors" not in skip:
        detectors_table(cases)
    if "library" not in skip:
        library_table(cases)
    if "store" not in skip:
        sys.path.insert(0, str(HERE.parent))
        urls = {"SQLite": args.sqlite} if not args.no_sqlite else {}
        if args.postgres:
            urls["PostgreSQL"] = args.postgres
        store_table(args.runs, urls, reuse_store=args.reuse)
    print(f"\nload average at end: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
