"""inprocess: turn on an in-process fault in a running Python service through its control endpoint."""

from __future__ import annotations

import os
from typing import Any

import httpx
from pydantic import Field

from assay.faults.inprocess.asgi import CONTROL_PATH
from assay.faults.inprocess.spec import FaultSpec
from assay.faults.model import FaultError, FaultType
from assay.faults.registry import register


class InprocessParams(FaultSpec):
    token: str | None = Field(None, description="the control endpoint's token (default $ASSAY_FAULTS_TOKEN)")


def _url(target: Any) -> str:
    if not isinstance(target, str) or not target.startswith(("http://", "https://")):
        raise FaultError(f"inprocess: the target is the service's base URL (http://127.0.0.1:PORT), got {target!r}")
    return target.rstrip("/") + CONTROL_PATH


def _headers(token: str | None) -> dict[str, str]:
    token = token or os.environ.get("ASSAY_FAULTS_TOKEN")
    if not token:
        raise FaultError("inprocess: no token (-a token=... or $ASSAY_FAULTS_TOKEN)")
    return {"Authorization": f"Bearer {token}"}


@register
class Inprocess(FaultType):
    name = "inprocess"
    summary = "LATENCY, EXCEPTION, TIMEOUT, CIRCUIT_BREAK, RATE_LIMIT or RESOURCE_EXHAUSTION inside a service"
    Params = InprocessParams
    target_help = "the service's base URL"

    def check(self, params: Any, target: Any) -> None:
        _url(target)
        _headers(params.token)

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        url, headers = _url(target), _headers(params.token)
        spec = params.model_dump(mode="json", exclude={"token"}, exclude_none=True)
        try:
            resp = httpx.post(url, json=spec, headers=headers, timeout=5)
        except httpx.HTTPError as exc:
            raise FaultError(f"inprocess: {url}: {exc}") from None
        if resp.status_code != 201:
            raise FaultError(f"inprocess: {url} answered {resp.status_code}: {resp.text.strip()}")
        return {"url": url, "id": spec["id"], "token": headers["Authorization"][7:]}

    def revert(self, record: dict[str, Any]) -> None:
        resp = httpx.delete(f"{record['url']}/{record['id']}", headers={"Authorization": f"Bearer {record['token']}"}, timeout=5)
        if resp.status_code not in (204, 404):
            raise RuntimeError(f"{record['url']} answered {resp.status_code}")

    def manual_revert(self, record: dict[str, Any]) -> str:
        return f"curl -X DELETE -H 'Authorization: Bearer ...' {record['url']}/{record['id']}"

    def describe(self, params: Any, target: Any) -> str:
        return f"inprocess {params.kind.value} on {target} ({params.point}, p={params.probability})"
