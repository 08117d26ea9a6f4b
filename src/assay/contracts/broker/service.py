"""What the broker does, independent of HTTP: publish, resolve, record, verify.

Every public function takes an open `Session` inside a transaction owned by the
caller (the API opens one per request), so a failed publish leaves nothing
behind.  Errors are `BrokerError`s carrying the Pact Broker's status and shape.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from assay.contracts.broker.models import (
    Branch,
    BranchVersion,
    DeployedVersion,
    Environment,
    PactContent,
    Pacticipant,
    PactPublication,
    ReleasedVersion,
    Tag,
    Verification,
    Version,
)
from assay.contracts.pactfile import strict_loads

MAIN_BRANCH_CANDIDATES = ("main", "master", "develop")


class BrokerError(Exception):
    """An HTTP-level failure in the Pact Broker's shape: 400 field errors, 404, 409."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: dict[str, list[str]] | None = None,
        notices: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.notices = notices

    def body(self) -> dict[str, Any]:
        if self.errors is not None:
            body: dict[str, Any] = {"errors": self.errors}
        else:
            body = {"error": {"message": self.message}}
        if self.notices:
            body["notices"] = self.notices
        return body


def invalid(field_name: str, message: str) -> BrokerError:
    return BrokerError(400, message, errors={field_name: [message]})


def not_found(message: str) -> BrokerError:
    return BrokerError(404, message)


def now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def loads_json(raw: bytes | str, where: str) -> Any:
    """Strict JSON: NaN/Infinity would be served back as invalid JSON, and deep nesting must not crash us."""
    try:
        return strict_loads(raw)
    except RecursionError as exc:
        raise invalid(where, "Invalid JSON: nested too deeply") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid(where, f"Invalid JSON: {exc}") from exc


MAX_NAME = 255
NAME_RULE = (
    "must be 1-255 characters, without control characters (such as NUL), "
    "and not '.' or '..' (they cannot appear in a URL path)"
)


def name_problem(value: Any) -> str | None:
    """Why `value` cannot be a pacticipant name, version number, branch or tag (each one is a URL segment)."""
    if not isinstance(value, str) or not value.strip():
        return "is missing"
    if len(value) > MAX_NAME:
        return f"is {len(value)} characters long; it {NAME_RULE}"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return f"contains a control character; it {NAME_RULE}"
    if value in (".", ".."):
        return f"is {value!r}; it {NAME_RULE}"
    return None


def check_name(field_name: str, value: Any) -> str:
    problem = name_problem(value)
    if problem is not None:
        raise invalid(field_name, f"{field_name} {problem}")
    assert isinstance(value, str)
    return value


def check_columns(session: Session, _context: Any = None, _instances: Any = None) -> None:
    """before_flush guard: the same 400 on SQLite (which would store anything) and PostgreSQL (which 500s).

    Every string column is checked for its declared length and for NUL, which PostgreSQL text refuses.
    """
    for obj in list(session.new) + list(session.dirty):
        table = getattr(obj, "__table__", None)
        if table is None:
            continue
        for column in table.columns:
            value = getattr(obj, column.key, None)
            if not isinstance(value, str):
                continue
            length = getattr(column.type, "length", None)
            where = f"{table.name}.{column.key}"
            if length is not None and len(value) > length:
                raise invalid(column.key, f"{where} must be at most {length} characters (got {len(value)})")
            if "\x00" in value:
                raise invalid(column.key, f"{where} must not contain NUL characters")


def content_sha(doc: Any) -> str:
    """The pact version id: SHA-1 of the canonical JSON, so formatting alone is not a new version."""
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- pacticipants, versions


def find_pacticipant(s: Session, name: str) -> Pacticipant | None:
    return s.scalar(select(Pacticipant).where(Pacticipant.name == name))


def require_pacticipant(s: Session, name: str) -> Pacticipant:
    p = find_pacticipant(s, name)
    if p is None:
        raise not_found(f"No pacticipant with name '{name}' found")
    return p


