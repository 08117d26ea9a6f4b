"""The process-wide board of active in-process faults, and what firing one does.

The hot path with no fault active is one attribute read (`BOARD.faults` is an empty
tuple); everything else happens only while a fault is on.
"""

from __future__ import annotations

import asyncio
import builtins
import importlib
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from assay.faults.inprocess.spec import ActiveSpec, BlastRadius, FaultSpec, Kind


class InjectedFault(Exception):
    """Base of the errors an in-process fault raises when the fault point names none."""


class CircuitOpenError(InjectedFault):
    pass


class RateLimitedError(InjectedFault):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ResourceExhaustedError(InjectedFault):
    pass


class FaultTimeoutError(InjectedFault, TimeoutError):
    pass


ErrorFactory = Callable[[str], BaseException]


@dataclass(frozen=True)
class Action:
    """What a fired fault asks the call site to do: wait `delay`, then raise `error` (if any)."""

    spec: FaultSpec
    delay: float = 0.0
    error: BaseException | None = None
    retry_after: float = 0.0


def _exception_class(name: str) -> type[BaseException]:
    if "." not in name:
        cls = getattr(builtins, name, None)
    else:
        module, _, attr = name.rpartition(".")
        cls = getattr(importlib.import_module(module), attr, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        raise ValueError(f"{name!r} is not an exception class")
    return cls


class Board:
    """Active faults of this process, plus its identity for blast-radius checks."""

    def __init__(self) -> None:
        self.faults: tuple[ActiveSpec, ...] = ()
        self.service = "service"
        self.cluster: str | None = None
        self._next_expiry: float | None = None
        self._lock = threading.Lock()

    def configure(self, service: str, cluster: str | None = None) -> None:
        self.service, self.cluster = service, cluster
        for active in self.faults:
            active.hits.clear()

    def add(self, spec: FaultSpec) -> FaultSpec:
        if spec.exception:
            _exception_class(spec.exception)  # fail at add time, not at fire time
        with self._lock:
            self.faults = (*[a for a in self.faults if a.spec.id != spec.id], ActiveSpec(spec))
            self._deadline()
        return spec

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            kept = tuple(a for a in self.faults if a.spec.id != fault_id)
            found = len(kept) != len(self.faults)
            self.faults = kept
            self._deadline()
        return found

    def clear(self) -> None:
        with self._lock:
            self.faults = ()
            self._next_expiry = None

    def listing(self) -> list[dict[str, object]]:
        self._prune()
        return [{**a.spec.public(), "fired": a.fired} for a in self.faults]

    def _deadline(self) -> None:
        expiries = [a.expires_at for a in self.faults if a.expires_at is not None]
        self._next_expiry = min(expiries) if expiries else None

    def _prune(self) -> None:
        if self._next_expiry is None or time.monotonic() < self._next_expiry:
            return
        now = time.monotonic()
        with self._lock:
            self.faults = tuple(a for a in self.faults if a.expires_at is None or now < a.expires_at)
            self._deadline()

    def _spend(self, active: ActiveSpec) -> bool:
        """SINGLE_REQUEST faults fire once: the first caller takes it, later ones pass."""
        with self._lock:
            if active.spent:
                return False
            active.spent = True
            self.faults = tuple(a for a in self.faults if a is not active)
            self._deadline()
        return True

    def _hits(self, active: ActiveSpec, key: str, point: str | None, route: tuple[str, str] | None) -> bool:
        hit = active.hits.get(key)
        if hit is None:
            spec = active.spec
            hit = spec.applies_to(self.service, self.cluster) and (
                spec.matches_point(point) if point is not None else route is not None and spec.matches_route(*route)
            )
            if len(active.hits) < 4096:  # routes carry ids; bound the cache
                active.hits[key] = hit
        return hit

    def draw(self, point: str | None = None, route: tuple[str, str] | None = None,
             errors: Mapping[Kind, ErrorFactory] | None = None) -> Action | None:
        """The first active fault that matches this call and wins its probability draw."""
        if self._next_expiry is not None:
            self._prune()
        key = point if point is not None else f"{route[0]} {route[1]}" if route else ""
        for active in self.faults:
            if active.spent or not self._hits(active, key, point, route):
                continue
            spec = active.spec
            if spec.kind is Kind.RATE_LIMIT:
                action = self._rate_limit(active, errors)
                if action is None:
                    continue
            elif not active.draw_all and random.random() >= spec.probability:
                continue
            else:
                action = _action(spec, errors)
            if spec.blast_radius is BlastRadius.SINGLE_REQUEST and not self._spend(active):
                continue
            active.fired += 1
            return action
        return None

    def _rate_limit(self, active: ActiveSpec, errors: Mapping[Kind, ErrorFactory] | None) -> Action | None:
        spec = active.spec
        now = time.monotonic()
        with self._lock:
            if now - active.window_start >= spec.window:
                active.window_start, active.window_count = now, 0
            active.window_count += 1
            if active.window_count <= spec.limit:
                return None
            retry = spec.window - (now - active.window_start)
        factory = (errors or {}).get(Kind.RATE_LIMIT)
        message = f"{spec.message}: rate limit of {spec.limit} per {spec.window:g}s"
        error = factory(message) if factory else RateLimitedError(message, retry)
        return Action(spec, error=error, retry_after=retry)


def _action(spec: FaultSpec, errors: Mapping[Kind, ErrorFactory] | None) -> Action:
    factory = (errors or {}).get(spec.kind)
    kind = spec.kind
    if kind is Kind.LATENCY:
        delay = spec.delay + (random.uniform(-spec.jitter, spec.jitter) if spec.jitter else 0.0)
        return Action(spec, delay=max(0.0, delay))
    if kind is Kind.EXCEPTION:
        if spec.exception:
            return Action(spec, error=_exception_class(spec.exception)(spec.message))
        return Action(spec, error=factory(spec.message) if factory else InjectedFault(spec.message))
    if kind is Kind.TIMEOUT:
        return Action(spec, delay=spec.timeout, error=factory(spec.message) if factory else FaultTimeoutError(spec.message))
    if kind is Kind.CIRCUIT_BREAK:
        return Action(spec, error=factory(spec.message) if factory else CircuitOpenError(spec.message))
    # RESOURCE_EXHAUSTION
    if factory:
        return Action(spec, error=factory(spec.message))
    if spec.resource == "memory":
        return Action(spec, error=MemoryError(spec.message))
    return Action(spec, error=ResourceExhaustedError(spec.message))


def fire_sync(action: Action) -> None:
    if action.delay:
        time.sleep(action.delay)
    if action.error is not None:
        raise action.error


async def fire_async(action: Action) -> None:
    if action.delay:
        await asyncio.sleep(action.delay)
    if action.error is not None:
        raise action.error


BOARD = Board()
