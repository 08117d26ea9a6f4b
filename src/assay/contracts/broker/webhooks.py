"""Webhooks: templated HTTP calls fired after a publish or a verification commits.

Each delivery runs on a worker thread with retries and exponential backoff, and
every attempt is written to the run log (`webhook_executions`) so a failing hook
can be diagnosed from `GET /webhooks/{uuid}/logs` rather than a server log.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from assay.contracts.broker.models import Webhook, WebhookExecution
from assay.contracts.broker.services.errors import BrokerError, invalid
from assay.contracts.broker.services.publishing import Event
from assay.contracts.broker.services.values import now

log = logging.getLogger(__name__)

EVENTS = (
    "contract_published",
    "contract_content_changed",
    "provider_verification_published",
    "provider_verification_succeeded",
    "provider_verification_failed",
)
_PLACEHOLDER = re.compile(r"\$\{pactbroker\.([A-Za-z]+)\}")


def validate(body: Any) -> dict[str, Any]:
    """Check a webhook definition; raise the Pact Broker's 400 shape on any problem."""
    if not isinstance(body, dict):
        raise invalid("body", "The request body must be a JSON object")
    errors: dict[str, list[str]] = {}
    events = body.get("events")
    names: list[str] = []
    if not isinstance(events, list) or not events:
        errors["events"] = ["events must be a non-empty array of {name}"]
    else:
        for i, e in enumerate(events):
            name = e.get("name") if isinstance(e, dict) else None
            if name not in EVENTS:
                errors[f"events[{i}].name"] = [f"must be one of {', '.join(EVENTS)}"]
            else:
                names.append(name)
    req = body.get("request")
    if not isinstance(req, dict):
        errors["request"] = ["request is missing"]
    else:
        if str(req.get("method", "")).upper() not in ("POST", "PUT", "GET", "PATCH", "DELETE"):
            errors["request.method"] = ["method must be one of POST, PUT, GET, PATCH, DELETE"]
        url = req.get("url")
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            errors["request.url"] = ["url must be an http(s) URL"]
        if "headers" in req and not isinstance(req["headers"], dict):
            errors["request.headers"] = ["headers must be an object"]
    for role in ("consumer", "provider"):
        if role in body and not (isinstance(body[role], dict) and isinstance(body[role].get("name"), str)):
            errors[role] = [f"{role} must be an object with a name"]
    if errors:
        raise BrokerError(400, "Invalid webhook", errors=errors)
    return {"events": names, "request": req}


def render(template: Any, params: dict[str, str], *, in_json: bool = False) -> Any:
    """Substitute ${pactbroker.x} in strings, recursing through JSON bodies."""
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda m: params.get(m.group(1), ""), template)
    if isinstance(template, dict):
        return {render(k, params): render(v, params, in_json=True) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, params, in_json=True) for v in template]
    return template


@dataclass
class Delivery:
    webhook_id: int
    event: str
    method: str
    url: str
    headers: dict[str, str]
    body: str | None


