"""Safety checks for pact files before they leave the building: secrets and PII.

Findings name the JSON path in the file.  `fix()` replaces each offending value
with a placeholder chosen to keep the pact valid: same JSON type, and satisfying
any regex matching rule that governs the value (otherwise the finding stays and
must be fixed by hand).  Addresses at reserved example domains (example.com,
.test, ...) are placeholders already and are not reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.errors import UsageError

SECRET_HEADERS = re.compile(
    r"^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token|x-access-token"
    r"|x-csrf-token|x-amz-security-token)$",
    re.I,
)
SECRET_KEYS = re.compile(
    r"(password|passwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|client[-_]?secret|session[-_]?id"
    r"|credentials?)$",
    re.I,
)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}")
SAFE_EMAIL_DOMAINS = re.compile(
    r"@(([a-z0-9-]+\.)*example\.(com|org|net)|([a-z0-9-]+\.)*(test|example|invalid|localhost))$", re.I
)
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
TOKEN_PATTERNS = [
    ("AWS access key", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    ("Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
    ("Stripe key", re.compile(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]{10,}\b")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("JWT", JWT),
    ("bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{8,}", re.I)),
]
TEST_CARD = "4111111111111111"  # the well-known test Visa number: a placeholder, not PII
DUMMY_JWT = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJyZWRhY3RlZCJ9.REDACTED"
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
PLACEHOLDER = re.compile(
    r"^(REDACTED|\*+|x+|<[^>]+>|\$\{[^}]+\}|redacted|changeme|dummy|test|example)$", re.I
)


def luhn_ok(digits: str) -> bool:
    nums = [int(c) for c in digits]
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


@dataclass
class Finding:
    file: str
    path: str  # JSON path within the file
    kind: str
    value: Any
    rule_category: str | None = None
    rule_path: str | None = None
    fixed: bool = False

    def __str__(self) -> str:
        shown = json.dumps(self.value)[:40]
        return f"{self.file}: {self.path}: {self.kind} ({shown})"


def classify(value: Any, key: str | None, header: bool) -> str | None:
    """What kind of secret or PII this value is, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        digits = str(value)
        if digits == TEST_CARD:
            return None
        return "card-like number" if re.fullmatch(r"\d{13,19}", digits) and luhn_ok(digits) else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if PLACEHOLDER.match(text) or PLACEHOLDER.match(text.split()[-1]):
        return None
    if header and key and SECRET_HEADERS.match(key):
        return f"{key} header value"
    if key and SECRET_KEYS.search(key) and not header:
        return f"secret in '{key}'"
    if header and key and SECRET_KEYS.search(key):
        return f"{key} header value"
    text = text.replace(DUMMY_JWT, "")
    for name, pattern in TOKEN_PATTERNS:
        if pattern.search(text):
            return name
    for m in EMAIL.finditer(text):
        if not SAFE_EMAIL_DOMAINS.search(m.group(0)):
            return "email address"
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and digits != TEST_CARD and luhn_ok(digits):
            return "card-like number"
    return None


def _walk(value: Any, path: str, rel: str) -> Iterator[tuple[str, str, str | None, Any]]:
    """Yield (file path, body-relative path, key, value) for every leaf."""
    if isinstance(value, dict):
        for k, v in value.items():
            seg = f".{k}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(k)) else f"['{k}']"
            yield from (
                _walk(v, path + seg, rel + seg)
                if isinstance(v, dict | list)
                else iter([(path + seg, rel + seg, str(k), v)])
            )
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from (
                _walk(v, f"{path}[{i}]", f"{rel}[{i}]")
                if isinstance(v, dict | list)
                else iter([(f"{path}[{i}]", f"{rel}[{i}]", None, v)])
            )
    else:
        yield (path, rel, None, value)


def _key_of(path: str) -> str | None:
    m = re.search(r"(?:\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']+)'\])(?:\[\d+\])?$", path)
    return (m.group(1) or m.group(2)) if m else None


def scan_doc(doc: dict[str, Any], file: str) -> list[Finding]:
    found: list[Finding] = []
    for i, inter in enumerate(doc.get("interactions") or doc.get("messages") or []):
        base = f"$.interactions[{i}]" if "interactions" in doc else f"$.messages[{i}]"
        for side in ("request", "response"):
            part = inter.get(side)
            if not isinstance(part, dict):
                continue
            pbase = f"{base}.{side}"
            for name, val in (part.get("headers") or {}).items():
                vals = val if isinstance(val, list) else [val]
                for j, v in enumerate(vals):
                    kind = classify(v, str(name), header=True)
                    if kind:
                        p = f"{pbase}.headers['{name}']" + (f"[{j}]" if isinstance(val, list) else "")
                        found.append(Finding(file, p, kind, v, "header", str(name)))
            for name, val in (part.get("query") or {}).items() if isinstance(part.get("query"), dict) else []:
                vals = val if isinstance(val, list) else [val]
                for j, v in enumerate(vals):
                    kind = classify(v, str(name), header=False)
                    if kind:
                        p = f"{pbase}.query['{name}']" + (f"[{j}]" if isinstance(val, list) else "")
                        found.append(Finding(file, p, kind, v, "query", str(name)))
            if isinstance(part.get("path"), str):
                kind = classify(part["path"], None, header=False)
                if kind:
                    found.append(Finding(file, f"{pbase}.path", kind, part["path"], "path", ""))
            if "body" in part:
                body = part["body"]
                bpath = f"{pbase}.body"
                if (
                    isinstance(body, dict)
                    and "content" in body
                    and ("contentType" in body or "encoded" in body)
                ):
                    body, bpath = body["content"], f"{pbase}.body.content"
                for fpath, rel, key, v in _walk(body, bpath, "$"):
                    kind = classify(v, key or _key_of(fpath), header=False)
                    if kind:
                        found.append(Finding(file, fpath, kind, v, "body", rel))
        for j, state in enumerate(inter.get("providerStates") or []):
            for fpath, _rel, key, v in _walk(
                state.get("params") or {}, f"{base}.providerStates[{j}].params", "$"
            ):
                kind = classify(v, key, header=False)
                if kind:
                    found.append(Finding(file, fpath, kind, v))
    return found


