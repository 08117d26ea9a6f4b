"""The VU running in the current asyncio task (module-level custom metrics find it here)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

CURRENT_VU: ContextVar[Any] = ContextVar("assay_current_vu", default=None)
