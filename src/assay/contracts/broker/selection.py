"""Pacts for verification: consumer version selectors, pending and work-in-progress pacts.

A provider build asks "which pacts must I verify?".  Each selector picks consumer
versions; the pacts they published are grouped by content (one verification per
distinct pact), and each carries notices saying why it was picked.  A pact is
*pending* until a provider version on the provider's branch has verified it
successfully, so a new expectation cannot break the provider's build; a *WIP*
pact is the newest pact on some consumer branch that no selector picked and that
is still pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
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
    Version,
)
from assay.contracts.broker.services.environments import find_environment
from assay.contracts.broker.services.errors import BrokerError, invalid
from assay.contracts.broker.services.pacticipants import require_pacticipant
from assay.contracts.broker.services.values import as_utc
from assay.contracts.broker.services.verifications import successfully_verified_by_branch

SELECTOR_KEYS = {
    "mainBranch",
    "branch",
    "fallbackBranch",
    "matchingBranch",
    "deployed",
    "released",
    "deployedOrReleased",
    "environment",
    "tag",
    "fallbackTag",
    "latest",
    "consumer",
}


@dataclass
class Picked:
    content: PactContent
    consumer: Pacticipant
    versions: list[Version] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    pending: bool = False
    wip: bool = False


def _err(message: str) -> BrokerError:
    return invalid("consumerVersionSelectors", message)


def validate_selectors(s: Session, selectors: Any, provider_branch: str | None) -> list[dict[str, Any]]:
    if selectors is None:
        return []
    if not isinstance(selectors, list):
        raise _err("consumerVersionSelectors must be an array")
    out = []
    for i, sel in enumerate(selectors):
        where = f"consumerVersionSelectors[{i}]"
        if not isinstance(sel, dict):
            raise _err(f"{where} must be an object")
        unknown = set(sel) - SELECTOR_KEYS
        if unknown:
            raise _err(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(SELECTOR_KEYS))})"
            )
        for key in ("mainBranch", "matchingBranch", "deployed", "released", "deployedOrReleased", "latest"):
            if key in sel and not isinstance(sel[key], bool):
                raise _err(f"{where}: {key} must be true or false")
        for key in ("branch", "fallbackBranch", "environment", "tag", "fallbackTag", "consumer"):
            if key in sel and (not isinstance(sel[key], str) or not sel[key].strip()):
                raise _err(f"{where}: {key} must be a non-empty string")
        main_keys = [k for k in ("mainBranch", "branch", "matchingBranch", "tag") if sel.get(k)]
        env_keys = [k for k in ("deployed", "released", "deployedOrReleased", "environment") if sel.get(k)]
        if not main_keys and not env_keys and not sel.get("latest"):
            raise _err(
                f"{where}: must specify a value for environment or tag or branch, or specify mainBranch=true, "
                "matchingBranch=true, latest=true, deployed=true, released=true or deployedOrReleased=true"
            )
        if len(main_keys) > 1:
            raise _err(f"{where}: cannot specify more than one of {', '.join(main_keys)}")
        if main_keys and env_keys:
            raise _err(f"{where}: cannot combine {main_keys[0]} with {env_keys[0]}")
        if sel.get("fallbackTag") and not (sel.get("tag") and sel.get("latest")):
            raise _err(f"{where}: fallbackTag can only be set if tag is set and latest is true")
        if sel.get("fallbackBranch") and not sel.get("branch"):
            raise _err(f"{where}: fallbackBranch can only be set if branch is set")
        if sel.get("matchingBranch") and not provider_branch:
            raise _err(f"{where}: matchingBranch can only be used if providerVersionBranch is set")
        if sel.get("environment") and find_environment(s, name=sel["environment"]) is None:
            raise _err(f"{where}: environment with name '{sel['environment']}' does not exist")
        out.append(sel)
    return out


def _consumers(s: Session, provider: Pacticipant, name: str | None) -> list[Pacticipant]:
    ids = s.scalars(
        select(PactPublication.consumer_id).where(PactPublication.provider_id == provider.id).distinct()
    ).all()
    consumers = list(s.scalars(select(Pacticipant).where(Pacticipant.id.in_(ids))).all()) if ids else []
    if name is not None:
        consumers = [c for c in consumers if c.name == name]
    return sorted(consumers, key=lambda c: c.name)


def _latest_on_branch(s: Session, provider: Pacticipant, consumer: Pacticipant, branch: str) -> int | None:
    branch_id = (
        select(Branch.id).where(Branch.pacticipant_id == consumer.id, Branch.name == branch).scalar_subquery()
    )
    return s.scalar(
        select(func.max(PactPublication.consumer_version_id))
        .join(BranchVersion, BranchVersion.version_id == PactPublication.consumer_version_id)
        .where(
            PactPublication.provider_id == provider.id,
            PactPublication.consumer_id == consumer.id,
            BranchVersion.branch_id == branch_id,
        )
    )


def _with_tag(s: Session, provider: Pacticipant, consumer: Pacticipant, tag: str, latest: bool) -> list[int]:
    q = (
        select(PactPublication.consumer_version_id)
        .join(Tag, Tag.version_id == PactPublication.consumer_version_id)
        .where(
            PactPublication.provider_id == provider.id,
            PactPublication.consumer_id == consumer.id,
            Tag.name == tag,
        )
    )
    ids = sorted(set(s.scalars(q).all()))
    return ids[-1:] if latest else ids


def _in_environments(
    s: Session,
    provider: Pacticipant,
    consumer: Pacticipant,
    *,
    deployed: bool,
    released: bool,
    env: Environment | None,
) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    if deployed:
        q = (
            select(DeployedVersion.version_id, Environment.name)
            .join(Environment, Environment.id == DeployedVersion.environment_id)
            .where(DeployedVersion.pacticipant_id == consumer.id, DeployedVersion.undeployed_at.is_(None))
        )
        if env is not None:
            q = q.where(DeployedVersion.environment_id == env.id)
        out += [(vid, f"currently deployed to {name}") for vid, name in s.execute(q).all()]
    if released:
        q = (
            select(ReleasedVersion.version_id, Environment.name)
            .join(Environment, Environment.id == ReleasedVersion.environment_id)
            .where(ReleasedVersion.pacticipant_id == consumer.id, ReleasedVersion.support_ended_at.is_(None))
        )
        if env is not None:
            q = q.where(ReleasedVersion.environment_id == env.id)
        out += [(vid, f"currently released and supported in {name}") for vid, name in s.execute(q).all()]
    with_pacts = set(
        s.scalars(
            select(PactPublication.consumer_version_id).where(
                PactPublication.provider_id == provider.id,
                PactPublication.consumer_version_id.in_([vid for vid, _ in out] or [-1]),
            )
        ).all()
    )
    return [(vid, why) for vid, why in out if vid in with_pacts]


def _select(
    s: Session, provider: Pacticipant, sel: dict[str, Any], provider_branch: str | None
) -> list[tuple[int, str]]:
    """Consumer version ids picked by one selector, each with the criterion text."""
    picked: list[tuple[int, str]] = []
    for consumer in _consumers(s, provider, sel.get("consumer")):
        if sel.get("mainBranch"):
            if consumer.main_branch:
                vid = _latest_on_branch(s, provider, consumer, consumer.main_branch)
                if vid:
                    picked.append(
                        (
                            vid,
                            f"latest version of {consumer.name} from the main branch '{consumer.main_branch}'",
                        )
                    )
        elif sel.get("branch") or sel.get("matchingBranch"):
            branch = sel.get("branch") or provider_branch
            assert branch is not None
            if sel.get("latest") is False:
                ids = s.scalars(
                    select(PactPublication.consumer_version_id)
                    .join(BranchVersion, BranchVersion.version_id == PactPublication.consumer_version_id)
                    .join(Branch, Branch.id == BranchVersion.branch_id)
                    .where(
                        PactPublication.provider_id == provider.id,
                        PactPublication.consumer_id == consumer.id,
                        Branch.name == branch,
                    )
                ).all()
                picked += [
                    (vid, f"one of the versions of {consumer.name} from branch '{branch}'") for vid in ids
                ]
                continue
            vid = _latest_on_branch(s, provider, consumer, branch)
            why = (
                f"latest version of {consumer.name} from branch '{branch}' (matching the provider branch)"
                if sel.get("matchingBranch")
                else f"latest version of {consumer.name} from branch '{branch}'"
            )
            if vid is None and sel.get("fallbackBranch"):
                vid = _latest_on_branch(s, provider, consumer, sel["fallbackBranch"])
                why = (
                    f"latest version of {consumer.name} from branch '{sel['fallbackBranch']}' "
                    f"(fallback branch used as no version from branch '{branch}' was found)"
                )
            if vid:
                picked.append((vid, why))
        elif sel.get("tag"):
            latest = bool(sel.get("latest"))
            ids = _with_tag(s, provider, consumer, sel["tag"], latest)
            why = (
                f"latest version of {consumer.name} with tag '{sel['tag']}'"
                if latest
                else f"one of the versions of {consumer.name} with tag '{sel['tag']}'"
            )
            if not ids and sel.get("fallbackTag"):
                ids = _with_tag(s, provider, consumer, sel["fallbackTag"], True)
                why = (
                    f"latest version of {consumer.name} with tag '{sel['fallbackTag']}' "
                    f"(fallback tag used as no version with tag '{sel['tag']}' was found)"
                )
            picked += [(vid, why) for vid in ids]
        elif (
            sel.get("deployed")
            or sel.get("released")
            or sel.get("deployedOrReleased")
            or sel.get("environment")
        ):
            env = find_environment(s, name=sel["environment"]) if sel.get("environment") else None
            both = bool(sel.get("deployedOrReleased")) or (
                not sel.get("deployed") and not sel.get("released")
            )
            found = _in_environments(
                s,
                provider,
                consumer,
                deployed=both or bool(sel.get("deployed")),
                released=both or bool(sel.get("released")),
                env=env,
            )
            picked += [(vid, f"version(s) of {consumer.name} {why}") for vid, why in found]
        elif sel.get("latest"):
            vid = s.scalar(
                select(func.max(PactPublication.consumer_version_id)).where(
                    PactPublication.provider_id == provider.id, PactPublication.consumer_id == consumer.id
                )
            )
            if vid:
                picked.append((vid, f"latest version of {consumer.name}"))
    return picked


def _default_selectors(s: Session, provider: Pacticipant) -> list[tuple[int, str]]:
    """No selectors: the latest pact of every consumer (the Pact Broker's historical default)."""
    return _select(s, provider, {"latest": True}, None)


def body_from_query(params: dict[str, Any]) -> dict[str, Any]:
    """A for-verification GET's query (Rack-style, see rackquery) as the POST body it stands for:
    the same keys, with the boolean flags of each selector and includePendingStatus as booleans."""
    body = {k: v for k, v in params.items()}
    if "includePendingStatus" in body:
        body["includePendingStatus"] = str(body["includePendingStatus"]).lower() == "true"
    flags = ("mainBranch", "matchingBranch", "deployed", "released", "deployedOrReleased", "latest")
    for sel in body.get("consumerVersionSelectors") or []:
        if isinstance(sel, dict):
            for key in flags:
                if key in sel and str(sel[key]).lower() in ("true", "false"):
                    sel[key] = str(sel[key]).lower() == "true"
    return body


def pacts_for_verification(s: Session, provider_name: str, body: dict[str, Any]) -> list[Picked]:
    provider = require_pacticipant(s, provider_name)
    provider_branch = body.get("providerVersionBranch") or None
    provider_tags = body.get("providerVersionTags") or []
    if not isinstance(provider_tags, list):
        raise invalid("providerVersionTags", "providerVersionTags must be an array of strings")
    selectors = validate_selectors(s, body.get("consumerVersionSelectors"), provider_branch)
    include_pending = bool(body.get("includePendingStatus"))
    wip_since_raw = body.get("includeWipPactsSince")
    wip_since: datetime | None = None
    if wip_since_raw:
        try:
            wip_since = as_utc(datetime.fromisoformat(str(wip_since_raw).replace("Z", "+00:00")))
        except ValueError as exc:
            raise invalid("includeWipPactsSince", f"'{wip_since_raw}' is not an ISO 8601 date") from exc
        if not include_pending:
            raise invalid(
                "includeWipPactsSince", "WIP pacts can only be included when includePendingStatus is true"
            )

    chosen: list[tuple[int, str]] = []
    if selectors:
        for sel in selectors:
            chosen += _select(s, provider, sel, provider_branch)
    else:
        chosen = _default_selectors(s, provider)

    by_content: dict[int, Picked] = {}
    cv_ids = {cv_id for cv_id, _ in chosen}
    found = (
        s.execute(
            select(PactPublication, PactContent, Pacticipant, Version)
            .join(PactContent, PactContent.id == PactPublication.pact_content_id)
            .join(Pacticipant, Pacticipant.id == PactPublication.consumer_id)
            .join(Version, Version.id == PactPublication.consumer_version_id)
            .where(
                PactPublication.provider_id == provider.id, PactPublication.consumer_version_id.in_(cv_ids)
            )
        ).all()
        if cv_ids
        else []
    )
    by_version = {
        pub.consumer_version_id: (pub, content, consumer, version)
        for pub, content, consumer, version in found
    }
    for cv_id, why in chosen:
        if cv_id not in by_version:
            continue
        pub, content, consumer, version = by_version[cv_id]
        picked = by_content.get(pub.pact_content_id)
        if picked is None:
            picked = by_content[pub.pact_content_id] = Picked(content, consumer)
        if version not in picked.versions:
            picked.versions.append(version)
        text = f"{why} ({version.number})"
        if text not in picked.reasons:
            picked.reasons.append(text)

    if include_pending:
        verified = successfully_verified_by_branch(
            s, list(by_content), provider, provider_branch, provider_tags
        )
        for cid, picked in by_content.items():
            picked.pending = cid not in verified

    result = sorted(by_content.values(), key=lambda p: (p.consumer.name, p.versions[0].id))
    if wip_since is not None:
        result += _wip(s, provider, wip_since, set(by_content), provider_branch, provider_tags)
    return result


def _wip(
    s: Session, provider: Pacticipant, since: datetime, already: set[int], branch: str | None, tags: list[str]
) -> list[Picked]:
    """The newest pact on each consumer branch (and tag) since `since` that is still pending."""
    heads: dict[int, tuple[int, str]] = {}
    branch_heads = s.execute(
        select(PactPublication.consumer_id, Branch.name, func.max(PactPublication.consumer_version_id))
        .join(BranchVersion, BranchVersion.version_id == PactPublication.consumer_version_id)
        .join(Branch, Branch.id == BranchVersion.branch_id)
        .where(PactPublication.provider_id == provider.id)
        .group_by(PactPublication.consumer_id, Branch.name)
    ).all()
    tag_heads = s.execute(
        select(PactPublication.consumer_id, Tag.name, func.max(PactPublication.consumer_version_id))
        .join(Tag, Tag.version_id == PactPublication.consumer_version_id)
        .where(PactPublication.provider_id == provider.id)
        .group_by(PactPublication.consumer_id, Tag.name)
    ).all()
    for consumer_id, name, cv_id in [*branch_heads, *tag_heads]:
        pub = s.scalar(
            select(PactPublication).where(
                PactPublication.consumer_version_id == cv_id, PactPublication.provider_id == provider.id
            )
        )
        if pub is None or as_utc(pub.created_at) < since or pub.pact_content_id in already:
            continue
        kind = "branch" if (consumer_id, name, cv_id) in branch_heads else "tag"
        heads.setdefault(pub.pact_content_id, (cv_id, f"{kind} '{name}'"))
    if not heads:
        return []
    verified = successfully_verified_by_branch(s, list(heads), provider, branch, tags)
    out = []
    for cid, (cv_id, where) in heads.items():
        if cid in verified:
            continue
        content = s.get(PactContent, cid)
        version = s.get(Version, cv_id)
        assert content is not None and version is not None
        consumer = s.get(Pacticipant, content.consumer_id)
        assert consumer is not None
        out.append(
            Picked(
                content,
                consumer,
                [version],
                [f"latest version of {consumer.name} from {where} ({version.number})"],
                pending=True,
                wip=True,
            )
        )
    out.sort(key=lambda p: (p.consumer.name, p.versions[0].id))
    return out
