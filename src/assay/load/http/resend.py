"""When a request that failed on a kept-alive connection is sent once more: Go's rule.

A server may close a kept-alive connection just as the client sends on it (an idle
timeout). Whether sending again is safe depends on what the server may have seen; k6
inherits net/http's answer, and so does assay (HttpClient uses it on every path).
"""

from __future__ import annotations

from collections.abc import Mapping

from assay.load.http.connection import Connection
from assay.load.http.errors import REQUEST_TIMEOUT, RequestError

__all__ = ["may_send_again"]

# Go's Request.isReplayable: the methods net/http sends again after a kept-alive connection
# failed before the response began (not PUT or DELETE, idempotent as they are by the RFC)
_REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_IDEMPOTENCY_KEYS = ("idempotency-key", "x-idempotency-key")


def may_send_again(conn: Connection, err: RequestError, method: str, headers: Mapping[str, str] | None) -> bool:
    """Go's net/http rule for a request that failed on a kept-alive connection
    (Transport.shouldRetryRequest), which k6 inherits: send it once more on a new
    connection when no byte of the response came, and either nothing of the request left
    (any method: the body is bytes, so it can be sent again) or the request is replayable
    (GET, HEAD, OPTIONS, TRACE, or carrying an Idempotency-Key). A POST the server may have
    read before it closed is not sent twice: it fails."""
    if not conn.reused or conn.t_first or err.code == REQUEST_TIMEOUT:
        return False
    if conn.unsent or method in _REPLAYABLE:
        return True
    return headers is not None and any(k.lower() in _IDEMPOTENCY_KEYS for k in headers)
