"""A k6 script and its local imports as one program for an engine without an ES module loader.

Each ES module is parsed with tree-sitter and rewritten in place into a function body
(`import x from "k6/http"` -> `const x = __default(__require("k6/http"))`, `export`
statements -> assignments to `exports` on the module's last line), without adding or
removing a line, so an error's line in the bundle maps back to the file and line it came
from. The same parse lists what the script uses of k6's API (`Use`), with lines, for the
pre-flight check and `assay load inspect`.

Remote imports (`https://jslib.k6.io/...`) are refused, naming the file to vendor: no
machine here reaches them, and a load test should not depend on the network for code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from assay.load.scenario import ScenarioError


@dataclass(frozen=True)
class Use:
    """One use of k6's API: `module` (e.g. "k6/http") and `name` (None for the import itself)."""

    module: str
    name: str | None
    file: str
    line: int


@dataclass
class Module:
    path: Path
    body: str  # the rewritten source, same lines as the file
    requires: list[str] = field(default_factory=list)  # resolved local paths
    uses: list[Use] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # located errors kept by a lenient parse (inspect)


@dataclass
class Bundle:
    """The whole program: `code` to evaluate, and which lines of it came from which file."""

    entry: Path
    code: str
    modules: list[Module]
    line_map: list[tuple[int, int, str]]  # (first bundle line, last bundle line, file), 1-based

    @property
    def uses(self) -> list[Use]:
        return [u for m in self.modules for u in m.uses]

    @property
    def problems(self) -> list[str]:
        return [p for m in self.modules for p in m.problems]

    def locate(self, line: int) -> tuple[str, int]:
        """A bundle line -> (file, line in that file)."""
        for first, last, path in self.line_map:
            if first <= line <= last:
                return path, line - first + 1
        return str(self.entry), line


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter_javascript as tsjs
    from tree_sitter import Language, Parser

    return Parser(Language(tsjs.language()))


def _text(src: bytes, node: Any) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8")


def _string_value(src: bytes, node: Any) -> str:
    raw = _text(src, node)
    if raw[:1] in "'\"":
        return str(json.loads('"' + raw[1:-1].replace('"', '\\"') + '"')) if "\\" in raw else raw[1:-1]
    return raw


def _first_error(node: Any) -> Any:
    if node.type == "ERROR" or node.is_missing:
        return node
    if not node.has_error:
        return None
    for child in node.children:
        found = _first_error(child)
        if found is not None:
            return found
    return node


def display_path(path: Path) -> str:
    """A file as people name it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def resolve_import(spec: str, importer: Path, line: int) -> Path | str:
    """A k6 module name stays a string; a relative or absolute path becomes a file path."""
    where = f"{display_path(importer)}:{line}"
    if spec.startswith(("http://", "https://")):
        name = spec.rstrip("/").rsplit("/", 1)[-1] or "module.js"
        raise ScenarioError(
            f"{where}: remote import {spec!r} is not fetched (no network for code during a load test); "
            f"vendor it: save that file as {display_path(importer.parent / name)!r} and import './{name}'"
        )
    if spec == "k6" or spec.startswith("k6/"):
        return spec
    if spec.startswith(("./", "../", "/")):
        target = (importer.parent / spec).resolve()
        if not target.exists() and target.with_suffix(".js").exists():
            target = target.with_suffix(".js")
        if not target.is_file():
            raise ScenarioError(f"{where}: import {spec!r}: no such file {str(target)!r}")
        return target
    raise ScenarioError(
        f"{where}: import {spec!r}: only k6 modules (k6, k6/http, ...) and files (./lib.js) can be imported; "
        "bundle npm packages into a local file first"
    )


class _Rewriter:
    """In-place edits of one module's source (byte ranges -> replacement text, same line count)."""

    def __init__(self, src: bytes) -> None:
        self.src = src
        self.edits: list[tuple[int, int, str]] = []
        self.tail: list[str] = []

    def replace(self, node_or_range: Any, text: str) -> None:
        if isinstance(node_or_range, tuple):
            start, end = node_or_range
        else:
            start, end = node_or_range.start_byte, node_or_range.end_byte
        old = self.src[start:end].decode("utf-8")
        pad = "\n" * old.count("\n")  # keep the line count
        self.edits.append((start, end, text + pad))

    def result(self) -> str:
        out = self.src
        for start, end, text in sorted(self.edits, reverse=True):
            out = out[:start] + text.encode("utf-8") + out[end:]
        body = out.decode("utf-8")
        if self.tail:
            # on a line of their own after the last one: a trailing `// comment` cannot swallow them
            body += "\n;" + " ".join(self.tail)
        return body


def _declared_names(src: bytes, decl: Any) -> list[str]:
    """Names a declaration after `export` binds (function/class name, or each simple declarator)."""
    if decl.type in ("function_declaration", "generator_function_declaration", "class_declaration"):
        name = decl.child_by_field_name("name")
        return [_text(src, name)] if name is not None else []
    names = []
    for child in decl.children:
        if child.type == "variable_declarator":
            target = child.child_by_field_name("name")
            if target is not None and target.type == "identifier":
                names.append(_text(src, target))
            elif target is not None:
                names.extend(_text(src, n) for n in _identifiers(target))
    return names


