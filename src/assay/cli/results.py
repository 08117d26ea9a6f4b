"""`assay results`: show, convert and merge run results, assay's own and k6's."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from assay.errors import UsageError

app = typer.Typer(help="Show, convert and merge run results (assay JSON and every k6 output).", no_args_is_help=True)

FORMATS_HELP = "assay | k6-summary (--summary-export shape) | k6-handle-summary"


@app.command("show")
def show(
    files: list[Path] = typer.Argument(..., help="Result files: assay JSON, k6 summary-export, handleSummary, NDJSON or CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print assay JSON instead of the summary table."),
    html: Path | None = typer.Option(None, "--html", help="Also write a self-contained HTML report of the result here."),
) -> None:
    """Print a k6-style end-of-test summary of each result (and an HTML report with --html)."""
    from assay.formats import load_result
    from assay.report.console import summary_text

    if html is not None and len(files) != 1:
        raise UsageError(f"--html writes the report of one result; got {len(files)} files")
    console = Console(highlight=False, soft_wrap=True)
    for path in files:
        result = load_result(path)
        if html is not None:
            from assay.atomic import write_text_atomic
            from assay.report.run_html import render

            write_text_atomic(html, render(result))
            typer.echo(f"wrote {html}", err=True)
        if as_json:
            typer.echo(result.to_json())
        else:
            console.print(summary_text(result))


@app.command("convert")
def convert(
    file: Path = typer.Argument(..., help="A result file in any supported format."),
    to: str = typer.Option("assay", "--to", help=FORMATS_HELP),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (atomically) instead of stdout."),
) -> None:
    """Convert a result to assay's format or one of k6's summary shapes."""
    from assay.formats import OUTPUT_FORMATS, load_result, render_result, save_result

    if to not in OUTPUT_FORMATS:
        raise UsageError(f"--to {to!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    result = load_result(file)
    if output is None:
        typer.echo(render_result(result, to))
    else:
        save_result(result, output, to)
        typer.echo(f"wrote {output} ({to})", err=True)


@app.command("merge")
def merge(
    files: list[Path] = typer.Argument(..., help="Two or more parts of one run (workers, machines)."),
    output: Path = typer.Option(..., "--output", "-o", help="The merged result file."),
    to: str = typer.Option("assay", "--to", help=FORMATS_HELP),
    name: str | None = typer.Option(None, "--name", help="Name of the merged run."),
) -> None:
    """Merge parts of one run exactly (histograms, counters, rates) and re-evaluate their thresholds.

    Parts of one run overlap in time; results taken at different times are refused here
    (their rates would be spread over the gap between them): see `assay results combine`."""
    _join(files, output, to, name, separate=False)


@app.command("combine")
def combine(
    files: list[Path] = typer.Argument(..., help="Two or more separate runs (taken at different times)."),
    output: Path = typer.Option(..., "--output", "-o", help="The combined result file."),
    to: str = typer.Option("assay", "--to", help=FORMATS_HELP),
    name: str | None = typer.Option(None, "--name", help="Name of the combined result."),
) -> None:
    """Combine separate runs: counts and histograms add exactly; rates are per second of the time
    the runs ran (the sum of their durations), not of the span between them. Thresholds are re-evaluated."""
    _join(files, output, to, name, separate=True)


def _join(files: list[Path], output: Path, to: str, name: str | None, *, separate: bool) -> None:
    from assay.formats import OUTPUT_FORMATS, load_result, save_result
    from assay.results import RunStatus, combine_results, disjoint_runs, merge_results
    from assay.thresholds import evaluate_result

    verb = "combine" if separate else "merge"
    if to not in OUTPUT_FORMATS:
        raise UsageError(f"--to {to!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    if len(files) < 2:
        raise UsageError(f"{verb} needs at least two result files")
    results = [load_result(f) for f in files]
    gaps = [] if separate else disjoint_runs(results)
    if gaps:
        first, later = gaps[0]
        raise UsageError(
            f"{later.name!r} started {_when(later.started_at)}, {(later.started_at - first.finished_at).total_seconds():.0f} s after "  # type: ignore[operator]
            f"{first.name!r} ended ({_when(first.finished_at)}): these are separate runs, not parts of one, and merging "
            "them would spread their counts over the gap; use `assay results combine` (rates over the time they ran)"
        )
    try:
        joined = combine_results(results, name=name) if separate else merge_results(results, name=name)
    except ValueError as exc:
        raise UsageError(f"cannot {verb}: {exc} (k6 summaries hold percentiles, not samples; {verb} NDJSON or assay results)") from None
    failed = evaluate_result(joined)
    if failed and joined.status is RunStatus.PASSED:
        joined.status = RunStatus.FAILED
    save_result(joined, output, to)
    how = f" ({joined.duration_s:.1f} s of running time)" if separate else ""
    typer.echo(f"{verb}d {len(results)} results{how} into {output}", err=True)


def _when(t: object) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if hasattr(t, "strftime") else "?"