def ensure_pacticipant(s: Session, name: str) -> tuple[Pacticipant, bool]:
    p = find_pacticipant(s, check_name("pacticipant", name))
    if p is not None:
        return p, False
    t = now()
    p = Pacticipant(name=name, created_at=t, updated_at=t)
    s.add(p)
    s.flush()
    return p, True


def find_version(s: Session, pacticipant: Pacticipant, number: str) -> Version | None:
    return s.scalar(select(Version).where(Version.pacticipant_id == pacticipant.id, Version.number == number))


def require_version(s: Session, pacticipant: Pacticipant, number: str) -> Version:
    v = find_version(s, pacticipant, number)
    if v is None:
        raise not_found(f"No version '{number}' of pacticipant '{pacticipant.name}' found")
    return v


def ensure_version(s: Session, pacticipant: Pacticipant, number: str) -> tuple[Version, bool]:
    v = find_version(s, pacticipant, check_name("version", number))
    if v is not None:
        return v, False
    v = Version(pacticipant_id=pacticipant.id, number=number, created_at=now())
    s.add(v)
    s.flush()
    return v, True


def ensure_branch_version(
    s: Session, pacticipant: Pacticipant, version: Version, branch: str, *, version_is_new: bool = False
) -> bool:
    """Put a version on a branch; the first main-looking branch becomes the main branch."""
    check_name("branch", branch)
    b = s.scalar(select(Branch).where(Branch.pacticipant_id == pacticipant.id, Branch.name == branch))
    if b is None:
        b = Branch(pacticipant_id=pacticipant.id, name=branch, created_at=now())
        s.add(b)
        s.flush()
    if pacticipant.main_branch is None and branch in MAIN_BRANCH_CANDIDATES:
        pacticipant.main_branch = branch
        pacticipant.updated_at = now()
    exists = s.scalar(
        select(BranchVersion.id).where(
            BranchVersion.branch_id == b.id, BranchVersion.version_id == version.id
        )
    )
    if exists is not None:
        return False
    s.add(BranchVersion(branch_id=b.id, version_id=version.id, created_at=now()))
    s.flush()
    return True


def ensure_tag(s: Session, version: Version, name: str) -> bool:
    check_name("tag", name)
    exists = s.scalar(select(Tag.id).where(Tag.version_id == version.id, Tag.name == name))
    if exists is not None:
        return False
    s.add(Tag(version_id=version.id, pacticipant_id=version.pacticipant_id, name=name, created_at=now()))
    s.flush()
    return True


