"""Errors in the Pact Broker's shape (400 field errors, 404, 409), and JSON bodies read strictly."""

from __future__ import annotations

from typing import Any

from assay.contracts.pactfile import strict_loads


class BrokerError(Exception):
    """An HTTP-level failure in the Pact Broker's shape: 400 field errors, 404, 409."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: dict[str, list[str]] | None = None,
        notices: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.notices = notices

    def body(self) -> dict[str, Any]:
        if self.errors is not None:
            body: dict[str, Any] = {"errors": self.errors}
        else:
            body = {"error": {"message": self.message}}
        if self.notices:
            body["notices"] = self.notices
        return body


def invalid(field_name: str, message: str) -> BrokerError:
    return BrokerError(400, message, errors={field_name: [message]})


def not_found(message: str) -> BrokerError:
    return BrokerError(404, message)


def loads_json(raw: bytes | str, where: str) -> Any:
    """Strict JSON: NaN/Infinity would be served back as invalid JSON, and deep nesting must not crash us."""
    try:
        return strict_loads(raw)
    except RecursionError as exc:
        raise invalid(where, "Invalid JSON: nested too deeply") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid(where, f"Invalid JSON: {exc}") from exc
