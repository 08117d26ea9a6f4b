"""bandwidth: limit a direction to `rate` KB/s (1 KB = 1000 bytes), in 100 ms slices."""

from __future__ import annotations

import dataclasses

from assay.faults.toxics.base import DATA, Chunk, Interrupted, Stub, Toxic, register


@register
@dataclasses.dataclass(frozen=True)
class BandwidthToxic(Toxic):
    type_name = "bandwidth"
    rate: int = 0

    async def pipe(self, stub: Stub) -> None:
        sleep = 0.0  # carries the timer error over to the next chunk, as Toxiproxy does
        while True:
            chunk = await stub.read()
            if chunk.kind != DATA:
                stub.send(chunk)
                return
            if self.rate <= 0:
                stub.send(chunk)
                continue
            sleep += len(chunk.data) / (self.rate * 1000.0)
            slice_len = self.rate * 100
            data = chunk.data
            try:
                while len(data) > slice_len:
                    await stub.sleep(0.1)
                    stub.send(Chunk(data[:slice_len], chunk.ts))
                    data = data[slice_len:]
                    sleep -= 0.1
                start = stub.now
                await stub.sleep(sleep)
                sleep -= stub.now - start
            except Interrupted:
                stub.send(Chunk(data, chunk.ts))
                raise
            stub.send(Chunk(data, chunk.ts))
