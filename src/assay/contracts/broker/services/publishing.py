"""Publishing pacts: one contract or a batch, stored once per content, with the events webhooks fire on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.contracts.broker.models import (
    PactContent,
    Pacticipant,
    PactPublication,
    Version,
)
from assay.contracts.broker.services.errors import BrokerError, invalid, loads_json
from assay.contracts.broker.services.pacticipants import (
    ensure_branch_version,
    ensure_pacticipant,
    ensure_tag,
    ensure_version,
)
from assay.contracts.broker.services.values import content_sha, name_problem, now


@dataclass
class Event:
    """Something webhooks may care about, fired after the transaction commits."""

    name: str
    context: dict[str, str]


@dataclass
class PublishOutcome:
    pacticipant: Pacticipant
    version: Version
    tags: list[str]
    branch: str | None
    contracts: list[tuple[str, str, str]]  # (consumer, provider, sha)
    notices: list[dict[str, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    version_is_new: bool = False


def parse_pact(raw: bytes, where: str) -> dict[str, Any]:
    doc = loads_json(raw, where)
    if not isinstance(doc, dict):
        raise invalid(where, "A pact must be a JSON object")
    for role in ("consumer", "provider"):
        part = doc.get(role)
        if not isinstance(part, dict) or not isinstance(part.get("name"), str) or not part["name"].strip():
            raise invalid(where, f"The pact is missing {role}.name")
    if not isinstance(doc.get("interactions", []), list) or not isinstance(doc.get("messages", []), list):
        raise invalid(where, "interactions must be an array")
    return doc


def _previous_content_id(
    s: Session, consumer: Pacticipant, provider: Pacticipant, before_version: int
) -> int | None:
    return s.scalar(
        select(PactPublication.pact_content_id)
        .where(
            PactPublication.consumer_id == consumer.id,
            PactPublication.provider_id == provider.id,
            PactPublication.consumer_version_id != before_version,
        )
        .order_by(PactPublication.consumer_version_id.desc())
        .limit(1)
    )


def store_pact(
    s: Session,
    consumer: Pacticipant,
    version: Version,
    provider_name: str,
    raw: bytes,
    doc: dict[str, Any],
    *,
    version_is_new: bool = False,
    track_changes: bool = True,
) -> tuple[PactContent, str, list[Event]]:
    """Attach pact content to a consumer version; reuse identical content; refuse changed content (409).

    Returns (content, status, events) where status is "created", "unchanged" or "reused".
    `version_is_new` skips the conflict lookup (a version created in this transaction has no
    pacts yet); `track_changes=False` skips computing contract_content_changed (nobody listens).
    """
    provider, _ = ensure_pacticipant(s, provider_name)
    sha = content_sha(doc)
    existing_pub = (
        None
        if version_is_new
        else s.scalar(
            select(PactPublication).where(
                PactPublication.consumer_version_id == version.id, PactPublication.provider_id == provider.id
            )
        )
    )
    if existing_pub is not None:
        old = s.get(PactContent, existing_pub.pact_content_id)
        assert old is not None
        if old.sha == sha:
            return old, "unchanged", []
        raise BrokerError(
            409,
            f"Cannot change the content of the pact for {consumer.name} version {version.number} and provider "
            f"{provider.name}, as race conditions will cause unreliable results for can-i-deploy. "
            "Each pact must be published with a unique consumer version number.",
            errors={
                "contracts": [
                    f"Cannot change the content of the pact for {consumer.name} version {version.number} and "
                    f"provider {provider.name} (existing pact version {old.sha}, new {sha})"
                ]
            },
            notices=[
                {
                    "type": "error",
                    "text": f"Cannot change the content of the pact for {consumer.name} version {version.number} "
                    f"and provider {provider.name}. Publish it with a new consumer version number.",
                },
                {"type": "info", "text": _diff_text(old.content, raw)},
            ],
        )
    content = s.scalar(
        select(PactContent).where(
            PactContent.consumer_id == consumer.id,
            PactContent.provider_id == provider.id,
            PactContent.sha == sha,
        )
    )
    status = "reused"
    if content is None:
        content = PactContent(
            sha=sha, consumer_id=consumer.id, provider_id=provider.id, content=raw, created_at=now()
        )
        s.add(content)
        s.flush()
        status = "created"
    previous = _previous_content_id(s, consumer, provider, version.id) if track_changes else content.id
    s.add(
        PactPublication(
            consumer_id=consumer.id,
            provider_id=provider.id,
            consumer_version_id=version.id,
            pact_content_id=content.id,
            created_at=now(),
        )
    )
    s.flush()
    events = []
    if previous != content.id:
        events.append(
            Event(
                "contract_content_changed",
                {
                    "consumer": consumer.name,
                    "provider": provider.name,
                    "consumerVersion": version.number,
                    "sha": sha,
                },
            )
        )
    events.append(
        Event(
            "contract_published",
            {
                "consumer": consumer.name,
                "provider": provider.name,
                "consumerVersion": version.number,
                "sha": sha,
            },
        )
    )
    return content, status, events


def _diff_text(old: bytes, new: bytes) -> str:
    import difflib

    def pretty(raw: bytes) -> list[str]:
        try:
            return json.dumps(json.loads(raw), indent=2, sort_keys=True).splitlines()
        except ValueError:
            return raw.decode("utf-8", "replace").splitlines()

    diff = difflib.unified_diff(pretty(old), pretty(new), "published", "new", lineterm="", n=2)
    return "\n".join(list(diff)[:200])


def publish_contracts(s: Session, body: Any, *, track_changes: bool = True) -> PublishOutcome:
    """POST /contracts/publish: validate everything first, then write in the caller's transaction."""
    if not isinstance(body, dict):
        raise invalid("body", "The request body must be a JSON object")
    name = body.get("pacticipantName")
    number = body.get("pacticipantVersionNumber")
    errors: dict[str, list[str]] = {}
    for key, value in (("pacticipantName", name), ("pacticipantVersionNumber", number)):
        problem = name_problem(value)
        if problem:
            errors.setdefault(key, []).append(f"{key} {problem}")
    branch = body.get("branch")
    if branch is not None and name_problem(branch):
        errors.setdefault("branch", []).append(f"branch {name_problem(branch)}")
    tags = body.get("tags") or []
    if not isinstance(tags, list):
        errors.setdefault("tags", []).append("tags must be an array of names")
        tags = []
    for i, tag in enumerate(tags):
        if name_problem(tag):
            errors.setdefault(f"tags[{i}]", []).append(f"tag {name_problem(tag)}")
    contracts = body.get("contracts")
    decoded: list[tuple[dict[str, Any], bytes, dict[str, Any]]] = []
    if not isinstance(contracts, list) or not contracts:
        errors.setdefault("contracts", []).append("contracts must be a non-empty array")
        contracts = []
    import base64
    import binascii

    for i, c in enumerate(contracts):
        key = f"contracts[{i}]"
        if not isinstance(c, dict):
            errors.setdefault(key, []).append("must be an object")
            continue
        if c.get("specification", "pact") != "pact":
            errors.setdefault(f"{key}.specification", []).append("specification must be 'pact'")
        if c.get("contentType", "application/json") != "application/json":
            errors.setdefault(f"{key}.contentType", []).append("contentType must be application/json")
        if c.get("consumerName") != name:
            errors.setdefault(f"{key}.consumerName", []).append(
                f"consumerName '{c.get('consumerName')}' must match pacticipantName '{name}'"
            )
        if name_problem(c.get("providerName")):
            errors.setdefault(f"{key}.providerName", []).append(
                f"providerName {name_problem(c.get('providerName'))}"
            )
        content = c.get("content")
        if not isinstance(content, str):
            errors.setdefault(f"{key}.content", []).append("content is missing (base64 encoded pact JSON)")
            continue
        try:
            raw = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            errors.setdefault(f"{key}.content", []).append("content is not valid base64")
            continue
        try:
            doc = parse_pact(raw, f"{key}.content")
        except BrokerError as exc:
            for k, v in (exc.errors or {}).items():
                errors.setdefault(k, []).extend(v)
            continue
        if doc["consumer"]["name"] != c.get("consumerName"):
            errors.setdefault(f"{key}.content", []).append(
                f"consumer name in the pact ('{doc['consumer']['name']}') does not match consumerName"
            )
        if doc["provider"]["name"] != c.get("providerName"):
            errors.setdefault(f"{key}.content", []).append(
                f"provider name in the pact ('{doc['provider']['name']}') does not match providerName"
            )
        decoded.append((c, raw, doc))
    if errors:
        raise BrokerError(400, "Invalid publish request", errors=errors)
    assert isinstance(name, str) and isinstance(number, str)

    pacticipant, p_created = ensure_pacticipant(s, name)
    version, v_created = ensure_version(s, pacticipant, number)
    if body.get("buildUrl"):
        version.build_url = str(body["buildUrl"])
    notices: list[dict[str, str]] = []
    if branch:
        ensure_branch_version(s, pacticipant, version, branch, version_is_new=v_created)
    for t in tags:
        ensure_tag(s, version, t)
    parts = [f"{'Created' if v_created else 'Updated'} {name} version {number}"]
    if branch:
        parts.append(f"with branch {branch}")
    if tags:
        parts.append(f"and tags {', '.join(tags)}" if branch else f"with tags {', '.join(tags)}")
    notices.append({"type": "success", "text": " ".join(parts)})
    outcome = PublishOutcome(pacticipant, version, list(tags), branch, [], notices, version_is_new=v_created)
    for _c, raw, doc in decoded:
        provider_name = doc["provider"]["name"]
        content, status, events = store_pact(
            s,
            pacticipant,
            version,
            provider_name,
            raw,
            doc,
            version_is_new=v_created,
            track_changes=track_changes,
        )
        outcome.events.extend(events)
        outcome.contracts.append((name, provider_name, content.sha))
        if status == "unchanged":
            text = f"Pact for {name} version {number} and provider {provider_name} was already published with identical content."
        elif status == "reused":
            text = (
                f"Pact successfully published for {name} version {number} and provider {provider_name}. "
                "The content is identical to a previously published pact, so it shares its pact version."
            )
        else:
            text = f"Pact successfully published for {name} version {number} and provider {provider_name}."
        notices.append({"type": "success", "text": text})
    return outcome
