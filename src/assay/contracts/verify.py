"""Provider verification: pact-python's Verifier, wrapped to give a RunResult and readable mismatches.

pact-python (the Rust core) does all the matching.  Around it we add: provider
states from a Python object or an HTTP endpoint, pacts from files or a broker with
selectors, publishing results, one check per interaction in a `RunResult`, and,
for each failing interaction, a replay of its request (with its provider state
set up) so the report can show the actual response next to the expected one.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from assay.contracts import mismatch as mm
from assay.contracts import pactfile
from assay.errors import UsageError
from assay.results import Check, Metric, RunResult, RunStatus

SELECTOR_ARGS = {
    "consumer": "consumer",
    "tag": "tag",
    "fallbackTag": "fallback_tag",
    "latest": "latest",
    "deployedOrReleased": "deployed_or_released",
    "deployed": "deployed",
    "released": "released",
    "environment": "environment",
    "mainBranch": "main_branch",
    "branch": "branch",
    "matchingBranch": "matching_branch",
    "fallbackBranch": "fallback_branch",
}


@dataclass
class VerifyOptions:
    provider: str
    provider_base_url: str
    pact_files: list[Path] = field(default_factory=list)
    broker_url: str | None = None
    broker_token: str | None = None
    selectors: list[dict[str, Any]] = field(default_factory=list)
    include_pending: bool = False
    include_wip_since: str | None = None
    state_handlers: str | None = None
    publish: bool = False
    provider_version: str | None = None
    provider_branch: str | None = None
    provider_tags: list[str] = field(default_factory=list)
    build_url: str | None = None
    replay_failures: bool = True


@dataclass
class Verification:
    run: RunResult
    outcomes: list[mm.Outcome]
    output: str
    raw: dict[str, Any]

    @property
    def failed(self) -> bool:
        return any(not o.ok and not o.pending for o in self.outcomes)


# ------------------------------------------------------------------------------------ state handlers


@dataclass
class StateHandlers:
    """Either a Python object (dict of state -> fn, or one fn) or an HTTP endpoint."""

    obj: Callable[..., Any] | Mapping[str, Callable[..., Any]] | None = None
    url: str | None = None

    def call(self, state: str, action: str, params: dict[str, Any]) -> None:
        if self.url:
            resp = httpx.post(self.url, json={"state": state, "params": params, "action": action}, timeout=30)
            resp.raise_for_status()
            return
        if isinstance(self.obj, Mapping):
            fn = self.obj.get(state)
            if fn is not None:
                _apply(fn, {"state": state, "action": action, "parameters": params})
        elif callable(self.obj):
            _apply(self.obj, {"state": state, "action": action, "parameters": params})


def _apply(fn: Callable[..., Any], args: dict[str, Any]) -> Any:
    """Call like pact-python does: by parameter name where possible, else positionally."""
    try:
        from pact._util import apply_args

        return apply_args(fn, args)
    except ImportError:  # pragma: no cover - pact-python moved its helper
        sig = inspect.signature(fn)
        names = [p for p in sig.parameters if p in args]
        return fn(**{n: args[n] for n in names})


def load_state_handlers(spec: str | None) -> StateHandlers:
    """`module:obj`, `path/to/file.py:obj`, or an http(s) URL."""
    if not spec:
        return StateHandlers()
    if spec.startswith(("http://", "https://")):
        return StateHandlers(url=spec)
    if ":" not in spec:
        raise UsageError(f"--state-handlers: expected module:object, file.py:object or a URL, got {spec!r}")
    mod_name, _, attr = spec.rpartition(":")
    try:
        if mod_name.endswith(".py"):
            path = Path(mod_name)
            if not path.exists():
                raise UsageError(f"--state-handlers: no such file {mod_name}")
            module_spec = importlib.util.spec_from_file_location(f"assay_state_handlers_{path.stem}", path)
            if module_spec is None or module_spec.loader is None:
                raise UsageError(f"--state-handlers: cannot load {mod_name}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_spec.name] = module
            module_spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise UsageError(f"--state-handlers: cannot import {mod_name!r}: {exc}") from exc
    obj = getattr(module, attr, None)
    if obj is None:
        public = [n for n in dir(module) if not n.startswith("_")]
        raise UsageError(
            f"--state-handlers: {mod_name} has no attribute {attr!r} (it has: {', '.join(public[:12])})"
        )
    if not (isinstance(obj, Mapping) or callable(obj)):
        raise UsageError(f"--state-handlers: {spec} must be a dict of state -> function, or a function")
    return StateHandlers(obj=obj)


# ------------------------------------------------------------------------------------ pacts


def _broker_pacts(opts: VerifyOptions) -> list[dict[str, Any]]:
    from assay.contracts.client import BrokerClient

    assert opts.broker_url is not None
    body: dict[str, Any] = {
        "consumerVersionSelectors": opts.selectors,
        "includePendingStatus": opts.include_pending,
    }
    if opts.provider_branch:
        body["providerVersionBranch"] = opts.provider_branch
    if opts.provider_tags:
        body["providerVersionTags"] = opts.provider_tags
    if opts.include_wip_since:
        body["includeWipPactsSince"] = opts.include_wip_since
    with BrokerClient(opts.broker_url, token=opts.broker_token) as client:
        url = client.link("pb:provider-pacts-for-verification", provider=opts.provider)
        listed = client.request("POST", url, json_body=body)
        return [client.request("GET", p["_links"]["self"]["href"]) for p in listed["_embedded"]["pacts"]]


def validate_selectors(selectors: list[dict[str, Any]]) -> None:
    for i, sel in enumerate(selectors):
        if not isinstance(sel, dict) or not sel:
            raise UsageError(f'--selector #{i + 1}: expected a JSON object such as {{"mainBranch": true}}')
        unknown = set(sel) - set(SELECTOR_ARGS)
        if unknown:
            raise UsageError(
                f"--selector #{i + 1}: unknown key(s) {', '.join(sorted(unknown))} "
                f"(allowed: {', '.join(SELECTOR_ARGS)})"
            )


# ------------------------------------------------------------------------------------ running


def _build_verifier(opts: VerifyOptions, handlers: StateHandlers) -> Any:
    from urllib.parse import urlparse

    from pact import Verifier

    host = urlparse(opts.provider_base_url).hostname or "localhost"
    v = Verifier(opts.provider, host=host).add_transport(url=opts.provider_base_url)
    if handlers.url:
        v = v.state_handler(handlers.url, teardown=True, body=True)
    elif handlers.obj is not None:
        v = v.state_handler(handlers.obj, teardown=True)
    for f in opts.pact_files:
        v = v.add_source(Path(f))
    if opts.broker_url:
        builder = v.broker_source(opts.broker_url, token=opts.broker_token, selector=True)
        for sel in opts.selectors:
            builder = builder.consumer_version(**{SELECTOR_ARGS[k]: val for k, val in sel.items()})
        if opts.include_pending:
            builder = builder.include_pending()
        if opts.include_wip_since:
            builder = builder.include_wip_since(opts.include_wip_since)
        if opts.provider_branch:
            builder = builder.provider_branch(opts.provider_branch)
        if opts.provider_tags:
            builder = builder.provider_tags(*opts.provider_tags)
        v = builder.build()
    if opts.publish:
        assert opts.provider_version is not None
        v = v.set_publish_options(
            version=opts.provider_version,
            url=opts.build_url,
            branch=opts.provider_branch,
            tags=opts.provider_tags or None,
        )
    v.set_coloured_output(enabled=False)
    return v


def _run_quietly(fn: Callable[[], Any]) -> tuple[Exception | None, str]:
    """The Rust core prints to fd 1; keep it out of our output and return it as text."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        err: Exception | None = None
        try:
            fn()
        except Exception as exc:  # the verifier raises on any failure; the results carry the details
            err = exc
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        tmp.seek(0)
        return err, tmp.read().decode("utf-8", "replace")


