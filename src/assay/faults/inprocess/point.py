"""Fault points: where a service lets in-process faults in (a decorator or a context manager).

    db_faults = fault_point("db.query", errors={Kind.RESOURCE_EXHAUSTION: PoolTimeout})

    @db_faults                      # sync or async function
    def load(conn): ...

    with db_faults: ...             # or `async with db_faults:`

`errors` lets the service raise its own native error for a kind (a pool timeout, a
redis error), so the fault travels the same code path as the real failure.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from assay.faults.inprocess.board import BOARD, Board, ErrorFactory, fire_async, fire_sync
from assay.faults.inprocess.spec import Kind

F = TypeVar("F", bound=Callable[..., Any])


class FaultPoint:
    __slots__ = ("name", "errors", "board")

    def __init__(self, name: str, errors: Mapping[Kind, ErrorFactory] | None = None, board: Board = BOARD) -> None:
        self.name = name
        self.errors = dict(errors or {})
        self.board = board

    def check(self) -> None:
        """Fire a matching fault synchronously (sleep, raise), or do nothing."""
        if self.board.faults:
            action = self.board.draw(point=self.name, errors=self.errors)
            if action is not None:
                fire_sync(action)

    async def acheck(self) -> None:
        if self.board.faults:
            action = self.board.draw(point=self.name, errors=self.errors)
            if action is not None:
                await fire_async(action)

    def __call__(self, fn: F) -> F:
        board = self.board
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if board.faults:
                    await self.acheck()
                return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if board.faults:
                self.check()
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def __enter__(self) -> FaultPoint:
        if self.board.faults:
            self.check()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        return None

    async def __aenter__(self) -> FaultPoint:
        if self.board.faults:
            await self.acheck()
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        return None


def fault_point(name: str, errors: Mapping[Kind, ErrorFactory] | None = None) -> FaultPoint:
    return FaultPoint(name, errors)
