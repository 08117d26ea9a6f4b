"""Provider contracts in the broker: bi-directional contract testing without running the provider.

A provider publishes its OpenAPI document for a version (PactFlow's body shape:
`{pacticipantVersionNumber, branch?, tags?, buildUrl?, contract: {content (base64),
contentType, specification: "oas", selfVerificationResults?: {success, content,
contentType, format, verifier, verifierVersion}}}`).  Every pact of that provider is
then cross-checked against it, and each cross-check is stored as a verification of
kind "bidirectional", so can-i-deploy and the matrix count it like a verification
result.  A pact published later is cross-checked against the stored contracts.
A cross-check passes only when every interaction is compatible *and* the provider's
self-verification did not fail.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.contracts import bidirectional
from assay.contracts.broker.models import PactContent, Pacticipant, ProviderContract, Verification, Version
from assay.contracts.broker.services.errors import invalid
from assay.contracts.broker.services.pacticipants import (
    ensure_branch_version,
    ensure_pacticipant,
    ensure_tag,
    ensure_version,
    find_version,
)
from assay.contracts.broker.services.publishing import parse_pact
from assay.contracts.broker.services.values import check_name, now

# How many of a provider's newest pact contents / contracts one publication is cross-checked against.
CROSS_CHECK_LIMIT = 200
VERIFIER = {"implementation": "assay bi-directional", "clientLanguage": {"name": "python"}}


def _decode(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(field_name, f"{field_name} must be base64 text")
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise invalid(field_name, f"{field_name} is not valid base64 of UTF-8 text ({exc})") from exc


def parse_openapi(text: str, content_type: str) -> dict[str, Any]:
    """JSON or YAML by content type (YAML parses JSON too); must look like OpenAPI 3.x."""
    try:
        doc = json.loads(text) if "json" in content_type.lower() else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise invalid("contract.content", f"not valid {content_type}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise invalid("contract.content", "not an OpenAPI document (no 'paths' object)")
    if not str(doc.get("openapi", "")).startswith("3."):
        raise invalid(
            "contract.content", "only OpenAPI 3.0 and 3.1 documents are supported ('openapi': '3.x')"
        )
    return doc


def publish(
    s: Session, provider_name: str, body: Any
) -> tuple[ProviderContract, Version, list[Verification]]:
    if not isinstance(body, dict):
        raise invalid("body", "The request body must be a JSON object")
    number = body.get("pacticipantVersionNumber")
    if not isinstance(number, str) or not number.strip():
        raise invalid("pacticipantVersionNumber", "pacticipantVersionNumber is missing")
    contract = body.get("contract")
    if not isinstance(contract, dict):
        raise invalid(
            "contract", "contract must be an object with content, contentType and specification"
        )
    spec = contract.get("specification", "oas")
    if spec != "oas":
        raise invalid("contract.specification", f"only 'oas' (OpenAPI) is supported, got {spec!r}")
    content_type = str(contract.get("contentType") or "application/yaml")
    text = _decode(contract.get("content"), "contract.content")
    doc = parse_openapi(text, content_type)
    selfv = contract.get("selfVerificationResults") or contract.get("verificationResults")
    if selfv is not None and not (isinstance(selfv, dict) and isinstance(selfv.get("success"), bool)):
        raise invalid(
            "contract.selfVerificationResults", "selfVerificationResults needs success: true|false"
        )

    provider, _ = ensure_pacticipant(s, check_name("provider", provider_name))
    version, _ = ensure_version(s, provider, number)
    if isinstance(body.get("branch"), str) and body["branch"]:
        ensure_branch_version(s, provider, version, body["branch"])
    for tag in body.get("tags") or []:
        if isinstance(tag, str) and tag:
            ensure_tag(s, version, tag)
    row = s.scalar(select(ProviderContract).where(ProviderContract.provider_version_id == version.id))
    if row is None:
        row = ProviderContract(provider_id=provider.id, provider_version_id=version.id, created_at=now())
        s.add(row)
    row.specification, row.content_type, row.content = spec, content_type, text
    row.build_url = body.get("buildUrl") if isinstance(body.get("buildUrl"), str) else None
    row.self_verification_success = selfv["success"] if selfv else None
    row.self_verification = json.dumps({k: v for k, v in selfv.items() if k != "content"}) if selfv else None
    s.flush()
    contents = list(
        s.scalars(
            select(PactContent)
            .where(PactContent.provider_id == provider.id)
            .order_by(PactContent.id.desc())
            .limit(CROSS_CHECK_LIMIT)
        ).all()
    )
    return row, version, [_record(s, row, doc, version, c) for c in contents]


def check_new_pact(s: Session, content: PactContent) -> list[Verification]:
    """A pact just published: cross-check it against the provider's stored contracts (newest first)."""
    rows = list(
        s.scalars(
            select(ProviderContract)
            .where(ProviderContract.provider_id == content.provider_id)
            .order_by(ProviderContract.id.desc())
            .limit(CROSS_CHECK_LIMIT)
        ).all()
    )
    out = []
    for row in rows:
        version = s.get(Version, row.provider_version_id)
        assert version is not None
        out.append(_record(s, row, _parsed(row.content, row.content_type), version, content))
    return out


@functools.lru_cache(maxsize=64)
def _parsed_cached(text: str, content_type: str) -> str:
    return json.dumps(parse_openapi(text, content_type))


def _parsed(text: str, content_type: str) -> dict[str, Any]:
    """Stored contracts are re-read on every pact publish; YAML parsing is the cost, so it is cached."""
    doc: dict[str, Any] = json.loads(_parsed_cached(text, content_type))
    return doc


def _record(
    s: Session, row: ProviderContract, doc: dict[str, Any], version: Version, content: PactContent
) -> Verification:
    pact = parse_pact(content.content, "pact")
    result = bidirectional.cross_check(doc, pact)
    self_ok = row.self_verification_success is not False
    results = [
        {
            "interactionDescription": c.description,
            "success": c.ok,
            "mismatches": [
                {"attribute": m.kind, "identifier": m.value_path or m.schema_path, "description": str(m)}
                for m in c.mismatches
            ],
        }
        for c in result.checks
    ]
    if not self_ok:
        results.append(
            {
                "interactionDescription": "provider self-verification",
                "success": False,
                "mismatches": [
                    {
                        "attribute": "selfVerification",
                        "identifier": "",
                        "description": "the provider's own verification failed",
                    }
                ],
            }
        )
    ver = Verification(
        pact_content_id=content.id,
        provider_id=content.provider_id,
        consumer_id=content.consumer_id,
        provider_version_id=version.id,
        success=result.ok and self_ok,
        build_url=row.build_url,
        test_results=json.dumps(results),
        verified_by=json.dumps(VERIFIER),
        created_at=now(),
        kind="bidirectional",
    )
    s.add(ver)
    s.flush()
    return ver


def contract_for(s: Session, provider: Pacticipant, number: str) -> ProviderContract | None:
    version = find_version(s, provider, number)
    if version is None:
        return None
    return s.scalar(select(ProviderContract).where(ProviderContract.provider_version_id == version.id))
