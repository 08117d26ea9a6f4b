"""`assay trace`: the traceability matrix of user stories, acceptance scenarios and tests."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from assay.errors import UsageError

app = typer.Typer(name="trace", help="Traceability: user stories and acceptance scenarios mapped to tests.", no_args_is_help=True)

FORMATS = ("console", "markdown", "html", "json")


@app.command("matrix")
def matrix_command(
    spec: Path = typer.Argument(..., help="The spec: Markdown with story headings and scenario ids, or YAML."),
    tests: list[Path] = typer.Option([], "--tests", help="Test files or folders to scan for @pytest.mark.scenario, and load scenario "
                                     "files or chaos experiments declaring scenario ids (default: tests/)."),
    junit: list[Path] = typer.Option([], "--junit", help="JUnit XML with the last results (pytest --junitxml; repeatable)."),
    plan_report: list[Path] = typer.Option([], "--plan-report", help="A plan's report.json (steps tagged scenario:; repeatable)."),
    result: list[Path] = typer.Option([], "--result", help="An `assay load run --result` file: the scenario ids its load file "
                                      "declared when it ran (recorded in the result), passed or failed as the run was (repeatable)."),
    plan: list[Path] = typer.Option([], "--plan", help="A plan file: its steps' scenario: and what their load scenario files and "
                                    "chaos experiments declare (repeatable); without --plan-report, its newest report gives the last results."),
    fmt: str = typer.Option("console", "--format", "-f", help=f"Output: {', '.join(FORMATS)}."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here (the console table still prints)."),
    fail_on: str = typer.Option("P0,P1", "--fail-on", help="Priorities whose scenarios must have a passing-or-unrun test (exit 2), or 'none'."),
) -> None:
    """Print the matrix with computed totals; exit 2 when a gating scenario has no test or a failing one."""
    from rich.console import Console
    from rich.table import Table

    from assay.atomic import write_text_atomic
    from assay.plan import trace

    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    gate: tuple[str, ...] = () if fail_on.strip().lower() == "none" else tuple(p.strip().upper() for p in fail_on.split(",") if p.strip())
    for p in gate:
        if p not in ("P0", "P1", "P2", "P3", "P4"):
            raise UsageError(f"--fail-on {fail_on!r}: expected priorities such as P0,P1 or 'none'")
    scan = tests or ([Path("tests")] if Path("tests").is_dir() else [])
    for path in scan:
        if not path.exists():
            raise UsageError(f"--tests {path}: no such file or folder")
    for path in plan:
        if not path.is_file():
            raise UsageError(f"--plan {path}: no such file")
    for path in plan_report:
        if not path.is_file():
            raise UsageError(f"--plan-report {path}: no such file")
    reports = list(plan_report)
    if not reports:
        for path in plan:
            newest = trace.latest_report(path)
            if newest is not None:
                typer.echo(f"last results of {path}: {newest}", err=True)
                reports.append(newest)
    m = trace.matrix(spec, trace.Sources(tests=scan, junit=junit, plan_reports=reports, plans=plan, load_results=result), gate)
    rendered = {"markdown": trace.to_markdown, "html": trace.to_html, "json": trace.to_json}
    if fmt != "console":
        text = rendered[fmt](m)
        if output is not None:
            write_text_atomic(output, text)
        else:
            typer.echo(text, nl=False)
    if fmt == "console" or output is not None:
        table = Table(title=f"traceability: {spec}")
        for col in ("story", "prio", "scenario", "tests", "auto", "last result"):
            table.add_column(col)
        colour = {"passed": "green", "failed": "red", "no test": "red", "not run": "yellow"}
        for r in m.rows:
            table.add_row(f"{r.story} {r.story_title}", r.priority, f"{r.scenario} {r.title}", "\n".join(r.tests) or "–",
                          "yes" if r.automated else "no", f"[{colour.get(r.last_result, 'white')}]{r.last_result}[/]")
        console = Console(stderr=fmt != "console")
        console.print(table)
        t = m.totals
        console.print(f"{t.scenarios} scenarios: {t.automated} automated ({t.coverage_pct:g}%), {t.passing} passing "
                      f"({t.passing_pct:g}%), {t.failing} failing", highlight=False)
        for p, x in m.by_priority.items():
            console.print(f"  {p}: {x.automated}/{x.scenarios} automated ({x.coverage_pct:g}%), {x.passing} passing", highlight=False)
        for gap in m.gaps:
            console.print(f"[red]gap:[/] {gap}", highlight=False)
        if m.unknown_ids:
            console.print(f"[yellow]tests name scenarios the spec does not have:[/] {', '.join(m.unknown_ids)}", highlight=False)
    sys.exit(m.exit_code)
