"""pytest fixtures for fault injection, registered for every suite by assay's plugin.

    def test_cache_outage(assay_proxy):
        redis_proxy = assay_proxy("127.0.0.1:6379")
        client = redis.Redis(port=redis_proxy.port)
        with redis_proxy.down():
            ...
        with redis_proxy.latency(200, jitter=20):
            ...

The server runs in-process once per test session; every proxy a test creates is
deleted at its end, so no fault outlives its test.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from assay.faults.client import Proxy, Toxiproxy
from assay.faults.server import ProxyServer

_names = itertools.count(1)


@pytest.fixture(scope="session")
def assay_proxy_server() -> Iterator[ProxyServer]:
    """An in-process Toxiproxy-compatible server on an ephemeral loopback port."""
    server = ProxyServer(host="127.0.0.1", port=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def assay_toxiproxy(assay_proxy_server: ProxyServer) -> Iterator[Toxiproxy]:
    """A client of the session's server."""
    client = Toxiproxy(assay_proxy_server.url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def assay_proxy(assay_toxiproxy: Toxiproxy) -> Iterator[Callable[..., Proxy]]:
    """Factory: `assay_proxy("host:port", name=None, listen="127.0.0.1:0")` -> Proxy; deleted after the test."""
    created: list[Proxy] = []

    def make(upstream: str, name: str | None = None, listen: str = "127.0.0.1:0") -> Proxy:
        proxy = assay_toxiproxy.create(name or f"assay_{next(_names)}", upstream=upstream, listen=listen)
        created.append(proxy)
        return proxy

    try:
        yield make
    finally:
        for proxy in created:
            try:
                proxy.delete()
            except Exception:  # already deleted by the test
                pass
