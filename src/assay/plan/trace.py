"""The traceability matrix: user stories and acceptance scenarios mapped to the tests that
cover them, with computed totals (a team's hand-written totals were wrong).

Sources:
- the spec: Markdown (story headings `## US1: title (P0)` and scenario lines carrying ids
  like `US1-AS2`) or YAML (`stories: [{id, title, priority, scenarios: [{id, title}]}]`);
- what is automated, found statically (so it counts before it runs): tests tagged
  `@pytest.mark.scenario("US1-AS2")`, load scenario files and chaos experiments named
  explicitly, and plans: each step's `scenario:` plus what its load scenario file or chaos
  experiment declares (assay.acceptance says how each declares ids);
- last results: JUnit XML (assay's pytest plugin writes each test's scenarios as
  `<property name="scenario">`), plan reports (steps with their scenarios, including those
  their load files and experiments declared) and standalone `assay load run --result` files
  (the ids the result recorded from its load file, with the run's status); with a plan and
  no report named for it, the newest report of that plan in its artifacts folder.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assay.acceptance import (
    EXPECTED,
    ID_PATTERN,
    SCENARIO_ID,
    experiment_scenarios,
    is_scenario_id,
    load_file_scenarios,
)
from assay.config import ConfigError, ConfigIssue, StrictModel, validate_data
from assay.errors import UsageError

STORY_HEADING = re.compile(r"^#{1,6}\s+(?:User\s+Story\s+)?([A-Z][A-Z0-9]*\d+)\b[\s:.\-–—]*(.*)$")
PRIORITY = re.compile(r"\b(P[0-4])\b")
# a scenario is defined by a line that starts with its id (after a list marker, bold or a table pipe);
# ids mentioned in prose are references, not definitions
SCENARIO_LINE = re.compile(rf"^\s*(?:[-*+]|\d+[.)]|\|)?\s*(?:\*\*|__|`)?({ID_PATTERN})\b")


class SpecScenario(StrictModel):
    id: str = Field(pattern=rf"^{ID_PATTERN}$")
    title: str = ""


class SpecStory(StrictModel):
    id: str
    title: str = ""
    priority: str = Field(default="P2", pattern=r"^P[0-4]$")
    scenarios: list[SpecScenario] = Field(default_factory=list)


class Spec(StrictModel):
    stories: list[SpecStory]


def load_spec(path: str | Path) -> Spec:
    p = Path(path)
    if p.suffix.lower() in (".yaml", ".yml", ".json", ".toml"):
        from assay.config import load_config

        return load_config(p, Spec)
    if p.suffix.lower() not in (".md", ".markdown"):
        raise UsageError(f"{p}: a spec is Markdown (.md) or YAML/JSON/TOML, not {p.suffix!r}")
    from assay.config import read_text

    return parse_markdown(read_text(p), str(p))


def parse_markdown(text: str, source: str = "<spec>") -> Spec:
    """Story headings carry an id (and a priority); lines below them carrying a scenario id are its scenarios."""
    stories: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    issues: list[ConfigIssue] = []
    current: dict[str, Any] | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        heading = STORY_HEADING.match(line.strip())
        if heading and not SCENARIO_ID.search(line):
            title = heading.group(2).strip()
            prio = PRIORITY.search(title)
            title = PRIORITY.sub("", title).replace("()", "").replace("[]", "").strip(" -–—:,")
            current = {"id": heading.group(1), "title": title, "priority": prio.group(1) if prio else "P2", "scenarios": []}
            stories.append(current)
            continue
        if current is not None and not current["scenarios"] and line.strip().lower().startswith(("priority", "**priority")):
            prio = PRIORITY.search(line)
            if prio:
                current["priority"] = prio.group(1)
            continue
        m = SCENARIO_LINE.match(line)
        if m is None:
            continue
        sid = m.group(1)
        if current is None or not sid.startswith(current["id"] + "-"):
            owner = next((s for s in stories if sid.startswith(s["id"] + "-")), None)
            if owner is None:
                issues.append(ConfigIssue(source, lineno, m.start(1) + 1, (), f"scenario {sid} is under no story heading ({sid.split('-')[0]})"))
                continue
            target = owner
        else:
            target = current
        if sid in seen:
            issues.append(ConfigIssue(source, lineno, m.start(1) + 1, (), f"scenario {sid} is listed twice (first on line {seen[sid]})"))
            continue
        seen[sid] = lineno
        title = line[m.end(1):].strip(" *_:-–—|`")
        target["scenarios"].append({"id": sid, "title": re.sub(r"\s+", " ", title)[:200]})
    if issues:
        raise ConfigError(issues)
    if not stories:
        raise ConfigError([ConfigIssue(source, None, None, (), "no user stories found: expected headings like '## US1: title (P1)'")])
    return validate_data({"stories": stories}, Spec, source=source)


# --- tests -----------------------------------------------------------------------------------------


@dataclass
class TaggedTest:
    name: str  # path::Class::function
    scenarios: list[str]
    status: str = "not run"  # passed | failed | error | skipped | not run


def scan_tests(paths: list[Path]) -> list[TaggedTest]:
    """What the given files and folders automate, without running anything: tests marked
    `@pytest.mark.scenario(...)` (functions, methods, whole classes or modules; folders are
    searched for test_*.py and *_test.py), and load scenario files (.yaml, .py that is not a
    test file, .js) or chaos experiments named explicitly, by what they declare."""
    out: list[TaggedTest] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("test_*.py")) + sorted(p.rglob("*_test.py")):
                out += _pytest_tests(f, strict=False)
        elif _is_test_module(p):
            out += _pytest_tests(p, strict=True)
        else:
            ids = declared_scenarios(p)
            if ids:
                out.append(TaggedTest(p.as_posix(), ids))
    return out


def declared_scenarios(path: Path) -> list[str]:
    """The ids a load scenario file or (a YAML/JSON file with a `method`) a chaos experiment declares."""
    if path.suffix.lower() in (".yaml", ".yml", ".json") and _is_experiment(path):
        return experiment_scenarios(path)
    return load_file_scenarios(path)


def _is_experiment(path: Path) -> bool:
    from assay.config import detect_format, parse_data, read_text

    data = parse_data(read_text(path), source=str(path), fmt=detect_format(path))
    return isinstance(data, dict) and "method" in data


def _is_test_module(path: Path) -> bool:
    return path.suffix == ".py" and (path.name.startswith("test_") or path.name.endswith("_test.py"))


def _pytest_tests(f: Path, *, strict: bool) -> list[TaggedTest]:
    """A test file's tagged tests; a marker's literal that is not an id is a located error.
    Files in a scanned folder that do not parse are skipped (pytest reports them); a file named
    explicitly must parse."""
    try:
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
    except (SyntaxError, UnicodeDecodeError, OSError) as exc:
        if strict:
            raise UsageError(f"{f}: cannot read the tests: {exc}") from None
        return []
    issues: list[ConfigIssue] = []
    out: list[TaggedTest] = []

    def marks(decorators: list[ast.expr]) -> list[str]:
        ids: list[str] = []
        for d in decorators:
            if isinstance(d, ast.Call) and _is_scenario_mark(d.func):
                for a in d.args:
                    if not isinstance(a, ast.Constant):
                        continue  # a name or *ids: known once it runs (the JUnit XML has it)
                    if isinstance(a.value, str) and is_scenario_id(a.value):
                        ids.append(a.value)
                    else:
                        issues.append(ConfigIssue(str(f), a.lineno, a.col_offset + 1, (),
                                                  f"@pytest.mark.scenario: {EXPECTED}, got {a.value!r}"))
        return ids

    module_marks: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            value = node.value
            module_marks = marks(list(value.elts) if isinstance(value, ast.List | ast.Tuple) else [value])
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            ids = module_marks + marks(node.decorator_list)
            if ids:
                out.append(TaggedTest(f"{f.as_posix()}::{node.name}", ids))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            class_ids = module_marks + marks(node.decorator_list)
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test"):
                    ids = class_ids + marks(item.decorator_list)
                    if ids:
                        out.append(TaggedTest(f"{f.as_posix()}::{node.name}::{item.name}", ids))
    if issues:
        raise ConfigError(issues)
    return out


def _is_scenario_mark(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "scenario" and isinstance(node.value, ast.Attribute) and node.value.attr == "mark"


def plan_steps(path: Path) -> list[TaggedTest]:
    """A plan's steps that cover scenarios, before they run: each step's own `scenario:` plus what
    its load scenario file or chaos experiment declares. Named as the plan's report names them
    (`plan <name>: <stage key>.<step>`), so a report's results land on the same rows."""
    from assay.plan.model import ChaosStep, LoadStep
    from assay.plan.validate import load_plan

    loaded = load_plan(path)
    out: list[TaggedTest] = []
    for stage_name, stage in loaded.plan.stages.items():
        for step in stage.steps:
            ids = step.scenarios()
            ref = step.target if isinstance(step, LoadStep) else step.experiment if isinstance(step, ChaosStep) else None
            if ref is not None and "${" not in ref and "://" not in ref:  # a file, not a URL or a run-time reference
                file = loaded.directory / ref
                if not file.is_file():
                    raise UsageError(f"{path}: step {stage_name}.{step.name}: no such file {ref!r} (relative to the plan)")
                ids += experiment_scenarios(file) if isinstance(step, ChaosStep) else load_file_scenarios(file)
            if ids:
                for key, _combo in stage.instances(stage_name):
                    out.append(TaggedTest(f"plan {loaded.plan.name}: {key}.{step.name}", sorted(set(ids))))
    return out


