"""http_truncate: forward a matching message's head and its first `bytes` body bytes,
then close the connection: the peer sees a short body."""

from __future__ import annotations

import dataclasses

from assay.faults.httpmsg import Head
from assay.faults.toxics.base import Stub, register
from assay.faults.toxics.http_base import TRUNCATE, HttpState, HttpToxic


@register
@dataclasses.dataclass(frozen=True)
class HttpTruncateToxic(HttpToxic):
    type_name = "http_truncate"
    bytes: int = 0

    async def on_fire(self, stub: Stub, st: HttpState, head: Head) -> None:
        self.emit(stub, head.raw)
        st.mode = TRUNCATE
        st.remaining = self.bytes
        if self.bytes <= 0:
            stub.close()
