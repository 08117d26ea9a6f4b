"""Pacts and provider contracts: publishing (one or a batch), reading, the latest per provider."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from assay.contracts.broker import provider_contracts as pcs
from assay.contracts.broker.routes.hal import Links, hal
from assay.contracts.broker.routes.representations import Representations
from assay.contracts.broker.services.errors import invalid, not_found
from assay.contracts.broker.services.pacticipants import (
    ensure_pacticipant,
    ensure_version,
    pacticipant_name,
    require_pacticipant,
)
from assay.contracts.broker.services.pacts import PactRef, latest_pacts, resolve_pact
from assay.contracts.broker.services.publishing import parse_pact, publish_contracts, store_pact
from assay.contracts.broker.services.values import iso


class PactRoutes(Representations):
    """Handlers for pacts; each parses, opens one transaction, calls the broker's services and renders HAL."""

    def publish_contracts(self, request: Request, L: Links) -> Response:
        body = self.json_body(request)
        with self.write() as s:
            hooks = self.dispatcher.enabled_hooks(s)
            listening = any("contract_content_changed" in json.loads(h.events) for h in hooks)
            out = publish_contracts(s, body, track_changes=listening)
            name, number = out.pacticipant.name, out.version.number
            resp: dict[str, Any] = {
                "notices": out.notices,
                "logs": [
                    {"level": n["type"], "message": n["text"], "deprecationWarning": "Replaced by notices"}
                    for n in out.notices
                ],
                "_embedded": {
                    "pacticipant": self.pacticipant_body(out.pacticipant, L),
                    "version": self.version_body(
                        s,
                        out.version,
                        L,
                        with_env_links=False,
                        known=([out.branch] if out.branch else [], list(out.tags), [])
                        if out.version_is_new
                        else None,
                    ),
                },
                "_links": {
                    "pb:pacticipant": {"title": "Pacticipant", "name": name, "href": L.pacticipant(name)},
                    "pb:pacticipant-version": {
                        "title": "Pacticipant version",
                        "name": number,
                        "href": L.version(name, number),
                    },
                    "pb:pacticipant-version-tags": [
                        {"title": "Tag", "name": t, "href": L.tag(name, number, t)} for t in out.tags
                    ],
                    "pb:branch-version": {
                        "title": "Branch version",
                        "name": out.branch,
                        "href": L.branch_version(name, out.branch, number),
                    }
                    if out.branch
                    else None,
                    "pb:contracts": [
                        {
                            "title": "Pact",
                            "name": f"Pact between {c} ({number}) and {p}",
                            "href": L.pact(p, c, number),
                        }
                        for c, p, _sha in out.contracts
                    ],
                },
            }
            if resp["_links"]["pb:branch-version"] is None:
                del resp["_links"]["pb:branch-version"]
            for c, p, sha in out.contracts:
                pcs.check_new_pact(s, resolve_pact(s, p, c, sha=sha).content)
            deliveries = self.dispatcher.deliveries(s, out.events, L.base, hooks)
        self.dispatcher.submit(deliveries)
        return hal(resp)

    def publish_provider_contract(self, request: Request, L: Links) -> Response:
        """PactFlow's route (POST .../publish with the version in the body) and its older PUT form."""
        pp = request.path_params
        body = self.json_body(request)
        if "version" in pp and isinstance(body, dict):
            body = {
                "pacticipantVersionNumber": pp["version"],
                "contract": body,
                **{k: body[k] for k in ("branch", "tags", "buildUrl") if k in body},
            }
        with self.write() as s:
            row, version, checks = pcs.publish(s, pp["provider"], body)
            name = pp["provider"]
            failed = [v for v in checks if not v.success]
            notices = [
                {
                    "type": "success",
                    "text": f"Published provider contract for {name} version {version.number}",
                },
                {
                    "type": "info" if not failed else "warning",
                    "text": f"Cross-checked {len(checks)} pact(s) against it: {len(checks) - len(failed)} compatible, "
                    f"{len(failed)} not",
                },
            ]
            resp = {
                "notices": notices,
                "crossChecks": [
                    {
                        "consumer": pacticipant_name(s, v.consumer_id),
                        "success": v.success,
                        "testResults": json.loads(v.test_results or "[]"),
                    }
                    for v in checks
                ],
                "_embedded": {"version": {"number": version.number}},
                "_links": {
                    "self": {
                        "href": L.base + f"/contracts/provider/{quote(name)}/version/{quote(version.number)}"
                    },
                    "pb:pacticipant-version": {
                        "name": version.number,
                        "href": L.version(name, version.number),
                    },
                    "pb:pacticipant-version-tags": [],
                },
            }
        return hal(resp)

    def get_provider_contract(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            provider = require_pacticipant(s, pp["provider"])
            row = pcs.contract_for(s, provider, pp["version"])
            if row is None:
                raise not_found(f"No provider contract for {pp['provider']} version {pp['version']}")
            return hal(
                {
                    "content": row.content,
                    "contentType": row.content_type,
                    "specification": row.specification,
                    "selfVerificationResults": {
                        "success": row.self_verification_success,
                        **json.loads(row.self_verification or "{}"),
                    },
                    "createdAt": iso(row.created_at),
                    "_links": {"self": {"href": str(request.url)}},
                }
            )

    def put_pact(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        raw = request.state.body
        doc = parse_pact(raw, "body")
        if doc["consumer"]["name"] != pp["consumer"] or doc["provider"]["name"] != pp["provider"]:
            raise invalid(
                "body",
                f"The consumer/provider names in the pact ({doc['consumer']['name']}/{doc['provider']['name']}) "
                f"do not match the URL ({pp['consumer']}/{pp['provider']})",
            )
        with self.write() as s:
            consumer, _ = ensure_pacticipant(s, pp["consumer"])
            version, _ = ensure_version(s, consumer, pp["version"])
            content, status, events = store_pact(s, consumer, version, pp["provider"], raw, doc)
            provider = require_pacticipant(s, pp["provider"])
            pcs.check_new_pact(s, content)
            ref = PactRef(consumer, provider, content, version)
            resp = self.pact_document(ref, L)
            deliveries = self.dispatcher.deliveries(s, events, L.base)
        self.dispatcher.submit(deliveries)
        resp.status_code = 201 if status != "unchanged" else 200
        return resp

    def get_pact(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            ref = resolve_pact(
                s,
                pp["provider"],
                pp["consumer"],
                version=pp.get("version"),
                sha=pp.get("sha"),
                tag=pp.get("tag"),
                branch=pp.get("branch"),
            )
            return self.pact_document(ref, L)

    def latest_pacts(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            provider = require_pacticipant(s, pp["provider"]) if "provider" in pp else None
            refs = latest_pacts(s, provider, pp.get("tag"))
            items = [
                {
                    "_embedded": {
                        "consumer": {
                            "name": r.consumer.name,
                            "_embedded": {
                                "version": {
                                    "number": r.consumer_version.number if r.consumer_version else None
                                }
                            },
                        },
                        "provider": {"name": r.provider.name},
                    },
                    "_links": {
                        "self": [
                            {"href": L.pact_version(r.provider.name, r.consumer.name, r.content.sha)},
                            {
                                "href": L.pact(
                                    r.provider.name,
                                    r.consumer.name,
                                    r.consumer_version.number if r.consumer_version else "",
                                )
                            },
                        ]
                    },
                    "createdAt": iso(r.content.created_at),
                }
                for r in refs
            ]
            links = {
                "self": {"href": str(request.url)},
                "pb:pacts": [
                    {
                        "href": L.pact_version(r.provider.name, r.consumer.name, r.content.sha),
                        "title": "Pact",
                        "name": f"Pact between {r.consumer.name} ({r.consumer_version.number if r.consumer_version else ''}) "
                        f"and {r.provider.name}",
                    }
                    for r in refs
                ],
            }
            if provider is not None:
                links["provider"] = {"href": L.pacticipant(provider.name), "name": provider.name}
            return hal({"pacts": items, "_links": links})
