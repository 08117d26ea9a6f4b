"""The HAL representation of each resource (pacticipant, version, environment, deployment, pact), shared by the routes."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from assay.contracts.broker import selection
from assay.contracts.broker.models import (
    DeployedVersion,
    Environment,
    Pacticipant,
    ReleasedVersion,
    Version,
)
from assay.contracts.broker.routes.base import BrokerBase
from assay.contracts.broker.routes.hal import HAL, Links, q
from assay.contracts.broker.services.deployments import (
    version_environments,
    version_labels,
)
from assay.contracts.broker.services.pacts import PactRef
from assay.contracts.broker.services.values import iso


class Representations(BrokerBase):
    """The HAL body of each resource, shared by the routes that return it."""

    def pacticipant_body(self, p: Pacticipant, L: Links) -> dict[str, Any]:
        return {
            "name": p.name,
            "displayName": p.display_name or p.name,
            "mainBranch": p.main_branch,
            "repositoryUrl": p.repository_url,
            "createdAt": iso(p.created_at),
            "updatedAt": iso(p.updated_at),
            "_links": {
                "self": {"href": L.pacticipant(p.name), "title": "Pacticipant", "name": p.name},
                "pb:versions": {"href": f"{L.pacticipant(p.name)}/versions"},
                "pb:version": {"href": f"{L.pacticipant(p.name)}/versions/{{version}}", "templated": True},
                "pb:version-tag": {
                    "href": f"{L.pacticipant(p.name)}/versions/{{version}}/tags/{{tag}}",
                    "templated": True,
                },
                "pb:branch-version": {
                    "href": f"{L.pacticipant(p.name)}/branches/{{branch}}/versions/{{version}}",
                    "templated": True,
                },
                "pb:latest-version": {"href": f"{L.pacticipant(p.name)}/latest-version"},
                "pb:branches": {"href": f"{L.pacticipant(p.name)}/branches"},
            },
        }

    def version_body(
        self,
        s: Session,
        v: Version,
        L: Links,
        *,
        with_env_links: bool = True,
        known: tuple[list[str], list[str], list[Any]] | None = None,
    ) -> dict[str, Any]:
        """`known` = (branches, tags, environments) when the caller already has them (a fresh version)."""
        p = s.get(Pacticipant, v.pacticipant_id)
        assert p is not None
        if known is not None:
            branches, tags, envs = known
        else:
            all_branches, all_tags = version_labels(s, [v.id])
            branches, tags = all_branches[v.id], all_tags[v.id]
            envs = version_environments(s, [v.id])[v.id]
        bv = [
            {"name": b, "latest": True, "_links": {"self": {"href": L.branch_version(p.name, b, v.number)}}}
            for b in branches
        ]
        tag_list = [{"name": t, "_links": {"self": {"href": L.tag(p.name, v.number, t)}}} for t in tags]
        links: dict[str, Any] = {
            "self": {"title": "Version", "name": v.number, "href": L.version(p.name, v.number)},
            "pb:pacticipant": {"title": "Pacticipant", "name": p.name, "href": L.pacticipant(p.name)},
            "pb:tag": {"href": f"{L.version(p.name, v.number)}/tags/{{tag}}", "templated": True},
        }
        if with_env_links:
            all_envs = s.scalars(select(Environment).order_by(Environment.id)).all()
            links["pb:record-deployment"] = [
                {
                    "name": e.name,
                    "title": f"Record deployment to {e.display_name or e.name}",
                    "href": f"{L.version(p.name, v.number)}/deployed-versions/environment/{e.uuid}",
                }
                for e in all_envs
            ]
            links["pb:record-release"] = [
                {
                    "name": e.name,
                    "title": f"Record release to {e.display_name or e.name}",
                    "href": f"{L.version(p.name, v.number)}/released-versions/environment/{e.uuid}",
                }
                for e in all_envs
            ]
        return {
            "number": v.number,
            "buildUrl": v.build_url,
            "createdAt": iso(v.created_at),
            "branchVersions": bv,
            "tags": tag_list,
            "environments": [{"name": e.name, "uuid": e.uuid} for e in envs],
            "_embedded": {"branchVersions": bv, "tags": tag_list},
            "_links": links,
        }

    def environment_body(self, e: Environment, L: Links) -> dict[str, Any]:
        return {
            "uuid": e.uuid,
            "name": e.name,
            "displayName": e.display_name,
            "production": e.production,
            "createdAt": iso(e.created_at),
            "updatedAt": iso(e.updated_at),
            "_links": {
                "self": {"title": "Environment", "name": e.name, "href": L.environment(e.uuid)},
                "pb:currently-deployed-deployed-versions": {
                    "href": f"{L.environment(e.uuid)}/deployed-versions/currently-deployed"
                },
                "pb:currently-supported-released-versions": {
                    "href": f"{L.environment(e.uuid)}/released-versions/currently-supported"
                },
                "pb:environments": {"href": f"{L.base}/environments"},
            },
        }

    def deployed_body(self, s: Session, dv: DeployedVersion | ReleasedVersion, L: Links) -> dict[str, Any]:
        v = s.get(Version, dv.version_id)
        e = s.get(Environment, dv.environment_id)
        p = s.get(Pacticipant, dv.pacticipant_id)
        assert v is not None and e is not None and p is not None
        version = self.version_body(s, v, L, with_env_links=False)
        version["_embedded"]["pacticipant"] = {
            "name": p.name,
            "_links": {"self": {"href": L.pacticipant(p.name)}},
        }
        if isinstance(dv, DeployedVersion):
            body: dict[str, Any] = {
                "uuid": dv.uuid,
                "currentlyDeployed": dv.undeployed_at is None,
                "applicationInstance": dv.application_instance,
                "target": dv.application_instance,
                "createdAt": iso(dv.created_at),
                "undeployedAt": iso(dv.undeployed_at),
                "_links": {"self": {"href": f"{L.base}/deployed-versions/{dv.uuid}"}},
            }
        else:
            body = {
                "uuid": dv.uuid,
                "currentlySupported": dv.support_ended_at is None,
                "createdAt": iso(dv.created_at),
                "supportEndedAt": iso(dv.support_ended_at),
                "_links": {"self": {"href": f"{L.base}/released-versions/{dv.uuid}"}},
            }
        body["_embedded"] = {
            "version": version,
            "environment": self.environment_body(e, L),
            "pacticipant": {"name": p.name},
        }
        return body

    def pact_links(self, ref: PactRef, L: Links) -> dict[str, Any]:
        c, p, sha = ref.consumer.name, ref.provider.name, ref.content.sha
        self_href = (
            L.pact(p, c, ref.consumer_version.number) if ref.consumer_version else L.pact_version(p, c, sha)
        )
        cv = ref.consumer_version.number if ref.consumer_version else None
        return {
            "self": {"title": "Pact", "name": f"Pact between {c} ({cv}) and {p}", "href": self_href},
            "pb:consumer": {"title": "Consumer", "name": c, "href": L.pacticipant(c)},
            "pb:consumer-version": {"title": "Consumer version", "name": cv, "href": L.version(c, cv)}
            if cv
            else None,
            "pb:provider": {"title": "Provider", "name": p, "href": L.pacticipant(p)},
            "pb:pact-version": {
                "title": "Pact content version permalink",
                "name": sha,
                "href": L.pact_version(p, c, sha),
            },
            "pb:latest-pact-version": {
                "title": "Latest version of this pact",
                "href": f"{L.base}/pacts/provider/{q(p)}/consumer/{q(c)}/latest",
            },
            "pb:publish-verification-results": {
                "title": "Publish verification results",
                "href": f"{L.pact_version(p, c, sha)}/verification-results",
            },
        }

    def pact_document(self, ref: PactRef, L: Links) -> Response:
        """The published bytes, unchanged, with `_links` spliced in before the closing brace."""
        links = {k: v for k, v in self.pact_links(ref, L).items() if v is not None}
        raw = ref.content.content
        end = raw.rstrip()
        if end.endswith(b"}"):
            idx = len(end) - 1
            inner = end[:idx].rstrip()
            sep = b"," if not inner.endswith(b"{") else b""
            splice = sep + b'"_links":' + json.dumps(links, ensure_ascii=False).encode() + b"}"
            body = end[:idx] + splice + raw[len(end) :]
        else:  # not an object (cannot happen: publish validates), serve as stored
            body = raw
        return Response(body, media_type=HAL)

    def verifiable_body(
        self, p: selection.Picked, provider: str, include_pending: bool, branch: str | None, L: Links
    ) -> dict[str, Any]:
        """One pact to verify, with the notices pact_broker gives (why it was picked, WIP, pending)."""
        href = L.pact_version(provider, p.consumer.name, p.content.sha)
        versions = ", ".join(v.number for v in p.versions)
        notices = [
            {
                "when": "before_verification",
                "text": f"The pact at {href} is being verified because the pact content belongs to the consumer "
                f"version{'s' if len(p.versions) > 1 else ''} matching the following criteri"
                f"{'a' if len(p.reasons) > 1 else 'on'}:\n" + "\n".join(f"    * {r}" for r in p.reasons),
            }
        ]
        where = f"a version of {provider} from branch '{branch}'" if branch else f"any version of {provider}"
        if p.wip:
            notices.append(
                {
                    "when": "before_verification",
                    "text": "This pact is being verified because it is a 'work in progress' pact (ie. it is the "
                    f"pact for {p.reasons[0]} and it has not yet been successfully verified by {where}).",
                }
            )
        if include_pending:
            if p.pending:
                notices.append(
                    {
                        "when": "before_verification",
                        "text": f"This pact is in pending state for this version of {provider} because a "
                        f"successful verification result for {where} does not yet exist. As such, "
                        "it will not affect the build result.",
                    }
                )
                notices.append(
                    {
                        "when": "after_verification:success_true",
                        "text": "This pact is still in pending state for this version of "
                        f"{provider} as the successfully verified results have not yet been published.",
                    }
                )
                notices.append(
                    {
                        "when": "after_verification:success_false",
                        "text": "Failure! This pact is in pending state for this version of "
                        f"{provider} because a successful verification result for {where} does not "
                        "yet exist. As such, it will not affect the build result.",
                    }
                )
            else:
                notices.append(
                    {
                        "when": "before_verification",
                        "text": f"This pact has previously been successfully verified by {where}. If this "
                        "verification fails, it will fail the build.",
                    }
                )
        props: dict[str, Any] = {"notices": notices}
        if include_pending:
            props["pending"] = p.pending
        if p.wip:
            props["wip"] = True
        short = "; ".join(p.reasons)
        return {
            "shortDescription": short,
            "verificationProperties": props,
            "_links": {
                "self": {"href": href, "name": f"Pact between {p.consumer.name} ({versions}) and {provider}"}
            },
        }
