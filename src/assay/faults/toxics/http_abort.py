"""http_abort: drop the connection at a matching request (upstream) or response
(downstream): a FIN, or an RST with `reset: true`. The message is not forwarded."""

from __future__ import annotations

import dataclasses

from assay.faults.httpmsg import Head
from assay.faults.toxics.base import Stub, register
from assay.faults.toxics.http_base import HttpState, HttpToxic


@register
@dataclasses.dataclass(frozen=True)
class HttpAbortToxic(HttpToxic):
    type_name = "http_abort"
    reset: bool = False

    async def on_fire(self, stub: Stub, st: HttpState, head: Head) -> None:
        if self.reset:
            stub.reset()
        else:
            stub.close()
