"""reset_peer: on the first chunk (or EOF), drop it, wait `timeout` ms, then send RST.

Unlike Toxiproxy (where SO_LINGER is set on every connection opened while the toxic
exists, whatever its toxicity: issue #603), the RST goes out exactly when this toxic
fires, and only then. An interrupt during the wait doesn't cancel the reset; it just
no longer blocks the API.
"""

from __future__ import annotations

import dataclasses

from assay.faults.toxics.base import Stub, Toxic, register


@register
@dataclasses.dataclass(frozen=True)
class ResetPeerToxic(Toxic):
    type_name = "reset_peer"
    timeout: int = 0

    async def pipe(self, stub: Stub) -> None:
        chunk = await stub.read()
        stub.discard(len(chunk.data))
        conn = stub.link.conn
        stub.finished = True
        if self.timeout <= 0:
            conn.reset()
        else:
            conn.reset_later(self.timeout / 1000.0)
