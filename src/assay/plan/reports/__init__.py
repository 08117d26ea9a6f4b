"""The night's reports: report.json (assay.plan/1), report.html, report.md and junit.xml."""

from __future__ import annotations

from pathlib import Path

from assay.atomic import write_text_atomic
from assay.plan.outcome import PlanReport


def write_reports(report: PlanReport, run_dir: Path, store_url: str | None = None) -> dict[str, Path]:
    """Write every report into the run's directory (atomically); returns them by format."""
    from assay.plan.reports import html, junit, markdown

    out = {
        "json": write_text_atomic(run_dir / "report.json", report.to_json() + "\n"),
        "junit": write_text_atomic(run_dir / "junit.xml", junit.render(report)),
        "markdown": write_text_atomic(run_dir / "report.md", markdown.render(report)),
    }
    try:
        points = html.trend_points(report, store_url or report.trend_store)
    except Exception:  # no store, or it is down: the page goes without trend charts
        points = {}
    out["html"] = write_text_atomic(run_dir / "report.html", html.render(report, run_dir, points))
    return out


__all__ = ["write_reports"]