def _rule_regexes(inter_part: dict[str, Any], category: str | None, rule_path: str | None) -> list[str]:
    if not category or rule_path is None:
        return []
    rules = (inter_part.get("matchingRules") or {}).get(category)
    entries: list[Any]
    if category == "path":
        entries = [rules] if isinstance(rules, dict) else []
    else:
        entries = [rules.get(rule_path)] if isinstance(rules, dict) else []
        if category == "body" and isinstance(rules, dict):
            wildcard = re.sub(r"\[\d+\]", "[*]", rule_path)
            entries.append(rules.get(wildcard))
    out = []
    for e in entries:
        if isinstance(e, dict):
            for m in e.get("matchers") or [e]:
                if m.get("match") == "regex" and m.get("regex"):
                    out.append(str(m["regex"]))
    return out


def _placeholders(finding: Finding) -> list[Any]:
    v = finding.value
    if isinstance(v, int | float):
        return [int(TEST_CARD)]
    kind = finding.kind
    if kind.endswith("header value") and isinstance(v, str):
        scheme = v.split()[0] if " " in v.strip() else None
        if finding.rule_path and finding.rule_path.lower() in ("cookie", "set-cookie"):
            return ["session=REDACTED"]
        return [f"{scheme} REDACTED" if scheme else "REDACTED", "REDACTED"]
    if kind == "email address":
        return [EMAIL.sub("user@example.com", v), "user@example.com"]
    if kind == "card-like number":
        return [CARD.sub(TEST_CARD, v), TEST_CARD]
    if kind == "JWT":
        return [JWT.sub(DUMMY_JWT, v), DUMMY_JWT]
    if kind == "bearer token":
        return [re.sub(r"(?i)\bBearer\s+\S+", "Bearer REDACTED", v), "Bearer REDACTED"]
    return ["REDACTED", "redacted-value-0000", "0000000000000000"]


def _set(doc: Any, path: str, value: Any) -> None:
    tokens = re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']+)'\]|\[(\d+)\]", path[1:])
    target = doc
    keys: list[Any] = [a or b or int(c) for a, b, c in tokens]
    for k in keys[:-1]:
        target = target[k]
    target[keys[-1]] = value


def _part_of(doc: dict[str, Any], path: str) -> dict[str, Any]:
    m = re.match(r"\$\.(interactions|messages)\[(\d+)\]\.(request|response)", path)
    if not m:
        return {}
    part = doc[m.group(1)][int(m.group(2))].get(m.group(3))
    return part if isinstance(part, dict) else {}


def fix_doc(doc: dict[str, Any], findings: list[Finding]) -> list[Finding]:
    """Redact in place; returns the findings that could not be fixed safely."""
    left = []
    for f in findings:
        regexes = _rule_regexes(_part_of(doc, f.path), f.rule_category, f.rule_path)
        for candidate in _placeholders(f):
            if type(candidate) is not type(f.value) and not (isinstance(f.value, int | float)):
                continue
            if (
                all(re.search(r, str(candidate)) for r in regexes)
                and classify(candidate, _key_of(f.path), False) in (None, f"secret in '{_key_of(f.path)}'")
                and candidate != f.value
            ):
                _set(doc, f.path, candidate)
                f.fixed = True
                break
        if not f.fixed:
            left.append(f)
    return left


@dataclass
class LintResult:
    findings: list[Finding]
    files: int
    fixed_files: list[str]

    @property
    def remaining(self) -> list[Finding]:
        return [f for f in self.findings if not f.fixed]


def lint(paths: list[Path], *, fix: bool = False) -> LintResult:
    from assay.atomic import write_text_atomic
    from assay.contracts.client import collect_pact_files

    files = collect_pact_files(paths)
    all_findings: list[Finding] = []
    fixed_files = []
    for file in files:
        try:
            raw = file.read_text(encoding="utf-8")
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"{file}: not valid JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise UsageError(f"{file}: not a pact file")
        findings = scan_doc(doc, str(file))
        if fix and findings:
            fix_doc(doc, findings)
            if any(f.fixed for f in findings):
                indent = 2 if raw.lstrip().startswith("{\n") or "\n  " in raw[:200] else None
                write_text_atomic(
                    file,
                    json.dumps(doc, indent=indent, ensure_ascii=False) + ("\n" if raw.endswith("\n") else ""),
                )
                fixed_files.append(str(file))
        all_findings.extend(findings)
    return LintResult(all_findings, len(files), fixed_files)