def replay(inter: pactfile.Interaction, base_url: str, handlers: StateHandlers) -> mm.ActualResponse:
    """Send the interaction's request again, with its provider states, to capture the actual response."""
    req = inter.request
    try:
        for name, params in inter.states:
            handlers.call(name, "setup", params)
        content: bytes | None = None
        if req.has_body:
            content = (
                req.body.encode()
                if isinstance(req.body, str)
                else __import__("json").dumps(req.body).encode()
            )
        with httpx.Client(base_url=base_url, timeout=30) as c:
            resp = c.request(
                req.method or "GET",
                req.path or "/",
                params=[(k, v) for k, vs in req.query.items() for v in vs],
                headers=req.headers,
                content=content,
            )
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text or None
        return mm.ActualResponse(resp.status_code, dict(resp.headers), body)
    except (httpx.HTTPError, Exception) as exc:  # a replay is best effort: the verdict is already in
        return mm.ActualResponse(None, {}, None, error=f"{type(exc).__name__}: {exc}")
    finally:
        for name, params in inter.states:
            try:
                handlers.call(name, "teardown", params)
            except Exception:  # noqa: BLE001 - teardown failures must not hide the report
                pass


def verify(opts: VerifyOptions) -> Verification:
    if not opts.pact_files and not opts.broker_url:
        raise UsageError("give --pact FILE (repeatable) or --broker URL")
    if not opts.provider_base_url.startswith(("http://", "https://")):
        raise UsageError(f"--provider-base-url: expected an http(s) URL, got {opts.provider_base_url!r}")
    if opts.publish and not opts.provider_version:
        raise UsageError("--publish needs --provider-version")
    if opts.publish and not opts.broker_url:
        raise UsageError("--publish needs --broker (results are published to the broker the pacts came from)")
    validate_selectors(opts.selectors)
    handlers = load_state_handlers(opts.state_handlers)

    # Files and a broker together are verified one source at a time, so each result can say where its
    # pact came from (otherwise a pact in both places fails twice with nothing to tell them apart).
    both = bool(opts.pact_files and opts.broker_url)
    passes: list[
        tuple[VerifyOptions, dict[tuple[str, str], pactfile.Interaction], dict[tuple[str, str], str]]
    ] = []
    if opts.pact_files:
        inter: dict[tuple[str, str], pactfile.Interaction] = {}
        labels: dict[tuple[str, str], str] = {}
        for f in opts.pact_files:
            doc = pactfile.load(f)
            if doc["provider"]["name"] != opts.provider:
                raise UsageError(
                    f"{f}: this pact is between {doc['consumer']['name']!r} and provider "
                    f"{doc['provider']['name']!r}, not --provider {opts.provider!r}"
                )
            for i in pactfile.interactions(doc):
                inter[i.key], labels[i.key] = i, f"file {f}"
        passes.append((replace(opts, broker_url=None, publish=False) if both else opts, inter, labels))
    if opts.broker_url:
        inter = {i.key: i for d in _broker_pacts(opts) for i in pactfile.interactions(d)}
        labels = dict.fromkeys(inter, f"broker {opts.broker_url}")
        passes.append((replace(opts, pact_files=[]) if both else opts, inter, labels))

    # The Rust verifier reports usage to Google Analytics unless told not to; CI must not phone home.
    # A user's own setting wins.
    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    outcomes: list[mm.Outcome] = []
    raws: list[dict[str, Any]] = []
    outputs: list[str] = []
    for pass_opts, inter, labels in passes:
        verifier = _build_verifier(pass_opts, handlers)
        err, output = _run_quietly(verifier.verify)
        raw = verifier.results or {}
        if err is not None and not raw.get("interactionResults"):
            raise UsageError(f"verification could not run: {err}\n{output.strip()[-2000:]}")
        got = mm.from_results(raw, inter)
        if both:
            for o in got:
                o.source = labels.get((o.consumer, o.description), "")
        outcomes += got
        raws.append(raw)
        outputs.append(output)
    elapsed = time.perf_counter() - t0
    output = "\n".join(outputs)
    raw = (
        raws[0]
        if len(raws) == 1
        else {
            "interactionResults": [r for x in raws for r in x.get("interactionResults") or []],
            "errors": [e for x in raws for e in x.get("errors") or []],
            "notices": [n for x in raws for n in x.get("notices") or []],
            "sources": raws,
        }
    )
    if opts.replay_failures:
        for o in outcomes:
            if not o.ok and o.interaction is not None and o.interaction.kind == "Synchronous/HTTP":
                o.actual = replay(o.interaction, opts.provider_base_url, handlers)

    run = RunResult(
        name=f"verify {opts.provider}",
        kind="contract",
        started_at=started,
        finished_at=datetime.now(UTC),
        duration_s=elapsed,
    )
    run.labels = {"provider": opts.provider}
    if opts.provider_version:
        run.labels["provider_version"] = opts.provider_version
    if opts.provider_branch:
        run.labels["branch"] = opts.provider_branch
    checks = Metric.builtin("checks")
    for o in outcomes:
        run.checks.append(
            Check(
                name=o.description,
                path=f"::{o.consumer}::{o.description}",
                passes=1 if o.ok else 0,
                fails=0 if o.ok else 1,
            )
        )
        checks.add(1 if o.ok else 0)
    run.metrics["checks"] = checks
    if any(not o.ok and not o.pending for o in outcomes):
        run.status = RunStatus.FAILED
    elif any(not o.ok for o in outcomes):
        run.status = RunStatus.WARNING
    elif not outcomes:
        run.status = RunStatus.WARNING
        run.notes.append("no interactions were verified")
    run.extra["contracts"] = {
        "interactions": len(outcomes),
        "failed": sum(1 for o in outcomes if not o.ok and not o.pending),
        "pending_failed": sum(1 for o in outcomes if not o.ok and o.pending),
        "published": bool(opts.publish),
    }
    run.notes += [
        f"{n.get('text')}" for n in raw.get("notices") or [] if isinstance(n, dict) and n.get("text")
    ]
    return Verification(run, outcomes, output, raw)
