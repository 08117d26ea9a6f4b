"""Loading a scenario file, by its suffix, into the one structure the runner executes (`LoadedScenario`).

A **Python** scenario is a plain module (k6's script, in Python):

    options = {
        "scenarios": {
            "browse": {"executor": "constant-vus", "vus": 10, "duration": "30s", "exec": "browse"},
            "buy": {"executor": "constant-arrival-rate", "rate": 50, "duration": "30s",
                    "preAllocatedVUs": 20, "tags": {"flow": "buy"}},
        },
        "thresholds": {"http_req_duration{scenario:buy}": ["p(95)<300"],
                       "http_req_failed": [{"threshold": "rate<0.01", "abortOnFail": True}]},
        "tags": {"team": "shop"},
    }
    def setup(): return {"token": "..."}          # sync or async; its value is vu.data
    def teardown(data): ...                       # sync or async
    async def default(vu): ...                    # the iteration of scenarios without `exec`
    async def browse(vu): ...                     # named by a scenario's `exec`

Without `scenarios`, k6's shortcuts apply (`vus`+`duration` -> constant-vus, `iterations`
-> shared-iterations, `stages` -> ramping-vus; nothing -> 1 VU, 1 iteration).

A **YAML** scenario (`.yaml`/`.yml`) is compiled into the same structure by
`assay.load.yaml.compile.load_yaml_scenario(path: Path, *, env: Mapping[str, str]) -> LoadedScenario`
(assay.load.yaml), a k6 script (`.js`) by assay.load.js.loader; the contract they meet is
LoadedScenario's (assay.load.scenario).

The loader is re-run in each worker process from `LoadedScenario.spec` (a small picklable
dict), so loading must be deterministic and side-effect free apart from reading files.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from assay.acceptance import load_file_scenarios
from assay.load.custom_metrics import CustomMetric
from assay.load.scenario import IterationFn, LoadedScenario, ScenarioError
from assay.results import Contains, MetricType


def load_scenario(path: str | Path, *, env: Mapping[str, str] | None = None) -> LoadedScenario:
    """Load a `.py`, `.yaml`/`.yml` or k6 `.js` scenario file; raises ScenarioError on any problem."""
    p = Path(path)
    if not p.exists():
        raise ScenarioError(f"scenario file {str(p)!r} does not exist")
    if p.is_dir():
        raise ScenarioError(f"{str(p)!r} is a folder; expected a .py or .yaml scenario file")
    env_map = dict(env or {})
    suffix = p.suffix.lower()
    if suffix == ".py":
        loaded = load_python_scenario(p, env=env_map)
    elif suffix in (".yaml", ".yml"):
        from assay.load.yaml.compile import load_yaml_scenario

        loaded = load_yaml_scenario(p, env=env_map)
    elif suffix in (".js", ".mjs"):
        from assay.load.js.loader import load_js_scenario

        loaded = load_js_scenario(p, env=env_map)
    else:
        raise ScenarioError(f"{str(p)!r}: unknown scenario type {suffix or '(no suffix)'!r}; expected .py, .yaml, .yml or .js")
    # a `scenario` declaration that is not acceptance ids (US1-AS2) fails here, located
    loaded.acceptance_ids = load_file_scenarios(p)
    loaded.spec = {"kind": "file", "path": str(p.resolve()), "env": env_map}
    return loaded


def load_from_spec(spec: Mapping[str, Any]) -> LoadedScenario:
    """Rebuild a LoadedScenario in a worker process from `LoadedScenario.spec`."""
    if spec.get("kind") == "file":
        loaded = load_scenario(spec["path"], env=spec.get("env") or {})
        if isinstance(spec.get("options"), Mapping):  # the run's options: the CLI's overrides, as in the parent
            loaded.apply_options(dict(spec["options"]))
        return loaded
    if spec.get("kind") == "quick":
        from assay.load.quick import quick_scenario

        return quick_scenario(**spec["args"])
    raise ScenarioError(f"unknown scenario spec {dict(spec)!r}")


def load_python_scenario(path: Path, *, env: Mapping[str, str]) -> LoadedScenario:
    """Import a Python scenario module in isolation and collect its parts."""
    module_name = f"assay_scenario_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ScenarioError(f"{path}: cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    saved_env = dict(os.environ)
    os.environ.update(env)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise ScenarioError(f"{path}:{exc.lineno}:{exc.offset or 0}: syntax error: {exc.msg}") from None
    except Exception as exc:
        line = _user_line(exc, path)
        raise ScenarioError(f"{path}{line}: importing the scenario raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(path.parent.resolve())) if str(path.parent.resolve()) in sys.path else None
        os.environ.clear()
        os.environ.update(saved_env)

    options = getattr(module, "options", {})
    if not isinstance(options, dict):
        raise ScenarioError(f"{path}: `options` must be a dict, not {type(options).__name__}")
    functions: dict[str, IterationFn] = {}
    for name, value in vars(module).items():
        if name.startswith("_") or name in ("setup", "teardown", "handle_summary"):
            continue
        if inspect.isfunction(value) and getattr(value, "__module__", None) == module_name:
            if _takes_one_argument(value):
                functions[name] = value
    custom: dict[str, tuple[MetricType, Contains]] = {}
    for value in vars(module).values():
        if isinstance(value, CustomMetric):
            custom[value.name] = (value.type, value.contains)
    setup = getattr(module, "setup", None)
    teardown = getattr(module, "teardown", None)
    for label, fn in (("setup", setup), ("teardown", teardown)):
        if fn is not None and not callable(fn):
            raise ScenarioError(f"{path}: `{label}` must be a function")
    return LoadedScenario(
        source=str(path),
        format="python",
        options=options,
        functions=functions,
        setup=setup,
        teardown=teardown,
        custom_metrics=custom,
    )


def _takes_one_argument(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    required = [p for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(params) >= 1 and len(required) <= 1


def _user_line(exc: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path.resolve()]
    return f":{frames[-1].lineno}" if frames else ""
