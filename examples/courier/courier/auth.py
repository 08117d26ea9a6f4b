"""Login tokens: issued by POST /auth/login, kept in Redis (or in this process without Redis).

Every instance sharing the Redis accepts every token. A token verified in the last
`token_recheck_s` is trusted without asking Redis again (500 requests per second need not
be 500 GETs), and while Redis is unreachable the tokens this instance already knows keep
working until they expire: a Redis outage degrades logins, not the whole API.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from typing import Any

from courier.bus import RedisDown, redis_call
from courier.errors import ApiError
from courier.metrics import Metrics
from courier.settings import Settings

KNOWN_TOKENS_CAP = 100_000


class AuthUnavailable(Exception):
    """The token store could not answer and the token is not known here."""


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class Tokens:
    def __init__(self, settings: Settings, metrics: Metrics, client: Any | None) -> None:
        self.s = settings
        self.metrics = metrics
        self.client = client  # a redis.asyncio client, or None for in-process tokens
        # token -> (user, expires_at, verified_at); the only store without Redis.
        self.known: OrderedDict[str, tuple[str, float, float]] = OrderedDict()

    def _key(self, token: str) -> str:
        return f"{self.s.redis_prefix}:token:{token}"

    def check_password(self, password: str) -> bool:
        return hmac.compare_digest(password.encode(), self.s.login_password.encode())

    async def issue(self, user: str) -> str:
        token = secrets.token_urlsafe(24)
        if self.client is not None:
            try:
                await redis_call(
                    "token_set",
                    self.client.set(self._key(token), user, ex=self.s.token_ttl_s),
                    self.s.redis_timeout_s,
                )
            except RedisDown as exc:
                raise AuthUnavailable(str(exc)) from None
        now = time.monotonic()
        self._remember(token, user, now + self.s.token_ttl_s, now)
        self.metrics.logins.inc()
        return token

    async def revoke(self, token: str) -> None:
        self.known.pop(token, None)
        if self.client is not None:
            try:
                await redis_call("token_del", self.client.delete(self._key(token)), self.s.redis_timeout_s)
            except RedisDown as exc:
                raise AuthUnavailable(str(exc)) from None

    async def user_of(self, token: str) -> str | None:
        """Who holds this token, or None if it is unknown or expired."""
        service = self.s.service_tokens.get(token)
        if service is not None:
            return service
        now = time.monotonic()
        entry = self.known.get(token)
        if entry is not None and entry[1] <= now:
            self.known.pop(token, None)
            entry = None
        if self.client is None:
            return entry[0] if entry else None
        if entry is not None and now - entry[2] < self.s.token_recheck_s:
            return entry[0]
        try:
            user, ttl_ms = await redis_call(
                "token_get",
                self.client.pipeline(transaction=False).get(self._key(token)).pttl(self._key(token)).execute(),
                self.s.redis_timeout_s,
            )
        except RedisDown as exc:
            if entry is not None:
                return entry[0]  # Redis is out; a token this instance knows is still good until it expires
            raise AuthUnavailable(str(exc)) from None
        if user is None:
            self.known.pop(token, None)
            return None
        expires = now + (ttl_ms / 1000 if ttl_ms and ttl_ms > 0 else self.s.token_ttl_s)
        self._remember(token, str(user), expires, now)
        return str(user)

    def _remember(self, token: str, user: str, expires: float, verified: float) -> None:
        self.known[token] = (user, expires, verified)
        self.known.move_to_end(token)
        while len(self.known) > KNOWN_TOKENS_CAP:
            self.known.popitem(last=False)

    async def authenticate(self, token: str | None) -> str:
        """The caller's user id; ApiError 401 without a valid token, 503 when the store is unreachable."""
        if not token:
            self.metrics.auth_failures.labels("missing").inc()
            raise ApiError(401, "UNAUTHENTICATED", "log in at POST /auth/login and send Authorization: Bearer <token>")
        try:
            user = await self.user_of(token)
        except AuthUnavailable:
            self.metrics.auth_failures.labels("unavailable").inc()
            raise ApiError(503, "AUTH_UNAVAILABLE", "the token store is unavailable; retry shortly") from None
        if user is None:
            self.metrics.auth_failures.labels("invalid").inc()
            raise ApiError(401, "INVALID_TOKEN", "the token is unknown or expired; log in again")
        return user