def _identifiers(node: Any) -> list[Any]:
    if node.type in ("identifier", "shorthand_property_identifier_pattern"):
        return [node]
    out: list[Any] = []
    for child in node.children:
        if child.type == "pair_pattern":
            value = child.child_by_field_name("value")
            if value is not None:
                out.extend(_identifiers(value))
        elif child.type != "property_identifier":
            out.extend(_identifiers(child))
    return out


def parse_module(path: Path, *, lenient: bool = False) -> Module:
    """Rewrite one ES module into a function body and list its imports and k6 API uses."""
    try:
        src = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    tree = _parser().parse(src)
    root = tree.root_node
    err = _first_error(root)
    if err is not None:
        line, col = err.start_point
        snippet = _text(src, err).splitlines()[0][:40] if err.end_byte > err.start_byte else ""
        what = f"unexpected {snippet!r}" if snippet else f"missing {err.type!r}"
        raise ScenarioError(f"{display_path(path)}:{line + 1}:{col + 1}: syntax error: {what}")
    rw = _Rewriter(src)
    module = Module(path=path, body="")
    bindings: dict[str, tuple[str, bool]] = {}  # local name -> (k6 module, is namespace/default)
    file = display_path(path)

    def require(spec_node: Any, line: int) -> str:
        spec = _string_value(src, spec_node)
        try:
            target = resolve_import(spec, path, line)
        except ScenarioError as exc:
            if not lenient:
                raise
            module.problems.append(exc.message)
            return json.dumps(spec)
        if isinstance(target, Path):
            module.requires.append(str(target))
            return json.dumps(str(target))
        module.uses.append(Use(target, None, file, line))
        return json.dumps(target)

    for node in root.children:
        line = node.start_point[0] + 1
        if node.type == "import_statement":
            source = node.child_by_field_name("source")
            req = f"__require({require(source, line)})"
            spec = _string_value(src, source)
            k6mod = spec if (spec == "k6" or spec.startswith("k6/")) else None
            parts: list[str] = []
            clause = next((c for c in node.children if c.type == "import_clause"), None)
            if clause is None:
                rw.replace(node, req + ";")
                continue
            for c in clause.children:
                if c.type == "identifier":
                    local = _text(src, c)
                    parts.append(f"const {local} = __default({req});")
                    if k6mod:
                        bindings[local] = (k6mod, True)
                elif c.type == "namespace_import":
                    local = _text(src, [x for x in c.children if x.type == "identifier"][0])
                    parts.append(f"const {local} = {req};")
                    if k6mod:
                        bindings[local] = (k6mod, True)
                elif c.type == "named_imports":
                    pairs = []
                    for spec_node in c.children:
                        if spec_node.type != "import_specifier":
                            continue
                        name_node = spec_node.child_by_field_name("name")
                        alias_node = spec_node.child_by_field_name("alias")
                        name = _text(src, name_node)
                        local = _text(src, alias_node) if alias_node is not None else name
                        if name.startswith(("'", '"')):
                            name = _string_value(src, name_node)
                        pairs.append(f"{json.dumps(name)}: {local}")
                        if k6mod:
                            module.uses.append(Use(k6mod, name, file, spec_node.start_point[0] + 1))
                    parts.append(f"const {{ {', '.join(pairs)} }} = {req};")
            rw.replace(node, " ".join(parts))
        elif node.type == "export_statement":
            decl = node.child_by_field_name("declaration")
            value = node.child_by_field_name("value")
            source = node.child_by_field_name("source")
            is_default = any(c.type == "default" for c in node.children)
            if decl is not None:
                names = _declared_names(src, decl)
                if is_default:
                    rw.replace((node.start_byte, decl.start_byte), "")
                    if names:
                        rw.tail.append(f"exports.default = {names[0]};")
                else:
                    rw.replace((node.start_byte, decl.start_byte), "")
                    rw.tail.extend(f"exports.{n} = {n};" for n in names)
            elif value is not None and is_default:
                named = value.type in ("function_expression", "class", "generator_function") and value.child_by_field_name("name")
                if named:
                    rw.replace((node.start_byte, value.start_byte), "")
                    fname = _text(src, value.child_by_field_name("name"))
                    rw.tail.append(f"exports.default = {fname};")
                else:
                    rw.replace((node.start_byte, value.start_byte), "exports.default = ")
            elif source is not None:
                req = f"__require({require(source, line)})"
                clause = next((c for c in node.children if c.type == "export_clause"), None)
                if clause is None:
                    ns = next((c for c in node.children if c.type == "namespace_export"), None)
                    if ns is not None:
                        alias = [x for x in ns.children if x.type == "identifier"][0]
                        rw.replace(node, f"exports.{_text(src, alias)} = {req};")
                    else:
                        rw.replace(node, f"__reexport(exports, {req});")
                else:
                    assigns = []
                    for spec_node in clause.children:
                        if spec_node.type != "export_specifier":
                            continue
                        name = _text(src, spec_node.child_by_field_name("name"))
                        alias_node = spec_node.child_by_field_name("alias")
                        alias = _text(src, alias_node) if alias_node is not None else name
                        assigns.append(f"exports.{alias} = {req}.{name};")
                    rw.replace(node, " ".join(assigns))
            else:
                clause = next((c for c in node.children if c.type == "export_clause"), None)
                if clause is not None:
                    for spec_node in clause.children:
                        if spec_node.type != "export_specifier":
                            continue
                        name = _text(src, spec_node.child_by_field_name("name"))
                        alias_node = spec_node.child_by_field_name("alias")
                        alias = _text(src, alias_node) if alias_node is not None else name
                        rw.tail.append(f"exports.{alias} = {name};")
                rw.replace(node, "")
    _import_meta(src, root, rw, path)
    if bindings:
        _member_uses(src, root, bindings, module, file)
    if any(u.module == "k6/http" for u in module.uses):
        _http_uses(src, root, module, file)
    _global_uses(src, root, module, file)
    module.uses.sort(key=lambda u: u.line)  # in the file's order: an error names the first use, inspect lists lines up
    module.body = rw.result()
    return module


