"""The index (HAL links to every relation), the heartbeat and the HTML page."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from assay.contracts.broker import html as html_page
from assay.contracts.broker.routes.hal import Links, hal
from assay.contracts.broker.routes.representations import Representations


class IndexRoutes(Representations):
    """Handlers for index; each parses, opens one transaction, calls the broker's services and renders HAL."""

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
