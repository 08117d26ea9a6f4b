"""The proxy in front of the machine's real Redis and PostgreSQL: each fault produces the
client-side error or delay a team would see in production."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from assay.faults.client import Proxy

REDIS = "127.0.0.1:6379"
POSTGRES = "127.0.0.1:5432"


@pytest.fixture
def redis_via(assay_proxy: Callable[..., Proxy]) -> Iterator[tuple[Proxy, Callable[..., redis.Redis]]]:
    proxy = assay_proxy(REDIS)
    clients: list[redis.Redis] = []

    def client(timeout: float = 3.0) -> redis.Redis:
        c = redis.Redis(host="127.0.0.1", port=proxy.port, socket_timeout=timeout, socket_connect_timeout=timeout,
                        retry=Retry(NoBackoff(), 0))
        clients.append(c)
        return c

    yield proxy, client
    for c in clients:
        c.close()


@pytest.mark.redis
def test_redis_latency(redis_via: tuple[Proxy, Callable[..., redis.Redis]]) -> None:
    proxy, client = redis_via
    r = client()
    r.set("assay:faults:k", "v")
    with proxy.latency(200, jitter=20):
        start = time.monotonic()
        assert r.get("assay:faults:k") == b"v"
        assert time.monotonic() - start >= 0.18
    fast = []
    for _ in range(3):  # the best of three: a loaded machine may stall one call
        start = time.monotonic()
        assert r.get("assay:faults:k") == b"v"
        fast.append(time.monotonic() - start)
    assert min(fast) < 0.18


@pytest.mark.redis
def test_redis_timeout(redis_via: tuple[Proxy, Callable[..., redis.Redis]]) -> None:
    proxy, client = redis_via
    r = client(timeout=0.5)
    assert r.ping()
    with proxy.timeout(0):  # replies swallowed, connection held: the client's own timeout fires
        with pytest.raises(redis.exceptions.TimeoutError):
            r.get("assay:faults:k")
    r2 = client(timeout=3)
    assert r2.ping()
    with proxy.timeout(300, stream="upstream"):  # closed by the proxy after 300 ms of silence
        start = time.monotonic()
        with pytest.raises(redis.exceptions.ConnectionError, match="Connection closed by server"):
            r2.get("assay:faults:k")
        assert time.monotonic() - start >= 0.29


@pytest.mark.redis
def test_redis_reset_peer(redis_via: tuple[Proxy, Callable[..., redis.Redis]]) -> None:
    proxy, client = redis_via
    r = client()
    assert r.ping()
    with proxy.reset_peer():
        with pytest.raises(redis.exceptions.ConnectionError, match="104|reset by peer"):
            r.get("assay:faults:k")


@pytest.mark.redis
def test_redis_limit_data(redis_via: tuple[Proxy, Callable[..., redis.Redis]]) -> None:
    proxy, client = redis_via
    r = client()
    r.set("assay:faults:big", "x" * 1000)
    with proxy.limit_data(100):
        with pytest.raises(redis.exceptions.ConnectionError, match="Connection closed by server"):
            r.get("assay:faults:big")
    assert client().get("assay:faults:big") == b"x" * 1000


@pytest.mark.redis
def test_redis_down(redis_via: tuple[Proxy, Callable[..., redis.Redis]]) -> None:
    proxy, client = redis_via
    r = client()
    assert r.ping()
    with proxy.down():
        with pytest.raises(redis.exceptions.ConnectionError):
            r.ping()  # the open connection got a FIN
        with pytest.raises(redis.exceptions.ConnectionError, match="111|refused"):
            client().ping()  # new connections are refused
    assert client().ping()


def _pg(proxy: Proxy, timeout: int = 3) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=proxy.port, user="postgres", dbname="test",
                           sslmode="disable", connect_timeout=timeout, autocommit=True)


@pytest.mark.postgres
def test_postgres_latency_and_down(assay_proxy: Callable[..., Proxy]) -> None:
    proxy = assay_proxy(POSTGRES)
    with _pg(proxy) as conn:
        with proxy.latency(150):
            start = time.monotonic()
            assert conn.execute("select 1").fetchone() == (1,)
            assert time.monotonic() - start >= 0.15
        with proxy.down():
            with pytest.raises(psycopg.OperationalError, match="server closed the connection|consuming input failed"):
                conn.execute("select 1")
            with pytest.raises(psycopg.OperationalError, match="refused"):
                _pg(proxy)
    with _pg(proxy) as conn:
        assert conn.execute("select 2").fetchone() == (2,)


@pytest.mark.postgres
def test_postgres_timeout(assay_proxy: Callable[..., Proxy]) -> None:
    proxy = assay_proxy(POSTGRES)
    with proxy.timeout(0):  # the startup reply never comes: libpq's connect_timeout fires
        start = time.monotonic()
        with pytest.raises(psycopg.OperationalError, match="timeout expired"):
            _pg(proxy, timeout=1)
        assert time.monotonic() - start >= 0.9
    with _pg(proxy) as conn:
        with proxy.timeout(300, stream="upstream"):
            with pytest.raises(psycopg.OperationalError, match="server closed the connection"):
                conn.execute("select 1")


@pytest.mark.postgres
def test_postgres_reset_peer_and_limit_data(assay_proxy: Callable[..., Proxy]) -> None:
    proxy = assay_proxy(POSTGRES)
    with _pg(proxy) as conn:
        with proxy.reset_peer():
            # libpq reports ECONNRESET as "server closed the connection unexpectedly"
            with pytest.raises(psycopg.OperationalError, match="server closed the connection unexpectedly"):
                conn.execute("select 1")
            assert conn.broken
    with _pg(proxy) as conn:
        with proxy.limit_data(50):
            with pytest.raises(psycopg.OperationalError, match="server closed the connection"):
                conn.execute("select repeat('x', 1000)").fetchone()
