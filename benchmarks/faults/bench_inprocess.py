"""Per-call overhead of an in-process fault point: no fault active, and a 0% fault active,
against an undecorated call in the same run (a ratio; the box is shared, so note the load).

    .venv/bin/python benchmarks/faults/bench_inprocess.py [--calls 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable

from assay.faults.inprocess import FaultSpec, Kind
from assay.faults.inprocess.board import Board
from assay.faults.inprocess.point import FaultPoint


def work(x: int) -> int:
    return x + 1


async def awork(x: int) -> int:
    return x + 1


def per_call_ns(fn: Callable[[int], int], calls: int) -> float:
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for i in range(calls):
            fn(i)
        best = min(best, (time.perf_counter_ns() - t0) / calls)
    return best


def per_call_ns_async(fn: Callable[[int], object], calls: int) -> float:
    async def run() -> float:
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter_ns()
            for i in range(calls):
                await fn(i)  # type: ignore[misc]
            best = min(best, (time.perf_counter_ns() - t0) / calls)
        return best

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300_000)
    args = parser.parse_args()
    board = Board()
    point = FaultPoint("db.query", board=board)
    decorated, adecorated = point(work), point(awork)

    def with_block(x: int) -> int:
        with point:
            return work(x)

    rows: list[tuple[str, float, float, float]] = []
    for label, setup in (("no fault active", lambda: board.clear()),
                         ("0% fault active", lambda: board.add(FaultSpec(kind=Kind.EXCEPTION, point="db.*", probability=0.0)))):
        setup()
        base = per_call_ns(work, args.calls)
        rows.append((f"sync decorator, {label}", base, per_call_ns(decorated, args.calls), 0.0))
        rows.append((f"sync `with` block, {label}", base, per_call_ns(with_block, args.calls), 0.0))
        abase = per_call_ns_async(awork, args.calls)
        rows.append((f"async decorator, {label}", abase, per_call_ns_async(adecorated, args.calls), 0.0))
    print(f"load average: {os.getloadavg()}  calls per sample: {args.calls} (best of 5)")
    print(f"{'case':42} {'undecorated ns':>15} {'with point ns':>14} {'ratio':>7} {'added ns':>9}")
    for name, base, dec, _ in rows:
        print(f"{name:42} {base:15.1f} {dec:14.1f} {dec / base:7.2f} {dec - base:9.1f}")


if __name__ == "__main__":
    main()
