"""In-process faults for Python services: fault points (decorator / context manager),
ASGI middleware for routes, and a token-protected loopback control endpoint."""

from assay.faults.inprocess.asgi import CONTROL_PATH, FaultMiddleware
from assay.faults.inprocess.board import (
    BOARD,
    CircuitOpenError,
    FaultTimeoutError,
    InjectedFault,
    RateLimitedError,
    ResourceExhaustedError,
)
from assay.faults.inprocess.point import FaultPoint, fault_point
from assay.faults.inprocess.spec import BlastRadius, FaultSpec, Kind

__all__ = [
    "BOARD", "CONTROL_PATH", "BlastRadius", "CircuitOpenError", "FaultMiddleware", "FaultPoint", "FaultSpec",
    "FaultTimeoutError", "InjectedFault", "Kind", "RateLimitedError", "ResourceExhaustedError", "fault_point",
]
