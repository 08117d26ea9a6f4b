"""The HTTP client's per-run settings: k6's options that shape every request of every VU."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from assay.load.http.connection import DEFAULT_MAX_BODY
from assay.load.http.wire import USER_AGENT

if TYPE_CHECKING:
    from assay.observe.tracing import RequestTracer

__all__ = ["ClientOptions"]


class ClientOptions:
    """Per-run client settings (k6 options: insecureSkipTLSVerify, maxRedirects, timeouts, ...)."""

    __slots__ = (
        "timeout",
        "connect_timeout",
        "max_redirects",
        "verify_tls",
        "user_agent",
        "expected_statuses",
        "discard_body",
        "headers",
        "accept_gzip",
        "max_body",
        "tracer",
    )

    def __init__(
        self,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_redirects: int = 10,
        verify_tls: bool = True,
        user_agent: str = USER_AGENT,
        expected_statuses: Iterable[tuple[int, int]] = ((200, 399),),
        discard_body: bool = False,
        headers: Mapping[str, str] | None = None,
        accept_gzip: bool = True,
        max_body: int = DEFAULT_MAX_BODY,
        trace_requests: float | None = None,
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_redirects = max_redirects
        self.verify_tls = verify_tls
        self.user_agent = user_agent
        self.expected_statuses = tuple(expected_statuses)
        self.discard_body = discard_body
        self.headers = dict(headers or {})
        self.accept_gzip = accept_gzip
        self.max_body = max_body
        # --trace-requests: one tracer per worker (its clients share these options)
        self.tracer: RequestTracer | None = None
        if trace_requests:
            from assay.observe.tracing import RequestTracer

            self.tracer = RequestTracer(trace_requests)

    def expected(self, status: int) -> bool:
        for lo, hi in self.expected_statuses:
            if lo <= status <= hi:
                return True
        return False

    def expected_table(self) -> bytes:
        """1 at index `status` when it is expected, for statuses 0-599; built once per set of
        ranges (each VU's client needs it, and 600 `expected()` calls per VU showed in profiles)."""
        key = self.expected_statuses
        table = _EXPECTED_TABLES.get(key)
        if table is None:
            table = _EXPECTED_TABLES[key] = bytes(1 if self.expected(code) else 0 for code in range(600))
        return table


_EXPECTED_TABLES: dict[tuple[tuple[int, int], ...], bytes] = {}
