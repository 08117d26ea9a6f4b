"""The connection pool of one VU's client: kept-alive connections per (scheme, host, port), and dialing.

Connections are reused by their own VU only (as k6 does); DNS answers are cached for the run.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time

from assay.load.http.connection import Connection
from assay.load.http.errors import RequestError, classify

_perf = time.perf_counter

PoolKey = tuple[str, str, int]


class DNSCache:
    """Resolved addresses per host for the life of a run (k6 caches DNS as well)."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self.entries: dict[tuple[str, int], tuple[float, str]] = {}

    async def resolve(self, loop: asyncio.AbstractEventLoop, host: str, port: int) -> str:
        try:
            ipaddress.ip_address(host)
            return host
        except ValueError:
            pass
        now = time.monotonic()
        hit = self.entries.get((host, port))
        if hit is not None and hit[0] > now:
            return hit[1]
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        if not infos:
            raise socket.gaierror(socket.EAI_NONAME, "no such host")
        addr = str(infos[0][4][0])
        self.entries[(host, port)] = (now + self.ttl, addr)
        return addr


DNS = DNSCache()


_SSL_VERIFY: ssl.SSLContext | None = None
_SSL_NOVERIFY: ssl.SSLContext | None = None


def ssl_context(verify: bool) -> ssl.SSLContext:
    """One shared client TLS context per verification mode (HTTP/1.1 by ALPN)."""
    global _SSL_VERIFY, _SSL_NOVERIFY
    if verify:
        if _SSL_VERIFY is None:
            _SSL_VERIFY = ssl.create_default_context()
            _SSL_VERIFY.set_alpn_protocols(["http/1.1"])
        return _SSL_VERIFY
    if _SSL_NOVERIFY is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        _SSL_NOVERIFY = ctx
    return _SSL_NOVERIFY


class ConnectionPool:
    """Idle kept-alive connections by pool key, and new connections with k6's timings."""

    __slots__ = ("idle", "connect_timeout", "verify_tls", "discard_body", "max_body", "_loop")

    def __init__(self, *, connect_timeout: float, verify_tls: bool, discard_body: bool, max_body: int) -> None:
        self.idle: dict[PoolKey, list[Connection]] = {}
        self.connect_timeout = connect_timeout
        self.verify_tls = verify_tls
        self.discard_body = discard_body
        self.max_body = max_body
        self._loop: asyncio.AbstractEventLoop | None = None

    def take(self, key: PoolKey) -> Connection | None:
        """An open idle connection for `key`, or None (closed ones are dropped on the way)."""
        idle = self.idle.get(key)
        while idle:
            candidate = idle.pop()
            if not candidate.closed:
                return candidate
        return None

    def give_back(self, key: PoolKey, conn: Connection) -> None:
        """Keep `conn` for the next request to `key`."""
        idle = self.idle.get(key)
        if idle is None:
            idle = self.idle[key] = []
        idle.append(conn)

    async def connect(
        self, key: tuple[str, str, int], https: bool, host: str, port: int, deadline: float
    ) -> tuple[Connection, float, float, float]:
        """A new connection to `key`: (connection, when it was ready, connecting ms, TLS ms)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        try:
            addr = await asyncio.wait_for(DNS.resolve(loop, host, port), max(0.001, deadline - _perf()))
        except (OSError, TimeoutError) as exc:
            raise classify(exc, dialing=True) from None
        t_resolved = _perf()
        budget = min(self.connect_timeout, max(0.001, deadline - t_resolved))
        try:
            _, conn = await asyncio.wait_for(loop.create_connection(lambda: Connection(loop, key, self.discard_body, self.max_body), addr, port), budget)
        except (OSError, TimeoutError) as exc:
            raise classify(exc, dialing=True) from None
        t_connected = _perf()
        tls_ms = 0.0
        if https:
            try:
                transport = await asyncio.wait_for(
                    loop.start_tls(conn.transport, conn, ssl_context(self.verify_tls), server_hostname=host),
                    max(0.001, deadline - t_connected),
                )
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                conn.close()
                raise classify(exc, dialing=True) from None
            if transport is None:
                conn.close()
                raise RequestError(1300, "tls: handshake failed")
            conn.transport = transport
            ssl_obj = transport.get_extra_info("ssl_object")
            conn.tls_version = ssl_obj.version() if ssl_obj is not None else ""
            tls_ms = (_perf() - t_connected) * 1000.0
        connecting = (t_connected - t_resolved) * 1000.0
        return conn, _perf(), connecting, tls_ms


    def close(self) -> None:
        """Close every idle connection."""
        for conns in self.idle.values():
            for conn in conns:
                conn.close()
        self.idle.clear()