def latest_report(plan_path: Path) -> Path | None:
    """The newest report.json (by its start time) of a plan in its artifacts folder, as `assay plan run`
    lays it out (<artifacts>/<plan>/<run-id>/, relative to where it runs), or None."""
    from assay.plan.validate import load_plan

    plan = load_plan(plan_path).plan

    def started(report: Path) -> str:
        try:
            return str(json.loads(report.read_text()).get("started_at") or "")
        except (OSError, ValueError, AttributeError):
            return ""

    runs = sorted((Path(plan.artifacts) / plan.name).glob("*/report.json"), key=lambda p: (started(p), p.parent.name))
    return runs[-1] if runs else None


def junit_tests(path: Path) -> list[TaggedTest]:
    import xml.etree.ElementTree as ET

    from assay.plan.outputs import read_junit

    try:
        ET.parse(path)
    except (ET.ParseError, OSError) as exc:  # read_junit forgives a step's missing file; a file named here must read
        raise UsageError(f"--junit {path}: not a JUnit XML file: {exc}") from None
    out = []
    for case in read_junit(path, []):
        if case.scenarios:
            module = case.classname
            out.append(TaggedTest(f"{module}::{case.name}" if module else case.name, case.scenarios, case.status))
    return out


def plan_tests(path: Path) -> list[TaggedTest]:
    """Plan steps tagged `scenario:` in a plan's report.json, with their status."""
    from assay.plan.outcome import PlanReport

    try:
        report = PlanReport.model_validate_json(path.read_text())
    except (OSError, ValueError) as exc:
        hint = ("; it is an `assay load run` result: pass it with --result" if _is_load_result(path) else "")
        raise UsageError(f"{path}: not a plan report (report.json): {str(exc).splitlines()[0]}{hint}") from None
    out = []
    for step in report.steps():
        if step.scenarios:
            status = {"passed": "passed", "warning": "passed", "skipped": "skipped"}.get(step.status, "failed")
            out.append(TaggedTest(f"plan {report.plan}: {step.key}", list(step.scenarios), status))
        for t in step.tests:
            if t.scenarios:
                out.append(TaggedTest(f"{t.classname}::{t.name}" if t.classname else t.name, t.scenarios, t.status))
    return out


