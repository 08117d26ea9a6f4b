"""http_error: answer matching requests with a status and body instead of forwarding them
(upstream stream), or replace matching responses (downstream stream)."""

from __future__ import annotations

import dataclasses
import json
from http import HTTPStatus
from typing import Any

from assay.faults.httpmsg import Head
from assay.faults.toxics.base import AttributeError_, Stub, register
from assay.faults.toxics.http_base import SWALLOW, HttpState, HttpToxic, check_header_value, check_headers

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


@register
@dataclasses.dataclass(frozen=True)
class HttpErrorToxic(HttpToxic):
    type_name = "http_error"
    status: int = 503
    body: str = ""  # empty: {"error": "<reason>", "status": <status>}
    content_type: str = ""  # empty: follows the body (JSON when it parses as JSON, else text/plain)
    headers: dict[str, Any] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        super().validate()
        if not 100 <= self.status <= 999:
            raise AttributeError_(f"invalid attribute status: must be an HTTP status code, got {self.status}")
        check_header_value("content_type", "Content-Type", self.content_type)
        check_headers("headers", self.headers)

    def media_type(self) -> str:
        if self.content_type:
            return self.content_type
        if not self.body:
            return JSON
        try:
            json.loads(self.body)
        except ValueError:
            return TEXT
        return JSON

    def extra_headers(self) -> dict[str, str]:
        """Headers beside Content-Type and Content-Length (a subclass adds its own)."""
        return dict(self.headers)

    def response(self, head_only: bool = False) -> bytes:
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = "Injected"
        body = self.body.encode() if self.body else (json.dumps({"error": reason, "status": self.status}) + "\n").encode()
        lines = [f"HTTP/1.1 {self.status} {reason}", f"Content-Type: {self.media_type()}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in self.extra_headers().items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + body

    async def on_fire(self, stub: Stub, st: HttpState, head: Head) -> None:
        st.mode = SWALLOW

    async def on_end(self, stub: Stub, st: HttpState) -> None:
        link = stub.link
        if link.direction == "downstream":
            request = st.head.request if st.head is not None else None
            self.emit(stub, self.response(head_only=request is not None and request.method == "HEAD"))
            return
        # The request never reaches the upstream: the reply enters the downstream direction
        # where the upstream's would, and crosses its toxics (a latency there delays it too).
        head_only = st.head is not None and st.head.method == "HEAD"
        link.conn.down.inject(self.response(head_only))
