"""Read and check a Chaos Toolkit experiment file: every mistake located (file:line: key: what).

The checks follow Chaos Toolkit's own (faults.md §3) plus what would otherwise fail only
mid-run: unknown `ref`s, missing python modules/functions, processes not on PATH.
"""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assay.config import (
    ConfigError,
    ConfigIssue,
    KeyPath,
    detect_format,
    key_positions,
    parse_data,
    read_text,
)

PROVIDERS = ("python", "process", "http", "assay")
ROLLBACK_STRATEGIES = ("default", "always", "never", "deviated")
HYPOTHESIS_STRATEGIES = ("default", "before-method-only", "after-method-only", "during-method-only", "continuously")
TOLERANCE_TYPES = ("probe", "regex", "jsonpath", "range")
_VAR = re.compile(r"^\$\{[^}]+\}$")


class Experiment:
    """A parsed experiment with the positions of its keys, for located errors."""

    def __init__(self, data: dict[str, Any], source: str, positions: dict[KeyPath, tuple[int, int]]) -> None:
        self.data = data
        self.source = source
        self.positions = positions

    def issue(self, path: KeyPath, message: str) -> ConfigIssue:
        for n in range(len(path), -1, -1):
            if path[:n] in self.positions:
                line, col = self.positions[path[:n]]
                return ConfigIssue(self.source, line, col, path, message)
        return ConfigIssue(self.source, None, None, path, message)


def load(path: str | Path) -> Experiment:
    p = Path(path)
    fmt = detect_format(p)
    text = read_text(p)
    data = parse_data(text, source=str(p), fmt=fmt)
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(str(p), 1, 1, (), "an experiment is a mapping with title, description and method")])
    return Experiment(data, str(p), key_positions(text, fmt))


def validate(exp: Experiment, *, check_imports: bool = True) -> None:
    """Raise ConfigError (exit 64) listing every problem, or return."""
    issues = list(_problems(exp, check_imports))
    if issues:
        raise ConfigError(issues)


def _problems(exp: Experiment, check_imports: bool) -> list[ConfigIssue]:
    d = exp.data
    out: list[ConfigIssue] = []

    def bad(path: KeyPath, message: str) -> None:
        out.append(exp.issue(path, message))

    for key in ("title", "description"):
        if not isinstance(d.get(key), str) or not d.get(key):
            bad((key,), "required: a non-empty string")
    if "method" not in d:
        bad((), "'method' is required (a list of activities, may be empty)")
    elif not isinstance(d["method"], list):
        bad(("method",), "expected a list of activities")
    tags = d.get("tags")
    if tags is not None:
        if not isinstance(tags, list):
            bad(("tags",), "expected a list of strings")
        else:
            for i, tag in enumerate(tags):
                if not isinstance(tag, str) or not tag.strip():
                    bad(("tags", i), "a tag is a non-empty string")
    _configuration(d.get("configuration"), bad)
    _secrets(d.get("secrets"), bad)
    runtime = d.get("runtime")
    if isinstance(runtime, dict):
        rs = (runtime.get("rollbacks") or {}).get("strategy")
        if rs is not None and rs not in ROLLBACK_STRATEGIES:
            bad(("runtime", "rollbacks", "strategy"), f"expected one of {', '.join(ROLLBACK_STRATEGIES)}, got {rs!r}")
        hs = (runtime.get("hypothesis") or {}).get("strategy")
        if hs is not None and hs not in HYPOTHESIS_STRATEGIES:
            bad(("runtime", "hypothesis", "strategy"), f"expected one of {', '.join(HYPOTHESIS_STRATEGIES)}, got {hs!r}")
    elif runtime is not None:
        bad(("runtime",), "expected a mapping")

    names = _names(d)
    _controls(d.get("controls"), ("controls",), bad, check_imports)
    hypo = d.get("steady-state-hypothesis")
    if hypo is not None:
        if not isinstance(hypo, dict):
            bad(("steady-state-hypothesis",), "expected a mapping with title and probes")
        else:
            if not isinstance(hypo.get("title"), str) or not hypo.get("title"):
                bad(("steady-state-hypothesis", "title"), "required: a non-empty string")
            probes = hypo.get("probes", [])
            if not isinstance(probes, list):
                bad(("steady-state-hypothesis", "probes"), "expected a list of probes")
            else:
                for i, probe in enumerate(probes):
                    at: KeyPath = ("steady-state-hypothesis", "probes", i)
                    _activity(probe, at, names, bad, check_imports)
                    if isinstance(probe, dict) and "ref" not in probe:
                        if "tolerance" not in probe:
                            bad(at, "a steady-state probe needs a 'tolerance'")
                        else:
                            _tolerance(probe["tolerance"], (*at, "tolerance"), names, bad, check_imports)
                        if probe.get("type") == "action":
                            bad((*at, "type"), "the steady-state hypothesis holds probes, not actions")
            _controls(hypo.get("controls"), ("steady-state-hypothesis", "controls"), bad, check_imports)
    for section in ("method", "rollbacks"):
        acts = d.get(section)
        if isinstance(acts, list):
            for i, act in enumerate(acts):
                _activity(act, (section, i), names, bad, check_imports)
                if section == "rollbacks" and isinstance(act, dict) and act.get("type") == "probe":
                    pass  # Chaos Toolkit accepts probes here too
        elif acts is not None and section == "rollbacks":
            bad((section,), "expected a list of actions")
    return out


