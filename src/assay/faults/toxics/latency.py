"""latency: release each chunk at read time + latency ± jitter (ms), pipelined."""

from __future__ import annotations

import dataclasses
import random

from assay.faults.toxics.base import DATA, Interrupted, Stub, Toxic, register


@register
@dataclasses.dataclass(frozen=True)
class LatencyToxic(Toxic):
    type_name = "latency"
    latency: int = 0
    jitter: int = 0

    def delay(self) -> float:
        """Seconds; jitter is uniform over whole ms in [-jitter, +jitter), as in Toxiproxy."""
        ms = self.latency
        if self.jitter > 0:
            ms += random.randrange(self.jitter * 2) - self.jitter
        return ms / 1000.0

    async def pipe(self, stub: Stub) -> None:
        while True:
            chunk = await stub.read()
            if chunk.kind != DATA:
                stub.send(chunk)
                return
            # The wait is measured from the read time, so queued chunks don't add up.
            sleep = self.delay() - (stub.now - chunk.ts)
            try:
                await stub.sleep(sleep)
            except Interrupted:
                stub.send(chunk)  # don't drop the chunk in hand
                raise
            chunk.ts += sleep
            stub.send(chunk)