def version_branches(s: Session, version_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {vid: [] for vid in version_ids}
    if not version_ids:
        return out
    rows = s.execute(
        select(BranchVersion.version_id, Branch.name)
        .join(Branch, Branch.id == BranchVersion.branch_id)
        .where(BranchVersion.version_id.in_(version_ids))
        .order_by(BranchVersion.id)
    )
    for vid, name in rows:
        out[vid].append(name)
    return out


def version_tags(s: Session, version_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {vid: [] for vid in version_ids}
    if not version_ids:
        return out
    for vid, name in s.execute(
        select(Tag.version_id, Tag.name).where(Tag.version_id.in_(version_ids)).order_by(Tag.id)
    ):
        out[vid].append(name)
    return out


def latest_version(
    s: Session, pacticipant: Pacticipant, *, tag: str | None = None, branch: str | None = None
) -> Version | None:
    q = select(func.max(Version.id)).where(Version.pacticipant_id == pacticipant.id)
    if tag is not None:
        q = select(func.max(Tag.version_id)).where(Tag.pacticipant_id == pacticipant.id, Tag.name == tag)
    elif branch is not None:
        q = (
            select(func.max(BranchVersion.version_id))
            .join(Branch, Branch.id == BranchVersion.branch_id)
            .where(Branch.pacticipant_id == pacticipant.id, Branch.name == branch)
        )
    vid = s.scalar(q)
    return s.get(Version, vid) if vid is not None else None


# --------------------------------------------------------------------------- environments


def find_environment(s: Session, *, name: str | None = None, uuid_: str | None = None) -> Environment | None:
    if uuid_ is not None:
        return s.scalar(select(Environment).where(Environment.uuid == uuid_))
    return s.scalar(select(Environment).where(Environment.name == name))


def require_environment_named(s: Session, name: str, field_name: str = "environment") -> Environment:
    env = find_environment(s, name=name)
    if env is None:
        raise invalid(field_name, f"Environment with name '{name}' does not exist")
    return env


def create_environment(s: Session, body: dict[str, Any]) -> Environment:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("name", "name is missing")
    if any(c.isspace() for c in name):
        raise invalid("name", "name cannot contain spaces")
    if find_environment(s, name=name) is not None:
        raise invalid("name", f"Another environment with name '{name}' already exists.")
    production = body.get("production", False)
    if not isinstance(production, bool):
        raise invalid("production", "production must be true or false")
    t = now()
    env = Environment(
        uuid=str(body.get("uuid") or uuid.uuid4()),
        name=name,
        display_name=body.get("displayName") or name.capitalize(),
        production=production,
        created_at=t,
        updated_at=t,
    )
    s.add(env)
    s.flush()
    return env


def update_environment(s: Session, env: Environment, body: dict[str, Any]) -> Environment:
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not name.strip():
            raise invalid("name", "name is missing")
        other = find_environment(s, name=name)
        if other is not None and other.id != env.id:
            raise invalid("name", f"Another environment with name '{name}' already exists.")
        env.name = name
    if "displayName" in body:
        env.display_name = body["displayName"]
    if "production" in body:
        if not isinstance(body["production"], bool):
            raise invalid("production", "production must be true or false")
        env.production = body["production"]
    env.updated_at = now()
    return env


# --------------------------------------------------------------------------- publishing


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


# --------------------------------------------------------------------------- resolving pacts


@dataclass
class PactRef:
    consumer: Pacticipant
    provider: Pacticipant
    content: PactContent
    consumer_version: Version | None


def resolve_pact(
    s: Session,
    provider_name: str,
    consumer_name: str,
    *,
    version: str | None = None,
    sha: str | None = None,
    tag: str | None = None,
    branch: str | None = None,
) -> PactRef:
    """One pact by consumer version, pact-version sha, or the latest (optionally by tag or branch)."""
    provider = require_pacticipant(s, provider_name)
    consumer = require_pacticipant(s, consumer_name)
    if sha is not None:
        content = s.scalar(
            select(PactContent).where(
                PactContent.consumer_id == consumer.id,
                PactContent.provider_id == provider.id,
                PactContent.sha == sha,
            )
        )
        if content is None:
            raise not_found(f"No pact version {sha} between {consumer.name} and {provider.name} found")
        cv_id = s.scalar(
            select(func.max(PactPublication.consumer_version_id)).where(
                PactPublication.pact_content_id == content.id
            )
        )
        return PactRef(consumer, provider, content, s.get(Version, cv_id) if cv_id else None)
    q = select(PactPublication).where(
        PactPublication.consumer_id == consumer.id, PactPublication.provider_id == provider.id
    )
    if version is not None:
        v = find_version(s, consumer, version)
        if v is None:
            raise not_found(
                f"No pact found for {consumer.name} version {version} and provider {provider.name}"
            )
        q = q.where(PactPublication.consumer_version_id == v.id)
    elif tag is not None:
        q = q.join(Tag, Tag.version_id == PactPublication.consumer_version_id).where(Tag.name == tag)
    elif branch is not None:
        q = (
            q.join(BranchVersion, BranchVersion.version_id == PactPublication.consumer_version_id)
            .join(Branch, Branch.id == BranchVersion.branch_id)
            .where(Branch.name == branch)
        )
    pub = s.scalar(q.order_by(PactPublication.consumer_version_id.desc()).limit(1))
    if pub is None:
        what = (
            f"version {version}"
            if version
            else f"tag {tag}"
            if tag
            else f"branch {branch}"
            if branch
            else "latest"
        )
        raise not_found(f"No pact found between {consumer.name} ({what}) and {provider.name}")
    content = s.get(PactContent, pub.pact_content_id)
    assert content is not None
    return PactRef(consumer, provider, content, s.get(Version, pub.consumer_version_id))


def latest_pacts(s: Session, provider: Pacticipant | None = None, tag: str | None = None) -> list[PactRef]:
    """The latest pact of every integration (optionally for one provider, optionally by consumer tag)."""
    q = select(
        PactPublication.consumer_id,
        PactPublication.provider_id,
        func.max(PactPublication.consumer_version_id),
    ).group_by(PactPublication.consumer_id, PactPublication.provider_id)
    if provider is not None:
        q = q.where(PactPublication.provider_id == provider.id)
    if tag is not None:
        q = q.join(Tag, Tag.version_id == PactPublication.consumer_version_id).where(Tag.name == tag)
    out = []
    for consumer_id, provider_id, cv_id in s.execute(q).all():
        pub = s.scalar(
            select(PactPublication).where(
                PactPublication.consumer_version_id == cv_id, PactPublication.provider_id == provider_id
            )
        )
        assert pub is not None
        c, p, content, v = (
            s.get(Pacticipant, consumer_id),
            s.get(Pacticipant, provider_id),
            s.get(PactContent, pub.pact_content_id),
            s.get(Version, cv_id),
        )
        assert c is not None and p is not None and content is not None
        out.append(PactRef(c, p, content, v))
    out.sort(key=lambda r: (r.consumer.name, r.provider.name))
    return out


# --------------------------------------------------------------------------- verification results


def publish_verification(
    s: Session, provider_name: str, consumer_name: str, sha: str, body: Any
) -> tuple[Verification, PactRef, Version, list[Event]]:
    ref = resolve_pact(s, provider_name, consumer_name, sha=sha)
    if not isinstance(body, dict):
        raise invalid("body", "The request body must be a JSON object")
    errors: dict[str, list[str]] = {}
    if not isinstance(body.get("success"), bool):
        errors["success"] = ["success must be true or false"]
    pv = body.get("providerApplicationVersion")
    if not isinstance(pv, str) or not pv.strip():
        errors["providerApplicationVersion"] = ["providerApplicationVersion is missing"]
    if errors:
        raise BrokerError(400, "Invalid verification result", errors=errors)
    assert isinstance(pv, str)
    provider_version, _ = ensure_version(s, ref.provider, pv)
    branch = body.get("providerVersionBranch") or body.get("branch")
    if isinstance(branch, str) and branch:
        ensure_branch_version(s, ref.provider, provider_version, branch)
    ver = Verification(
        pact_content_id=ref.content.id,
        provider_id=ref.provider.id,
        consumer_id=ref.consumer.id,
        provider_version_id=provider_version.id,
        success=bool(body["success"]),
        build_url=body.get("buildUrl"),
        test_results=json.dumps(body.get("testResults")) if body.get("testResults") is not None else None,
        verified_by=json.dumps(body.get("verifiedBy")) if body.get("verifiedBy") is not None else None,
        created_at=now(),
    )
    s.add(ver)
    s.flush()
    ctx = {
        "consumer": ref.consumer.name,
        "provider": ref.provider.name,
        "providerVersion": provider_version.number,
        "consumerVersion": ref.consumer_version.number if ref.consumer_version else "",
        "sha": ref.content.sha,
        "success": "true" if ver.success else "false",
        "verificationId": str(ver.id),
    }
    events = [Event("provider_verification_published", ctx)]
    events.append(
        Event("provider_verification_succeeded" if ver.success else "provider_verification_failed", ctx)
    )
    return ver, ref, provider_version, events


# --------------------------------------------------------------------------- deployments and releases


def record_deployment(
    s: Session, version: Version, env: Environment, application_instance: str | None
) -> tuple[DeployedVersion, bool]:
    """Mark `version` as deployed; the previous version of the same instance stops being current."""
    current = s.scalars(
        select(DeployedVersion).where(
            DeployedVersion.environment_id == env.id,
            DeployedVersion.pacticipant_id == version.pacticipant_id,
            DeployedVersion.undeployed_at.is_(None),
            DeployedVersion.application_instance.is_(None)
            if application_instance is None
            else DeployedVersion.application_instance == application_instance,
        )
    ).all()
    for dv in current:
        if dv.version_id == version.id:
            return dv, False
    t = now()
    for dv in current:
        dv.undeployed_at = t
    dv = DeployedVersion(
        uuid=str(uuid.uuid4()),
        version_id=version.id,
        pacticipant_id=version.pacticipant_id,
        environment_id=env.id,
        application_instance=application_instance,
        created_at=t,
    )
    s.add(dv)
    s.flush()
    return dv, True


def record_release(s: Session, version: Version, env: Environment) -> tuple[ReleasedVersion, bool]:
    existing = s.scalar(
        select(ReleasedVersion).where(
            ReleasedVersion.environment_id == env.id,
            ReleasedVersion.version_id == version.id,
            ReleasedVersion.support_ended_at.is_(None),
        )
    )
    if existing is not None:
        return existing, False
    rv = ReleasedVersion(
        uuid=str(uuid.uuid4()),
        version_id=version.id,
        pacticipant_id=version.pacticipant_id,
        environment_id=env.id,
        created_at=now(),
    )
    s.add(rv)
    s.flush()
    return rv, True


def record_undeployment(
    s: Session, pacticipant: Pacticipant, env: Environment, application_instance: str | None = None
) -> list[DeployedVersion]:
    q = select(DeployedVersion).where(
        DeployedVersion.environment_id == env.id,
        DeployedVersion.pacticipant_id == pacticipant.id,
        DeployedVersion.undeployed_at.is_(None),
    )
    if application_instance is not None:
        q = q.where(DeployedVersion.application_instance == application_instance)
    rows = list(s.scalars(q).all())
    if not rows:
        raise not_found(f"{pacticipant.name} is not currently deployed to {env.name}")
    t = now()
    for dv in rows:
        dv.undeployed_at = t
    return rows


def in_environment(env: Environment, pacticipant_ids: list[int] | None = None) -> Any:
    """SELECT of version ids currently deployed, or released and supported, in `env` (one UNION ALL)."""
    d = select(DeployedVersion.version_id).where(
        DeployedVersion.environment_id == env.id, DeployedVersion.undeployed_at.is_(None)
    )
    r = select(ReleasedVersion.version_id).where(
        ReleasedVersion.environment_id == env.id, ReleasedVersion.support_ended_at.is_(None)
    )
    if pacticipant_ids is not None:
        d = d.where(DeployedVersion.pacticipant_id.in_(pacticipant_ids))
        r = r.where(ReleasedVersion.pacticipant_id.in_(pacticipant_ids))
    return union_all(d, r)


def env_versions(
    s: Session, env: Environment, pacticipant_ids: list[int] | None = None
) -> dict[int, list[Version]]:
    """pacticipant id -> versions currently deployed or (supported) released in `env`, in one query."""
    out: dict[int, list[Version]] = {}
    rows = s.scalars(
        select(Version).where(Version.id.in_(in_environment(env, pacticipant_ids))).order_by(Version.id)
    ).all()
    for v in rows:
        out.setdefault(v.pacticipant_id, []).append(v)
    return out


def env_version_ids(
    s: Session, env: Environment, pacticipant_ids: list[int] | None = None
) -> dict[int, set[int]]:
    """pacticipant id -> version ids currently deployed or (supported) released in `env`."""
    return {pid: {v.id for v in vs} for pid, vs in env_versions(s, env, pacticipant_ids).items()}


def version_environments(s: Session, version_ids: list[int]) -> dict[int, list[Any]]:
    """version id -> environments it is currently deployed or released to (rows with uuid, name, ...)."""
    out: dict[int, list[Any]] = {vid: [] for vid in version_ids}
    if not version_ids:
        return out
    cols = (Environment.uuid, Environment.name, Environment.display_name, Environment.production)
    d = (
        select(DeployedVersion.version_id, *cols)
        .join(Environment, Environment.id == DeployedVersion.environment_id)
        .where(DeployedVersion.version_id.in_(version_ids), DeployedVersion.undeployed_at.is_(None))
    )
    r = (
        select(ReleasedVersion.version_id, *cols)
        .join(Environment, Environment.id == ReleasedVersion.environment_id)
        .where(ReleasedVersion.version_id.in_(version_ids), ReleasedVersion.support_ended_at.is_(None))
    )
    for row in s.execute(union_all(d, r)).all():
        if all(e.uuid != row.uuid for e in out[row.version_id]):
            out[row.version_id].append(row)
    return out


def version_labels(s: Session, version_ids: list[int]) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """(branches, tags) of many versions in one round trip."""
    branches: dict[int, list[str]] = {vid: [] for vid in version_ids}
    tags: dict[int, list[str]] = {vid: [] for vid in version_ids}
    if not version_ids:
        return branches, tags
    b = (
        select(BranchVersion.version_id, literal("b").label("kind"), Branch.name, BranchVersion.id)
        .join(Branch, Branch.id == BranchVersion.branch_id)
        .where(BranchVersion.version_id.in_(version_ids))
    )
    t = select(Tag.version_id, literal("t").label("kind"), Tag.name, Tag.id).where(
        Tag.version_id.in_(version_ids)
    )
    for vid, kind, name, _id in sorted(s.execute(union_all(b, t)).all(), key=lambda r: (r[1], r[3])):
        (branches if kind == "b" else tags)[vid].append(name)
    return branches, tags


def currently_deployed(s: Session, env: Environment, pacticipant: str | None = None) -> list[DeployedVersion]:
    q = select(DeployedVersion).where(
        DeployedVersion.environment_id == env.id, DeployedVersion.undeployed_at.is_(None)
    )
    if pacticipant:
        p = find_pacticipant(s, pacticipant)
        if p is None:
            return []
        q = q.where(DeployedVersion.pacticipant_id == p.id)
    return list(s.scalars(q.order_by(DeployedVersion.id)).all())


def currently_supported(
    s: Session, env: Environment, pacticipant: str | None = None
) -> list[ReleasedVersion]:
    q = select(ReleasedVersion).where(
        ReleasedVersion.environment_id == env.id, ReleasedVersion.support_ended_at.is_(None)
    )
    if pacticipant:
        p = find_pacticipant(s, pacticipant)
        if p is None:
            return []
        q = q.where(ReleasedVersion.pacticipant_id == p.id)
    return list(s.scalars(q.order_by(ReleasedVersion.id)).all())


# helpers shared by matrix and for-verification


def latest_verification(s: Session, content_id: int, provider_version_id: int) -> Verification | None:
    return s.scalar(
        select(Verification)
        .where(
            Verification.pact_content_id == content_id,
            Verification.provider_version_id == provider_version_id,
        )
        .order_by(Verification.id.desc())
        .limit(1)
    )


def successfully_verified_by_branch(
    s: Session, content_ids: list[int], provider: Pacticipant, branch: str | None, tags: list[str]
) -> set[int]:
    """Content ids verified successfully by a provider version on `branch` (or any of `tags`; or any version)."""
    if not content_ids:
        return set()
    q = select(Verification.pact_content_id).where(
        Verification.pact_content_id.in_(content_ids),
        Verification.success.is_(True),
        Verification.provider_id == provider.id,
    )
    # EXISTS on the (branch, version) unique index: the planner must not walk every version on the branch
    if branch:
        branch_id = (
            select(Branch.id)
            .where(Branch.pacticipant_id == provider.id, Branch.name == branch)
            .scalar_subquery()
        )
        q = q.where(
            select(BranchVersion.id)
            .where(
                BranchVersion.branch_id == branch_id,
                BranchVersion.version_id == Verification.provider_version_id,
            )
            .exists()
        )
    elif tags:
        q = q.where(
            select(Tag.id)
            .where(
                Tag.pacticipant_id == provider.id,
                Tag.name.in_(tags),
                Tag.version_id == Verification.provider_version_id,
            )
            .exists()
        )
    return set(s.scalars(q.distinct()).all())