def _names(d: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    hypo = d.get("steady-state-hypothesis")
    lists = [d.get("method"), d.get("rollbacks"), hypo.get("probes") if isinstance(hypo, dict) else None]
    for acts in lists:
        for act in acts if isinstance(acts, list) else []:
            if isinstance(act, dict) and isinstance(act.get("name"), str):
                names.add(act["name"])
    return names


def _configuration(conf: Any, bad: Any) -> None:
    if conf is None:
        return
    if not isinstance(conf, dict):
        bad(("configuration",), "expected a mapping of names to values")
        return
    for key, value in conf.items():
        if isinstance(value, dict) and value.get("type") == "env" and not value.get("key"):
            bad(("configuration", key), "an env entry needs 'key' (the environment variable)")
        if isinstance(value, dict) and value.get("env_var_type") not in (None, "int", "float", "str", "bytes", "bool"):
            bad(("configuration", key, "env_var_type"), "expected int, float, str, bytes or bool")


def _secrets(secrets: Any, bad: Any) -> None:
    if secrets is None:
        return
    if not isinstance(secrets, dict):
        bad(("secrets",), "expected scope -> name -> value")
        return
    for scope, entries in secrets.items():
        if not isinstance(entries, dict):
            bad(("secrets", scope), "expected a mapping of secret names to values")
            continue
        for name, value in entries.items():
            if isinstance(value, dict) and value.get("type") == "env" and not value.get("key"):
                bad(("secrets", scope, name), "an env secret needs 'key'")


def _pause(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) or isinstance(value, str) and bool(_VAR.match(value))


def _activity(act: Any, at: KeyPath, names: set[str], bad: Any, check_imports: bool) -> None:
    if not isinstance(act, dict):
        bad(at, "an activity is a mapping (type, name, provider) or {ref: NAME}")
        return
    if "ref" in act:
        if act["ref"] not in names:
            bad((*at, "ref"), f"no activity is named {act['ref']!r}")
        return
    if act.get("type") not in ("probe", "action"):
        bad((*at, "type"), f"expected 'probe' or 'action', got {act.get('type')!r}")
    if not isinstance(act.get("name"), str) or not act.get("name"):
        bad((*at, "name"), "required: a non-empty string")
    pauses = act.get("pauses")
    if pauses is not None:
        if not isinstance(pauses, dict):
            bad((*at, "pauses"), "expected {before: seconds, after: seconds}")
        else:
            for k, v in pauses.items():
                if k not in ("before", "after"):
                    bad((*at, "pauses", k), "expected 'before' or 'after'")
                elif not _pause(v):
                    bad((*at, "pauses", k), f"expected a number of seconds or '${{var}}', got {v!r}")
    if "background" in act and not isinstance(act["background"], bool):
        bad((*at, "background"), "expected true or false")
    if "timeout" in act and not isinstance(act["timeout"], (int, float)):
        bad((*at, "timeout"), "expected a number of seconds")
    _provider(act.get("provider"), (*at, "provider"), bad, check_imports)
    _controls(act.get("controls"), (*at, "controls"), bad, check_imports)


def _provider(provider: Any, at: KeyPath, bad: Any, check_imports: bool) -> None:
    if not isinstance(provider, dict):
        bad(at, "required: a mapping with 'type' (python, process, http or assay)")
        return
    kind = provider.get("type")
    if kind not in PROVIDERS:
        bad((*at, "type"), f"expected one of {', '.join(PROVIDERS)}, got {kind!r}")
        return
    args = provider.get("arguments")
    if kind == "python":
        for key in ("module", "func"):
            if not isinstance(provider.get(key), str) or not provider.get(key):
                bad((*at, key), "required: a non-empty string")
        if args is not None and not isinstance(args, dict):
            bad((*at, "arguments"), "expected a mapping of argument names to values")
        if check_imports and isinstance(provider.get("module"), str) and isinstance(provider.get("func"), str):
            try:
                module = importlib.import_module(provider["module"])
            except Exception as exc:
                bad((*at, "module"), f"cannot import {provider['module']!r}: {exc}")
            else:
                func = getattr(module, provider["func"], None)
                if not callable(func):
                    bad((*at, "func"), f"module {provider['module']!r} has no function {provider['func']!r}")
                else:
                    for name in _missing_arguments(func, args if isinstance(args, dict) else {}):
                        bad((*at, "arguments"), f"required argument {name!r} of {provider['func']}() is missing")
    elif kind == "process":
        path = provider.get("path")
        if not isinstance(path, str) or not path:
            bad((*at, "path"), "required: the program to run")
        elif check_imports and shutil.which(path) is None and "${" not in path:
            bad((*at, "path"), f"{path!r} is not found on PATH")
        if args is not None and not isinstance(args, (str, list, dict)):
            bad((*at, "arguments"), "expected a string or a list")
    elif kind == "http":
        if not isinstance(provider.get("url"), str) or not provider.get("url"):
            bad((*at, "url"), "required: the URL to call")
        if "headers" in provider and not isinstance(provider["headers"], dict):
            bad((*at, "headers"), "expected a mapping of header names to values")
    else:
        from assay.chaos.assay_provider import check

        for sub, message in check(provider):
            bad((*at, *sub), message)


def _missing_arguments(func: Any, given: Mapping[str, Any]) -> list[str]:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params
            if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and p.name not in given and p.name not in ("configuration", "secrets")]


