"""The broker's HTTP API: Pact Broker compatible HAL JSON over Starlette.

The route table is here; the handlers are in `routes/`, one module per resource, each thin:
parse, open one transaction, call the services (broker.services, broker.matrix,
broker.selection), render HAL (routes.hal). Webhooks fire only after the transaction commits.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from assay.contracts.broker.routes.auth import READ, WRITE, AuthConfig
from assay.contracts.broker.routes.base import ENCODED_SLASHES
from assay.contracts.broker.routes.environments import EnvironmentRoutes
from assay.contracts.broker.routes.hal import hal
from assay.contracts.broker.routes.index import IndexRoutes
from assay.contracts.broker.routes.matrix import MatrixRoutes
from assay.contracts.broker.routes.pacticipants import PacticipantRoutes
from assay.contracts.broker.routes.pacts import PactRoutes
from assay.contracts.broker.routes.verifications import VerificationRoutes
from assay.contracts.broker.routes.webhooks import WebhookRoutes
from assay.contracts.broker.webhooks import Dispatcher

__all__ = ["AuthConfig", "BrokerApp", "create_app"]


class BrokerApp(IndexRoutes, PactRoutes, PacticipantRoutes, EnvironmentRoutes, VerificationRoutes, MatrixRoutes, WebhookRoutes):
    """The broker: every resource's handlers on one state (sessions, auth, webhook dispatcher)."""

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
