"""slicer: cut chunks into pieces of about `average_size` ± `size_variation` bytes,
sent `delay` microseconds apart."""

from __future__ import annotations

import dataclasses
import random

from assay.faults.toxics.base import DATA, AttributeError_, Chunk, Interrupted, Stub, Toxic, register


@register
@dataclasses.dataclass(frozen=True)
class SlicerToxic(Toxic):
    type_name = "slicer"
    average_size: int = 0
    size_variation: int = 0
    delay: int = 0

    def validate(self) -> None:
        super().validate()
        if self.average_size <= 0:
            # Toxiproxy recurses forever on average_size 0; refuse it instead.
            raise AttributeError_("invalid attribute average_size: must be > 0")

    def cuts(self, length: int) -> list[int]:
        """Offsets 0..length; each piece is halved until within variation of the average."""
        out = [0]
        stack = [(0, length)]
        while stack:
            start, end = stack.pop()
            if (end - start) - self.average_size <= self.size_variation or end - start < 2:
                out.append(end)
                continue
            mid = start + (end - start) // 2
            if self.size_variation > 0:
                mid += random.randrange(self.size_variation * 2) - self.size_variation
            mid = min(max(mid, start + 1), end - 1)
            stack.append((mid, end))
            stack.append((start, mid))
        return out

    async def pipe(self, stub: Stub) -> None:
        while True:
            chunk = await stub.read()
            if chunk.kind != DATA:
                stub.send(chunk)
                return
            cuts = self.cuts(len(chunk.data))
            for i in range(1, len(cuts)):
                stub.send(Chunk(chunk.data[cuts[i - 1] : cuts[i]], chunk.ts))
                try:
                    await stub.sleep(self.delay / 1_000_000.0)
                except Interrupted:
                    if cuts[i] < len(chunk.data):
                        stub.send(Chunk(chunk.data[cuts[i] :], chunk.ts))
                    raise
