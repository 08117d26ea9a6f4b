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
    from assay.observe.alerts import alert_rules
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
