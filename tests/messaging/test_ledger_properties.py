"""Property tests: the ledger agrees with a naive checker that keeps every send and receipt.

The reference below is the obvious, memory-hungry way to judge a delivery trace (a list of
everything); the ledger keeps only ranges and must reach the same counts on any trace:
random windows of entitlement, acks and failures, lost, duplicated and reordered receipts,
receipts at receivers with no right to them, and traces split over worker processes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.messaging import ALL_KEYS, Envelope, Ledger
from assay.messaging.ranges import RangeSet

BASE = 1_000_000.0
PRODUCERS = ["p0", "p1"]
KEYS = ["k0", "k1", "k2"]
RECEIVERS = ["r0", "r1", "r2"]


@dataclass
class Trace:
    windows: list[tuple[str, str, float, float | None]]  # receiver, key, since, until
    sends: list[tuple[str, str, str]]  # producer, key, "acked" | "failed" | "unacked"
    receipts: list[tuple[str, int]]  # receiver, index into sends


@st.composite
def traces(draw: st.DrawFn) -> Trace:
    n = draw(st.integers(0, 40))
    sends = [
        (draw(st.sampled_from(PRODUCERS)), draw(st.sampled_from(KEYS)), draw(st.sampled_from(["acked"] * 6 + ["failed", "unacked"])))
        for _ in range(n)
    ]
    windows = []
    for r in RECEIVERS:
        for key in draw(st.lists(st.sampled_from([*KEYS, ALL_KEYS]), unique=True, max_size=2)):
            since = draw(st.integers(-1, n))
            until = draw(st.one_of(st.none(), st.integers(max(since, 0), n + 1)))
            windows.append((r, key, float(since), None if until is None else float(until)))
    receipts: list[tuple[str, int]] = []
    for i in range(n):
        for r in RECEIVERS:
            receipts.extend([(r, i)] * draw(st.sampled_from([0, 1, 1, 1, 2])))
    receipts = draw(st.permutations(receipts)) if len(receipts) < 60 else receipts
    return Trace(windows, sends, receipts)


def _ts(i: float) -> float:
    return BASE + i


def reference(trace: Trace) -> dict[str, int]:
    """The naive judgement: every send and every receipt in lists."""
    windows: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for r, key, since, until in trace.windows:
        start = float("-inf") if since < 0 else _ts(since)
        windows[r][key].append((start, float("inf") if until is None else _ts(until)))
    counts = dict.fromkeys(["sent", "acked", "failed", "delivered", "lost", "unrouted", "duplicated", "out_of_order", "misdelivered"], 0)
    seqs: dict[tuple[str, str], int] = defaultdict(int)
    msgs = []
    for i, (p, k, status) in enumerate(trace.sends):
        seq = seqs[(p, k)]
        seqs[(p, k)] += 1
        msgs.append((p, k, seq, _ts(i), status))
    got: dict[tuple[str, int], int] = defaultdict(int)
    highest: dict[tuple[str, str, str], int] = {}
    for r, i in trace.receipts:
        p, k, seq, _, _ = msgs[i]
        got[(r, i)] += 1
        entitled = k in windows[r] or ALL_KEYS in windows[r]
        if got[(r, i)] > 1:
            counts["duplicated"] += 1
        elif not entitled:
            counts["misdelivered"] += 1
        else:
            top = highest.get((r, p, k), -1)
            if seq < top:
                counts["out_of_order"] += 1
            else:
                highest[(r, p, k)] = seq
    for i, (_p, k, _seq, ts, status) in enumerate(msgs):
        counts["sent"] += 1
        if status == "failed":
            counts["failed"] += 1
        if status != "acked":
            continue
        counts["acked"] += 1
        owed = [r for r in RECEIVERS if any(a <= ts < b for key in (k, ALL_KEYS) for a, b in windows[r].get(key, []))]
        if not owed:
            counts["unrouted"] += 1
        elif all(got[(r, i)] for r in owed):
            counts["delivered"] += 1
        else:
            counts["lost"] += 1
    return counts


def play(trace: Trace, ledgers: list[Ledger]) -> None:
    """Run the trace; sends and receipts spread over `ledgers` (worker processes) by producer/receiver."""
    for r, key, since, _ in trace.windows:
        ledgers[RECEIVERS.index(r) % len(ledgers)].entitle(r, key, since=0 if since < 0 else _ts(since))
    envs: list[Envelope] = []
    for i, (p, k, status) in enumerate(trace.sends):
        ledger = ledgers[PRODUCERS.index(p) % len(ledgers)]
        env = ledger.send(p, k, at=_ts(i))
        envs.append(env)
        if status == "acked":
            ledger.ack(env)
        elif status == "failed":
            ledger.fail(env)
    for r, key, _since, until in trace.windows:
        if until is not None:
            ledgers[RECEIVERS.index(r) % len(ledgers)].revoke(r, key, until=_ts(until))
    for r, i in trace.receipts:
        ledgers[RECEIVERS.index(r) % len(ledgers)].receive(r, envs[i].token(), at=_ts(i) + 0.25)


def counts_of(ledger: Ledger) -> dict[str, int]:
    v = ledger.verdict(final=True)
    return {
        "sent": v.sent,
        "acked": v.acked,
        "failed": v.failed,
        "delivered": v.delivered,
        "lost": v.lost,
        "unrouted": v.unrouted,
        "duplicated": v.duplicated,
        "out_of_order": v.out_of_order,
        "misdelivered": v.misdelivered,
    }


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(traces())
def test_ledger_matches_the_naive_checker(trace: Trace) -> None:
    ledger = Ledger(grace=0)
    play(trace, [ledger])
    assert counts_of(ledger) == reference(trace)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(traces())
def test_a_ledger_rebuilt_from_its_state_judges_the_same(trace: Trace) -> None:
    ledger = Ledger(grace=0)
    play(trace, [ledger])
    assert counts_of(Ledger.from_state(ledger.state())) == counts_of(ledger)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(traces())
def test_workers_states_merge_to_the_whole_when_each_receiver_lives_in_one_process(trace: Trace) -> None:
    whole = Ledger(grace=0)
    play(trace, [whole])
    parts = [Ledger(grace=0), Ledger(grace=0)]
    play(trace, parts)
    merged = Ledger.merged([p.state() for p in parts])
    got, want = counts_of(merged), counts_of(whole)
    assert got == want
    assert merged.verdict(final=True).latency_count == whole.verdict(final=True).latency_count


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(traces(), st.randoms(use_true_random=False))
def test_a_receiver_spread_over_processes_still_counts_each_copy_twice_seen_as_a_duplicate(trace: Trace, rnd) -> None:  # type: ignore[no-untyped-def]
    """A consumer group with members in two worker processes: one receiver, two ledgers."""
    ref = reference(trace)
    parts = [Ledger(grace=0), Ledger(grace=0)]
    for ledger in parts:
        for r, key, since, until in trace.windows:
            ledger.entitle(r, key, since=0 if since < 0 else _ts(since))
            if until is not None:
                ledger.revoke(r, key, until=_ts(until))
    envs = []
    for i, (p, k, status) in enumerate(trace.sends):
        ledger = parts[PRODUCERS.index(p)]
        env = ledger.send(p, k, at=_ts(i))
        envs.append(env)
        if status == "acked":
            ledger.ack(env)
        elif status == "failed":
            ledger.fail(env)
    for r, i in trace.receipts:
        rnd.choice(parts).receive(r, envs[i], at=_ts(i) + 0.25)
    merged = counts_of(Ledger.merged([p.state() for p in parts]))
    # order across processes has no meaning (no shared clock of arrivals): everything else is exact
    for name in ("sent", "acked", "failed", "delivered", "lost", "unrouted", "duplicated", "misdelivered"):
        assert merged[name] == ref[name], name


@given(st.lists(st.integers(0, 200), max_size=120), st.lists(st.integers(0, 200), max_size=120))
def test_range_sets_behave_like_sets(a: list[int], b: list[int]) -> None:
    ra, rb = RangeSet(), RangeSet()
    dups = [ra.add(x) for x in a]
    for x in b:
        rb.add(x)
    assert dups == [a.index(x) == i for i, x in enumerate(a)]
    assert list(ra) == sorted(set(a))
    assert len(ra) == len(set(a))
    assert list(ra.union(rb)) == sorted(set(a) | set(b))
    assert list(ra.intersection(rb)) == sorted(set(a) & set(b))
    assert list(ra.difference(rb)) == sorted(set(a) - set(b))
    assert RangeSet.from_list(ra.to_list()) == ra
    assert RangeSet.of_values(a) == ra
    # canonical: no two ranges touch, so equal sets have equal ranges
    assert all(e < s for e, s in zip(ra.ends, ra.starts[1:], strict=False))
