"""Bi-directional contracts: check a consumer pact against the provider's OpenAPI document, no provider run.

For every HTTP interaction: the path and method exist, the request's query
parameters and JSON body are valid, the expected status is documented, and the
response body the consumer expects is valid against the documented schema.  Schemas
are checked with jsonschema after turning OpenAPI 3.0's dialect into JSON Schema
(`nullable`, boolean `exclusiveMinimum/Maximum`); 3.1 schemas already are JSON
Schema 2020-12.  oneOf/anyOf/allOf keep their JSON Schema meaning.

In a response, the consumer may ignore fields (so `required` is dropped) but must
not rely on fields the provider does not document (so an object that lists its
`properties` gets `additionalProperties: false` unless it says otherwise, except
inside `allOf`, where that would reject the other branches' fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from assay.contracts import pactfile
from assay.contracts.coverage import operations
from assay.contracts.mismatch import child_path


@dataclass
class Mismatch:
    kind: str  # unknown-path, method, request-query, request-body, status, response-body
    message: str
    schema_path: str = ""  # where in the OpenAPI document, e.g. #/components/schemas/User/properties/id/type
    value_path: str = ""  # where in the pact's body, e.g. $.items[0].id

    def __str__(self) -> str:
        where = f" at {self.value_path}" if self.value_path else ""
        schema = f" (schema {self.schema_path})" if self.schema_path else ""
        return f"{self.kind}{where}: {self.message}{schema}"

    def to_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "message": self.message,
            "schemaPath": self.schema_path,
            "path": self.value_path,
        }


@dataclass
class InteractionCheck:
    consumer: str
    description: str
    method: str
    path: str
    status: int | None
    operation: str | None = None  # "GET /users/{id}" when found
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "description": self.description,
            "request": f"{self.method} {self.path}",
            "status": self.status,
            "operation": self.operation,
            "success": self.ok,
            "mismatches": [m.to_dict() for m in self.mismatches],
        }


@dataclass
class CrossCheck:
    consumer: str
    provider: str
    checks: list[InteractionCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "provider": self.provider,
            "success": self.ok,
            "interactions": [c.to_dict() for c in self.checks],
        }


# ------------------------------------------------------------------------------------------ schemas


def _is_30(doc: dict[str, Any]) -> bool:
    return str(doc.get("openapi", "3.0")).startswith(("3.0", "2"))


def _to_json_schema(node: Any, *, v30: bool, response: bool, in_allof: bool = False) -> Any:
    """OpenAPI schema -> JSON Schema 2020-12 (see the module docstring for the response rules)."""
    if isinstance(node, list):
        return [_to_json_schema(n, v30=v30, response=response) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, val in node.items():
        if key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"):
            out[key] = (
                {k: _to_json_schema(v, v30=v30, response=response) for k, v in val.items()}
                if isinstance(val, dict)
                else val
            )
        elif key == "allOf" and isinstance(val, list):
            out[key] = [_to_json_schema(v, v30=v30, response=response, in_allof=True) for v in val]
        elif key in ("example", "examples", "discriminator", "xml", "externalDocs"):
            continue
        else:
            out[key] = _to_json_schema(val, v30=v30, response=response)
    if v30:
        for bound in ("Minimum", "Maximum"):
            if out.get(f"exclusive{bound}") is True and bound.lower() in out:
                out[f"exclusive{bound}"] = out.pop(bound.lower())
            elif out.get(f"exclusive{bound}") is False:
                out.pop(f"exclusive{bound}")
        if out.pop("nullable", False) is True:
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
                if isinstance(out.get("enum"), list) and None not in out["enum"]:
                    out["enum"] = [*out["enum"], None]
            else:
                out = {"anyOf": [out, {"type": "null"}]}
                return out
    if response:
        out.pop("required", None)
        if isinstance(out.get("properties"), dict) and "additionalProperties" not in out and not in_allof:
            out["additionalProperties"] = False
    return out


def _pointer(parts: list[str]) -> str:
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _resolve(doc: dict[str, Any], ref: str) -> tuple[Any, list[str]]:
    parts = (
        [p.replace("~1", "/").replace("~0", "~") for p in ref.lstrip("#/").split("/")] if ref != "#" else []
    )
    node: Any = doc
    for p in parts:
        node = node.get(p) if isinstance(node, dict) else (node[int(p)] if isinstance(node, list) else None)
    return node, parts


def _schema_location(doc: dict[str, Any], start: list[str], schema_path: list[Any]) -> str:
    """Follow the error's keyword path through the document, jumping across $ref, to a readable pointer."""
    loc = list(start)
    node, _ = _resolve(doc, _pointer(loc))
    for step in schema_path:
        # jsonschema may or may not name "$ref" in the path; either way, hop to where it points
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and (step == "$ref" or step not in node):
            node, loc = _resolve(doc, node["$ref"])
            if step == "$ref":
                break
        if step == "$ref":
            continue
        loc.append(str(step))
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            node = None
    return _pointer(loc)


