"""Reading pact files (V2/V3/V4) into plain request/response shapes.

Only the *example* side of a pact is read here (what was sent, what was expected);
matching itself is pact-python's job.  The one piece of rule knowledge we need is
which rule applies at a path, to name it in mismatch reports.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.errors import UsageError


@dataclass
class HttpPart:
    method: str | None = None
    path: str | None = None
    query: dict[str, list[str]] = field(default_factory=dict)
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False
    content_type: str | None = None
    rules: dict[str, Any] = field(default_factory=dict)


@dataclass
class Interaction:
    consumer: str
    provider: str
    description: str
    states: list[tuple[str, dict[str, Any]]]
    request: HttpPart
    response: HttpPart
    kind: str = "Synchronous/HTTP"
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.consumer, self.description)


MAX_DEPTH = 500
_CONSTANTS = ("-Infinity", "Infinity", "NaN")


class NonFiniteNumber(ValueError):
    """NaN and Infinity: Python's json accepts them, JSON (and every other reader) does not."""


def _no_constant(name: str) -> Any:
    raise NonFiniteNumber(f"{name} is not valid JSON (numbers must be finite)")


def strict_loads(text: str | bytes) -> Any:
    """json.loads that refuses NaN/Infinity; deep nesting still raises RecursionError for the caller."""
    return json.loads(text, parse_constant=_no_constant)


def _first_problem(text: str) -> tuple[int, str]:
    """Where a text that json refused for depth or NaN/Infinity goes wrong: (offset, reason)."""
    depth, in_string, escaped = 0, False, False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return i, f"nested more than {MAX_DEPTH} levels deep"
        elif ch in "]}":
            depth -= 1
        elif ch in "-IN":
            token = next((c for c in _CONSTANTS if text.startswith(c, i)), None)
            if token:
                return i, f"{token} is not valid JSON (numbers must be finite)"
    return 0, "not valid JSON"


def _line_col(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def read(path: str | Path) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and its JSON: strict (finite numbers, bounded depth), errors located file:line:col."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"{p}: no such pact file") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{p}: is a directory; give pact files (e.g. {p}/*.json)") from exc
    except OSError as exc:
        raise UsageError(f"{p}: cannot read: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
        doc = strict_loads(text)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{p}: not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{p}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    except (NonFiniteNumber, RecursionError) as exc:
        offset, reason = _first_problem(text)
        line, col = _line_col(text, offset)
        raise UsageError(f"{p}:{line}:{col}: {reason}") from exc
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("consumer"), dict)
        or not isinstance(doc.get("provider"), dict)
        or not isinstance(doc["consumer"].get("name"), str)
        or not isinstance(doc["provider"].get("name"), str)
    ):
        raise UsageError(f"{p}: not a pact file (needs consumer.name and provider.name)")
    return raw, doc


def load(path: str | Path) -> dict[str, Any]:
    return read(path)[1]


def _headers(raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in (raw or {}).items():
        out[str(k)] = ", ".join(map(str, v)) if isinstance(v, list) else str(v)
    return out


def _query(raw: Any) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if isinstance(raw, str):  # V2: a query string
        from urllib.parse import parse_qs

        return {k: list(v) for k, v in parse_qs(raw, keep_blank_values=True).items()}
    return {str(k): (list(map(str, v)) if isinstance(v, list) else [str(v)]) for k, v in raw.items()}


def _body(part: dict[str, Any]) -> tuple[Any, bool, str | None]:
    if "body" not in part:
        return None, False, None
    body = part["body"]
    if isinstance(body, dict) and "content" in body and ("contentType" in body or "encoded" in body):
        content = body.get("content")
        encoded = body.get("encoded")
        ctype = body.get("contentType")
        if encoded == "base64" and isinstance(content, str):
            try:
                content = base64.b64decode(content).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                pass
        elif encoded == "JSON" and isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError:
                pass
        return content, True, ctype
    return body, True, None


def _part(raw: dict[str, Any]) -> HttpPart:
    body, has_body, ctype = _body(raw)
    headers = _headers(raw.get("headers"))
    if ctype is None:
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    return HttpPart(
        method=raw.get("method"),
        path=raw.get("path"),
        query=_query(raw.get("query")),
        status=raw.get("status"),
        headers=headers,
        body=body,
        has_body=has_body,
        content_type=ctype,
        rules=raw.get("matchingRules") or {},
    )


def interactions(doc: dict[str, Any]) -> list[Interaction]:
    consumer = str(doc["consumer"].get("name"))
    provider = str(doc["provider"].get("name"))
    out = []
    for raw in doc.get("interactions") or []:
        kind = raw.get("type", "Synchronous/HTTP")
        states: list[tuple[str, dict[str, Any]]] = []
        if raw.get("providerStates"):
            states = [(s.get("name", ""), s.get("params") or {}) for s in raw["providerStates"]]
        elif raw.get("providerState"):
            states = [(raw["providerState"], {})]
        req = _part(raw.get("request") or {}) if isinstance(raw.get("request"), dict) else HttpPart()
        resp = _part(raw.get("response") or {}) if isinstance(raw.get("response"), dict) else HttpPart()
        out.append(
            Interaction(consumer, provider, str(raw.get("description", "")), states, req, resp, kind, raw)
        )
    return out


_INDEX = re.compile(r"\[\d+\]")


def rule_at(rules: dict[str, Any], category: str, path: str) -> str:
    """The matcher that governs `path` (exact path, then its array-wildcard form, then ancestors)."""
    cat = rules.get(category) or {}
    if not isinstance(cat, dict):
        return "equality"
    candidates = [path, _INDEX.sub("[*]", path)]
    parts = path
    while "." in parts or "[" in parts:
        cut = max(parts.rfind("."), parts.rfind("["))
        if cut <= 0:
            break
        parts = parts[:cut]
        candidates += [parts, _INDEX.sub("[*]", parts)]
    for cand in candidates:
        entry = cat.get(cand)
        if entry is None and cand.startswith("$."):
            entry = cat.get(cand[2:])
        if isinstance(entry, dict):
            matchers = entry.get("matchers") or [entry]
            names = []
            for m in matchers:
                name = m.get("match", "equality")
                extra = [f"{k}={m[k]}" for k in ("regex", "min", "max", "format", "value") if k in m]
                names.append(name + (f"({', '.join(extra)})" if extra else ""))
            combine = entry.get("combine", "AND")
            label = f" {combine} ".join(names)
            return label if cand == path else f"{label} (from {cand})"
    return "equality"
