"""noop: passes data through unchanged (Toxiproxy registers it for tests)."""

from __future__ import annotations

import dataclasses

from assay.faults.toxics.base import Stub, Toxic, noop_pipe, register


@register
@dataclasses.dataclass(frozen=True)
class NoopToxic(Toxic):
    type_name = "noop"

    async def pipe(self, stub: Stub) -> None:
        await noop_pipe(stub)