def _value_path(error: Any) -> str:
    path = "$"
    for p in error.absolute_path:
        path = f"{path}[{p}]" if isinstance(p, int) else child_path(path, str(p))
    return path


def _validate(
    doc: dict[str, Any], location: list[str], value: Any, *, response: bool, kind: str
) -> list[Mismatch]:
    """Validate `value` against the schema at `location` in `doc`; one mismatch per innermost error."""
    v30 = _is_30(doc)
    schema, _ = _resolve(doc, _pointer(location))
    root = {
        "allOf": [_to_json_schema(schema, v30=v30, response=response)],
        "components": _to_json_schema(doc.get("components") or {}, v30=v30, response=response),
    }
    if "$defs" in doc:
        root["$defs"] = doc["$defs"]
    validator = Draft202012Validator(root)
    out = []
    for err in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        steps = list(err.absolute_schema_path)[2:]  # drop the wrapping "allOf", 0
        msg = err.message
        if err.validator == "additionalProperties":
            msg = f"{msg} (the provider does not document it)"
        elif err.validator in ("oneOf", "anyOf") and err.context:
            closest = best_match(err.context)
            if closest is not None:
                msg = f"{msg}; closest: {closest.message}"
        out.append(Mismatch(kind, msg, _schema_location(doc, location, steps), _value_path(err)))
    return out


# ------------------------------------------------------------------------------------------ checks


def _json_media(content: dict[str, Any] | None) -> tuple[str | None, dict[str, Any] | None]:
    for media, spec in (content or {}).items():
        if "json" in media.lower() and isinstance(spec, dict):
            return media, spec
    return None, None


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    t = schema.get("type")
    types = t if isinstance(t, list) else [t]
    for candidate in types:
        try:
            if candidate == "integer":
                return int(raw)
            if candidate == "number":
                return float(raw)
            if candidate == "boolean" and raw in ("true", "false"):
                return raw == "true"
        except ValueError:
            continue
    return raw


