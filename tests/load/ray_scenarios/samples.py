"""Every iteration records one value fixed by its global number: whichever worker runs it,
the run's set of samples is the same (merged percentiles must equal a one-process run's)."""

from assay.load import Trend

recorded = Trend("recorded_ms", contains="time")

options = {
    "scenarios": {"fixed": {"executor": "shared-iterations", "vus": 4, "iterations": 600, "maxDuration": "60s"}},
    "thresholds": {"recorded_ms": ["p(95)<100000"]},
}


async def default(vu):
    i = vu.iteration_in_scenario
    recorded.add(((i * 7919) % 1000) / 3.7 + (i % 7) * 0.013)
