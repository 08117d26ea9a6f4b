"""Chaos Toolkit controls: python modules whose `before_/after_<level>_control` hooks run around
the experiment, hypothesis, method, rollbacks and each activity."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

LEVELS = ("experiment", "hypothesis", "method", "rollback", "activity")


class InterruptExecution(Exception):
    """Raised by a control to stop the run; the journal's status becomes 'interrupted'."""


def is_interrupt(exc: BaseException) -> bool:
    return type(exc).__name__ == "InterruptExecution"


class Control:
    def __init__(self, spec: Mapping[str, Any], declared_at: str) -> None:
        self.name = str(spec.get("name"))
        self.scope = spec.get("scope")
        self.automatic = spec.get("automatic", True)
        self.declared_at = declared_at
        self.errors: list[str] = []
        provider = spec.get("provider") or {}
        self.arguments = dict(provider.get("arguments") or {})
        self.module = importlib.import_module(str(provider.get("module")))

    def applies(self, level: str) -> bool:
        return level == self.declared_at or bool(self.automatic)

    def call(self, when: str, level: str, **kwargs: Any) -> None:
        if self.scope and self.scope != when:
            return
        hook = getattr(self.module, f"{when}_{level}_control", None)
        if hook is None:
            return
        params = inspect.signature(hook).parameters
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        merged = {**kwargs, **self.arguments}
        try:
            hook(**{k: v for k, v in merged.items() if takes_all or k in params})
        except Exception as exc:
            if is_interrupt(exc):
                raise
            # as in Chaos Toolkit, a broken control is logged by the caller, never fatal
            self.errors.append(f"{self.name}: {when}_{level}_control: {type(exc).__name__}: {exc}")


def load_controls(specs: Any, declared_at: str) -> list[Control]:
    return [Control(s, declared_at) for s in (specs or []) if isinstance(s, dict)]


@contextmanager
def around(controls: list[Control], level: str, context: Any, experiment: Any, configuration: Any, secrets: Any) -> Iterator[dict[str, Any]]:
    """Run before-hooks, yield a box whose 'state' the after-hooks receive."""
    box: dict[str, Any] = {"state": None}
    active = [c for c in controls if c.applies(level)]
    common = {"context": context, "experiment": experiment, "configuration": configuration, "secrets": secrets}
    for c in active:
        c.call("before", level, **common)
    try:
        yield box
    finally:
        for c in active:
            c.call("after", level, state=box["state"], **common)
