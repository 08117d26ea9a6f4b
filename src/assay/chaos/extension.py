"""The experiment's `assay` extension checked as a whole, so that `assay chaos validate` refuses
what `assay chaos run` would (Chaos Toolkit ignores extensions, so nothing else looks at it):
a misspelt section or a section that is not a mapping is an error, not silently no guard."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assay.chaos import background_load, guards, recovery, sampling
from assay.errors import UsageError

SECTIONS = ("safety", "recovery", "load", "sample")


def check(experiment: Mapping[str, Any], path: Path, *, values: bool = True) -> None:
    """Raise UsageError (exit 64) on the first problem in the `assay` extension, with the file and key.
    `values=False`: the sections only (their values may hold ${var}s not resolvable here)."""
    try:
        check_sections(experiment)
        if not values:
            return
        guards.spec_from(experiment)
        recovery.spec_from(experiment)
        from assay.observe.sampler import parse_target

        for target in sampling.targets_from(experiment):
            parse_target(target)
        spec = background_load.spec_from(experiment, base=path.parent)
        if spec is not None:
            background_load.BackgroundLoad(spec)  # reads the scenario and checks the rates; starts nothing
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}") from None


def check_sections(experiment: Mapping[str, Any]) -> None:
    """Only known sections, each a mapping but `sample` (the sections' own keys are checked as they are read)."""
    for ext in experiment.get("extensions") or []:
        if not isinstance(ext, dict) or ext.get("name") != "assay":
            continue
        for key, value in ext.items():
            if key == "name":
                continue
            if key not in SECTIONS:
                near = difflib.get_close_matches(key, SECTIONS, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise UsageError(f"extensions.assay.{key}: unknown section{hint} (expected {', '.join(SECTIONS)})")
            if key == "sample":
                continue  # a list of processes to follow: sampling.targets_from checks it
            if not isinstance(value, dict):
                raise UsageError(f"extensions.assay.{key}: expected a mapping of settings, got {value!r}")
