"""In-process fault points for the database and Redis, when assay is installed.

Each point raises courier's own native error for a kind (a pool timeout, a Redis
timeout), so an injected fault travels the same code path as the real failure. Without
assay the points cost nothing and the control endpoint does not exist.

Points: `db.query` (every query a request or the outbox relay makes: `db.*` or `db*`
faults hit these), `metrics.db` (courier's own once-a-second metric sampling, the
outbox lag; kept apart so that a `db.*` fault's `fired` count is the requests' share,
and a metric never eats a fault meant for a request) and `redis`.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from courier.errors import DbUnavailable


def _db_error(message: str) -> BaseException:
    # What the driver raises for a deadlock or a lost connection: a DBAPI OperationalError.
    return OperationalError("injected", None, RuntimeError(message))


try:
    from assay.faults.inprocess import FaultMiddleware, Kind, fault_point

    _DB_ERRORS = {
        Kind.EXCEPTION: _db_error,
        Kind.RESOURCE_EXHAUSTION: lambda m: PoolTimeout(f"QueuePool limit reached: {m}"),
        Kind.CIRCUIT_BREAK: lambda m: DbUnavailable(f"circuit open: {m}"),
        Kind.TIMEOUT: lambda m: PoolTimeout(f"statement timeout: {m}"),
    }
    DB = fault_point("db.query", errors=_DB_ERRORS)
    METRICS_DB = fault_point("metrics.db", errors=_DB_ERRORS)
    REDIS = fault_point(
        "redis",
        errors={
            Kind.TIMEOUT: RedisTimeout,
            Kind.EXCEPTION: RedisConnectionError,
            Kind.CIRCUIT_BREAK: RedisConnectionError,
            Kind.RATE_LIMIT: RedisConnectionError,
            Kind.RESOURCE_EXHAUSTION: lambda m: RedisConnectionError(f"max number of clients reached: {m}"),
        },
    )
    AVAILABLE = True
except ImportError:  # courier without assay: no fault points
    AVAILABLE = False

    class _NoPoint:
        def check(self) -> None:
            return None

        async def acheck(self) -> None:
            return None

    DB = METRICS_DB = REDIS = _NoPoint()  # type: ignore[assignment]
    FaultMiddleware = None  # type: ignore[assignment,misc]


def install(app: Any, token: str | None) -> None:
    """Mount the fault middleware (and its control endpoint when a token is set)."""
    if not AVAILABLE:
        if token:
            raise RuntimeError("fault_token is set but assay is not installed")
        return
    app.add_middleware(FaultMiddleware, service="courier", token=token)
