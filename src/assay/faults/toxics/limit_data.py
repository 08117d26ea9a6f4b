"""limit_data: forward up to `bytes` bytes on this link, then close the connection."""

from __future__ import annotations

import dataclasses

from assay.faults.toxics.base import DATA, Chunk, Stub, Toxic, register


class _Count:
    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = 0


@register
@dataclasses.dataclass(frozen=True)
class LimitDataToxic(Toxic):
    type_name = "limit_data"
    bytes: int = 0

    def new_state(self) -> _Count:
        return _Count()

    async def pipe(self, stub: Stub) -> None:
        state: _Count = stub.state
        remaining = self.bytes - state.sent
        while True:
            chunk = await stub.read()
            if chunk.kind != DATA:
                stub.send(chunk)
                return
            remaining = max(remaining, 0)
            data = chunk.data[:remaining] if remaining < len(chunk.data) else chunk.data
            stub.discard(len(chunk.data) - len(data))
            if data:
                stub.send(Chunk(data, chunk.ts))
                state.sent += len(data)
                remaining = self.bytes - state.sent
            if remaining <= 0:
                stub.close()
                return
