"""What compiling a YAML scenario shares between its parts: located errors and the step shape.

Every step compiler (HTTP requests, WebSocket sessions, checks) reports problems through a
CompileContext, which locates each on the file's line, so one run of the compiler lists
them all; each returns a `Compiled` step (how to run it, the capture names it defines).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.config import ConfigIssue, KeyPath
from assay.load.http.static import StaticRequest
from assay.load.spec import ThinkRange
from assay.load.yaml.data import DataSource
from assay.load.yaml.template import Scope, TemplateError, parse_seconds

Runner = Callable[[Any, Scope], Awaitable[None]]


@dataclass
class CompileContext:
    """The file being compiled: where its keys are, the problems found so far, and what the
    compiled steps need to know about each other (data sources, names used, body readers)."""

    source: str
    positions: Mapping[KeyPath, tuple[int, int]]
    issues: list[ConfigIssue] = field(default_factory=list)
    data: dict[str, DataSource] = field(default_factory=dict)
    used_roots: set[str] = field(default_factory=set)
    reads_body: list[str] = field(default_factory=list)

    def issue(self, path: KeyPath, message: str) -> None:
        """Record a problem at `path`, located on the nearest line the file has for it."""
        line = col = None
        for n in range(len(path), -1, -1):
            if path[:n] in self.positions:
                line, col = self.positions[path[:n]]
                break
        self.issues.append(ConfigIssue(self.source, line, col, path, message))

    def guard(self, path: KeyPath, fn: Callable[[], Any]) -> Any:
        """`fn()`, or None with the TemplateError it raised recorded at `path`."""
        try:
            return fn()
        except TemplateError as exc:
            self.issue(path, str(exc))
            return None




@dataclass
class Compiled:
    """A compiled step: how to run it, and the capture names it surely defines."""

    run: Runner
    defines: frozenset[str]
    # the one fixed request this step is, when nothing reads its response (see assay.load.http.static)
    static: StaticRequest | None = None


def think_time(value: Any) -> Callable[[], float] | None:
    """A think-time spec (seconds, a duration or {min, max}) as a function giving the pause."""
    if value is None:
        return None
    if isinstance(value, ThinkRange):
        lo, hi = parse_seconds(value.min), parse_seconds(value.max)
        if hi < lo:
            raise TemplateError(f"think_time max ({value.max}) is below min ({value.min})")
        return lambda: random.uniform(lo, hi)
    seconds = parse_seconds(value)
    if seconds <= 0:
        return None
    return lambda: seconds


def group_name(group: str | None) -> str | None:
    if group is not None and ("::" in group or not group):
        raise TemplateError(f"group name {group!r} must be non-empty and may not contain '::'")
    return group


def wrap_step(run: Runner, group: str | None, think: Callable[[], float] | None) -> Runner:
    if group is None and think is None:
        return run

    async def wrapped(vu: Any, scope: Scope) -> None:
        if group is not None:
            async with vu.group(group):
                await run(vu, scope)
        else:
            await run(vu, scope)
        if think is not None:
            await vu.sleep(think())

    return wrapped
