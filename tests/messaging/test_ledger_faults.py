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


YAML_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "fanout.yaml"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["none", "lose"])
def test_yaml_subscribe_and_ledgered_requests(mode: str, faulty_fanout: Callable) -> None:  # type: ignore[type-arg]
    with faulty_fanout(mode, 4) as base:
        loaded, plan = prepare(LoadRequest(target=str(YAML_SCENARIO)), env={"BASE": base})
        result = run_load(loaded, plan, workers=1, env={"BASE": base})
        stats = httpx.get(base + "/stats").json()
    assert count(result, "messages_sent") == 20 == stats["messages"]
    assert count(result, "messages_lost") == stats["lost"]
    # messages sent before the other user subscribed are owed only to the sender's own socket
    assert count(result, "messages_delivered") + count(result, "messages_lost") == 20
    assert count(result, "messages_duplicated") == 0
    assert result.status.value == ("passed" if mode == "none" else "failed")


@pytest.mark.parametrize(
    ("step", "said"),
    [
        ("  - {url: /send, method: POST, json: {a: 1}, ledger: {kee: c0}}\n", "kee"),
        ("  - {url: /send, method: POST, json: [1, 2], ledger: {key: c0}}\n", "must place {{ ledger }} itself"),
        ("  - {subscribe: '/ws?u={{ vuu.id }}'}\n", "unknown name 'vuu'"),
        ("  - {url: /send, ledger: {key: '{{ nope }}'}}\n", "unknown name 'nope'"),
    ],
)
def test_bad_ledger_steps_are_located_errors(step: str, said: str, tmp_path: Path) -> None:
    from assay.errors import UsageError

    path = tmp_path / "bad.yaml"
    path.write_text("base_url: http://127.0.0.1:1\nrequests:\n" + step)
    with pytest.raises(UsageError) as err:
        prepare(LoadRequest(target=str(path)))
    assert said in str(err.value)
    assert "bad.yaml" in str(err.value) and ":3" in str(err.value)


def test_subscribers_that_never_connect_still_give_a_verdict_the_thresholds_judge(tmp_path: Path) -> None:
    """No socket opened, nothing sent: the verdict is zeros, not absent, so `messages_delivered: count>0`
    fails the run instead of being skipped as a threshold on a metric that never appeared."""
    from assay.harness.ports import free_port

    path = tmp_path / "dead.yaml"
    path.write_text(
        "options:\n  scenarios:\n    s: {executor: per-vu-iterations, vus: 2, iterations: 3}\n"
        "  thresholds:\n    messages_delivered: ['count>0']\n"
        f"base_url: http://127.0.0.1:{free_port()}\nrequests:\n"
        "  - {subscribe: '/ws?user=u{{ vu.id }}', keys: [c0]}\n"
        "  - {url: /send, method: POST, json: {text: hi}, ledger: {key: c0}}\n")
    loaded, plan = prepare(LoadRequest(target=str(path)))
    result = run_load(loaded, plan, workers=1)
    assert count(result, "messages_sent") == 0 and count(result, "messages_delivered") == 0
    assert [t.ok for t in result.metrics["messages_delivered"].thresholds] == [False]
    assert result.status.value == "failed"


@pytest.mark.slow
def test_ledgered_websocket_sends_from_a_python_scenario(faulty_fanout: Callable) -> None:  # type: ignore[type-arg]
    scenario = Path(__file__).resolve().parent / "scenarios" / "ws_send.py"
    with faulty_fanout("duplicate", 6) as base:
        loaded, plan = prepare(LoadRequest(target=str(scenario)), env={"BASE": base})
        result = run_load(loaded, plan, workers=1, env={"BASE": base})
        stats = httpx.get(base + "/stats").json()
    assert count(result, "messages_sent") == 30 == stats["messages"]
    assert count(result, "messages_delivered") == 30 and count(result, "messages_lost") == 0
    assert count(result, "messages_duplicated") == stats["duplicated"] > 0
    assert result.metrics["message_delivery_latency"].count == 90  # each frame reaches all three
    assert result.metrics["ws_msgs_sent"].sum == 30
