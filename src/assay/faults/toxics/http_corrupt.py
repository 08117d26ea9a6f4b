"""http_corrupt: flip `count` random bytes of a matching request's or response's body.

The message keeps its length, so the peer reads a well-framed but wrong body (a chunked
body is re-framed with Content-Length)."""

from __future__ import annotations

import dataclasses
import random

from assay.faults.httpmsg import Head, dechunk
from assay.faults.toxics.base import Stub, register
from assay.faults.toxics.http_base import BUFFER, HttpState, HttpToxic


@register
@dataclasses.dataclass(frozen=True)
class HttpCorruptToxic(HttpToxic):
    type_name = "http_corrupt"
    count: int = 1

    async def on_fire(self, stub: Stub, st: HttpState, head: Head) -> None:
        st.mode = BUFFER

    async def on_end(self, stub: Stub, st: HttpState) -> None:
        head = st.head
        assert head is not None
        chunked = "chunked" in (head.header("transfer-encoding") or "").lower()
        body = bytearray(dechunk(bytes(st.body)) if chunked else st.body)
        if body:
            for pos in random.sample(range(len(body)), min(self.count, len(body))):
                body[pos] ^= 0xFF
        if chunked:
            headers = [(k, v) for k, v in head.headers if k.lower() != "transfer-encoding"]
            headers.append(("Content-Length", str(len(body))))
            self.emit(stub, head.render(headers) + bytes(body))
        else:
            self.emit(stub, head.raw + bytes(body))
