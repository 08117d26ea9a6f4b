"""The matrix and can-i-deploy: the query is parsed next to the matrix (broker.matrix), rendered here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from assay.contracts.broker import matrix as mx
from assay.contracts.broker import rackquery
from assay.contracts.broker.models import (
    Pacticipant,
    Version,
)
from assay.contracts.broker.routes.hal import Links, hal
from assay.contracts.broker.routes.representations import Representations
from assay.contracts.broker.services.deployments import (
    version_environments,
    version_labels,
)
from assay.contracts.broker.services.values import iso


class MatrixRoutes(Representations):
    """Handlers for matrix; each parses, opens one transaction, calls the broker's services and renders HAL."""

    def matrix(self, request: Request, L: Links) -> Response:
        params = rackquery.parse(request.query_params.multi_items())
        with self.reads() as s:
            query = mx.parse_query(s, params, can_i_deploy=request.url.path.endswith("/can-i-deploy"))
            result = mx.compute(s, query.selectors, query.target, ignore=query.ignore, limit=query.limit)
            rows = self._matrix_rows(s, result.rows, L)
        summary: dict[str, Any] = {
            "deployable": result.deployable,
            "reason": "\n".join(result.reasons),
            **result.counts,
        }
        return hal(
            {
                "summary": summary,
                "notices": result.notices,
                "matrix": rows,
                "_links": {"self": {"href": str(request.url)}},
            }
        )

    def _matrix_rows(self, s: Session, rows: list[mx.Row], L: Links) -> list[dict[str, Any]]:
        vids = list(
            {r.consumer_version.id for r in rows}
            | {r.provider_version.id for r in rows if r.provider_version}
        )
        branches, tags = version_labels(s, vids)
        envs = version_environments(s, vids)

        def version(p: Pacticipant, v: Version) -> dict[str, Any]:
            return {
                "number": v.number,
                "branch": branches[v.id][-1] if branches[v.id] else None,
                "branches": [{"name": b} for b in branches[v.id]],
                "branchVersions": [{"name": b, "latest": True} for b in branches[v.id]],
                "environments": [
                    {
                        "uuid": e.uuid,
                        "name": e.name,
                        "displayName": e.display_name,
                        "production": e.production,
                    }
                    for e in envs[v.id]
                ],
                "tags": [{"name": t, "latest": False} for t in tags[v.id]],
                "_links": {"self": {"href": L.version(p.name, v.number)}},
            }

        out = []
        for r in rows:
            row: dict[str, Any] = {
                "consumer": {
                    "name": r.consumer.name,
                    "_links": {"self": {"href": L.pacticipant(r.consumer.name)}},
                    "version": version(r.consumer, r.consumer_version),
                },
                "provider": {
                    "name": r.provider.name,
                    "_links": {"self": {"href": L.pacticipant(r.provider.name)}},
                    "version": version(r.provider, r.provider_version) if r.provider_version else None,
                },
                "pact": {
                    "createdAt": iso(r.pact_created_at),
                    "_links": {
                        "self": {"href": L.pact(r.provider.name, r.consumer.name, r.consumer_version.number)}
                    },
                }
                if r.content is not None
                else None,
                "verificationResult": {
                    "success": r.verification.success,
                    "verifiedAt": iso(r.verification.created_at),
                    # "pact": the provider ran the pact; "bidirectional": cross-checked against its OpenAPI
                    "verificationKind": r.verification.kind or "pact",
                    "_links": {
                        "self": {
                            "href": L.verification(
                                r.provider.name, r.consumer.name, r.content.sha, r.verification.id
                            )
                        }
                    },
                }
                if r.verification is not None and r.content is not None
                else None,
            }
            if r.ignored:
                row["ignored"] = True
            out.append(row)
        return out