LOAD_FORMAT = "assay-load-"  # the source format of every `assay load run` result (assay-load-yaml, -py, -js)


def _is_load_result(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    source = data.get("source") if isinstance(data, dict) else None
    return isinstance(source, dict) and str(source.get("format", "")).startswith(LOAD_FORMAT)


def load_result_tests(path: Path) -> list[TaggedTest]:
    """A standalone `assay load run --result` file: the ids its load scenario file declared when
    the run began (the result's `source.scenarios`), passed or failed as the run was. A result
    written before assay recorded them falls back to what the file declares now (as `--tests
    FILE` finds them); it names its file as `assay load run` was given it, so a relative name is
    looked up from here, then from the result's folder."""
    from assay.formats import load_result

    if not path.is_file():
        raise UsageError(f"--result {path}: no such file")
    result = load_result(path)  # a file that is no result at all: a located error, exit 64
    source = result.source
    if source is None or not source.format.startswith(LOAD_FORMAT) or not source.path:
        what = f"a {result.kind} result, format {source.format if source is not None else 'unknown'}, that names no load file"
        raise UsageError(f"--result {path}: not an `assay load run --result` file ({what}); "
                         "a plan's report goes in --plan-report, JUnit XML in --junit")
    declared = Path(source.path)
    status = {"passed": "passed", "warning": "passed", "failed": "failed"}.get(str(result.status), "error")
    if source.scenarios is not None:
        bad = [i for i in source.scenarios if not is_scenario_id(i)]
        if bad:
            raise UsageError(f"--result {path}: source.scenarios: {bad[0]!r}: {EXPECTED}")
        return [TaggedTest(declared.as_posix(), list(source.scenarios), status)] if source.scenarios else []
    if "://" in source.path:  # `assay load run URL`: no file, so no declared scenarios
        return []
    found = next((c for c in (declared, path.parent / declared) if c.is_file()), None)
    if found is None:
        raise UsageError(f"--result {path}: the load scenario file it ran, {source.path!r}, is not found here nor next to "
                         "the result; run `assay trace matrix` where `assay load run` ran")
    ids = load_file_scenarios(found)
    return [TaggedTest(declared.as_posix(), ids, status)] if ids else []


# --- the matrix ------------------------------------------------------------------------------------


class Row(BaseModel):
    story: str
    story_title: str
    priority: str
    scenario: str
    title: str
    tests: list[str]
    automated: bool
    last_result: str  # passed | failed | not run | no test


class Totals(BaseModel):
    scenarios: int
    automated: int
    passing: int
    failing: int
    coverage_pct: float
    passing_pct: float


class Matrix(BaseModel):
    schema_: str = Field(default="assay.trace/1", alias="schema")
    rows: list[Row]
    totals: Totals
    by_priority: dict[str, Totals]
    unknown_ids: list[str] = Field(default_factory=list, description="Scenario ids tests carry that the spec does not have")
    gaps: list[str] = Field(default_factory=list, description="Gating scenarios with no test or a failing one")
    exit_code: int = 0

    model_config = {"populate_by_name": True}


def _norm(name: str) -> str:
    """Comparable test names: `tests/x/test_a.py::T::f` and JUnit's `tests.x.test_a.T` + `f` meet here."""
    name = name.replace(".py::", "::").replace("/", ".").replace("::", ".")
    return re.sub(r"\[[^\[\]]*\]$", "", name)  # a test's parameters, not a plan stage's matrix entry (stage[mode=x].step)


def build(spec: Spec, tagged: list[TaggedTest], results: list[TaggedTest], gate: tuple[str, ...] = ("P0", "P1")) -> Matrix:
    by_test: dict[str, TaggedTest] = {}
    for t in tagged:
        by_test[_norm(t.name)] = t
    for r in results:  # a result overrides the static "not run"; results of unscanned tests add them
        key = _norm(r.name)
        match = by_test.get(key) or next((t for k, t in by_test.items() if k.endswith("." + key) or key.endswith("." + k)), None)
        if match is not None:
            match.status = _combine(match.status, r.status)
            match.scenarios = sorted(set(match.scenarios) | set(r.scenarios))
        else:
            by_test[key] = TaggedTest(r.name, list(r.scenarios), r.status)
    known = {sc.id for st in spec.stories for sc in st.scenarios}
    unknown = sorted({sid for t in by_test.values() for sid in t.scenarios if sid not in known})
    rows: list[Row] = []
    for story in spec.stories:
        for sc in story.scenarios:
            tests = [t for t in by_test.values() if sc.id in t.scenarios]
            statuses = [t.status for t in tests]
            if not tests:
                last = "no test"
            elif any(s in ("failed", "error") for s in statuses):
                last = "failed"
            elif any(s == "passed" for s in statuses):
                last = "passed"
            else:
                last = "not run"
            rows.append(Row(story=story.id, story_title=story.title, priority=story.priority, scenario=sc.id, title=sc.title,
                            tests=sorted(t.name for t in tests), automated=bool(tests), last_result=last))
    gaps = [f"{r.scenario} ({r.priority}): {'no test' if not r.automated else 'failing: ' + ', '.join(r.tests)}"
            for r in rows if r.priority in gate and r.last_result in ("no test", "failed")]
    priorities = sorted({r.priority for r in rows})
    return Matrix(rows=rows, totals=_totals(rows), by_priority={p: _totals([r for r in rows if r.priority == p]) for p in priorities},
                  unknown_ids=unknown, gaps=gaps, exit_code=2 if gaps else 0)


def _combine(a: str, b: str) -> str:
    order = ["not run", "skipped", "passed", "failed", "error"]
    return max(a, b, key=lambda s: order.index(s) if s in order else 0)


def _totals(rows: list[Row]) -> Totals:
    n = len(rows)
    auto = sum(r.automated for r in rows)
    passing = sum(r.last_result == "passed" for r in rows)
    failing = sum(r.last_result == "failed" for r in rows)
    return Totals(scenarios=n, automated=auto, passing=passing, failing=failing,
                  coverage_pct=round(100.0 * auto / n, 1) if n else 0.0, passing_pct=round(100.0 * passing / n, 1) if n else 0.0)


# --- renderers -------------------------------------------------------------------------------------


def to_markdown(m: Matrix) -> str:
    lines = ["| story | priority | scenario | tests | automated | last result |", "|---|---|---|---|---|---|"]
    for r in m.rows:
        tests = "<br>".join(f"`{t}`" for t in r.tests) or "–"
        lines.append(f"| {r.story} {r.story_title} | {r.priority} | {r.scenario} {r.title} | {tests} | "
                     f"{'yes' if r.automated else 'no'} | {r.last_result} |")
    t = m.totals
    lines += ["", f"**Totals:** {t.scenarios} scenarios, {t.automated} automated ({t.coverage_pct:g}%), "
              f"{t.passing} passing ({t.passing_pct:g}%), {t.failing} failing", ""]
    lines += [f"- {p}: {x.automated}/{x.scenarios} automated ({x.coverage_pct:g}%), {x.passing} passing" for p, x in m.by_priority.items()]
    if m.gaps:
        lines += ["", "**Gaps:**"] + [f"- {g}" for g in m.gaps]
    if m.unknown_ids:
        lines += ["", "Tests name scenarios the spec does not have: " + ", ".join(m.unknown_ids)]
    return "\n".join(lines) + "\n"


def to_html(m: Matrix, title: str = "Traceability matrix") -> str:
    from html import escape

    from assay.report.run_html import CSS

    cls = {"passed": "ok", "failed": "bad", "no test": "bad"}
    rows = "".join(
        f"<tr><td>{escape(r.story)} {escape(r.story_title)}</td><td>{escape(r.priority)}</td><td>{escape(r.scenario)} {escape(r.title)}</td>"
        f"<td>{'<br>'.join(f'<code>{escape(t)}</code>' for t in r.tests) or '–'}</td><td>{'yes' if r.automated else 'no'}</td>"
        f"<td class='{cls.get(r.last_result, '')}'>{escape(r.last_result)}</td></tr>" for r in m.rows)
    t = m.totals
    prio = "".join(f"<li>{escape(p)}: {x.automated}/{x.scenarios} automated ({x.coverage_pct:g}%), {x.passing} passing</li>"
                   for p, x in m.by_priority.items())
    gaps = "".join(f"<li>{escape(g)}</li>" for g in m.gaps)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{escape(title)}</h1><div class='cards'><div class='card'>scenarios<b>{t.scenarios}</b></div>"
            f"<div class='card'>automated<b>{t.coverage_pct:g}%</b></div><div class='card'>passing<b>{t.passing_pct:g}%</b></div>"
            f"<div class='card'>failing<b>{t.failing}</b></div></div><ul>{prio}</ul>"
            + (f"<h2>Gaps</h2><ul>{gaps}</ul>" if gaps else "")
            + "<h2>Scenarios</h2><table><tr><th>story</th><th>priority</th><th>scenario</th><th>tests</th><th>automated</th><th>last result</th></tr>"
            + rows + "</table></body></html>\n")


