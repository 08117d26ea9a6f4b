"""http_delay: hold matching requests (upstream) or responses (downstream) for `delay` ms."""

from __future__ import annotations

import dataclasses

from assay.faults.httpmsg import Head
from assay.faults.toxics.base import Interrupted, Stub, register
from assay.faults.toxics.http_base import PASS, HttpState, HttpToxic


@register
@dataclasses.dataclass(frozen=True)
class HttpDelayToxic(HttpToxic):
    type_name = "http_delay"
    delay: int = 0

    async def on_fire(self, stub: Stub, st: HttpState, head: Head) -> None:
        st.mode = PASS
        try:
            await stub.sleep(self.delay / 1000.0)
        except Interrupted:
            self.emit(stub, head.raw)  # don't hold the message past a chain change
            raise
        self.emit(stub, head.raw)
