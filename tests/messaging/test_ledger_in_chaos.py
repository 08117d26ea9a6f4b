"""The ledger inside a chaos experiment's background load: each load segment keeps its own ledger,
and the phases' verdicts add up to exactly what the service did (the chaos issue runs these
workloads under faults)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from assay.chaos.runner import RunOptions
from assay.chaos.session import run_file
from assay.results import RunResult

CHAT = """options:
  scenarios:
    chat:
      executor: constant-vus
      vus: 2
      duration: 1m
base_url: "{base}"
requests:
  - subscribe: /ws?user=u{{{{ vu.id }}}}
    keys: [c0]
    receiver: u{{{{ vu.id }}}}
  - name: post
    method: POST
    url: /send
    json: {{from: "u{{{{ vu.id }}}}", to: [u1, u2], text: hello}}
    ledger: {{key: c0, field: text}}
    think_time: 0.1
"""


@pytest.mark.slow
def test_a_ledgered_scenario_as_chaos_background_load_counts_every_loss(
        tmp_path: Path, faulty_fanout: Callable, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    monkeypatch.setenv("ASSAY_CHAOS_LOCK_DIR", str(tmp_path / "locks"))
    with faulty_fanout("lose", 4) as base:
        (tmp_path / "chat.yaml").write_text(CHAT.format(base=base))
        exp = tmp_path / "exp.json"
        exp.write_text(json.dumps({
            "title": "ledger under chaos", "description": "a ledgered scenario as the background load",
            "extensions": [{"name": "assay", "load": {"scenario": "chat.yaml", "segment": "2s"}}],
            "steady-state-hypothesis": {"title": "up", "probes": [
                {"type": "probe", "name": "online", "tolerance": 200, "pauses": {"after": 2.5},
                 "provider": {"type": "http", "url": f"{base}/online"}}]},
            "method": [{"type": "action", "name": "wait", "provider": {"type": "process", "path": "sleep", "arguments": "2.5"}}],
        }))
        outcome = run_file(exp, RunOptions(), journal_path=tmp_path / "journal.json")
        stats = httpx.get(base + "/stats").json()
    phases = {name: RunResult.model_validate(raw) for name, raw in outcome.result.extra["phase_results"].items()}
    assert phases  # before, during, after or a transition between them, as the segments fell
    # a segment ended by its clock or its phase is a finished run, not an interrupted one
    assert {r.status.value for r in phases.values()} == {"passed"}

    def total(metric: str) -> int:
        return sum(int(r.metrics[metric].sum) for r in phases.values())

    assert total("messages_sent") == stats["messages"] > 0
    assert total("messages_lost") == stats["lost"] > 0  # every 4th message pushed to nobody, in whichever phase
    assert total("messages_duplicated") == 0 and total("messages_misdelivered") == 0
    assert outcome.exit_code == 0  # the hypothesis held: losses are the ledger's verdict, not the experiment's
