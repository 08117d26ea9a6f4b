"""Tell people about the night: a Slack-compatible incoming webhook, a generic JSON webhook,
or email over SMTP, each with when to send (always, on failure, on regression, when a
critical step fails) and what (the summary, failure alerts naming the step and the gate,
regression alerts, the weekly trend digest).

A notification that cannot be delivered is recorded in the report; it never fails the night.
"""

from __future__ import annotations

import os
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from assay.plan.model import WEEKDAYS, Notification, Plan
from assay.plan.outcome import FAILING, Notice, PlanReport, StepOutcome
from assay.plan.substitute import expand

SCHEMA = "assay.plan-notice/1"


def failures(report: PlanReport) -> list[dict[str, str]]:
    """Each failed step with the gate that failed (quarantined and continue-on-error ones marked)."""
    out = []
    coe = {s.key: s.continue_on_error for s in report.stages}
    for step in report.steps():
        if step.status in FAILING:
            gate = step.deciding_gate
            out.append({"step": step.key, "kind": step.kind, "status": step.status,
                        "gate": gate.name if gate else "", "detail": (gate.detail if gate else "") or step.reason,
                        "critical": str(step.critical).lower(), "quarantined": str(step.quarantined).lower(),
                        "continue_on_error": str(coe.get(step.stage, False)).lower()})
    return out


def is_critical(note: Notification, step: StepOutcome) -> bool:
    """Named in the channel's `critical_steps` when it has them, else marked `critical: true`."""
    import fnmatch

    if not note.critical_steps:
        return step.critical
    return any(fnmatch.fnmatch(step.key, p) or fnmatch.fnmatch(f"{step.stage.split('[')[0]}.{step.name}", p)
                                for p in note.critical_steps)


def should_send(note: Notification, report: PlanReport) -> bool:
    for when in note.when:
        if when == "always":
            return True
        if when == "failure" and report.status in ("failed", "error", "aborted"):
            return True
        if when == "regression" and report.regressions:
            return True
        if when == "critical" and any(is_critical(note, s) and s.status in FAILING for s in report.steps()):
            return True
    return False


def digest(store_url: str | None, plan: str, now: datetime, days: int = 7) -> dict[str, Any]:
    """The week in the trend store: nights by status, and each load scenario's p(95) first to last."""
    from assay.trends.store import open_store

    since = now - timedelta(days=days)
    with open_store(store_url) as store:
        nights = store.runs(scenario=f"plan:{plan}", since=since)
        counts: dict[str, int] = {}
        for run in nights:
            counts[run.status] = counts.get(run.status, 0) + 1
        scenarios = []
        for scenario in store.scenarios():
            if not scenario.startswith(f"{plan}."):
                continue
            runs = store.runs(scenario=scenario, since=since)
            points = store.points("http_req_duration", runs)
            p95 = [v for r in runs if r.pk in points and (v := points[r.pk][1].get("p(95)")) is not None]
            if p95:
                scenarios.append({"scenario": scenario, "runs": len(runs), "p95_first_ms": p95[0], "p95_last_ms": p95[-1],
                                  "change_pct": (100.0 * (p95[-1] - p95[0]) / p95[0]) if p95[0] else None})
    return {"days": days, "nights": len(nights), "by_status": counts, "scenarios": scenarios}


def compose(note: Notification, report: PlanReport, run_dir: Path, store_url: str | None, now: datetime) -> dict[str, Any]:
    """What this channel gets: the parts it asked for that have something to say."""
    parts: dict[str, Any] = {}
    if "summary" in note.what:
        parts["summary"] = {"status": report.status, "exit_code": report.exit_code, "reasons": report.reasons[:20],
                            "steps": len(report.steps()), "duration_s": round(report.duration_s, 1)}
    fails = failures(report)
    if "failures" in note.what and fails:
        parts["failures"] = fails
    if "regressions" in note.what and report.regressions:
        parts["regressions"] = report.regressions
    if "digest" in note.what and WEEKDAYS[now.weekday()] == note.digest_weekday.lower()[:3]:
        try:
            parts["digest"] = digest(store_url, report.plan, now)
        except Exception as exc:  # no store: say so instead of the digest
            parts["digest"] = {"error": str(exc)}
    return parts


