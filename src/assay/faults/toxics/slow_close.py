"""slow_close: pass data through, but wait `delay` ms after EOF before closing."""

from __future__ import annotations

import dataclasses

from assay.faults.toxics.base import DATA, Interrupted, Stub, Toxic, register


@register
@dataclasses.dataclass(frozen=True)
class SlowCloseToxic(Toxic):
    type_name = "slow_close"
    delay: int = 0

    async def pipe(self, stub: Stub) -> None:
        while True:
            chunk = await stub.read()
            if chunk.kind == DATA:
                stub.send(chunk)
                continue
            try:
                await stub.sleep(self.delay / 1000.0)
            except Interrupted:
                stub.unread(chunk)  # the restarted toxic sees the EOF again
                raise
            stub.send(chunk)
            return
