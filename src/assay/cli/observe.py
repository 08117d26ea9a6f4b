"""`assay observe`: alert rules and dashboards for the tests' own metrics.

    assay observe alert-rules examples/courier/suite/slo.yaml -o courier-alerts.yaml
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(name="observe", help="Alert rules and dashboards for the tests' own metrics.", no_args_is_help=True)


@app.command("alert-rules")
def alert_rules_command(
    slo_file: Path = typer.Argument(..., help="An SLO file (assay's or OpenSLO)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the rules here (default: stdout)."),
    name: str | None = typer.Option(None, "--name", help="The slo label (default: the SLO file's name or stem)."),
) -> None:
    """Write Prometheus alerting rules (multiwindow, multi-burn-rate for ratio objectives)."""
    import yaml

    from assay.atomic import write_text_atomic
    from assay.slo.alerts import alert_rules
    from assay.slo.files import load_slo

    slo = load_slo(slo_file)
    rules = alert_rules(slo, name or slo.name or slo_file.stem)
    header = "".join(f"# skipped {line}\n" for line in rules.skipped)
    text = header + yaml.safe_dump(rules.document(), sort_keys=False, width=200)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_text_atomic(output, text)
    for line in rules.skipped:
        typer.echo(f"skipped {line}", err=True)


@app.command("dashboards")
def dashboards_command(
    output: Path = typer.Option(Path("dashboards"), "--output", "-o", help="Folder for the dashboard JSON files."),
) -> None:
    """Write Grafana dashboards: live load, SLO compliance, chaos (fault windows), nightly trends."""
    import json

    from assay.atomic import write_text_atomic
    from assay.errors import UsageError
    from assay.observe.dashboards import DASHBOARDS

    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {str(output)!r} is a file; expected a folder")
    output.mkdir(parents=True, exist_ok=True)
    for name, build in DASHBOARDS.items():
        path = output / f"assay-{name}.json"
        write_text_atomic(path, json.dumps(build(), indent=2) + "\n")
        typer.echo(str(path))