class Dispatcher:
    """Fires matching webhooks on background threads; `wait()` lets tests and shutdown drain them."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 10.0,
    ) -> None:
        self.sessions = sessions
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="assay-webhook")
        self._pending: set[Any] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def params_for(self, event: Event, base_url: str) -> dict[str, str]:
        c = event.context
        provider, consumer = quote(c.get("provider", ""), safe=""), quote(c.get("consumer", ""), safe="")
        pact_url = f"{base_url}/pacts/provider/{provider}/consumer/{consumer}/pact-version/{c.get('sha')}"
        params = {
            "eventName": event.name,
            "consumerName": c.get("consumer", ""),
            "providerName": c.get("provider", ""),
            "consumerVersionNumber": c.get("consumerVersion", ""),
            "providerVersionNumber": c.get("providerVersion", ""),
            "pactUrl": pact_url,
            "verificationResultUrl": f"{pact_url}/verification-results/{c['verificationId']}"
            if c.get("verificationId")
            else "",
            "githubVerificationStatus": {"true": "success", "false": "failure"}.get(
                c.get("success", ""), "pending"
            ),
            "bitbucketVerificationStatus": {"true": "SUCCESSFUL", "false": "FAILED"}.get(
                c.get("success", ""), "INPROGRESS"
            ),
        }
        return params

    def enabled_hooks(self, s: Session) -> list[Webhook]:
        return list(s.scalars(select(Webhook).where(Webhook.enabled.is_(True))).all())

    def deliveries(
        self, s: Session, events: list[Event], base_url: str, hooks: list[Webhook] | None = None
    ) -> list[Delivery]:
        out: list[Delivery] = []
        if hooks is None:
            hooks = self.enabled_hooks(s)
        for event in events:
            for hook in hooks:
                if event.name not in json.loads(hook.events):
                    continue
                if hook.consumer_name and hook.consumer_name != event.context.get("consumer"):
                    continue
                if hook.provider_name and hook.provider_name != event.context.get("provider"):
                    continue
                out.append(self.delivery_for(hook, event, base_url))
        return out

    def delivery_for(self, hook: Webhook, event: Event, base_url: str) -> Delivery:
        req = json.loads(hook.request)
        params = self.params_for(event, base_url)
        body = req.get("body")
        rendered_body: str | None
        if body is None:
            rendered_body = None
        elif isinstance(body, str):
            rendered_body = render(body, params)
        else:
            rendered_body = json.dumps(render(body, params))
        headers = {str(k): render(str(v), params) for k, v in (req.get("headers") or {}).items()}
        return Delivery(
            hook.id,
            event.name,
            str(req.get("method", "POST")).upper(),
            render(req["url"], params),
            headers,
            rendered_body,
        )

    def fire(self, events: list[Event], base_url: str) -> None:
        if not events:
            return
        with self.sessions() as s:
            deliveries = self.deliveries(s, events, base_url)
        self.submit(deliveries)

    def submit(self, deliveries: list[Delivery]) -> None:
        """Start deliveries computed inside the request's transaction, once it has committed."""
        for d in deliveries:
            fut = self.pool.submit(self.run, d)
            with self._lock:
                self._pending.add(fut)
            fut.add_done_callback(self._done)

    def _done(self, fut: Any) -> None:
        with self._lock:
            self._pending.discard(fut)

    def run(self, d: Delivery, *, retries: int | None = None) -> bool:
        """Deliver with retries (`retries=0`: one attempt, as a test execution); every attempt is logged."""
        trigger = str(uuid.uuid4())
        retries = self.retries if retries is None else retries
        for attempt in range(1, retries + 2):
            status: int | None = None
            response_body: str | None = None
            error: str | None = None
            try:
                with httpx.Client(timeout=self.timeout) as client:
                    resp = client.request(d.method, d.url, headers=d.headers, content=d.body)
                status, response_body = resp.status_code, resp.text[:4000].replace("\x00", "\ufffd")
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            ok = status is not None and 200 <= status < 300
            with self.sessions.begin() as s:
                s.add(
                    WebhookExecution(
                        webhook_id=d.webhook_id,
                        trigger_uuid=trigger,
                        event_name=d.event,
                        attempt=attempt,
                        success=ok,
                        status=status,
                        request_body=d.body,
                        response_body=response_body,
                        error=error,
                        created_at=now(),
                    )
                )
            if ok:
                return True
            if attempt <= retries and self._stopping.wait(self.backoff * (2 ** (attempt - 1))):
                break
        log.warning("webhook %s to %s failed after %d attempts", d.event, d.url, attempt)
        return False

    def wait(self, timeout: float = 30.0) -> None:
        import concurrent.futures

        with self._lock:
            pending = list(self._pending)
        concurrent.futures.wait(pending, timeout=timeout)

    def close(self) -> None:
        self._stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
