"""Who may call the broker: bearer tokens for read and write operations (none: an open broker)."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from assay.contracts.broker.routes.hal import hal

READ = "read"
WRITE = "write"


@dataclass
class AuthConfig:
    """Bearer tokens: read tokens may run read operations, write tokens anything. No tokens: open broker.

    Whether a request is a read is decided by the operation its route declares (see `BrokerApp.routes`),
    never by the method string: a HEAD is the GET it stands for, and the POST that asks which pacts to
    verify is a read, as in the Pact Broker.
    """

    read_tokens: set[str] = field(default_factory=set)
    write_tokens: set[str] = field(default_factory=set)
    public_paths: tuple[str, ...] = ("/diagnostic/status/heartbeat",)

    @property
    def enabled(self) -> bool:
        return bool(self.read_tokens or self.write_tokens)


def refusal(auth: AuthConfig, request: Request, access: str) -> Response | None:
    """The 401/403 answer for a request its token may not make, or None when it may."""
    if not auth.enabled or request.url.path in auth.public_paths:
        return None
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    if token is None or (token not in auth.read_tokens and token not in auth.write_tokens):
        return hal(
            {"error": {"message": "Unauthorized: a valid bearer token is required"}},
            401,
            headers={"WWW-Authenticate": 'Bearer realm="assay broker"'},
        )
    if access != READ and token not in auth.write_tokens:
        return hal({"error": {"message": "Forbidden: this token is read-only"}}, 403)
    return None
