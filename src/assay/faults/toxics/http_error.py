"""http_error: answer matching requests with a status and body instead of forwarding them
(upstream stream), or replace matching responses (downstream stream)."""

from __future__ import annotations

import dataclasses
import json
from http import HTTPStatus
from typing import Any

from assay.faults.toxics.base import AttributeError_, Stub
from assay.faults.toxics.http_base import SWALLOW, HttpState, HttpToxic, check_str_dict


@dataclasses.dataclass(frozen=True)
class HttpErrorToxic(HttpToxic):
    type_name = "http_error"
    status: int = 503
    body: str = ""  # empty: {"error": "<reason>", "status": <status>}
    content_type: str = "application/json"
    headers: dict[str, Any] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        super().validate()
        if not 100 <= self.status <= 999:
            raise AttributeError_(f"invalid attribute status: must be an HTTP status code, got {self.status}")
        check_str_dict("headers", self.headers)

    def response(self) -> bytes:
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = "Injected"
        body = self.body.encode() if self.body else (json.dumps({"error": reason, "status": self.status}) + "\n").encode()
        lines = [f"HTTP/1.1 {self.status} {reason}", f"Content-Type: {self.content_type}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def on_fire(self, stub: Stub, st: HttpState, head: object) -> None:
        st.mode = SWALLOW

    async def on_end(self, stub: Stub, st: HttpState) -> None:
        conn = stub.link.conn
        if stub.link.direction == "downstream":
            self.emit(stub, self.response())
            return
        # The request never reaches the upstream: answer the client directly.
        tap = conn.http
        requests = getattr(tap, "requests", None)
        if requests:
            requests.pop()  # no response will come for it
        client = conn.client
        if client is not None and not client.is_closing():
            client.write(self.response())
