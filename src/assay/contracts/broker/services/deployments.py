"""Deployments and releases: which versions are in which environment, recorded and undone."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session

from assay.contracts.broker.models import (
    Branch,
    BranchVersion,
    DeployedVersion,
    Environment,
    Pacticipant,
    ReleasedVersion,
    Tag,
    Version,
)
from assay.contracts.broker.services.errors import not_found
from assay.contracts.broker.services.pacticipants import find_pacticipant
from assay.contracts.broker.services.values import now


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
