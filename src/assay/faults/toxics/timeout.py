"""timeout: swallow every byte; close the connection after `timeout` ms without input.

`timeout: 0` holds the connection open forever. Removing the toxic closes the
connections it was holding (Toxiproxy's Cleanup), so a test can't leak them.
"""

from __future__ import annotations

import dataclasses

from assay.faults.toxics.base import DATA, Stub, Toxic, register


@register
@dataclasses.dataclass(frozen=True)
class TimeoutToxic(Toxic):
    type_name = "timeout"
    timeout: int = 0

    async def pipe(self, stub: Stub) -> None:
        seconds = self.timeout / 1000.0 if self.timeout > 0 else None
        while True:
            chunk = await stub.read_within(seconds)
            if chunk is None or chunk.kind != DATA:
                stub.close()
                return
            stub.discard(len(chunk.data))  # dropped on the floor; the timer restarts

    def cleanup(self, stub: Stub) -> None:
        stub.link.conn.close()