def text_of(report: PlanReport, parts: dict[str, Any], run_dir: Path) -> str:
    icon = {"passed": ":white_check_mark:", "warning": ":warning:"}.get(report.status, ":x:")
    lines = [f"{icon} assay plan *{report.plan}*: *{report.status.upper()}* (run {report.run_id}, exit {report.exit_code})"]
    summary = parts.get("summary")
    if summary:
        lines += [f"• {r}" for r in summary["reasons"][:10]]
    for f in parts.get("failures", []):
        tag = " [critical]" if f["critical"] == "true" else ""
        lines.append(f"FAILED{tag}: step {f['step']} ({f['kind']}) at gate '{f['gate']}': {f['detail']}"[:500])
    for r in parts.get("regressions", []):
        lines.append(f"REGRESSION: {r}")
    d = parts.get("digest")
    if d and "error" not in d:
        lines.append(f"Weekly digest: {d['nights']} nights in {d['days']} days: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(d["by_status"].items())))
        for s in d["scenarios"][:10]:
            change = f"{s['change_pct']:+.1f}%" if s["change_pct"] is not None else "n/a"
            lines.append(f"  {s['scenario']}: p95 {s['p95_first_ms']:.1f} -> {s['p95_last_ms']:.1f} ms ({change}), {s['runs']} runs")
    lines.append(f"Report: {run_dir / 'report.html'}")
    return "\n".join(lines)


def send(note: Notification, report: PlanReport, run_dir: Path, store_url: str | None, now: datetime,
         values: dict[str, str] | None = None) -> Notice:
    channel = note.name or note.type
    parts = compose(note, report, run_dir, store_url, now)
    kinds = sorted(parts)
    try:
        text = text_of(report, parts, run_dir)
        if note.type == "slack":
            _post(expand(note.url or "", values or {}), {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]})
        elif note.type == "webhook":
            _post(expand(note.url or "", values or {}), {"schema": SCHEMA, "plan": report.plan, "run_id": report.run_id,
                                               "status": report.status, "exit_code": report.exit_code,
                                               "report": str(run_dir / "report.html"), **parts})
        else:
            _mail(note, report, text)
    except Exception as exc:  # delivery problems are reported, never fatal
        return Notice(channel=channel, sent=False, error=f"{type(exc).__name__}: {exc}"[:500], kinds=kinds)
    return Notice(channel=channel, sent=True, kinds=kinds)


def _post(url: str, payload: dict[str, Any]) -> None:
    import httpx
    from tenacity import retry, stop_after_attempt, wait_exponential

    @retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=4), reraise=True)
    def once() -> None:
        resp = httpx.post(url, json=payload, timeout=10.0)
        resp.raise_for_status()

    once()


def _mail(note: Notification, report: PlanReport, text: str) -> None:
    smtp = note.smtp
    assert smtp is not None
    msg = EmailMessage()
    msg["Subject"] = f"[assay] plan {report.plan}: {report.status.upper()}"
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(smtp.to)
    msg.set_content(text.replace(":white_check_mark:", "").replace(":warning:", "").replace(":x:", "").strip() + "\n")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, os.environ.get(smtp.password_env or "", ""))
        client.send_message(msg)


def send_all(plan: Plan, report: PlanReport, run_dir: Path, store_url: str | None, now: datetime,
             values: dict[str, str] | None = None) -> list[Notice]:
    """Send each channel whose `when` matches; `values` expands `${services.X.url}` in URLs."""
    out = []
    for note in plan.notifications:
        if should_send(note, report):
            out.append(send(note, report, run_dir, store_url, now, values))
    return out


__all__ = ["SCHEMA", "compose", "digest", "failures", "send", "send_all", "should_send", "text_of"]
