"""What a fault did, when: the events chaos experiments draw on a timeline.

Kept free of pydantic and the rest of assay so the watchdog process starts in a blink.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

EventKind = Literal["injected", "reverted", "failed"]


@dataclass
class FaultEvent:
    """What a fault did, when (epoch seconds): chaos experiments draw these on a timeline."""

    fault_id: str
    fault_type: str
    kind: EventKind
    detail: str = ""
    time: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FaultEvent:
        return cls(**raw)
