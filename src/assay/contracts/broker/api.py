"""The broker's HTTP API: Pact Broker compatible HAL JSON over Starlette.

Handlers are thin: parse, open one transaction, call `service`/`matrix`/
`selection`, render HAL.  Webhooks fire only after the transaction commits.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import threading
import uuid as uuid_mod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import event, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from assay.contracts.broker import html as html_page
from assay.contracts.broker import matrix as mx
from assay.contracts.broker import provider_contracts as pcs
from assay.contracts.broker import rackquery, selection
from assay.contracts.broker.models import (
    Branch,
    DeployedVersion,
    Environment,
    Pacticipant,
    ReleasedVersion,
    Tag,
    Verification,
    Version,
    Webhook,
    WebhookExecution,
)
from assay.contracts.broker.services.deployments import (
    currently_deployed,
    currently_supported,
    record_deployment,
    record_release,
    version_environments,
    version_labels,
)
from assay.contracts.broker.services.environments import (
    create_environment,
    find_environment,
    require_environment_named,
    update_environment,
)
from assay.contracts.broker.services.errors import BrokerError, invalid, loads_json, not_found
from assay.contracts.broker.services.pacticipants import (
    ensure_branch_version,
    ensure_pacticipant,
    ensure_tag,
    ensure_version,
    latest_version,
    require_pacticipant,
    require_version,
    version_branches,
    version_tags,
)
from assay.contracts.broker.services.pacts import PactRef, latest_pacts, resolve_pact
from assay.contracts.broker.services.publishing import Event, parse_pact, publish_contracts, store_pact
from assay.contracts.broker.services.values import check_columns, iso, now
from assay.contracts.broker.services.verifications import publish_verification
from assay.contracts.broker.webhooks import Dispatcher, validate

log = logging.getLogger(__name__)
HAL = "application/hal+json"


READ = "read"
WRITE = "write"


@dataclass
class AuthConfig:
    """Bearer tokens: read tokens may run read operations, write tokens anything. No tokens: open broker.

    Whether a request is a read is decided by the operation its route declares (see `BrokerApp.routes`),
    never by the method string: a HEAD is the GET it stands for, and the POST that asks which pacts to
    verify is a read, as in the Pact Broker.
    """

    read_tokens: set[str] = field(default_factory=set)
    write_tokens: set[str] = field(default_factory=set)
    public_paths: tuple[str, ...] = ("/diagnostic/status/heartbeat",)

    @property
    def enabled(self) -> bool:
        return bool(self.read_tokens or self.write_tokens)


def hal(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=HAL, headers=headers)


def q(part: str) -> str:
    return quote(part, safe="")


class Links:
    """URL builders relative to the base the client used to reach us."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def pacticipant(self, name: str) -> str:
        return f"{self.base}/pacticipants/{q(name)}"

    def version(self, name: str, number: str) -> str:
        return f"{self.pacticipant(name)}/versions/{q(number)}"

    def tag(self, name: str, number: str, tag: str) -> str:
        return f"{self.version(name, number)}/tags/{q(tag)}"

    def branch_version(self, name: str, branch: str, number: str) -> str:
        return f"{self.pacticipant(name)}/branches/{q(branch)}/versions/{q(number)}"

    def pact(self, provider: str, consumer: str, number: str) -> str:
        return f"{self.base}/pacts/provider/{q(provider)}/consumer/{q(consumer)}/version/{q(number)}"

    def pact_version(self, provider: str, consumer: str, sha: str) -> str:
        return f"{self.base}/pacts/provider/{q(provider)}/consumer/{q(consumer)}/pact-version/{sha}"

    def verification(self, provider: str, consumer: str, sha: str, vid: int) -> str:
        return f"{self.pact_version(provider, consumer, sha)}/verification-results/{vid}"

    def environment(self, uuid_: str) -> str:
        return f"{self.base}/environments/{uuid_}"


