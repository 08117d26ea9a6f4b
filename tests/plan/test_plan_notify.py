"""Notifications arrive: a Slack-compatible webhook and a generic JSON webhook on a local HTTP
sink, and email on a local SMTP server (aiosmtpd), each with the expected content."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from plan_helpers import PlanRun

from assay.harness.ports import free_port

Run = Callable[..., PlanRun]


@pytest.fixture
def sink() -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    received: list[tuple[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    mails: list[Any] = []

    class Keep(Message):
        def handle_message(self, message: Any) -> None:
            mails.append(message)

    port = free_port()
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mails
    finally:
        controller.stop()


PLAN = """\
name: notify
stages:
  load:
    steps:
      - {{name: soak, kind: run, command: "true"}}
      - {{name: gate, kind: run, command: "exit 2", critical: true}}
notifications:
  - {{type: slack, url: "{url}/slack", when: [failure], what: [summary, failures]}}
  - {{type: webhook, url: "{url}/hook", when: [critical], what: [summary, failures, regressions, digest], digest_weekday: sat}}
  - {{type: webhook, name: only-on-regression, url: "{url}/never", when: [regression]}}
  - {{type: webhook, name: soak-critical, url: "{url}/soak", when: [critical], critical_steps: [load.soak]}}
  - {{type: webhook, name: gate-critical, url: "{url}/gate", when: [critical], critical_steps: ["load.g*"], what: [failures]}}
  - type: email
    when: [always]
    what: [summary, failures]
    smtp: {{host: 127.0.0.1, port: {port}, from: nightly@example.test, to: [team@example.test]}}
"""


def test_failure_alerts_reach_slack_webhook_and_email_naming_the_step_and_gate(
    run_plan: Run, sink: tuple[str, list[tuple[str, Any]]], smtp: tuple[int, list[Any]]
) -> None:
    url, received = sink
    port, mails = smtp
    run = run_plan(PLAN.format(url=url, port=port), "--date", "2026-12-05")  # a Saturday: the digest goes out
    assert run.code == 2, run.err
    paths = [p for p, _ in received]
    # no regression: that channel stays quiet; nor does the one for a step that passed
    assert sorted(paths) == ["/gate", "/hook", "/slack"]
    slack = next(b for p, b in received if p == "/slack")
    assert "*notify*: *FAILED*" in slack["text"]
    assert "FAILED [critical]: step load.gate (run) at gate 'command exit code': exit 2" in slack["text"]
    assert slack["blocks"][0]["type"] == "section"
    hook = next(b for p, b in received if p == "/hook")
    assert hook["schema"] == "assay.plan-notice/1" and hook["status"] == "failed" and hook["exit_code"] == 2
    assert hook["failures"] == [{"step": "load.gate", "kind": "run", "status": "failed", "gate": "command exit code",
                                 "detail": "exit 2", "critical": "true", "quarantined": "false", "continue_on_error": "false"}]
    assert hook["digest"]["days"] == 7 and "by_status" in hook["digest"]
    assert hook["report"].endswith("report.html")
    [mail] = mails
    assert mail["Subject"] == "[assay] plan notify: FAILED"
    assert mail["To"] == "team@example.test" and mail["From"] == "nightly@example.test"
    assert "step load.gate (run) at gate 'command exit code'" in mail.get_payload()
    sent = {n["channel"]: n["sent"] for n in run.report["notifications"]}  # type: ignore[index]
    assert sent == {"slack": True, "webhook": True, "email": True, "gate-critical": True}


@pytest.mark.slow
def test_a_channel_that_cannot_be_reached_is_reported_not_fatal(run_plan: Run, tmp_path: Path) -> None:
    run = run_plan("""\
name: unreachable
stages:
  s:
    steps: [{name: ok, kind: run, command: "true"}]
notifications:
  - {type: webhook, url: "http://127.0.0.1:9/hook", when: [always]}
""")
    assert run.code == 0
    [note] = run.report["notifications"]  # type: ignore[index]
    assert note["sent"] is False and "ConnectError" in note["error"]
    assert "notified webhook: NOT sent" in run.out
