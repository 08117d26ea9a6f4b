"""`assay schema KIND`: print the JSON Schema of a config or result kind, for editors.

Kinds map to `module:Model` strings so that this module imports no engine until
the kind is asked for.
"""

from __future__ import annotations

import importlib
import json

import typer

from assay.errors import NotBuiltError, UsageError

KINDS: dict[str, str] = {
    "run-result": "assay.results:RunResult",
    "load-scenario": "assay.load.spec:ScenarioFile",
    "proxies": "assay.faults.config:ProxiesFile",
    "slo": "assay.slo.spec:SloFile",
    "experiment": "assay.chaos.spec:Experiment",
    "plan": "assay.plan.model:Plan",
    "plan-report": "assay.plan.outcome:PlanReport",
    "courier": "courier.settings:Settings",
}


def model_for(kind: str) -> type:
    if kind not in KINDS:
        raise UsageError(f"unknown schema kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
    module_name, _, attr = KINDS[kind].partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise NotBuiltError(f"schema kind {kind!r} is not built yet ({exc})") from exc


def schema_command(
    kind: str = typer.Argument(..., help=f"One of: {', '.join(KINDS)}"),
) -> None:
    """Print the JSON Schema of a config kind, for editors and validators."""
    model = model_for(kind)
    typer.echo(json.dumps(model.model_json_schema(), indent=2))  # type: ignore[attr-defined]
