"""The ledger's rules, one at a time: marks, entitlement windows, groups, deadlines, memory."""

from __future__ import annotations

import asyncio
import json

import pytest

from assay.load.options import parse_thresholds
from assay.messaging import ALL_KEYS, LEDGER_METRICS, Envelope, Ledger, Receipt
from assay.results import Metric, RunResult, ThresholdResult
from assay.thresholds import evaluate_result

T0 = 1_800_000_000.0


def test_the_mark_survives_any_producer_key_and_any_wrapping() -> None:
    env = Envelope("vu 3:é]", "conv/7 [x]", 42, T0 + 0.123456)
    token = env.token()
    assert token.isascii() and " " not in token
    wrapped = json.dumps({"text": f"hello {token}", "meta": {"n": 1}})
    assert Envelope.find(wrapped) == env
    assert Envelope.find(wrapped.encode()) == env
    assert Envelope.find("no mark here") is None
    assert env.id == "vu%203%3A%C3%A9%5D:conv%2F7%20%5Bx%5D:42"
    with pytest.raises(ValueError, match="no ledger token"):
        Envelope.parse("nothing")


def test_a_late_subscriber_is_owed_only_what_was_sent_after_it_joined() -> None:
    ledger = Ledger(grace=0)
    ledger.entitle("early", ["c"], since=T0)
    first = [ledger.send("p", "c", acked=True, at=T0 + i) for i in range(5)]
    ledger.entitle("late", ["c"], since=T0 + 10)
    second = [ledger.send("p", "c", acked=True, at=T0 + 10 + i) for i in range(5)]
    for env in first + second:
        ledger.receive("early", env.token(), at=env.ts + 0.01)
    for env in second:
        ledger.receive("late", env.token(), at=env.ts + 0.01)
    v = ledger.verdict(final=True)
    assert (v.delivered, v.lost, v.misdelivered) == (10, 0, 0)
    ledger.revoke("early", ["c"], until=T0 + 20)
    after = ledger.send("p", "c", acked=True, at=T0 + 30)
    ledger.receive("late", after.token(), at=T0 + 30.5)
    assert ledger.verdict(final=True).delivered == 11  # "early" left: not owed the last one


def test_a_message_nobody_is_entitled_to_is_unrouted_and_a_stranger_receiving_it_is_misdelivery() -> None:
    ledger = Ledger(grace=0)
    ledger.entitle("alice", ["a"], since=T0)
    env = ledger.send("p", "b", acked=True, at=T0 + 1)
    assert ledger.receive("alice", env.token(), at=T0 + 2) is Receipt.MISDELIVERED
    assert ledger.receive("alice", "unrelated text", at=T0 + 2) is Receipt.UNMARKED
    v = ledger.verdict(final=True)
    assert (v.unrouted, v.misdelivered, v.delivered, v.lost, v.unmarked) == (1, 1, 0, 0, 1)


def test_a_group_is_owed_each_message_once_and_order_is_judged_per_member() -> None:
    ledger = Ledger(grace=0)
    ledger.entitle("group", ALL_KEYS, since=T0)
    envs = [ledger.send("p", "k", acked=True, at=T0 + i) for i in range(4)]
    # members c0 and c1 share the key: arrivals interleave across them, each in order
    assert ledger.receive("group", envs[1], member="c1", at=T0 + 5) is Receipt.FIRST
    assert ledger.receive("group", envs[0], member="c0", at=T0 + 5) is Receipt.FIRST
    assert ledger.receive("group", envs[3], member="c1", at=T0 + 5) is Receipt.FIRST
    assert ledger.receive("group", envs[2], member="c1", at=T0 + 5) is Receipt.OUT_OF_ORDER
    # c0 died; c1 got its message again from the broker
    assert ledger.receive("group", envs[0], member="c1", at=T0 + 9) is Receipt.DUPLICATE
    v = ledger.verdict(final=True)
    assert (v.delivered, v.duplicated, v.out_of_order) == (4, 1, 1)


