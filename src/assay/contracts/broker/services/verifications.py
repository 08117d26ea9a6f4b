"""Verification results: published by providers, read back by the matrix and for-verification."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.contracts.broker.models import (
    Branch,
    BranchVersion,
    Pacticipant,
    Tag,
    Verification,
    Version,
)
from assay.contracts.broker.services.errors import BrokerError, invalid
from assay.contracts.broker.services.pacticipants import ensure_branch_version, ensure_version
from assay.contracts.broker.services.pacts import PactRef, resolve_pact
from assay.contracts.broker.services.publishing import Event
from assay.contracts.broker.services.values import now


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
