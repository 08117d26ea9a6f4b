"""Webhooks: stored, listed, executed on demand, and their logs."""

from __future__ import annotations

import json
import uuid as uuid_mod
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from assay.contracts.broker.models import (
    Webhook,
    WebhookExecution,
)
from assay.contracts.broker.routes.hal import Links, hal
from assay.contracts.broker.routes.representations import Representations
from assay.contracts.broker.services.errors import not_found
from assay.contracts.broker.services.publishing import Event
from assay.contracts.broker.services.values import iso, now
from assay.contracts.broker.webhooks import validate


class WebhookRoutes(Representations):
    """Handlers for webhooks; each parses, opens one transaction, calls the broker's services and renders HAL."""

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
