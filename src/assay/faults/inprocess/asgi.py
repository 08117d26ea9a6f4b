"""ASGI middleware: in-process faults on HTTP routes, and the control endpoint that turns them on.

    app = FaultMiddleware(app, service="courier", token=os.environ.get("ASSAY_FAULTS_TOKEN"))

The control endpoint (`/_assay/faults`) exists only when a token is given, answers only
clients on loopback, and wants `Authorization: Bearer <token>`:
GET lists, POST adds a FaultSpec (JSON), DELETE /_assay/faults/{id} removes one (404 when
gone), DELETE /_assay/faults removes all.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
from typing import Any

from pydantic import ValidationError

from assay.faults.inprocess.board import BOARD, Board, InjectedFault, fire_async
from assay.faults.inprocess.spec import FaultSpec, Kind

CONTROL_PATH = "/_assay/faults"
_DEFAULT_STATUS = {
    Kind.EXCEPTION: 500,
    Kind.TIMEOUT: 504,
    Kind.CIRCUIT_BREAK: 503,
    Kind.RATE_LIMIT: 429,
    Kind.RESOURCE_EXHAUSTION: 503,
}

Scope = dict[str, Any]


def _loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


async def _send_json(send: Any, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = b"" if body is None else json.dumps(body).encode()
    head = [(b"content-length", str(len(data)).encode()), *(headers or [])]
    if body is not None:
        head.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": data})


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


class FaultMiddleware:
    def __init__(self, app: Any, *, service: str = "service", cluster: str | None = None,
                 token: str | None = None, board: Board = BOARD) -> None:
        self.app = app
        self.token = token or None
        self.board = board
        board.configure(service, cluster)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if self.token and path.startswith(CONTROL_PATH):
            await self._control(scope, receive, send)
            return
        if self.board.faults:
            action = self.board.draw(route=(scope["method"], path))
            if action is not None:
                try:
                    await fire_async(action)
                except (InjectedFault, Exception) as exc:  # the fault's answer, not a crash
                    status = action.spec.status or _DEFAULT_STATUS.get(action.spec.kind, 500)
                    headers = []
                    if action.spec.kind is Kind.RATE_LIMIT:
                        headers.append((b"retry-after", str(max(1, math.ceil(action.retry_after))).encode()))
                    await _send_json(send, status, {"status": status, "message": str(exc),
                                                    "error_code": f"INJECTED_{action.spec.kind.value}"}, headers)
                    return
        await self.app(scope, receive, send)

    async def _control(self, scope: Scope, receive: Any, send: Any) -> None:
        if not _loopback(scope):
            await _send_json(send, 403, {"error": "the fault control endpoint answers loopback clients only"})
            return
        auth = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        assert self.token is not None
        if not hmac.compare_digest(auth, f"Bearer {self.token}"):
            await _send_json(send, 401, {"error": "missing or wrong bearer token"})
            return
        method, rest = scope["method"], scope["path"][len(CONTROL_PATH):].strip("/")
        if method == "GET" and not rest:
            await _send_json(send, 200, {"service": self.board.service, "cluster": self.board.cluster,
                                         "faults": self.board.listing()})
        elif method == "POST" and not rest:
            try:
                spec = FaultSpec.model_validate_json(await _read_body(receive) or b"{}")
                self.board.add(spec)
            except ValidationError as exc:
                errors = [{"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()]
                await _send_json(send, 400, {"error": "invalid fault", "details": errors})
                return
            except ValueError as exc:
                await _send_json(send, 400, {"error": str(exc)})
                return
            await _send_json(send, 201, spec.public())
        elif method == "DELETE" and not rest:
            self.board.clear()
            await _send_json(send, 204, None)
        elif method == "DELETE":
            found = self.board.remove(rest)
            await _send_json(send, 204 if found else 404, None if found else {"error": "no such fault"})
        else:
            await _send_json(send, 405, {"error": f"{method} not allowed here"})