class BrokerApp:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        auth: AuthConfig | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.sessions = sessions
        # Reads need no transaction: autocommit saves the BEGIN/ROLLBACK round trips on every GET.
        engine = sessions.kw["bind"]
        self.reads = sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
        self.auth = auth or AuthConfig()
        self.dispatcher = dispatcher or Dispatcher(sessions)
        self.write_lock = threading.Lock()
        event.listen(sessions, "before_flush", check_columns)

    # ------------------------------------------------------------------ plumbing

    def wrap(self, fn: Callable[..., Any], access: str) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint for one declared operation: authorise by `access`, then run `fn`.

        Handlers that touch the database are plain functions and run on a worker thread, so a slow
        query, a locked SQLite file or a webhook call never freezes the event loop (and the heartbeat).
        """
        if access not in (READ, WRITE):
            raise ValueError(f"access must be {READ!r} or {WRITE!r}, got {access!r}")
        threaded = not inspect.iscoroutinefunction(fn)

        async def endpoint(request: Request) -> Response:
            denied = self.check_auth(request, access)
            if denied is not None:
                return denied
            request.state.body = await request.body() if request.method not in ("GET", "HEAD") else b""
            if request.scope.get(ENCODED_SLASHES):
                request.scope["path_params"] = {k: unquote(v) for k, v in request.path_params.items()}
            L = Links(str(request.base_url))
            try:
                _refuse_nul(request)
                if threaded:
                    return await run_in_threadpool(fn, request, L)
                return await fn(request, L)
            except BrokerError as exc:
                return hal(exc.body(), exc.status)
            except RecursionError:
                return hal(invalid("body", "Invalid JSON: nested too deeply").body(), 400)
            except DataError as exc:  # what slipped past validation: a value the database refuses
                return hal({"error": {"message": f"Invalid value: {exc.orig}"}}, 400)
            except IntegrityError:  # a concurrent writer (another broker process) won a race
                return hal(
                    {"error": {"message": "Conflict with a concurrent change; retry the request"}}, 409
                )
            except Exception:  # a bug: still JSON, and the traceback goes to the log
                log.exception("%s %s failed", request.method, request.url.path)
                return hal({"error": {"message": "Internal error in the broker (see its log)"}}, 500)

        endpoint.access = access  # type: ignore[attr-defined]
        endpoint.__name__ = fn.__name__
        return endpoint

    def check_auth(self, request: Request, access: str) -> Response | None:
        if not self.auth.enabled or request.url.path in self.auth.public_paths:
            return None
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        if token is None or (token not in self.auth.read_tokens and token not in self.auth.write_tokens):
            return hal(
                {"error": {"message": "Unauthorized: a valid bearer token is required"}},
                401,
                headers={"WWW-Authenticate": 'Bearer realm="assay broker"'},
            )
        if access != READ and token not in self.auth.write_tokens:
            return hal({"error": {"message": "Forbidden: this token is read-only"}}, 403)
        return None

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction per request; writes take turns (as they did on the event loop), reads do not."""
        with self.write_lock, self.sessions.begin() as s:
            yield s

    def json_body(self, request: Request) -> Any:
        raw = request.state.body
        if not raw.strip():
            return {}
        return loads_json(raw, "body")

    def json_object(self, request: Request) -> dict[str, Any]:
        body = self.json_body(request)
        if not isinstance(body, dict):
            raise invalid("body", "The request body must be a JSON object")
        return body

    # ------------------------------------------------------------------ index

    async def index(self, request: Request, L: Links) -> Response:
        accept = request.headers.get("accept", "")
        if "text/html" in accept and "json" not in accept:
            return await run_in_threadpool(self.html, request, L)
        b = L.base
        links = {
            "self": {"href": b, "title": "Index"},
            "pb:publish-contracts": {"href": f"{b}/contracts/publish", "title": "Publish contracts"},
            "pf:publish-provider-contract": {
                "href": f"{b}/provider-contracts/provider/{{provider}}/publish",
                "title": "Publish a provider contract (OpenAPI) for bi-directional checks",
                "templated": True,
            },
            "pb:publish-pact": {
                "href": f"{b}/pacts/provider/{{provider}}/consumer/{{consumer}}/version/{{consumerApplicationVersion}}",
                "title": "Publish a pact",
                "templated": True,
            },
            "pb:latest-pact-versions": {"href": f"{b}/pacts/latest", "title": "Latest pact versions"},
            "pb:pacticipants": {"href": f"{b}/pacticipants", "title": "Pacticipants"},
            "pb:pacticipant": {
                "href": f"{b}/pacticipants/{{pacticipant}}",
                "title": "Fetch pacticipant by name",
                "templated": True,
            },
            "pb:pacticipant-version": {
                "href": f"{b}/pacticipants/{{pacticipant}}/versions/{{version}}",
                "title": "Get, create or delete a pacticipant version",
                "templated": True,
            },
            "pb:pacticipant-version-tag": {
                "href": f"{b}/pacticipants/{{pacticipant}}/versions/{{version}}/tags/{{tag}}",
                "title": "Get, create or delete a tag for a pacticipant version",
                "templated": True,
            },
            "pb:pacticipant-branch-version": {
                "href": f"{b}/pacticipants/{{pacticipant}}/branches/{{branch}}/versions/{{version}}",
                "title": "Get or add/create a pacticipant version for a branch",
                "templated": True,
            },
            "pb:latest-provider-pacts": {
                "href": f"{b}/pacts/provider/{{provider}}/latest",
                "title": "Latest pacts by provider",
                "templated": True,
            },
            "pb:latest-provider-pacts-with-tag": {
                "href": f"{b}/pacts/provider/{{provider}}/latest/{{tag}}",
                "title": "Latest pacts for provider with the specified tag",
                "templated": True,
            },
            "pb:provider-pacts-for-verification": {
                "href": f"{b}/pacts/provider/{{provider}}/for-verification",
                "title": "Pact versions to be verified for the specified provider",
                "templated": True,
            },
            "pb:latest-version": {
                "href": f"{b}/pacticipants/{{pacticipant}}/latest-version",
                "title": "Latest pacticipant version",
                "templated": True,
            },
            "pb:latest-tagged-version": {
                "href": f"{b}/pacticipants/{{pacticipant}}/latest-version/{{tag}}",
                "title": "Latest pacticipant version with the specified tag",
                "templated": True,
            },
            "pb:environments": {"href": f"{b}/environments", "title": "Environments"},
            "pb:environment": {
                "href": f"{b}/environments/{{uuid}}",
                "title": "Environment",
                "templated": True,
            },
            "pb:can-i-deploy-pacticipant-version-to-environment": {
                "href": f"{b}/can-i-deploy?pacticipant={{pacticipant}}&version={{version}}&environment={{environment}}",
                "title": "Determine whether a pacticipant version can be safely deployed to an environment",
                "templated": True,
            },
            "pb:matrix": {"href": f"{b}/matrix", "title": "The matrix of verification results"},
            "pb:webhooks": {"href": f"{b}/webhooks", "title": "Webhooks"},
            "pb:webhook": {"href": f"{b}/webhooks/{{uuid}}", "title": "Webhook", "templated": True},
            "curies": [{"name": "pb", "href": f"{b}/doc/{{rel}}?context=index", "templated": True}],
        }
        return hal({"_links": links})

    async def heartbeat(self, request: Request, L: Links) -> Response:
        return hal({"ok": True, "_links": {"self": {"href": f"{L.base}/diagnostic/status/heartbeat"}}})

    def html(self, request: Request, L: Links) -> Response:
        with self.reads() as s:
            page = html_page.render(s, L.base)
        return HTMLResponse(page)

    # ------------------------------------------------------------------ representations

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

    # ------------------------------------------------------------------ publishing

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
                        "consumer": svc_consumer_name(s, v.consumer_id),
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

    # ------------------------------------------------------------------ pacticipants and versions

    def list_pacticipants(self, request: Request, L: Links) -> Response:
        with self.reads() as s:
            ps = s.scalars(select(Pacticipant).order_by(Pacticipant.name)).all()
            items = [self.pacticipant_body(p, L) for p in ps]
            return hal(
                {
                    "pacticipants": items,
                    "_embedded": {"pacticipants": items},
                    "_links": {
                        "self": {"href": f"{L.base}/pacticipants"},
                        "pb:pacticipants": [{"href": L.pacticipant(p.name), "title": p.name} for p in ps],
                    },
                }
            )

    def _apply_pacticipant(self, p: Pacticipant, body: dict[str, Any]) -> None:
        for key, attr in (
            ("displayName", "display_name"),
            ("mainBranch", "main_branch"),
            ("repositoryUrl", "repository_url"),
        ):
            if key in body:
                if body[key] is not None and not isinstance(body[key], str):
                    raise invalid(key, f"{key} must be a string")
                setattr(p, attr, body[key])
        p.updated_at = now()

    def create_pacticipant(self, request: Request, L: Links) -> Response:
        body = self.json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
            raise invalid("name", "name is missing")
        with self.write() as s:
            p, created = ensure_pacticipant(s, body["name"])
            self._apply_pacticipant(p, body)
            return hal(self.pacticipant_body(p, L), 201 if created else 200)

    def get_pacticipant(self, request: Request, L: Links) -> Response:
        with self.reads() as s:
            return hal(
                self.pacticipant_body(require_pacticipant(s, request.path_params["pacticipant"]), L)
            )

    def delete_pacticipant(self, request: Request, L: Links) -> Response:
        with self.write() as s:
            s.delete(require_pacticipant(s, request.path_params["pacticipant"]))
        return Response(status_code=204)

    def write_pacticipant(self, request: Request, L: Links) -> Response:
        """PUT replaces the optional fields, PATCH changes only those given."""
        name = request.path_params["pacticipant"]
        body = self.json_object(request)
        with self.write() as s:
            p, created = ensure_pacticipant(s, name)
            if request.method == "PUT":
                p.display_name = p.main_branch = p.repository_url = None
            self._apply_pacticipant(p, body)
            return hal(self.pacticipant_body(p, L), 201 if created else 200)

    def versions(self, request: Request, L: Links) -> Response:
        name = request.path_params["pacticipant"]
        limit = int(request.query_params.get("size", "100") or 100)
        with self.reads() as s:
            p = require_pacticipant(s, name)
            vs = s.scalars(
                select(Version).where(Version.pacticipant_id == p.id).order_by(Version.id.desc()).limit(limit)
            ).all()
            items = [self.version_body(s, v, L, with_env_links=False) for v in vs]
            return hal(
                {
                    "_embedded": {"versions": items},
                    "_links": {
                        "self": {"href": f"{L.pacticipant(name)}/versions"},
                        "pb:pacticipant": {"href": L.pacticipant(name)},
                    },
                }
            )

    def get_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            return hal(self.version_body(s, require_version(s, p, pp["version"]), L))

    def delete_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.write() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            s.delete(require_version(s, p, pp["version"]))
        return Response(status_code=204)

    def write_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        body = self.json_object(request)
        with self.write() as s:
            p, _ = ensure_pacticipant(s, pp["pacticipant"])
            v, created = ensure_version(s, p, pp["version"])
            if "buildUrl" in body:
                v.build_url = body["buildUrl"]
            if body.get("branch"):
                ensure_branch_version(s, p, v, str(body["branch"]))
            for t in body.get("tags") or []:
                ensure_tag(s, v, str(t["name"] if isinstance(t, dict) else t))
            return hal(self.version_body(s, v, L), 201 if created else 200)

    def latest_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            v = latest_version(s, p, tag=pp.get("tag"), branch=pp.get("branch"))
            if v is None:
                raise not_found(f"No matching version of {p.name} found")
            return hal(self.version_body(s, v, L))

    def branches(self, request: Request, L: Links) -> Response:
        name = request.path_params["pacticipant"]
        with self.reads() as s:
            p = require_pacticipant(s, name)
            rows = s.execute(
                select(Branch.name, Branch.created_at)
                .where(Branch.pacticipant_id == p.id)
                .order_by(Branch.name)
            ).all()
            items = [
                {
                    "name": b,
                    "createdAt": iso(created),
                    "_links": {
                        "self": {"href": f"{L.pacticipant(name)}/branches/{quote(b, safe='')}"},
                        "pb:latest-version": {
                            "href": f"{L.pacticipant(name)}/branches/{quote(b, safe='')}/latest-version"
                        },
                    },
                }
                for b, created in rows
            ]
            return hal(
                {
                    "_embedded": {"branches": items},
                    "_links": {"self": {"href": f"{L.pacticipant(name)}/branches"}},
                }
            )

    def get_branch_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            v = require_version(s, p, pp["version"])
            if pp["branch"] not in version_branches(s, [v.id])[v.id]:
                raise not_found(f"Version {v.number} of {p.name} is not on branch {pp['branch']}")
            return hal(self._branch_version_body(s, p, v, pp["branch"], L))

    def put_branch_version(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.write() as s:
            p, _ = ensure_pacticipant(s, pp["pacticipant"])
            v, _ = ensure_version(s, p, pp["version"])
            created = ensure_branch_version(s, p, v, pp["branch"])
            return hal(self._branch_version_body(s, p, v, pp["branch"], L), 201 if created else 200)

    def _branch_version_body(
        self, s: Session, p: Pacticipant, v: Version, branch: str, L: Links
    ) -> dict[str, Any]:
        return {
            "name": branch,
            "_embedded": {"version": self.version_body(s, v, L, with_env_links=False)},
            "_links": {
                "self": {"href": L.branch_version(p.name, branch, v.number)},
                "pb:version": {"href": L.version(p.name, v.number), "name": v.number},
                "pb:pacticipant": {"href": L.pacticipant(p.name), "name": p.name},
            },
        }

    def get_tag(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.reads() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            v = require_version(s, p, pp["version"])
            if pp["tag"] not in version_tags(s, [v.id])[v.id]:
                raise not_found(f"Tag {pp['tag']} not found on version {v.number} of {p.name}")
            return hal(self._tag_body(p, v, pp["tag"], L))

    def delete_tag(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.write() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            v = require_version(s, p, pp["version"])
            tag = s.scalar(select(Tag).where(Tag.version_id == v.id, Tag.name == pp["tag"]))
            if tag is None:
                raise not_found(f"Tag {pp['tag']} not found on version {v.number} of {p.name}")
            s.delete(tag)
        return Response(status_code=204)

    def put_tag(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        with self.write() as s:
            p, _ = ensure_pacticipant(s, pp["pacticipant"])
            v, _ = ensure_version(s, p, pp["version"])
            created = ensure_tag(s, v, pp["tag"])
            return hal(self._tag_body(p, v, pp["tag"], L), 201 if created else 200)

    def _tag_body(self, p: Pacticipant, v: Version, tag: str, L: Links) -> dict[str, Any]:
        return {
            "name": tag,
            "_links": {
                "self": {"title": "Tag", "name": tag, "href": L.tag(p.name, v.number, tag)},
                "version": {"title": "Version", "name": v.number, "href": L.version(p.name, v.number)},
                "pacticipant": {"title": "Pacticipant", "name": p.name, "href": L.pacticipant(p.name)},
            },
        }

    # ------------------------------------------------------------------ environments and deployments

    def environments(self, request: Request, L: Links) -> Response:
        name = request.query_params.get("name")
        with self.reads() as s:
            query = select(Environment).order_by(Environment.id)
            if name:
                query = query.where(Environment.name == name)
            items = [self.environment_body(e, L) for e in s.scalars(query).all()]
            return hal(
                {
                    "_embedded": {"environments": items},
                    "_links": {"self": {"href": f"{L.base}/environments"}},
                }
            )

    def create_environment(self, request: Request, L: Links) -> Response:
        body = self.json_object(request)
        with self.write() as s:
            e = create_environment(s, body)
            return hal(self.environment_body(e, L), 201, headers={"Location": L.environment(e.uuid)})

    def _environment(self, s: Session, uuid_: str) -> Environment:
        e = find_environment(s, uuid_=uuid_)
        if e is None:
            raise not_found(f"No environment with uuid {uuid_} found")
        return e

    def get_environment(self, request: Request, L: Links) -> Response:
        with self.reads() as s:
            return hal(self.environment_body(self._environment(s, request.path_params["uuid"]), L))

    def delete_environment(self, request: Request, L: Links) -> Response:
        with self.write() as s:
            s.delete(self._environment(s, request.path_params["uuid"]))
        return Response(status_code=204)

    def put_environment(self, request: Request, L: Links) -> Response:
        body = self.json_object(request)
        with self.write() as s:
            e = self._environment(s, request.path_params["uuid"])
            update_environment(s, e, body)
            return hal(self.environment_body(e, L))

    def record(self, request: Request, L: Links) -> Response:
        pp = request.path_params
        body = self.json_object(request)
        instance = body.get("applicationInstance", body.get("target"))
        if instance is not None and not isinstance(instance, str):
            raise invalid("applicationInstance", "applicationInstance must be a string")
        with self.write() as s:
            p = require_pacticipant(s, pp["pacticipant"])
            v = require_version(s, p, pp["version"])
            e = find_environment(s, uuid_=pp["uuid"])
            if e is None:
                raise not_found(f"No environment with uuid {pp['uuid']} found")
            if request.url.path.split("/")[-3] == "deployed-versions":
                dv, created = record_deployment(s, v, e, instance or None)
                return hal(self.deployed_body(s, dv, L), 201 if created else 200)
            rv, created = record_release(s, v, e)
            return hal(self.deployed_body(s, rv, L), 201 if created else 200)

    def _deployed(self, s: Session, request: Request) -> DeployedVersion | ReleasedVersion:
        uuid_ = request.path_params["uuid"]
        released = request.url.path.startswith("/released-versions")
        row: DeployedVersion | ReleasedVersion | None
        if released:
            row = s.scalar(select(ReleasedVersion).where(ReleasedVersion.uuid == uuid_))
        else:
            row = s.scalar(select(DeployedVersion).where(DeployedVersion.uuid == uuid_))
        if row is None:
            raise not_found(
                f"No {'released' if released else 'deployed'} version with uuid {uuid_} found"
            )
        return row

    def get_deployed_version(self, request: Request, L: Links) -> Response:
        with self.reads() as s:
            return hal(self.deployed_body(s, self._deployed(s, request), L))

    def patch_deployed_version(self, request: Request, L: Links) -> Response:
        body = self.json_object(request)
        with self.write() as s:
            row = self._deployed(s, request)
            if isinstance(row, DeployedVersion) and body.get("currentlyDeployed") is False:
                row.undeployed_at = row.undeployed_at or now()
            if isinstance(row, ReleasedVersion) and body.get("currentlySupported") is False:
                row.support_ended_at = row.support_ended_at or now()
            return hal(self.deployed_body(s, row, L))

    def currently(self, request: Request, L: Links) -> Response:
        uuid_ = request.path_params["uuid"]
        pacticipant = request.query_params.get("pacticipant")
        instance = request.query_params.get("applicationInstance")
        with self.reads() as s:
            e = find_environment(s, uuid_=uuid_)
            if e is None:
                raise not_found(f"No environment with uuid {uuid_} found")
            if "deployed-versions" in request.url.path:
                rows = currently_deployed(s, e, pacticipant)
                if instance is not None:
                    rows = [r for r in rows if (r.application_instance or "") == instance]
                items = [self.deployed_body(s, r, L) for r in rows]
                return hal(
                    {"_embedded": {"deployedVersions": items}, "_links": {"self": {"href": str(request.url)}}}
                )
            items = [self.deployed_body(s, r, L) for r in currently_supported(s, e, pacticipant)]
            return hal(
                {"_embedded": {"releasedVersions": items}, "_links": {"self": {"href": str(request.url)}}}
            )

    # ------------------------------------------------------------------ verification

    def for_verification(self, request: Request, L: Links) -> Response:
        """GET (query parameters) or POST (JSON body): both are reads."""
        provider = request.path_params["provider"]
        if request.method != "POST":
            body: Any = {}
            params = rackquery.parse(request.query_params.multi_items())
            if params:
                body = {k: v for k, v in params.items()}
                if "includePendingStatus" in body:
                    body["includePendingStatus"] = str(body["includePendingStatus"]).lower() == "true"
                flags = (
                    "mainBranch",
                    "matchingBranch",
                    "deployed",
                    "released",
                    "deployedOrReleased",
                    "latest",
                )
                for sel in body.get("consumerVersionSelectors") or []:
                    if isinstance(sel, dict):
                        for key in flags:
                            if key in sel and str(sel[key]).lower() in ("true", "false"):
                                sel[key] = str(sel[key]).lower() == "true"
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
        else:
            body = self.json_object(request)
        with self.reads() as s:
            picked = selection.pacts_for_verification(s, provider, body)
            include_pending = bool(body.get("includePendingStatus"))
            branch = body.get("providerVersionBranch")
            pacts = [self._verifiable(p, provider, include_pending, branch, L) for p in picked]
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

    def _verifiable(
        self, p: selection.Picked, provider: str, include_pending: bool, branch: str | None, L: Links
    ) -> dict[str, Any]:
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

    # ------------------------------------------------------------------ matrix / can-i-deploy

    def matrix(self, request: Request, L: Links) -> Response:
        params = rackquery.parse(request.query_params.multi_items())
        with self.reads() as s:
            if request.url.path.endswith("/can-i-deploy"):
                name = params.get("pacticipant")
                if not name:
                    raise invalid("pacticipant", "Please specify the pacticipant")
                selectors = [
                    mx.Selector(
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
                target = mx.Target(environment=require_environment_named(s, env_name))
                ignore_raw = params.get("ignore") or []
                ignore = [
                    mx.Selector(pacticipant=i)
                    if isinstance(i, str)
                    else mx.Selector(pacticipant=i.get("pacticipant", ""), version=i.get("version"))
                    for i in (ignore_raw if isinstance(ignore_raw, list) else [ignore_raw])
                ]
            else:
                selectors = mx.selectors_from_query(params)
                target = mx.Target()
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
                    mx.Selector(pacticipant=i.get("pacticipant", ""), version=i.get("version"))
                    for i in ignore_raw
                    if isinstance(i, dict)
                ]
            try:
                limit = int(params.get("limit") or 100)
            except ValueError as exc:
                raise invalid("limit", "limit must be an integer") from exc
            result = mx.compute(s, selectors, target, ignore=ignore, limit=limit)
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

    # ------------------------------------------------------------------ webhooks

    def webhook_body(self, w: Webhook, L: Links) -> dict[str, Any]:
        return {
            "uuid": w.uuid,
            "description": w.description,
            "events": [{"name": n} for n in json.loads(w.events)],
            "request": json.loads(w.request),
            "consumer": {"name": w.consumer_name} if w.consumer_name else None,
            "provider": {"name": w.provider_name} if w.provider_name else None,
            "enabled": w.enabled,
            "createdAt": iso(w.created_at),
            "_links": {
                "self": {"title": w.description or "Webhook", "href": f"{L.base}/webhooks/{w.uuid}"},
                "pb:execute": {"href": f"{L.base}/webhooks/{w.uuid}/execute"},
                "pb:logs": {"href": f"{L.base}/webhooks/{w.uuid}/logs"},
                "pb:webhooks": {"href": f"{L.base}/webhooks"},
            },
        }

    def _store_webhook(self, s: Session, w: Webhook, body: dict[str, Any]) -> None:
        checked = validate(body)
        w.description = body.get("description")
        w.events = json.dumps(checked["events"])
        w.request = json.dumps(checked["request"])
        w.consumer_name = (body.get("consumer") or {}).get("name")
        w.provider_name = (body.get("provider") or {}).get("name")
        w.enabled = bool(body.get("enabled", True))

    def webhooks(self, request: Request, L: Links) -> Response:
        with self.reads() as s:
            hooks = s.scalars(select(Webhook).order_by(Webhook.id)).all()
            return hal(
                {
                    "_embedded": {"webhooks": [self.webhook_body(w, L) for w in hooks]},
                    "_links": {
                        "self": {"href": f"{L.base}/webhooks"},
                        "pb:webhooks": [
                            {"href": f"{L.base}/webhooks/{w.uuid}", "title": w.description} for w in hooks
                        ],
                    },
                }
            )

    def create_webhook(self, request: Request, L: Links) -> Response:
        body = self.json_body(request)
        with self.write() as s:
            w = Webhook(uuid=str(uuid_mod.uuid4()), created_at=now())
            self._store_webhook(s, w, body)
            s.add(w)
            s.flush()
            return hal(self.webhook_body(w, L), 201, headers={"Location": f"{L.base}/webhooks/{w.uuid}"})

    def _webhook(self, s: Session, uuid_: str) -> Webhook:
        w = s.scalar(select(Webhook).where(Webhook.uuid == uuid_))
        if w is None:
            raise not_found(f"No webhook with uuid {uuid_} found")
        return w

    def get_webhook(self, request: Request, L: Links) -> Response:
        with self.reads() as s:
            return hal(self.webhook_body(self._webhook(s, request.path_params["uuid"]), L))

    def delete_webhook(self, request: Request, L: Links) -> Response:
        with self.write() as s:
            s.delete(self._webhook(s, request.path_params["uuid"]))
        return Response(status_code=204)

    def put_webhook(self, request: Request, L: Links) -> Response:
        uuid_ = request.path_params["uuid"]
        body = self.json_body(request)
        with self.write() as s:
            w = s.scalar(select(Webhook).where(Webhook.uuid == uuid_))
            created = w is None
            if w is None:
                w = Webhook(uuid=uuid_, created_at=now())
                s.add(w)
            self._store_webhook(s, w, body)
            s.flush()
            return hal(self.webhook_body(w, L), 201 if created else 200)

    def execute_webhook(self, request: Request, L: Links) -> Response:
        """Test a webhook now: one attempt, answered 200 with what was sent and received.

        A dead target is the webhook's failure, not the broker's: `success: false`, never a 500.
        """
        uuid_ = request.path_params["uuid"]
        with self.reads() as s:
            w = s.scalar(select(Webhook).where(Webhook.uuid == uuid_))
            if w is None:
                raise not_found(f"No webhook with uuid {uuid_} found")
            event = Event(
                json.loads(w.events)[0],
                {
                    "consumer": w.consumer_name or "Consumer",
                    "provider": w.provider_name or "Provider",
                    "consumerVersion": "1",
                    "providerVersion": "1",
                    "sha": "0" * 40,
                    "success": "true",
                },
            )
            delivery = self.dispatcher.delivery_for(w, event, L.base)
        ok = self.dispatcher.run(delivery, retries=0)  # a test execution: one attempt, on this worker thread
        with self.reads() as s:
            last = s.scalar(
                select(WebhookExecution)
                .where(WebhookExecution.webhook_id == delivery.webhook_id)
                .order_by(WebhookExecution.id.desc())
                .limit(1)
            )
            assert last is not None
            return hal(
                {
                    "success": ok,
                    "request": {
                        "method": delivery.method,
                        "url": delivery.url,
                        "headers": delivery.headers,
                        "body": delivery.body,
                    },
                    "response": {"status": last.status, "body": last.response_body},
                    "error": last.error,
                    "logs": self._log_lines([last]),
                },
            )

    def _log_lines(self, rows: list[WebhookExecution]) -> str:
        return "\n".join(
            f"[{iso(r.created_at)}] {r.event_name} attempt {r.attempt}: "
            + (f"HTTP {r.status}" if r.status is not None else f"error {r.error}")
            + (" (success)" if r.success else " (failed)")
            for r in rows
        )

    def webhook_logs(self, request: Request, L: Links) -> Response:
        uuid_ = request.path_params["uuid"]
        with self.reads() as s:
            w = s.scalar(select(Webhook).where(Webhook.uuid == uuid_))
            if w is None:
                raise not_found(f"No webhook with uuid {uuid_} found")
            rows = list(
                s.scalars(
                    select(WebhookExecution)
                    .where(WebhookExecution.webhook_id == w.id)
                    .order_by(WebhookExecution.id)
                ).all()
            )
            items = [
                {
                    "triggerUuid": r.trigger_uuid,
                    "event": r.event_name,
                    "attempt": r.attempt,
                    "success": r.success,
                    "status": r.status,
                    "error": r.error,
                    "requestBody": r.request_body,
                    "responseBody": r.response_body,
                    "createdAt": iso(r.created_at),
                }
                for r in rows
            ]
            return hal(
                {
                    "executions": items,
                    "logs": self._log_lines(rows),
                    "_links": {"self": {"href": f"{L.base}/webhooks/{uuid_}/logs"}},
                }
            )

    # ------------------------------------------------------------------ app

    def routes(self) -> list[Route]:
        """Every operation with its method and declared access; HEAD is added to each GET (a read)."""
        pact_base = "/pacts/provider/{provider}/consumer/{consumer}"
        pacticipant = "/pacticipants/{pacticipant}"
        version = pacticipant + "/versions/{version}"
        table: list[tuple[str, str, Callable[..., Any], str]] = [
            ("/", "GET", self.index, READ),
            ("/ui", "GET", self.html, READ),
            ("/diagnostic/status/heartbeat", "GET", self.heartbeat, READ),
            ("/contracts/publish", "POST", self.publish_contracts, WRITE),
            (
                "/provider-contracts/provider/{provider}/publish",
                "POST",
                self.publish_provider_contract,
                WRITE,
            ),
            (
                "/contracts/provider/{provider}/version/{version}",
                "PUT",
                self.publish_provider_contract,
                WRITE,
            ),
            ("/contracts/provider/{provider}/version/{version}", "GET", self.get_provider_contract, READ),
            ("/pacticipants", "GET", self.list_pacticipants, READ),
            ("/pacticipants", "POST", self.create_pacticipant, WRITE),
            (pacticipant, "GET", self.get_pacticipant, READ),
            (pacticipant, "PUT", self.write_pacticipant, WRITE),
            (pacticipant, "PATCH", self.write_pacticipant, WRITE),
            (pacticipant, "DELETE", self.delete_pacticipant, WRITE),
            (pacticipant + "/versions", "GET", self.versions, READ),
            (pacticipant + "/branches", "GET", self.branches, READ),
            (version, "GET", self.get_version, READ),
            (version, "PUT", self.write_version, WRITE),
            (version, "PATCH", self.write_version, WRITE),
            (version, "DELETE", self.delete_version, WRITE),
            (pacticipant + "/latest-version", "GET", self.latest_version, READ),
            (pacticipant + "/latest-version/{tag}", "GET", self.latest_version, READ),
            (pacticipant + "/branches/{branch}/latest-version", "GET", self.latest_version, READ),
            (pacticipant + "/branches/{branch}/versions/{version}", "GET", self.get_branch_version, READ),
            (pacticipant + "/branches/{branch}/versions/{version}", "PUT", self.put_branch_version, WRITE),
            (version + "/tags/{tag}", "GET", self.get_tag, READ),
            (version + "/tags/{tag}", "PUT", self.put_tag, WRITE),
            (version + "/tags/{tag}", "DELETE", self.delete_tag, WRITE),
            (version + "/deployed-versions/environment/{uuid}", "POST", self.record, WRITE),
            (version + "/released-versions/environment/{uuid}", "POST", self.record, WRITE),
            ("/deployed-versions/{uuid}", "GET", self.get_deployed_version, READ),
            ("/deployed-versions/{uuid}", "PATCH", self.patch_deployed_version, WRITE),
            ("/released-versions/{uuid}", "GET", self.get_deployed_version, READ),
            ("/released-versions/{uuid}", "PATCH", self.patch_deployed_version, WRITE),
            ("/environments", "GET", self.environments, READ),
            ("/environments", "POST", self.create_environment, WRITE),
            ("/environments/{uuid}", "GET", self.get_environment, READ),
            ("/environments/{uuid}", "PUT", self.put_environment, WRITE),
            ("/environments/{uuid}", "DELETE", self.delete_environment, WRITE),
            ("/environments/{uuid}/deployed-versions/currently-deployed", "GET", self.currently, READ),
            ("/environments/{uuid}/released-versions/currently-supported", "GET", self.currently, READ),
            ("/pacts/latest", "GET", self.latest_pacts, READ),
            ("/pacts/provider/{provider}/latest", "GET", self.latest_pacts, READ),
            ("/pacts/provider/{provider}/latest/{tag}", "GET", self.latest_pacts, READ),
            ("/pacts/provider/{provider}/for-verification", "GET", self.for_verification, READ),
            # asking which pacts to verify changes nothing: a read, as in the Pact Broker
            ("/pacts/provider/{provider}/for-verification", "POST", self.for_verification, READ),
            (pact_base + "/version/{version}", "PUT", self.put_pact, WRITE),
            (pact_base + "/version/{version}", "GET", self.get_pact, READ),
            (pact_base + "/latest", "GET", self.get_pact, READ),
            (pact_base + "/latest/{tag}", "GET", self.get_pact, READ),
            (pact_base + "/branch/{branch}/latest", "GET", self.get_pact, READ),
            (pact_base + "/pact-version/{sha}", "GET", self.get_pact, READ),
            (pact_base + "/pact-version/{sha}/metadata/{metadata}", "GET", self.get_pact, READ),
            (pact_base + "/pact-version/{sha}/verification-results", "POST", self.post_verification, WRITE),
            (
                pact_base + "/pact-version/{sha}/metadata/{metadata}/verification-results",
                "POST",
                self.post_verification,
                WRITE,
            ),
            (pact_base + "/pact-version/{sha}/verification-results/{id}", "GET", self.get_verification, READ),
            ("/matrix", "GET", self.matrix, READ),
            ("/can-i-deploy", "GET", self.matrix, READ),
            ("/webhooks", "GET", self.webhooks, READ),
            ("/webhooks", "POST", self.create_webhook, WRITE),
            ("/webhooks/{uuid}", "GET", self.get_webhook, READ),
            ("/webhooks/{uuid}", "PUT", self.put_webhook, WRITE),
            ("/webhooks/{uuid}", "DELETE", self.delete_webhook, WRITE),
            ("/webhooks/{uuid}/execute", "POST", self.execute_webhook, WRITE),
            ("/webhooks/{uuid}/logs", "GET", self.webhook_logs, READ),
        ]
        return [Route(path, self.wrap(fn, access), methods=[method]) for path, method, fn, access in table]


def svc_consumer_name(s: Session, pacticipant_id: int) -> str:
    p = s.get(Pacticipant, pacticipant_id)
    return p.name if p is not None else ""


def _refuse_nul(request: Request) -> None:
    """PostgreSQL cannot even look up a string with NUL in it; answer as SQLite would be told to: 400."""
    for where, items in (
        ("path", request.path_params.items()),
        ("query", request.query_params.multi_items()),
    ):
        for key, value in items:
            if "\x00" in value:
                raise invalid(key, f"{key} ({where}) must not contain NUL characters")


ENCODED_SLASHES = "assay.encoded_slashes"


class KeepEncodedSlashes:
    """Route on the raw path, so a name containing '/' (sent as %2F, as every link here is) stays one segment.

    Servers decode %2F before routing, which would make such a pacticipant, version, branch or tag
    unreachable. Each raw segment keeps '/' and '%' encoded; the endpoint decodes the path parameters.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raw = scope.get("raw_path") if scope["type"] == "http" else None
        if raw and b"%2f" in raw.lower():
            segments = raw.decode("latin-1").split("/")
            path = "/".join(
                quote(unquote(seg, encoding="utf-8", errors="replace"), safe="") for seg in segments
            )
            scope = {**scope, "path": path, ENCODED_SLASHES: True}
        await self.app(scope, receive, send)


async def _not_found(request: Request, exc: Exception) -> Response:
    return hal({"error": {"message": f"No route for {request.method} {request.url.path}"}}, 404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return hal({"error": {"message": f"Method {request.method} not allowed on {request.url.path}"}}, 405)


def create_app(
    sessions: sessionmaker[Session], *, auth: AuthConfig | None = None, dispatcher: Dispatcher | None = None
) -> Starlette:
    broker = BrokerApp(sessions, auth=auth, dispatcher=dispatcher)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        broker.dispatcher.close()

    app = Starlette(
        routes=broker.routes(),
        exception_handlers={404: _not_found, 405: _not_allowed},
        middleware=[Middleware(KeepEncodedSlashes)],
        lifespan=lifespan,
    )
    app.state.broker = broker
    return app
