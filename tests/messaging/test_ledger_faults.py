"""The ledger's verdicts through the load engine, against a service that loses, duplicates,
reorders and misdelivers on purpose and counts what it did: the ledger must count the same."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from assay.load.api import LoadRequest, prepare
from assay.load.coordinator import run_load

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "fanout.py"


def run(base: str, workers: int = 1):  # type: ignore[no-untyped-def]
    loaded, plan = prepare(LoadRequest(target=str(SCENARIO)), env={"BASE": base})
    result = run_load(loaded, plan, workers=workers, env={"BASE": base})
    stats = httpx.get(base + "/stats").json()
    return result, stats


def count(result, name: str) -> int:  # type: ignore[no-untyped-def]
    return int(result.metrics[name].sum)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["none", "lose", "duplicate", "reorder", "misdeliver"])
def test_the_ledger_counts_exactly_what_the_service_did(mode: str, faulty_fanout: Callable) -> None:  # type: ignore[type-arg]
    with faulty_fanout(mode, 5) as base:
        result, stats = run(base)
    assert stats["messages"] == 48
    assert count(result, "messages_sent") == 48
    assert count(result, "messages_acked") == 48
    assert count(result, "messages_lost") == stats["lost"]
    assert count(result, "messages_duplicated") == stats["duplicated"]
    assert count(result, "messages_out_of_order") == stats["out_of_order"]
    assert count(result, "messages_misdelivered") == stats["misdelivered"]
    assert count(result, "messages_delivered") == 48 - stats["lost"]
    assert count(result, "messages_in_flight") == 0
    ledger = result.extra["ledger"]
    assert len(ledger["lost_ids"]) == stats["lost"]
    latency = result.metrics["message_delivery_latency"]
    # each delivered message reaches both members of its conversation once
    assert latency.count == 2 * (48 - stats["lost"])
    assert latency.stat("p(99)") is not None
    if mode == "none":
        assert result.status.value == "passed"
        assert sum(stats[k] for k in ("lost", "duplicated", "out_of_order", "misdelivered")) == 0
    else:
        assert stats[{"lose": "lost", "duplicate": "duplicated", "reorder": "out_of_order", "misdeliver": "misdelivered"}[mode]] > 0
    if mode in ("lose", "duplicate"):
        assert result.status.value == "failed"  # the scenario's thresholds: count==0
        failed = {name for name, _ in result.failed_thresholds()}
        assert failed == {"messages_lost" if mode == "lose" else "messages_duplicated"}


@pytest.mark.slow
def test_worker_processes_merge_their_ledgers(faulty_fanout: Callable) -> None:  # type: ignore[type-arg]
    """Senders and receivers of one conversation sit in different worker processes."""
    with faulty_fanout("lose", 5) as base:
        result, stats = run(base, workers=2)
    assert count(result, "messages_sent") == 48
    assert count(result, "messages_lost") == stats["lost"] > 0
    assert count(result, "messages_delivered") == 48 - stats["lost"]
    assert count(result, "messages_duplicated") == 0