def to_json(m: Matrix) -> str:
    return json.dumps(m.model_dump(by_alias=True), indent=2) + "\n"


@dataclass
class Sources:
    tests: list[Path] = field(default_factory=list)
    junit: list[Path] = field(default_factory=list)
    plan_reports: list[Path] = field(default_factory=list)
    plans: list[Path] = field(default_factory=list)
    load_results: list[Path] = field(default_factory=list)


def matrix(spec_path: Path, sources: Sources, gate: tuple[str, ...] = ("P0", "P1")) -> Matrix:
    spec = load_spec(spec_path)
    tagged = scan_tests(sources.tests)
    for plan in sources.plans:
        tagged += plan_steps(plan)
    results: list[TaggedTest] = []
    for j in sources.junit:
        if not j.is_file():
            raise UsageError(f"{j}: no such JUnit XML file")
        results += junit_tests(j)
    for p in sources.plan_reports:
        results += plan_tests(p)
    for r in sources.load_results:
        results += load_result_tests(r)
    return build(spec, tagged, results, gate)


__all__ = ["SCENARIO_ID", "Matrix", "Row", "Sources", "Spec", "TaggedTest", "build", "declared_scenarios", "latest_report",
           "load_result_tests", "load_spec", "matrix", "parse_markdown", "plan_steps", "scan_tests", "to_html", "to_json", "to_markdown"]
