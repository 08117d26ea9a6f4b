"""`assay fault`: inject, list, revert and export faults beyond the proxy (processes, network, resources, in-process)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer

from assay.errors import UsageError

app = typer.Typer(name="fault", help="Faults on processes, networks, resources and inside services.", no_args_is_help=True)


def _attributes(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-a {pair!r}: expected key=value")
        out[key.strip()] = value
    return out


@app.command("inject")
def inject(
    fault_type: str = typer.Argument(..., help="The fault type (see `assay fault types`)."),
    target: str | None = typer.Option(None, "--target", "-t", help="pid:N, pattern:REGEX, service:NAME, a path, a link, a URL."),
    attribute: list[str] = typer.Option([], "--attribute", "-a", help="A parameter, key=value (repeatable)."),
    duration: str | None = typer.Option(None, "--duration", "-d", help="How long the fault lasts: 30s, 2m, 500ms."),
    background: bool = typer.Option(False, "--background", help="Return at once; the watchdog reverts at the TTL."),
    as_json: bool = typer.Option(False, "--json", help="Print the fault (and its events) as JSON."),
) -> None:
    """Inject one fault; block until the duration ends (Ctrl-C reverts early), then revert."""
    from assay.faults import injector

    fault = injector.inject(
        fault_type, target, duration=duration, params=_attributes(attribute), owned=not background
    )
    if background or fault.fault.instant:
        _report(fault, as_json, "left to the watchdog" if background and not fault.fault.instant else "done")
        return
    typer.echo(f"injected {fault.id}: {fault.fault.describe(fault.params, target)}; reverting in {fault.time_left():.1f}s", err=True)
    try:
        while (left := fault.time_left()) and left > 0:
            time.sleep(min(1.0, left))
            if not sys.stderr.isatty() and left > 10 and int(left) % 10 == 0:
                typer.echo(f"{fault.id}: {left:.0f}s left", err=True)
    except KeyboardInterrupt:
        typer.echo("interrupted: reverting", err=True)
    fault.revert()
    _report(fault, as_json, "reverted")


def _report(fault: Any, as_json: bool, what: str) -> None:
    if as_json:
        typer.echo(json.dumps({"id": fault.id, "type": fault.fault.name, "record": fault.record,
                               "events": [e.to_dict() for e in fault.events]}, indent=1))
    else:
        typer.echo(f"{fault.id}: {what}")
        for key, value in fault.record.items():
            if key != "fault_id":
                typer.echo(f"  {key}: {value}")


@app.command("list")
def list_faults(as_json: bool = typer.Option(False, "--json", help="JSON instead of a table.")) -> None:
    """The faults in place now, with the time left before their revert."""
    from rich.console import Console
    from rich.table import Table

    from assay.faults import injector

    faults = injector.active()
    if as_json:
        typer.echo(json.dumps(faults, indent=1))
        return
    if not faults:
        typer.echo("no active faults")
        return
    table = Table("type", "target", "status", "time left", "owner")
    table.add_column("id", no_wrap=True)
    for st in faults:
        left = st.get("time_left")
        table.add_row(st["fault_type"], st.get("target", ""), st["status"],
                      "-" if left is None else f"{left:.1f}s", str(st.get("owner_pid") or "watchdog"), st["fault_id"])
    Console().print(table)


@app.command("revert")
def revert(
    fault_id: str | None = typer.Argument(None, help="The fault to revert."),
    all_: bool = typer.Option(False, "--all", help="Revert every active fault."),
) -> None:
    """Revert a fault now (reverting one that is already gone is harmless)."""
    from assay.faults import injector

    if all_:
        done = injector.revert_all()
        typer.echo(f"reverted {len(done)} fault(s)" + (": " + ", ".join(done) if done else ""))
        return
    if not fault_id:
        raise UsageError("give a fault id or --all (see `assay fault list`)")
    if injector.revert(fault_id):
        typer.echo(f"reverted {fault_id}")
    else:
        typer.echo(f"{fault_id}: not active (already reverted or unknown)")


@app.command("types")
def types(as_json: bool = typer.Option(False, "--json", help="JSON Schema of each type's parameters.")) -> None:
    """The catalogue: every fault type, its target and its parameters."""
    from assay.faults import registry

    kinds = registry.all_types()
    if as_json:
        typer.echo(json.dumps({k.name: {"summary": k.summary, "target": k.target_help,
                                        "params": k.Params.model_json_schema()} for k in kinds}, indent=1))
        return
    for kind in kinds:
        typer.echo(f"{kind.name}  (target: {kind.target_help})\n    {kind.summary}")
        for pname, info in kind.Params.model_fields.items():
            if info.is_required():
                default = "required"
            elif info.default_factory is not None:
                default = "generated"
            else:
                value = getattr(info.default, "value", info.default)
                default = f"default {value!r}"
            about = f"  {info.description}" if info.description else ""
            typer.echo(f"    -a {pname}=...  ({default}){about}")


@app.command("export")
def export(
    fault_type: str | None = typer.Argument(None, help="The fault type (or use --sequence)."),
    target: str | None = typer.Option(None, "--target", "-t", help="A key of the mapping file's targets."),
    attribute: list[str] = typer.Option([], "--attribute", "-a", help="A parameter, key=value (repeatable)."),
    duration: str | None = typer.Option(None, "--duration", "-d", help="How long the chaos lasts (Go duration)."),
    mapping: str = typer.Option(..., "--mapping", "-m", help="YAML: namespace and targets -> labels (see docs/faults.md)."),
    sequence: str | None = typer.Option(None, "--sequence", help="YAML list of {type, target, duration, params}: one Workflow."),
    parallel: bool = typer.Option(False, "--parallel", help="With --sequence: run the steps together."),
    schedule: str | None = typer.Option(None, "--schedule", help="Wrap in a Schedule: '@every 1h' or a cron line."),
    name: str | None = typer.Option(None, "--name", help="metadata.name (default: from the type and target)."),
    out: str | None = typer.Option(None, "--out", "-o", help="Write the YAML here instead of stdout."),
) -> None:
    """Chaos Mesh v2.8 manifests for faults, validated against the CRDs and the webhook rules."""
    import yaml

    from assay.atomic import write_text_atomic
    from assay.faults.chaosmesh import export as cm

    selectors = cm.load_mapping(mapping)
    if sequence:
        manifest = cm.workflow(
            [cm.export_fault(s.type, s.params, s.target, s.duration, selectors) for s in load_sequence(sequence)],
            name or f"assay-{__import__('pathlib').Path(sequence).stem}", parallel=parallel,
        )
    elif fault_type:
        manifest = cm.export_fault(fault_type, _attributes(attribute), target, duration, selectors, name)
    else:
        raise UsageError("give a fault type or --sequence FILE")
    if schedule:
        manifest = cm.schedule(manifest, schedule)
    text = yaml.safe_dump(manifest, sort_keys=False)
    if out:
        write_text_atomic(out, text)
        typer.echo(f"wrote {manifest['kind']} {manifest['metadata']['name']} to {out}", err=True)
    else:
        typer.echo(text, nl=False)


def load_sequence(path: str) -> list[Any]:
    from pydantic import Field, RootModel

    from assay.config import StrictModel, load_config

    class Step(StrictModel):
        type: str
        target: str | None = None
        duration: str | None = None
        params: dict[str, Any] = Field(default_factory=dict)

    class Steps(RootModel[list[Step]]):
        pass

    return list(load_config(path, Steps).root)