def test_missing_messages_are_in_flight_until_their_deadline_then_lost_with_their_ids() -> None:
    ledger = Ledger(grace=5)
    ledger.entitle("r", ALL_KEYS, since=T0)
    old = ledger.send("p", "k", acked=True, at=T0)
    new = ledger.send("p", "k", acked=True, at=T0 + 8)
    unacked = ledger.send("p", "k", at=T0 + 8)
    failed = ledger.send("p", "k", at=T0 + 8)
    ledger.fail(failed)
    v = ledger.verdict(now=T0 + 9)
    assert (v.lost, v.in_flight, v.unacked, v.failed) == (1, 1, 1, 1)
    assert v.lost_ids == [old.id] and v.in_flight_ids == [new.id]
    assert unacked.id not in v.lost_ids
    assert ledger.verdict(final=True).lost == 2


def test_settle_waits_for_stragglers_and_stops_at_the_grace_deadline() -> None:
    async def main() -> tuple[int, int]:
        ledger = Ledger(grace=2)
        ledger.entitle("r")
        envs = [ledger.send("p", "k", acked=True) for _ in range(3)]

        async def late() -> None:
            await asyncio.sleep(0.2)
            for env in envs[:2]:
                ledger.receive("r", env.token())

        task = asyncio.create_task(late())
        v = await ledger.settle()
        await task
        return v.delivered, v.lost

    assert asyncio.run(main()) == (2, 1)


def test_memory_follows_the_gaps_not_the_receipts() -> None:
    ledger = Ledger(grace=0)
    receivers = [f"r{i}" for i in range(20)]
    for r in receivers:
        ledger.entitle(r, ALL_KEYS, since=0)
    for i in range(5000):
        env = ledger.send("p", f"k{i % 5}", acked=True)
        token = env.token()
        for r in receivers:
            if not (r == "r0" and i == 777):  # one hole in one receiver's stream
                ledger.receive(r, token)
    fp = ledger.footprint()
    assert fp["inboxes"] == 100
    assert fp["ranges"] == 101  # 100 000 receipts, kept as 100 ranges plus the hole
    assert fp["send_times"] == 5000
    v = ledger.verdict(final=True)
    assert v.lost == 1 and v.lost_ids == [Envelope("p", "k2", 155, 0).id]


def test_verdict_metrics_carry_k6_names_that_thresholds_read() -> None:
    ledger = Ledger(grace=0)
    ledger.entitle("r", ALL_KEYS, since=0)
    for i in range(3):
        env = ledger.send("p", "conv-1", acked=True)
        if i:
            ledger.receive("r", env.token())
    result = RunResult(metrics=ledger.verdict(final=True).metrics())
    assert set(LEDGER_METRICS) <= set(result.metrics)
    assert result.metrics["messages_lost{key:conv-1}"].sum == 1
    assert result.metrics["message_delivery_latency{key:conv-1}"].count == 2
    specs = parse_thresholds({"messages_lost": ["count==0"], "message_delivery_latency": ["p(99)<60000"]}, LEDGER_METRICS, "test")
    for spec in specs:
        result.metrics[spec.metric].thresholds.append(ThresholdResult(source=spec.source))
    assert evaluate_result(result) == [("messages_lost", "count==0")]
    assert isinstance(result.metrics["messages_sent"], Metric)
    assert RunResult.from_json(result.to_json()).metrics["message_delivery_latency"].stat("p(99)") is not None


def test_threads_sharing_a_ledger_lose_no_count() -> None:
    import threading

    ledger = Ledger(grace=0)
    ledger.entitle("r", ALL_KEYS, since=0)

    def work(producer: str) -> None:
        for _ in range(2000):
            env = ledger.send(producer, "k", acked=True)
            ledger.receive("r", env.token())
            ledger.receive("r", env)  # every message twice: 2000 duplicates per thread

    threads = [threading.Thread(target=work, args=(f"p{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    v = ledger.verdict(final=True)
    assert (v.sent, v.delivered, v.duplicated, v.receipts, v.out_of_order) == (8000, 8000, 8000, 16000, 0)
    assert v.latency_count == 8000
