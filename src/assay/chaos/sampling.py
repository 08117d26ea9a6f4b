"""The processes an experiment follows while it runs, declared in the experiment itself (as
`assay chaos run --sample`), in the assay extension so Chaos Toolkit ignores it:

    "extensions": [{"name": "assay", "sample": ["courier=${courier_pid}", "re:uvicorn.*courier"]}]

Entries are what `--sample` takes (PID, NAME=PID, re:PATTERN); `${var}` expands from the
experiment's configuration and `--var`, so a plan can hand over a service's PID.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assay.errors import UsageError


def targets_from(experiment: Mapping[str, Any]) -> list[str]:
    """The `extensions.assay.sample` entries of a (substituted) experiment; [] when none."""
    out: list[str] = []
    for ext in experiment.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == "assay" and "sample" in ext:
            raw = ext["sample"]
            entries = [raw] if isinstance(raw, str | int) else raw
            if not isinstance(entries, list) or not all(isinstance(e, str | int) and str(e).strip() for e in entries):
                raise UsageError(f"extensions.assay.sample: expected a list of PID, NAME=PID or re:PATTERN, got {raw!r}")
            out += [str(e).strip() for e in entries]
    return out


def declared_targets(path: str | Path, config_vars: dict[str, Any] | None = None,
                     secret_vars: dict[str, Any] | None = None) -> list[str]:
    """Read the experiment file's sample entries with its `${var}`s expanded (before it runs, so a
    bad entry is exit 64 before any fault)."""
    from assay.chaos import experiment as exp_mod
    from assay.chaos.substitute import load_configuration, load_secrets, substitute

    exp = exp_mod.load(path)
    configuration = load_configuration(exp.data.get("configuration"), config_vars)
    secrets = load_secrets(exp.data.get("secrets"), secret_vars)
    return targets_from(substitute(exp.data, configuration, secrets))


__all__ = ["declared_targets", "targets_from"]
