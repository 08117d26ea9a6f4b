"""API errors with Toxiproxy's status codes and messages."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


PROXY_NOT_FOUND = "proxy not found"
TOXIC_NOT_FOUND = "toxic not found"
PROXY_EXISTS = "proxy already exists"
TOXIC_EXISTS = "toxic already exists"
INVALID_STREAM = "stream was invalid, can be either upstream or downstream"
INVALID_TOXIC_TYPE = "invalid toxic type"