def check_interaction(doc: dict[str, Any], inter: pactfile.Interaction) -> InteractionCheck:
    ops = operations(doc)
    req, resp = inter.request, inter.response
    method = (req.method or "GET").lower()
    path = (req.path or "/").split("?")[0]
    check = InteractionCheck(inter.consumer, inter.description, method.upper(), path, resp.status)
    same_path = [o for o in ops if o.pattern.match(path)]
    if not same_path:
        check.mismatches.append(Mismatch("unknown-path", f"no path in the OpenAPI document matches {path}"))
        return check
    op = next((o for o in same_path if o.method == method), None)
    if op is None:
        template = same_path[0].path
        allowed = ", ".join(sorted({o.method.upper() for o in ops if o.path == template}))
        check.mismatches.append(
            Mismatch(
                "method",
                f"{method.upper()} is not documented for {template} (documented: {allowed})",
                _pointer(["paths", template]),
            )
        )
        return check
    check.operation = f"{method.upper()} {op.path}"
    base = ["paths", op.path, method]
    operation = doc["paths"][op.path][method]
    path_item = doc["paths"][op.path]

    # query parameters: documented, required ones present, values valid
    params = {}
    for where, plist in (("path", path_item.get("parameters")), ("op", operation.get("parameters"))):
        for i, p in enumerate(plist or []):
            loc = (
                ["paths", op.path, "parameters", str(i)] if where == "path" else [*base, "parameters", str(i)]
            )
            if isinstance(p, dict) and "$ref" in p:
                p, parts = _resolve(doc, p["$ref"])
                loc = parts
            if isinstance(p, dict) and p.get("in") == "query":
                params[p.get("name")] = (p, loc)
    for name, values in req.query.items():
        if name not in params:
            check.mismatches.append(
                Mismatch(
                    "request-query",
                    f"query parameter {name!r} is not documented",
                    _pointer([*base, "parameters"]),
                )
            )
            continue
        p, loc = params[name]
        schema = p.get("schema") or {}
        resolved = _resolve(doc, schema["$ref"])[0] if "$ref" in schema else schema
        for raw in values:
            for m in _validate(
                doc, [*loc, "schema"], _coerce(raw, resolved or {}), response=False, kind="request-query"
            ):
                m.value_path = f"query.{name}"
                check.mismatches.append(m)
    for pname, (p, loc) in params.items():
        if p.get("required") and pname not in req.query:
            check.mismatches.append(
                Mismatch("request-query", f"required query parameter {pname!r} is missing", _pointer(loc))
            )

    # request body
    if req.has_body and req.body not in (None, ""):
        rb = operation.get("requestBody")
        if isinstance(rb, dict) and "$ref" in rb:
            rb = _resolve(doc, rb["$ref"])[0]
        media, spec = _json_media((rb or {}).get("content"))
        if rb is None:
            check.mismatches.append(
                Mismatch("request-body", "the operation documents no request body", _pointer(base))
            )
        elif spec is not None and "schema" in spec:
            check.mismatches += _validate(
                doc,
                [*base, "requestBody", "content", str(media), "schema"],
                req.body,
                response=False,
                kind="request-body",
            )

    # response status and body
    if resp.status is not None:
        responses = operation.get("responses") or {}
        code = next(
            (
                c
                for c in (str(resp.status), f"{str(resp.status)[0]}XX", f"{str(resp.status)[0]}xx", "default")
                if c in responses
            ),
            None,
        )
        if code is None:
            check.mismatches.append(
                Mismatch(
                    "status",
                    f"status {resp.status} is not documented (documented: {', '.join(map(str, responses))})",
                    _pointer([*base, "responses"]),
                )
            )
        elif resp.has_body and resp.body is not None:
            r = responses[code]
            rloc = [*base, "responses", code]
            if isinstance(r, dict) and "$ref" in r:
                r, rloc = _resolve(doc, r["$ref"])
            media, spec = _json_media((r or {}).get("content"))
            if spec is not None and "schema" in spec:
                check.mismatches += _validate(
                    doc,
                    [*rloc, "content", str(media), "schema"],
                    resp.body,
                    response=True,
                    kind="response-body",
                )
            elif not (r or {}).get("content"):
                check.mismatches.append(
                    Mismatch(
                        "response-body",
                        f"status {code} documents no body but the pact expects one",
                        _pointer(rloc),
                    )
                )
    return check


def cross_check(openapi: dict[str, Any], pact: dict[str, Any]) -> CrossCheck:
    """Every HTTP interaction of one pact against the provider's OpenAPI document."""
    checks = [
        check_interaction(openapi, i) for i in pactfile.interactions(pact) if i.kind == "Synchronous/HTTP"
    ]
    return CrossCheck(str(pact["consumer"].get("name")), str(pact["provider"].get("name")), checks)


def to_text(result: CrossCheck) -> str:
    lines = [f"{result.consumer} → {result.provider}: {'compatible' if result.ok else 'INCOMPATIBLE'}"]
    for c in result.checks:
        mark = "✔" if c.ok else "✘"
        lines.append(f" {mark} {c.description}  ({c.method} {c.path} → {c.status})")
        lines += [f"     {m}" for m in c.mismatches]
    return "\n".join(lines)
