"""`assay load inspect script.js`: what a k6 script uses of k6's API, and whether assay runs it.

Static (tree-sitter) so it works on scripts that would not load: every k6 module and member
used, with the lines; imports refused (remote, npm); and, when the init code runs, the
options' scenarios and the exported functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.errors import AssayError
from assay.load.js.source import bundle
from assay.load.js.support import verdict


@dataclass
class UseRow:
    api: str  # "k6/http.get", "k6/ws", "global __ENV"
    lines: list[str]  # "file.js:12"
    supported: bool
    note: str = ""


@dataclass
class ScriptReport:
    path: str
    uses: list[UseRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    scenarios: dict[str, str] = field(default_factory=dict)  # name -> executor (exec)
    functions: list[str] = field(default_factory=list)
    init_error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and all(u.supported for u in self.uses) and self.init_error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "assay.k6-inspect/1",
            "path": self.path,
            "ok": self.ok,
            "uses": [u.__dict__ for u in self.uses],
            "problems": self.problems,
            "scenarios": self.scenarios,
            "functions": self.functions,
            "init_error": self.init_error,
        }


def inspect_script(path: Path) -> ScriptReport:
    """Raises ScenarioError only when the entry file cannot be read or parsed at all."""
    b = bundle(path, lenient=True)
    report = ScriptReport(path=str(path), problems=b.problems)
    rows: dict[str, UseRow] = {}
    base = b.entry.parent
    for use in b.uses:
        where = f"{_rel(str(Path(use.file).resolve()), base)}:{use.line}"
        if use.module == "global":
            key = f"global {use.name}"
            ok, note = True, ""
        else:
            key = use.module if use.name is None else f"{use.module}.{use.name}"
            ok, note = verdict(use.module, use.name)
        row = rows.get(key)
        if row is None:
            row = rows[key] = UseRow(key, [], ok, note)
        if where not in row.lines:
            row.lines.append(where)
    report.uses = sorted(rows.values(), key=lambda r: (r.supported, r.api))
    if report.problems or not all(u.supported for u in report.uses):
        return report
    from assay.load.js.loader import load_js_scenario

    try:
        loaded = load_js_scenario(path, env={})
    except AssayError as exc:
        report.init_error = exc.message
        return report
    report.functions = sorted(loaded.functions)
    scenarios = loaded.options.get("scenarios")
    if isinstance(scenarios, dict):
        for name, spec in scenarios.items():
            if isinstance(spec, dict):
                report.scenarios[name] = f"{spec.get('executor', '?')} (exec {spec.get('exec', 'default')})"
    else:
        shortcut = {k: loaded.options[k] for k in ("vus", "duration", "iterations", "stages") if k in loaded.options}
        report.scenarios["default"] = json.dumps(shortcut) if shortcut else "1 VU, 1 iteration"
    return report


def _rel(path: str, base: Path) -> str:
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return path
