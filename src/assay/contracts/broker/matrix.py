"""The matrix and can-i-deploy: which versions have verified pacts with which.

The Pact Broker builds one large join over every version; on big brokers that is
its most-complained-about query.  Here a question about one version walks only
that version's pacts and the handful of counterpart versions that matter (those
in the target environment, or the latest by tag or branch), each step an indexed
lookup, so the cost does not grow with the history of the broker.

Verdict rules follow the Pact Broker's DeploymentStatusSummary: a specified
version that does not exist gives false; any row without a verification, or a
required provider missing from the target, gives null (unknown); otherwise every
row must have succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from assay.contracts.broker.models import (
    Environment,
    PactContent,
    Pacticipant,
    PactPublication,
    Tag,
    Verification,
    Version,
)
from assay.contracts.broker.services.deployments import env_versions, in_environment
from assay.contracts.broker.services.environments import require_environment_named
from assay.contracts.broker.services.errors import invalid
from assay.contracts.broker.services.pacticipants import find_pacticipant, find_version, latest_version
from assay.contracts.broker.services.verifications import latest_verification


@dataclass
class Selector:
    """One `q[]` entry: a pacticipant and which of its versions."""

    pacticipant: str
    version: str | None = None
    latest: bool = False
    tag: str | None = None
    branch: str | None = None
    main_branch: bool = False

    def describe(self, number: str | None = None) -> str:
        if self.version:
            return f"version {self.version} of {self.pacticipant}"
        what = (
            f"latest version of {self.pacticipant} with tag {self.tag}"
            if self.tag
            else f"latest version of {self.pacticipant} from branch {self.branch}"
            if self.branch
            else f"latest version of {self.pacticipant} from main branch"
            if self.main_branch
            else f"latest version of {self.pacticipant}"
        )
        return f"{what} ({number})" if number else what


@dataclass
class Target:
    """Where the selected version is going: an environment, a tag, the latest, or the main branch."""

    environment: Environment | None = None
    tag: str | None = None
    latest: bool = False
    main_branch: bool = False

    @property
    def given(self) -> bool:
        return self.environment is not None or self.tag is not None or self.latest or self.main_branch

    def describe(self, pacticipant: str, number: str | None) -> str:
        if self.environment is not None:
            base = f"the version of {pacticipant} currently in {self.environment.name}"
        elif self.tag:
            base = f"the latest version of {pacticipant} with tag {self.tag}"
        elif self.main_branch:
            base = f"the latest version of {pacticipant} from the main branch"
        elif self.latest:
            base = f"the latest version of {pacticipant}"
        else:
            base = f"a version of {pacticipant}"
        return f"{base} ({number})" if number else base


@dataclass
class Row:
    consumer: Pacticipant
    consumer_version: Version
    provider: Pacticipant
    provider_version: Version | None
    content: PactContent | None
    pact_created_at: Any
    verification: Verification | None
    ignored: bool = False

    @property
    def success(self) -> bool | None:
        return None if self.verification is None else self.verification.success


@dataclass
class MatrixResult:
    rows: list[Row]
    deployable: bool | None
    reasons: list[str]
    notices: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _bool(value: Any) -> bool:
    return str(value).lower() in ("true", "1", "yes")


def selectors_from_query(query: dict[str, Any]) -> list[Selector]:
    raw = query.get("q")
    if raw is None:
        raise invalid("q", "Please provide 1 or more version selectors.")
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(q, dict) for q in raw):
        raise invalid("q", "Please provide 1 or more version selectors.")
    out = []
    for i, q in enumerate(raw):
        name = q.get("pacticipant")
        if not isinstance(name, str) or not name:
            raise invalid("q", f"Please specify the pacticipant name for selector {i + 1}")
        out.append(
            Selector(
                pacticipant=name,
                version=q.get("version") or None,
                latest=_bool(q.get("latest")),
                tag=q.get("tag") or None,
                branch=q.get("branch") or None,
                main_branch=_bool(q.get("mainBranch")),
            )
        )
    return out


@dataclass
class MatrixQuery:
    """What a /matrix or /can-i-deploy request asks: whose versions, against what, ignoring whom."""

    selectors: list[Selector]
    target: Target
    ignore: list[Selector]
    limit: int


def parse_query(s: Session, params: dict[str, Any], *, can_i_deploy: bool) -> MatrixQuery:
    """The query of a /matrix or /can-i-deploy request (Rack-style parameters, see rackquery), as the
    Pact Broker reads it; a located 400 BrokerError for a missing pacticipant, environment or a bad limit."""
    if can_i_deploy:
        name = params.get("pacticipant")
        if not name:
            raise invalid("pacticipant", "Please specify the pacticipant")
        selectors = [
            Selector(
                pacticipant=name,
                version=params.get("version") or None,
                latest=not params.get("version"),
                tag=params.get("tag") or None,
                branch=params.get("branch") or None,
                main_branch=str(params.get("mainBranch", "")).lower() == "true",
            )
        ]
        if selectors[0].tag or selectors[0].branch:
            selectors[0].latest = True
        env_name = params.get("environment") or params.get("to-environment")
        if not env_name:
            raise invalid("environment", "Please specify the environment")
        target = Target(environment=require_environment_named(s, env_name))
        ignore_raw = params.get("ignore") or []
        ignore = [
            Selector(pacticipant=i)
            if isinstance(i, str)
            else Selector(pacticipant=i.get("pacticipant", ""), version=i.get("version"))
            for i in (ignore_raw if isinstance(ignore_raw, list) else [ignore_raw])
        ]
    else:
        selectors = selectors_from_query(params)
        target = Target()
        if params.get("environment"):
            target.environment = require_environment_named(s, params["environment"])
        elif params.get("tag"):
            target.tag = params["tag"]
        elif str(params.get("mainBranch", "")).lower() == "true":
            target.main_branch = True
        elif str(params.get("latest", "")).lower() == "true":
            target.latest = True
        ignore_raw = params.get("ignore") or []
        if isinstance(ignore_raw, dict):
            ignore_raw = [ignore_raw]
        ignore = [
            Selector(pacticipant=i.get("pacticipant", ""), version=i.get("version"))
            for i in ignore_raw
            if isinstance(i, dict)
        ]
    try:
        limit = int(params.get("limit") or 100)
    except ValueError as exc:
        raise invalid("limit", "limit must be an integer") from exc
    return MatrixQuery(selectors, target, ignore, limit)


def resolve_selector(s: Session, sel: Selector) -> tuple[Pacticipant, list[Version]]:
    if sel.version is not None:  # the common case, in one round trip
        found = s.execute(
            select(Pacticipant, Version)
            .outerjoin(Version, and_(Version.pacticipant_id == Pacticipant.id, Version.number == sel.version))
            .where(Pacticipant.name == sel.pacticipant)
        ).first()
        if found is None:
            raise invalid("q", f"Pacticipant {sel.pacticipant} not found")
        return found[0], [found[1]] if found[1] is not None else []
    p = find_pacticipant(s, sel.pacticipant)
    if p is None:
        raise invalid("q", f"Pacticipant {sel.pacticipant} not found")
    if sel.tag is not None:
        if sel.latest:
            v = latest_version(s, p, tag=sel.tag)
            return p, [v] if v else []
        ids = s.scalars(select(Tag.version_id).where(Tag.pacticipant_id == p.id, Tag.name == sel.tag)).all()
        return p, [v for v in (s.get(Version, i) for i in ids) if v]
    if sel.branch is not None or sel.main_branch:
        branch = sel.branch or p.main_branch
        v = latest_version(s, p, branch=branch) if branch else None
        return p, [v] if v else []
    v = latest_version(s, p)
    return p, [v] if v else []


def _target_versions(
    s: Session, p: Pacticipant, target: Target, env_cache: dict[int, set[int]] | None
) -> list[int]:
    if target.environment is not None:
        assert env_cache is not None
        return sorted(env_cache.get(p.id, set()))
    if target.tag is not None:
        v = latest_version(s, p, tag=target.tag)
    elif target.main_branch:
        v = latest_version(s, p, branch=p.main_branch) if p.main_branch else None
    else:
        v = latest_version(s, p)
    return [v.id] if v else []


def _versions(s: Session, ids: set[int]) -> dict[int, Version]:
    if not ids:
        return {}
    return {v.id: v for v in s.scalars(select(Version).where(Version.id.in_(ids))).all()}


def _latest_verifications(s: Session, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Verification]:
    """Latest verification per (pact content, provider version), in one query."""
    if not pairs:
        return {}
    rows = s.scalars(
        select(Verification)
        .where(
            Verification.pact_content_id.in_({c for c, _ in pairs}),
            Verification.provider_version_id.in_({p for _, p in pairs}),
        )
        .order_by(Verification.id)
    ).all()
    out: dict[tuple[int, int], Verification] = {}
    for v in rows:
        key = (v.pact_content_id, v.provider_version_id)
        if key in pairs:
            out[key] = v  # ordered by id: the last one wins
    return out


def _rows_as_consumer(
    s: Session, version: Version, consumer: Pacticipant, target: Target, env_cache: dict[int, set[int]] | None
) -> tuple[list[Row], list[Pacticipant]]:
    """Rows for `version` as a consumer; also the providers that are required but absent from the target."""
    rows: list[Row] = []
    missing: list[Pacticipant] = []
    entries = s.execute(
        select(PactPublication, Pacticipant, PactContent)
        .join(Pacticipant, Pacticipant.id == PactPublication.provider_id)
        .join(PactContent, PactContent.id == PactPublication.pact_content_id)
        .where(PactPublication.consumer_version_id == version.id)
        .order_by(Pacticipant.name)
    ).all()
    if target.given:
        if target.environment is not None:
            in_env = (
                env_versions(s, target.environment, [prov.id for _pub, prov, _c in entries])
                if entries
                else {}
            )
            targets = {prov.id: [v.id for v in in_env.get(prov.id, [])] for _pub, prov, _c in entries}
            pv_by_id = {v.id: v for vs in in_env.values() for v in vs}
        else:
            targets = {prov.id: _target_versions(s, prov, target, env_cache) for _pub, prov, _c in entries}
            pv_by_id = _versions(s, {pv for ids in targets.values() for pv in ids})
        vers = _latest_verifications(
            s, {(content.id, pv) for _pub, prov, content in entries for pv in targets[prov.id]}
        )
        for pub, provider, content in entries:
            if not targets[provider.id]:
                missing.append(provider)
                rows.append(Row(consumer, version, provider, None, content, pub.created_at, None))
                continue
            for pv_id in targets[provider.id]:
                rows.append(
                    Row(
                        consumer,
                        version,
                        provider,
                        pv_by_id[pv_id],
                        content,
                        pub.created_at,
                        vers.get((content.id, pv_id)),
                    )
                )
        return rows, missing
    for pub, provider, content in entries:
        # Every provider version that verified this pact (latest result per provider version).
        latest_ids = s.scalars(
            select(func.max(Verification.id))
            .where(Verification.pact_content_id == content.id)
            .group_by(Verification.provider_version_id)
        ).all()
        found = sorted(
            s.scalars(select(Verification).where(Verification.id.in_(latest_ids))).all(), key=lambda v: -v.id
        )
        if not found:
            rows.append(Row(consumer, version, provider, None, content, pub.created_at, None))
        pvs = _versions(s, {v.provider_version_id for v in found})
        for ver in found:
            rows.append(
                Row(consumer, version, provider, pvs[ver.provider_version_id], content, pub.created_at, ver)
            )
    return rows, missing


def _rows_as_provider(
    s: Session, version: Version, provider: Pacticipant, target: Target, env_cache: dict[int, set[int]] | None
) -> list[Row]:
    """Rows for `version` as a provider: consumers in the target must have their pacts verified by it."""
    base = (
        select(PactPublication, Pacticipant, Version, PactContent)
        .join(Pacticipant, Pacticipant.id == PactPublication.consumer_id)
        .join(Version, Version.id == PactPublication.consumer_version_id)
        .join(PactContent, PactContent.id == PactPublication.pact_content_id)
        .where(PactPublication.provider_id == provider.id)
    )
    if target.given:
        if target.environment is not None:
            # the pacts whose consumer version is in the environment, in one query
            entries = s.execute(
                base.where(
                    PactPublication.consumer_version_id.in_(in_environment(target.environment)),
                    PactPublication.consumer_id != provider.id,
                )
            ).all()
        else:
            cv_ids: set[int] = set()
            for cid in s.scalars(
                select(PactPublication.consumer_id)
                .where(PactPublication.provider_id == provider.id)
                .distinct()
            ).all():
                consumer = s.get(Pacticipant, cid)
                assert consumer is not None
                cv_ids.update(_target_versions(s, consumer, target, env_cache))
            entries = (
                s.execute(base.where(PactPublication.consumer_version_id.in_(cv_ids))).all() if cv_ids else []
            )
    else:
        # Without a target: the pacts this provider version has verified (newest publication of each).
        content_ids = s.scalars(
            select(Verification.pact_content_id)
            .where(Verification.provider_version_id == version.id)
            .distinct()
        ).all()
        newest = (
            s.scalars(
                select(func.max(PactPublication.id))
                .where(PactPublication.pact_content_id.in_(content_ids))
                .group_by(PactPublication.pact_content_id)
            ).all()
            if content_ids
            else []
        )
        entries = s.execute(base.where(PactPublication.id.in_(newest))).all() if newest else []
    vers = _latest_verifications(s, {(content.id, version.id) for _p, _c, _v, content in entries})
    rows = [
        Row(consumer, cv, provider, version, content, pub.created_at, vers.get((content.id, version.id)))
        for pub, consumer, cv, content in entries
    ]
    rows.sort(key=lambda r: (r.consumer.name, r.consumer_version.id))
    return rows


def _rows_between(s: Session, a: Version, b: Version) -> list[Row]:
    rows = []
    for consumer_v, provider_v in ((a, b), (b, a)):
        pub = s.scalar(
            select(PactPublication).where(
                PactPublication.consumer_version_id == consumer_v.id,
                PactPublication.provider_id == provider_v.pacticipant_id,
            )
        )
        if pub is None:
            continue
        consumer = s.get(Pacticipant, consumer_v.pacticipant_id)
        provider = s.get(Pacticipant, provider_v.pacticipant_id)
        content = s.get(PactContent, pub.pact_content_id)
        assert consumer is not None and provider is not None and content is not None
        ver = latest_verification(s, content.id, provider_v.id)
        rows.append(Row(consumer, consumer_v, provider, provider_v, content, pub.created_at, ver))
    return rows


def compute(
    s: Session,
    selectors: list[Selector],
    target: Target,
    *,
    ignore: list[Selector] | None = None,
    limit: int = 100,
) -> MatrixResult:
    if not selectors:
        raise invalid("q", "Please provide 1 or more version selectors.")
    ignore = ignore or []
    ignored_names = {i.pacticipant for i in ignore if i.version is None}
    ignored_versions = {(i.pacticipant, i.version) for i in ignore if i.version is not None}
    reasons_err: list[str] = []
    warnings: list[str] = []
    for i in ignore:
        p = find_pacticipant(s, i.pacticipant)
        if p is None or (i.version is not None and find_version(s, p, i.version) is None):
            warnings.append(f"WARNING: Cannot ignore {i.describe()}")
    resolved: list[tuple[Selector, Pacticipant, list[Version]]] = []
    for sel in selectors:
        p, versions = resolve_selector(s, sel)
        resolved.append((sel, p, versions))
        if not versions:
            if sel.tag:
                reasons_err.append(f"No version with tag {sel.tag} exists for {sel.pacticipant}")
            elif sel.version:
                reasons_err.append(
                    f"No pacts or verifications have been published for version {sel.version} of {sel.pacticipant}"
                )
            else:
                reasons_err.append(f"No pacts or verifications have been published for {sel.pacticipant}")
    rows: list[Row] = []
    env_cache: dict[int, set[int]] | None = None  # filled per side, only for the pacticipants involved
    if not reasons_err:
        if len(resolved) == 1:
            _sel, p, versions = resolved[0]
            for v in versions:
                as_consumer, _absent = _rows_as_consumer(s, v, p, target, env_cache)
                rows.extend(as_consumer)
                rows.extend(_rows_as_provider(s, v, p, target, env_cache))
        else:
            for idx, (_sa, _pa, va) in enumerate(resolved):
                for _sb, _pb, vb in resolved[idx + 1 :]:
                    for a in va:
                        for b in vb:
                            rows.extend(_rows_between(s, a, b))
    for row in rows:
        if row.consumer.name in ignored_names or row.provider.name in ignored_names:
            row.ignored = True
        if (row.consumer.name, row.consumer_version.number) in ignored_versions or (
            row.provider_version is not None
            and (row.provider.name, row.provider_version.number) in ignored_versions
        ):
            row.ignored = True
    considered = [r for r in rows if not r.ignored]
    sel_by_name = {sel.pacticipant: (sel, vs) for sel, _p, vs in resolved}

    def describe(name: str, version: Version | None, *, is_target_side: bool) -> str:
        if name in sel_by_name:
            sel, _vs = sel_by_name[name]
            return sel.describe(None if sel.version else (version.number if version else None))
        if target.given and is_target_side:
            return target.describe(name, version.number if version else None)
        return f"version {version.number} of {name}" if version else f"a version of {name}"

    failure, unknown = [], []
    for r in rows:
        prefix = "[IGNORED] " if r.ignored else ""
        c = describe(r.consumer.name, r.consumer_version, is_target_side=r.consumer.name not in sel_by_name)
        pdesc = describe(
            r.provider.name, r.provider_version, is_target_side=r.provider.name not in sel_by_name
        )
        if r.success is False:
            failure.append(f"{prefix}The verification for the pact between {c} and {pdesc} failed")
        elif r.success is None:
            unknown.append(f"{prefix}There is no verified pact between {c} and {pdesc}")
    if reasons_err:
        deployable: bool | None = False
    elif any(r.success is None for r in considered):
        deployable = None
    else:
        deployable = all(r.success for r in considered)
    errors = reasons_err or list(dict.fromkeys([*failure, *unknown]))
    if errors and not reasons_err and deployable:
        errors = [e for e in errors if e.startswith("[IGNORED]")]
    if deployable:
        base = (
            ["All required verification results are published and successful"]
            if considered
            else ["There are no missing dependencies"]
        )
        reasons = base + errors + warnings
    else:
        reasons = errors + warnings
    notices = [
        {"type": "success" if deployable else "error" if deployable is False else "warning", "text": text}
        for text in reasons
    ]
    counts = {
        "success": sum(1 for r in considered if r.success),
        "failed": sum(1 for r in considered if r.success is False),
        "unknown": sum(1 for r in considered if r.success is None),
    }
    if any(r.ignored for r in rows):
        counts["ignored"] = sum(1 for r in rows if r.ignored)
    return MatrixResult(rows[:limit], deployable, reasons, notices, counts)
