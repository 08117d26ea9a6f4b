"""Webhooks: templated HTTP calls fired after a publish or a verification commits.

Each delivery runs on a worker thread with retries and exponential backoff, and
every attempt is written to the run log (`webhook_executions`) so a failing hook
can be diagnosed from `GET /webhooks/{uuid}/logs` rather than a server log.

The queue of deliveries waiting for a worker is bounded (`max_queued`, default 1,000):
a hook target that is down holds each worker for its whole retry schedule, and a busy
broker must not grow without limit behind it. When the queue is full the *oldest* waiting
delivery is dropped (the newest events describe the current state, which is what a CI
hook acts on): the drop is logged, counted in `Dispatcher.dropped`, and written to that
webhook's run log as an execution with attempt 0 and the reason, so it is visible where
the hook's other runs are.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections import deque
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
MAX_QUEUED = 1000  # deliveries waiting for a worker; past it the oldest is dropped
WORKERS = 2
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
    """Fires matching webhooks on background threads from a bounded queue (oldest dropped when
    full); `wait()` lets tests and shutdown drain them."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 10.0,
        max_queued: int = MAX_QUEUED,
        workers: int = WORKERS,
    ) -> None:
        if max_queued < 1 or workers < 1:
            raise ValueError("max_queued and workers must be at least 1")
        self.sessions = sessions
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.max_queued = max_queued
        self.workers = workers
        self.dropped = 0  # deliveries dropped because the queue was full, since start
        self._queue: deque[Delivery] = deque()
        self._active = 0  # deliveries being run by a worker
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
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
        """Queue deliveries computed inside the request's transaction, once it has committed;
        when the queue is full the oldest waiting ones make room (logged, counted, recorded)."""
        dropped: list[Delivery] = []
        with self._cond:
            if self._stopping.is_set():
                return
            for d in deliveries:
                if len(self._queue) >= self.max_queued:
                    dropped.append(self._queue.popleft())
                self._queue.append(d)
            self.dropped += len(dropped)
            missing = self.workers - len(self._threads)
            for _ in range(missing):
                t = threading.Thread(target=self._work, name=f"assay-webhook-{len(self._threads)}", daemon=True)
                self._threads.append(t)
                t.start()
            self._cond.notify(len(deliveries))
        for d in dropped:
            self._record_drop(d)

    def _record_drop(self, d: Delivery) -> None:
        reason = f"not sent: the webhook queue was full ({self.max_queued} waiting); the oldest delivery was dropped"
        log.warning("webhook %s to %s dropped: queue full (%d waiting, %d dropped so far)", d.event, d.url, self.max_queued, self.dropped)
        self._log(d, str(uuid.uuid4()), attempt=0, ok=False, status=None, response_body=None, error=reason)

    def _log(self, d: Delivery, trigger: str, *, attempt: int, ok: bool, status: int | None, response_body: str | None, error: str | None) -> None:
        """One row of the hook's run log (`GET /webhooks/{uuid}/logs`)."""
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

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping.is_set():
                    self._cond.wait()
                if self._stopping.is_set():
                    return
                d = self._queue.popleft()
                self._active += 1
            try:
                self.run(d)
            except Exception:  # a broken database must not kill the worker: the next delivery may work
                log.exception("webhook %s to %s: delivery failed", d.event, d.url)
            finally:
                with self._cond:
                    self._active -= 1
                    self._cond.notify_all()

    def queued(self) -> int:
        """Deliveries waiting for a worker (not counting the ones being sent)."""
        with self._cond:
            return len(self._queue)

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
            self._log(d, trigger, attempt=attempt, ok=ok, status=status, response_body=response_body, error=error)
            if ok:
                return True
            if attempt <= retries and self._stopping.wait(self.backoff * (2 ** (attempt - 1))):
                break
        log.warning("webhook %s to %s failed after %d attempts", d.event, d.url, attempt)
        return False

    def wait(self, timeout: float = 30.0) -> None:
        """Until every queued delivery has been run (or `timeout` seconds)."""
        with self._cond:
            self._cond.wait_for(lambda: not self._queue and self._active == 0, timeout=timeout)

    def close(self) -> None:
        """Stop: waiting deliveries are cancelled, running ones stop at their next backoff."""
        with self._cond:
            self._stopping.set()
            self._queue.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join()
