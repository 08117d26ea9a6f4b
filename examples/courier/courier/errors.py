"""Errors that become JSON responses: `{status, message, error_code}` and nothing that leaks internals."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(
        self, status: int, error_code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.extra = extra
        self.headers = headers or ({"Retry-After": "1"} if status == 503 else {})

    def body(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "error_code": self.error_code, **self.extra}


class DbUnavailable(Exception):
    """The database could not answer (down, timed out, breaker open). Always a 503, never a 500."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def not_found(what: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} not found")


def forbidden() -> ApiError:
    return ApiError(403, "FORBIDDEN", "you are not a participant of this conversation")
