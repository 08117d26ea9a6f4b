"""The delivery ledger's cost: CPU and memory per message, and RSS over a paced soak.

    .venv/bin/python benchmarks/messaging/bench_ledger.py cost --rounds 3
    .venv/bin/python benchmarks/messaging/bench_ledger.py soak --seconds 180 --rate 500 --receivers 50

`cost`: 10 s of traffic at 10,000 msg/s (100,000 messages on 100 keys, each to one
receiver, plus a fan-out run: 10,000 messages to 10 receivers each), fed as fast as the
ledger takes them. The anchor, measured in the same run, is the naive checker a team writes
by hand (tests/messaging/test_ledger_properties.py's reference: every send and every
receipt kept in dicts and lists). CPU is process time per message (send + ack + receipt +
the final verdict); memory is tracemalloc's peak of what each keeps.

`soak`: a paced run in real time: `rate` messages a second, each received by every one of
`receivers` receivers (500 msg/s to 50 receivers = 25,000 receipts a second), with the
ledger's RSS sampled every 10 s. The growth is fitted and extrapolated to 30 minutes: the
extrapolation is printed as such; the soak itself is shorter.

The box is shared with other work: the load average is printed with the numbers.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
import tracemalloc
from collections import defaultdict
from typing import Any

import psutil

from assay.messaging import ALL_KEYS, Envelope, Ledger


class NaiveChecker:
    """The anchor: keeps every send and every receipt, judges at the end by looking at all."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.sends: list[tuple[str, str, int, float]] = []
        self.acked: set[int] = set()
        self.receipts: list[tuple[str, int, float]] = []
        self.seq: dict[tuple[str, str], int] = defaultdict(int)

    def send(self, producer: str, key: str) -> tuple[int, str]:
        seq = self.seq[(producer, key)]
        self.seq[(producer, key)] += 1
        env = Envelope(producer, key, seq, time.time())
        self.sends.append((producer, key, seq, env.ts))
        self.index[env.id] = len(self.sends) - 1
        return len(self.sends) - 1, env.token()

    def ack(self, i: int) -> None:
        self.acked.add(i)

    def receive(self, receiver: str, text: str) -> None:
        env = Envelope.find(text)
        assert env is not None
        self.receipts.append((receiver, self.index[env.id], time.time()))

    def verdict(self, receivers: list[str]) -> dict[str, int]:
        got: dict[tuple[str, int], int] = defaultdict(int)
        for r, i, _ in self.receipts:
            got[(r, i)] += 1
        lost = sum(1 for i in self.acked if not all(got[(r, i)] for r in receivers))
        dups = sum(n - 1 for n in got.values() if n > 1)
        return {"lost": lost, "duplicated": dups}


def feed_ledger(n: int, keys: int, receivers: list[str]) -> Ledger:
    ledger = Ledger(grace=0)
    for r in receivers:
        ledger.entitle(r, ALL_KEYS, since=0)
    send, ack, receive = ledger.send, ledger.ack, ledger.receive
    names = [f"k{i}" for i in range(keys)]
    for i in range(n):
        env = send("p", names[i % keys])
        ack(env)
        token = env.token()  # what a receiver gets: the text, parsed by the ledger
        for r in receivers:
            receive(r, token)
    v = ledger.verdict(final=True)
    assert v.delivered == n and v.lost == 0, v.counts()
    return ledger


def feed_naive(n: int, keys: int, receivers: list[str]) -> NaiveChecker:
    checker = NaiveChecker()
    names = [f"k{i}" for i in range(keys)]
    for i in range(n):
        idx, token = checker.send("p", names[i % keys])
        checker.ack(idx)
        for r in receivers:
            checker.receive(r, token)
    assert checker.verdict(receivers)["lost"] == 0
    return checker


def measure(fn: Any, *args: Any) -> tuple[float, int]:
    """(CPU seconds, peak bytes allocated) of one call."""
    gc.collect()
    tracemalloc.start()
    t0 = time.process_time()
    kept = fn(*args)
    cpu = time.process_time() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return cpu, peak


def cpu_only(fn: Any, *args: Any) -> float:
    gc.collect()
    t0 = time.process_time()
    fn(*args)
    return time.process_time() - t0


