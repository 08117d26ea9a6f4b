"""Activity providers: python, process, http (Chaos Toolkit's) and assay's own `assay` provider.

Every provider returns the activity's output or raises ActivityFailed; providers never print.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import os
import shlex
import shutil
import subprocess
import traceback
from collections.abc import Mapping
from typing import Any

import httpx

from assay.chaos.substitute import substitute


class ActivityFailed(Exception):
    """The activity ran and failed: recorded in the journal, never a crash of the run."""


def call_with_context(func: Any, arguments: Mapping[str, Any], configuration: Any, secrets: Any,
                      secret_scopes: list[str] | None = None) -> Any:
    """Call `func(**arguments)`, adding configuration when it declares it, and the secrets of
    the scopes the provider names (`"secrets": ["scope"]`), as Chaos Toolkit does."""
    kwargs = dict(arguments or {})
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    if secret_scopes is not None and "secrets" in params:
        merged: dict[str, Any] = {}
        for scope in secret_scopes:
            merged.update((secrets or {}).get(scope, {}))
        kwargs["secrets"] = merged
    if "configuration" in params:
        kwargs["configuration"] = dict(configuration or {})
    return func(**kwargs)


def run_python(provider: Mapping[str, Any], configuration: Any, secrets: Any) -> Any:
    arguments = substitute(provider.get("arguments") or {}, configuration, secrets)
    try:
        func = getattr(importlib.import_module(provider["module"]), provider["func"])
    except (ImportError, AttributeError) as exc:
        raise ActivityFailed(f"cannot load {provider.get('module')}.{provider.get('func')}: {exc}") from exc
    try:
        return call_with_context(func, arguments, configuration, secrets, provider.get("secrets"))
    except ActivityFailed:
        raise
    except Exception as exc:
        raise ActivityFailed(traceback.format_exception_only(type(exc), exc)[0].strip()) from exc


def run_process(provider: Mapping[str, Any], configuration: Any, secrets: Any) -> dict[str, Any]:
    arguments = substitute(provider.get("arguments") or [], configuration, secrets)
    path = shutil.which(os.path.expanduser(str(substitute(provider["path"], configuration, secrets))))
    if path is None:
        raise ActivityFailed(f"process {provider['path']!r} not found on PATH")
    if isinstance(arguments, str):
        argv = [path, *shlex.split(arguments)]
    else:
        if isinstance(arguments, dict):
            arguments = list(itertools.chain.from_iterable(arguments.items()))
        argv = [path, *(str(a) for a in arguments if a not in (None, ""))]
    try:
        proc = subprocess.run(argv, timeout=provider.get("timeout"), capture_output=True, env=os.environ, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ActivityFailed("process activity took too long to complete") from exc
    return {"status": proc.returncode, "stdout": _decode(proc.stdout), "stderr": _decode(proc.stderr)}


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def run_http(provider: Mapping[str, Any], configuration: Any, secrets: Any) -> dict[str, Any]:
    url = substitute(provider["url"], configuration, secrets)
    method = str(provider.get("method", "GET")).upper()
    headers = substitute(provider.get("headers"), configuration, secrets) or None
    timeout_raw = substitute(provider.get("timeout"), configuration, secrets)
    arguments = substitute(provider.get("arguments"), configuration, secrets)
    if isinstance(timeout_raw, list):
        timeout = httpx.Timeout(timeout_raw[1], connect=timeout_raw[0])
    else:
        timeout = httpx.Timeout(timeout_raw)
    transport = httpx.HTTPTransport(retries=int(provider.get("max_retries", 0) or 0))
    kwargs: dict[str, Any] = {"headers": headers}
    if method == "GET":
        kwargs["params"] = arguments
    elif headers and headers.get("Content-Type") == "application/json":
        kwargs["content"] = json.dumps(arguments, allow_nan=False).encode()  # as requests encodes it
    elif arguments is not None:
        kwargs["data"] = arguments
    try:
        with httpx.Client(transport=transport, timeout=timeout, verify=bool(provider.get("verify_tls", True))) as client:
            response = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise ActivityFailed("activity took too long to complete") from exc
    except httpx.TransportError as exc:
        raise ActivityFailed(f"failed to connect to {url}: {exc}") from exc
    body: Any = response.json() if response.headers.get("Content-Type") == "application/json" else response.text
    raw_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in response.headers.raw}
    return {"status": response.status_code, "headers": raw_headers, "body": body}


def run_provider(activity: Mapping[str, Any], configuration: Any, secrets: Any, assay_ctx: Any = None) -> Any:
    provider = activity["provider"]
    kind = provider.get("type")
    if kind == "python":
        return run_python(provider, configuration, secrets)
    if kind == "process":
        return run_process(provider, configuration, secrets)
    if kind == "http":
        return run_http(provider, configuration, secrets)
    if kind == "assay":
        from assay.chaos.assay_provider import run_assay

        return run_assay(provider, configuration, secrets, assay_ctx)
    raise ActivityFailed(f"unknown provider type {kind!r}")
