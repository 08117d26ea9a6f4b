"""Pacticipants and their versions, branches and tags: found, required or created on first use."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.contracts.broker.models import (
    Branch,
    BranchVersion,
    Pacticipant,
    Tag,
    Version,
)
from assay.contracts.broker.services.errors import not_found
from assay.contracts.broker.services.values import check_name, now

MAIN_BRANCH_CANDIDATES = ("main", "master", "develop")


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


def pacticipant_name(s: Session, pacticipant_id: int) -> str:
    """The name of a pacticipant by id ('' when it is gone)."""
    p = s.get(Pacticipant, pacticipant_id)
    return p.name if p is not None else ""