def _member_uses(src: bytes, root: Any, bindings: dict[str, tuple[str, bool]], module: Module, file: str) -> None:
    """`http.get`, `exec.vu` ...: each member read of a default/namespace import of a k6 module."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "member_expression":
            obj = node.child_by_field_name("object")
            prop = node.child_by_field_name("property")
            if obj is not None and prop is not None and obj.type == "identifier":
                bound = bindings.get(_text(src, obj))
                if bound is not None:
                    module.uses.append(Use(bound[0], _text(src, prop), file, node.start_point[0] + 1))
        stack.extend(node.children)


def _import_meta(src: bytes, root: Any, rw: _Rewriter, path: Path) -> None:
    """`import.meta` (url, resolve) of this module: the bundle's functions are not modules."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "meta_property" and _text(src, node).startswith("import"):
            rw.replace(node, f"__importMeta({json.dumps(str(path.resolve()))})")
            continue
        stack.extend(node.children)


# k6/http uses that are not module members: response methods of k6/html, auth schemes in params
_RESPONSE_METHODS = frozenset({"html", "clickLink", "submitForm"})


def _http_uses(src: bytes, root: Any, module: Module, file: str) -> None:
    """In a module importing k6/http: `res.html()` / `clickLink()` / `submitForm()` calls and
    literal `auth: 'digest'` or `'ntlm'` params, so they are refused before any traffic too."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "call_expression":
            fn = node.child_by_field_name("function")
            prop = fn.child_by_field_name("property") if fn is not None and fn.type == "member_expression" else None
            if prop is not None and _text(src, prop) in _RESPONSE_METHODS:
                module.uses.append(Use("k6/http", f"Response.{_text(src, prop)}", file, node.start_point[0] + 1))
        elif node.type == "pair":
            key = node.child_by_field_name("key")
            value = node.child_by_field_name("value")
            if key is not None and value is not None and value.type == "string" and _string_value(src, key) == "auth":
                scheme = _string_value(src, value)
                if scheme != "basic":
                    module.uses.append(Use("k6/http", f"params.auth={scheme}", file, node.start_point[0] + 1))
        stack.extend(node.children)


def _global_uses(src: bytes, root: Any, module: Module, file: str) -> None:
    """k6's globals (`__VU`, `__ENV`, `open`, `require`) used without an import."""
    stack = [root]
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if node.type == "identifier":
            name = _text(src, node)
            if name in ("__VU", "__ITER", "__ENV", "open", "require") and name not in seen:
                parent = node.parent
                if name in ("open", "require") and (parent is None or parent.type != "call_expression"):
                    pass
                else:
                    seen.add(name)
                    module.uses.append(Use("global", name, file, node.start_point[0] + 1))
        stack.extend(node.children)


def bundle(entry: Path, *, lenient: bool = False) -> Bundle:
    """The entry script and every local module it imports, as one program."""
    entry = entry.resolve()
    modules: dict[str, Module] = {}
    order: list[str] = []
    pending = [str(entry)]
    while pending:
        p = pending.pop()
        if p in modules:
            continue
        mod = parse_module(Path(p), lenient=lenient)
        modules[p] = mod
        order.append(p)
        pending.extend(r for r in mod.requires if r not in modules)
    lines: list[str] = []
    line_map: list[tuple[int, int, str]] = []
    for p in order:
        mod = modules[p]
        head = f"__define({json.dumps(p)}, function (exports, module) {{ \"use strict\"; "
        first = len(lines) + 1
        body_lines = mod.body.split("\n")
        body_lines[0] = head + body_lines[0]
        body_lines[-1] = body_lines[-1] + "\n});"
        text = "\n".join(body_lines)
        lines.extend(text.split("\n"))
        line_map.append((first, first + len(body_lines) - 1, p))
    lines.append(f"var __main = __require({json.dumps(str(entry))});")
    return Bundle(entry=entry, code="\n".join(lines), modules=[modules[p] for p in order], line_map=line_map)