def _tolerance(tol: Any, at: KeyPath, names: set[str], bad: Any, check_imports: bool) -> None:
    if isinstance(tol, (bool, int, str, list)):
        return
    if not isinstance(tol, dict):
        bad(at, "expected a bool, number, string, list or a typed mapping (range, regex, jsonpath, probe)")
        return
    kind = tol.get("type")
    if kind not in TOLERANCE_TYPES:
        bad((*at, "type"), f"expected one of {', '.join(TOLERANCE_TYPES)}, got {kind!r}")
    elif kind == "range":
        rng = tol.get("range")
        if not isinstance(rng, list) or len(rng) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rng):
            bad((*at, "range"), "expected [low, high], two numbers")
    elif kind == "regex":
        try:
            re.compile(str(tol.get("pattern")))
        except re.error as exc:
            bad((*at, "pattern"), f"not a valid regular expression: {exc}")
        if not isinstance(tol.get("pattern"), str):
            bad((*at, "pattern"), "required: a regular expression")
    elif kind == "jsonpath":
        from assay.chaos.jsonpath import JsonPathError, parse

        if not isinstance(tol.get("path"), str):
            bad((*at, "path"), "required: a JSONPath such as $.items[0].id")
        else:
            try:
                parse(tol["path"])
            except JsonPathError as exc:
                bad((*at, "path"), str(exc))
    elif kind == "probe":
        _provider(tol.get("provider"), (*at, "provider"), bad, check_imports)


def _controls(controls: Any, at: KeyPath, bad: Any, check_imports: bool) -> None:
    if controls is None:
        return
    if not isinstance(controls, list):
        bad(at, "expected a list of controls")
        return
    for i, control in enumerate(controls):
        if not isinstance(control, dict):
            bad((*at, i), "a control is a mapping with name and provider")
            continue
        if not control.get("name"):
            bad((*at, i, "name"), "required: a non-empty string")
        provider = control.get("provider")
        if not isinstance(provider, dict) or provider.get("type") != "python" or not provider.get("module"):
            bad((*at, i, "provider"), "required: {type: python, module: MODULE}")
        elif check_imports:
            try:
                importlib.import_module(provider["module"])
            except Exception as exc:
                bad((*at, i, "provider", "module"), f"cannot import {provider['module']!r}: {exc}")
        if control.get("scope") not in (None, "before", "after"):
            bad((*at, i, "scope"), "expected 'before' or 'after'")
