"""Resolving pacts: which pact a provider, consumer and version (or the latest) refer to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.contracts.broker.models import (
    Branch,
    BranchVersion,
    PactContent,
    Pacticipant,
    PactPublication,
    Tag,
    Version,
)
from assay.contracts.broker.services.errors import not_found
from assay.contracts.broker.services.pacticipants import find_version, require_pacticipant


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