def cost(rounds: int) -> None:
    cases = [("10k msg/s x 10 s, 1 receiver", 100_000, 100, ["group"]), ("fan-out: 10k msgs x 10 receivers", 10_000, 100, [f"r{i}" for i in range(10)])]
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 shared cores; other work runs here)")
    print(f"{'case':34} {'what':22} {'ledger':>12} {'naive':>12} {'ledger/naive':>13}")
    for label, n, keys, receivers in cases:
        receipts = n * len(receivers)
        cpu_l = [cpu_only(feed_ledger, n, keys, receivers) for _ in range(rounds)]
        cpu_n = [cpu_only(feed_naive, n, keys, receivers) for _ in range(rounds)]
        _, mem_l = measure(feed_ledger, n, keys, receivers)
        _, mem_n = measure(feed_naive, n, keys, receivers)
        _, mem_l2 = measure(feed_ledger, 2 * n, keys, receivers)
        _, mem_n2 = measure(feed_naive, 2 * n, keys, receivers)
        per_l = statistics.median(cpu_l) / receipts * 1e6
        per_n = statistics.median(cpu_n) / receipts * 1e6
        marg_l = (mem_l2 - mem_l) / n
        marg_n = (mem_n2 - mem_n) / n
        print(f"{label:34} {'CPU per receipt':22} {per_l:9.2f} µs {per_n:9.2f} µs {per_l / per_n:12.2f}x")
        print(f"{'':34} {'peak memory':22} {mem_l / 2**20:9.1f} MB {mem_n / 2**20:9.1f} MB {mem_l / mem_n:12.3f}x")
        print(f"{'':34} {'memory per extra msg':22} {marg_l:10.1f} B {marg_n:10.1f} B {marg_l / marg_n:12.3f}x")
        print(f"{'':34} ({receipts} receipts, median of {rounds} rounds: at 10k msg/s the ledger takes {per_l * len(receivers):.0f} % of a core)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def soak(seconds: float, rate: float, receivers_n: int, keys: int) -> None:
    proc = psutil.Process()
    ledger = Ledger(grace=5.0)
    receivers = [f"r{i}" for i in range(receivers_n)]
    for r in receivers:
        ledger.entitle(r, ALL_KEYS)
    names = [f"k{i}" for i in range(keys)]
    gc.collect()
    base_rss = proc.memory_info().rss
    samples: list[tuple[float, int]] = [(0.0, base_rss)]
    t0 = time.monotonic()
    cpu0 = time.process_time()
    sent = 0
    next_sample = 10.0
    tick = 0.05  # send in 50 ms batches, on schedule
    while True:
        elapsed = time.monotonic() - t0
        if elapsed >= seconds:
            break
        due = int(elapsed * rate)
        while sent < due:
            env = ledger.send("p", names[sent % keys])
            ledger.ack(env)
            token = env.token()
            for r in receivers:
                ledger.receive(r, token)
            sent += 1
        if elapsed >= next_sample:
            samples.append((elapsed, proc.memory_info().rss))
            next_sample += 10.0
            v = ledger.verdict(histograms=False)
            print(f"  {elapsed:6.0f} s: sent {v.sent}, receipts {v.receipts}, rss {samples[-1][1] / 2**20:.1f} MiB, footprint {ledger.footprint()}", flush=True)
        time.sleep(max(0.0, tick - (time.monotonic() - t0 - elapsed)))
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    end_rss = proc.memory_info().rss
    xs = [t for t, _ in samples[1:]]
    ys = [r for _, r in samples[1:]]
    slope = statistics.linear_regression(xs, ys).slope if len(xs) >= 2 else 0.0
    v = ledger.verdict(final=True)
    print(f"load average: {os.getloadavg()[0]:.2f} (2 shared cores; other work runs here)")
    print(f"soak: {wall:.0f} s at {rate:g} msg/s to {receivers_n} receivers: {v.sent} messages, {v.receipts} receipts, lost {v.lost}")
    print(f"CPU: {cpu / wall * 100:.1f} % of a core ({cpu / max(1, v.receipts) * 1e6:.2f} µs per receipt)")
    print(f"RSS: {base_rss / 2**20:.1f} MiB at start, {end_rss / 2**20:.1f} MiB at the end (+{(end_rss - base_rss) / 2**20:.2f} MiB)")
    print(f"RSS growth fitted over the samples: {slope * 60 / 2**20:.3f} MiB/min")
    print(f"EXTRAPOLATED (not measured) to 30 min: +{slope * 1800 / 2**20:.1f} MiB over the start; "
          f"the ledger's own send-time array grows 4 B/message = {rate * 1800 * 4 / 2**20:.1f} MiB in 30 min")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cost")
    c.add_argument("--rounds", type=int, default=3)
    s = sub.add_parser("soak")
    s.add_argument("--seconds", type=float, default=180.0)
    s.add_argument("--rate", type=float, default=500.0)
    s.add_argument("--receivers", type=int, default=50)
    s.add_argument("--keys", type=int, default=50)
    args = parser.parse_args()
    if args.what == "cost":
        cost(args.rounds)
    else:
        soak(args.seconds, args.rate, args.receivers, args.keys)


if __name__ == "__main__":
    main()
