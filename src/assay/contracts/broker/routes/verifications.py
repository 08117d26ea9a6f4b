"""Verification: which pacts a provider should verify (for-verification), and its results."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from assay.contracts.broker import rackquery, selection
from assay.contracts.broker.models import (
    Verification,
    Version,
)
from assay.contracts.broker.routes.hal import Links, hal, q
from assay.contracts.broker.routes.representations import Representations
from assay.contracts.broker.services.errors import not_found
from assay.contracts.broker.services.pacts import PactRef, resolve_pact
from assay.contracts.broker.services.values import iso
from assay.contracts.broker.services.verifications import publish_verification


class VerificationRoutes(Representations):
    """Handlers for verifications; each parses, opens one transaction, calls the broker's services and renders HAL."""

    def for_verification(self, request: Request, L: Links) -> Response:
        """GET (query parameters) or POST (JSON body): both are reads."""
        provider = request.path_params["provider"]
        if request.method != "POST":
            params = rackquery.parse(request.query_params.multi_items())
            if not params:
                return hal(
                    {
                        "_links": {
                            "self": {
                                "href": f"{L.base}/pacts/provider/{q(provider)}/for-verification",
                                "title": "Pacts to be verified",
                            }
                        }
                    }
                )
            body: Any = selection.body_from_query(params)
        else:
            body = self.json_object(request)
        with self.reads() as s:
            picked = selection.pacts_for_verification(s, provider, body)
            include_pending = bool(body.get("includePendingStatus"))
            branch = body.get("providerVersionBranch")
            pacts = [self.verifiable_body(p, provider, include_pending, branch, L) for p in picked]
        return hal(
            {
                "_embedded": {"pacts": pacts},
                "_links": {
                    "self": {
                        "href": f"{L.base}/pacts/provider/{q(provider)}/for-verification",
                        "title": "Pacts to be verified",
                    }
                },
            }
        )

    def post_verification(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        body = self.json_body(request)
        with self.write() as s:
            ver, ref, pv, events = publish_verification(
                s, pp["provider"], pp["consumer"], pp["sha"], body
            )
            resp = self._verification_body(s, ver, ref, pv, L)
            deliveries = self.dispatcher.deliveries(s, events, L.base)
        self.dispatcher.submit(deliveries)
        return hal(resp, 201, headers={"Location": resp["_links"]["self"]["href"]})

    def get_verification(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            ref = resolve_pact(s, pp["provider"], pp["consumer"], sha=pp["sha"])
            try:
                vid = int(pp["id"])
            except ValueError as exc:
                raise not_found("No such verification result") from exc
            ver = s.get(Verification, vid)
            if ver is None or ver.pact_content_id != ref.content.id:
                raise not_found(f"No verification result {pp['id']} for this pact")
            pv = s.get(Version, ver.provider_version_id)
            assert pv is not None
            return hal(self._verification_body(s, ver, ref, pv, L))

    def _verification_body(
        self, s: Session, ver: Verification, ref: PactRef, pv: Version, L: Links
    ) -> dict[str, Any]:
        p, c, sha = ref.provider.name, ref.consumer.name, ref.content.sha
        return {
            "providerName": p,
            "providerApplicationVersion": pv.number,
            "success": ver.success,
            "verificationDate": iso(ver.created_at),
            "buildUrl": ver.build_url,
            "testResults": json.loads(ver.test_results) if ver.test_results else None,
            "verifiedBy": json.loads(ver.verified_by) if ver.verified_by else None,
            "verificationKind": ver.kind or "pact",
            "_links": {
                "self": {
                    "title": "Verification result",
                    "name": f"Verification result {ver.id} for {c} and {p}",
                    "href": L.verification(p, c, sha, ver.id),
                },
                "pb:pact-version": {"title": "Pact", "href": L.pact_version(p, c, sha)},
                "pb:provider-version": {
                    "title": "Provider version",
                    "name": pv.number,
                    "href": L.version(p, pv.number),
                },
            },
        }
