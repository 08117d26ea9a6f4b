"""A Python client for any Toxiproxy-compatible server, with faults as context managers.

    server = Toxiproxy("http://127.0.0.1:8474")
    redis = server.create("redis", upstream="127.0.0.1:6379")
    with redis.latency(200, jitter=20):
        ...                                   # every fault is removed when the block exits
    with redis.down():
        ...
    with redis.http_error(503, path="/v1/"):
        ...
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx


class ToxiproxyError(Exception):
    """A non-2xx answer; carries the status and the server's error message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        message = response.text.strip()
        try:
            message = json.loads(message)["error"]
        except (ValueError, KeyError, TypeError):
            pass
        raise ToxiproxyError(response.status_code, message)
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


class Toxiproxy:
    """The API of one server (ours or a real Toxiproxy)."""

    def __init__(self, url: str = "http://127.0.0.1:8474", timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout, headers={"User-Agent": "assay"})

    def close(self) -> None:
        """Close the HTTP connection to the server."""
        self.http.close()

    def version(self) -> str:
        """The server's version string (`GET /version`)."""
        return str(_check(self.http.get("/version"))["version"])

    def proxies(self) -> dict[str, Proxy]:
        """Every proxy on the server, by name."""
        data = _check(self.http.get("/proxies"))
        return {name: Proxy(self, body) for name, body in data.items()}

    def get(self, name: str) -> Proxy:
        """One proxy by name; ToxiproxyError (404) when there is none."""
        return Proxy(self, _check(self.http.get(f"/proxies/{name}")))

    def create(
        self, name: str, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True, ttl: int | None = None
    ) -> Proxy:
        """Create a proxy from `listen` to `upstream` (port 0 picks a free one); `ttl` seconds bound its life."""
        body: dict[str, Any] = {"name": name, "upstream": upstream, "listen": listen, "enabled": enabled}
        if ttl is not None:
            body["ttl"] = ttl
        return Proxy(self, _check(self.http.post("/proxies", json=body)))

    def populate(self, proxies: list[dict[str, Any]]) -> list[Proxy]:
        """Create or replace several proxies at once (`POST /populate`, Toxiproxy's config format)."""
        data = _check(self.http.post("/populate", json=proxies))
        return [Proxy(self, body) for body in data["proxies"]]

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (`POST /reset`): the clean state between tests."""
        _check(self.http.post("/reset"))

    def metrics(self) -> str:
        """The server's Prometheus metrics, as text."""
        response = self.http.get("/metrics")
        _check(response)
        return response.text


_counter = itertools.count(1)


class Proxy:
    """One proxy; its fault helpers add a toxic on enter and remove it on exit."""

    def __init__(self, server: Toxiproxy, body: dict[str, Any]) -> None:
        self.server = server
        self.name: str = body["name"]
        self.body = body

    @property
    def listen(self) -> str:
        """The address the proxy listens on, as the server reports it (`host:port`)."""
        return str(self.body["listen"])

    @property
    def host(self) -> str:
        """The host to connect to (127.0.0.1 for a wildcard listen address)."""
        host = self.listen.rsplit(":", 1)[0].strip("[]")
        return "127.0.0.1" if host in ("", "::", "0.0.0.0") else host

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def upstream(self) -> str:
        """The `host:port` the proxy forwards to."""
        return str(self.body["upstream"])

    @property
    def enabled(self) -> bool:
        """Whether the proxy accepts connections (as of the last read or update)."""
        return bool(self.body["enabled"])

    def refresh(self) -> dict[str, Any]:
        """Read the proxy again from the server and return its JSON."""
        self.body = _check(self.server.http.get(f"/proxies/{self.name}"))
        return self.body

    def update(self, **fields: Any) -> Proxy:
        """Change proxy fields (`listen`, `upstream`, `enabled`) on the server."""
        self.body = _check(self.server.http.patch(f"/proxies/{self.name}", json=fields))
        return self

    def delete(self) -> None:
        """Delete the proxy (its toxics and open connections go with it)."""
        _check(self.server.http.delete(f"/proxies/{self.name}"))

    def toxics(self) -> list[dict[str, Any]]:
        """The toxics on this proxy, as the server lists them."""
        return list(_check(self.server.http.get(f"/proxies/{self.name}/toxics")))

    def add_toxic(
        self,
        type: str,
        attributes: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        ttl: int | None = None,
    ) -> dict[str, Any]:
        """Add a toxic (Toxiproxy's type names and attributes) and return it; prefer the context managers below, which remove it."""
        body: dict[str, Any] = {
            "name": name or f"{type}_{stream}_{next(_counter)}",
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes or {},
        }
        if ttl is not None:
            body["ttl"] = ttl
        return dict(_check(self.server.http.post(f"/proxies/{self.name}/toxics", json=body)))

    def update_toxic(self, name: str, attributes: dict[str, Any] | None = None, toxicity: float | None = None) -> dict[str, Any]:
        """Change a toxic's attributes or toxicity in place."""
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = attributes
        if toxicity is not None:
            body["toxicity"] = toxicity
        return dict(_check(self.server.http.patch(f"/proxies/{self.name}/toxics/{name}", json=body)))

    def remove_toxic(self, name: str) -> None:
        """Remove a toxic by name."""
        _check(self.server.http.delete(f"/proxies/{self.name}/toxics/{name}"))

    # -- faults as context managers ------------------------------------------------------
    @contextlib.contextmanager
    def toxic(self, type: str, stream: str = "downstream", toxicity: float = 1.0, ttl: int | None = None,
              **attributes: Any) -> Iterator[dict[str, Any]]:
        """Any toxic for the duration of the block (removed on exit, also on an exception)."""
        created = self.add_toxic(type, attributes, stream=stream, toxicity=toxicity, ttl=ttl)
        try:
            yield created
        finally:
            with contextlib.suppress(ToxiproxyError):  # a ttl may already have removed it
                self.remove_toxic(created["name"])

    def latency(self, ms: int, jitter: int = 0, **kw: Any) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Delay data by `ms` (+- `jitter`) for the block."""
        return self.toxic("latency", latency=ms, jitter=jitter, **kw)

    def bandwidth(self, rate_kb: int, **kw: Any) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Limit throughput to `rate_kb` KB/s for the block."""
        return self.toxic("bandwidth", rate=rate_kb, **kw)

    def slow_close(self, delay_ms: int, **kw: Any) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Delay the close of each connection by `delay_ms` for the block."""
        return self.toxic("slow_close", delay=delay_ms, **kw)

    def timeout(self, ms: int = 0, **kw: Any) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Stop all data for the block; with `ms` > 0, close the connection after that long."""
        return self.toxic("timeout", timeout=ms, **kw)

    def reset_peer(self, timeout_ms: int = 0, **kw: Any) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Reset connections (TCP RST) after `timeout_ms` for the block."""
        return self.toxic("reset_peer", timeout=timeout_ms, **kw)

    def slicer(self, average_size: int, size_variation: int = 0, delay_us: int = 0,
               **kw: Any) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Slice data into small chunks (`average_size` bytes +- `size_variation`, `delay_us` apart) for the block."""
        return self.toxic("slicer", average_size=average_size, size_variation=size_variation, delay=delay_us, **kw)

    def limit_data(self, nbytes: int, **kw: Any) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Close each connection after `nbytes` bytes for the block."""
        return self.toxic("limit_data", bytes=nbytes, **kw)

    def http_error(self, status: int = 503, body: str | None = None, **kw: Any) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Answer matching requests with `status` instead of forwarding them."""
        if body is not None:
            kw["body"] = body
        return self.toxic("http_error", stream=kw.pop("stream", "upstream"), status=status, **kw)

    def rate_limit(self, requests: int, window_ms: int, **kw: Any) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Let `requests` matching requests through per `window_ms` (all connections), then 429 with Retry-After."""
        return self.toxic("rate_limit", stream=kw.pop("stream", "upstream"), requests=requests, window=window_ms, **kw)

    def http_delay(self, ms: int, **kw: Any) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Delay each matching HTTP request by `ms` before forwarding it, for the block."""
        return self.toxic("http_delay", stream=kw.pop("stream", "upstream"), delay=ms, **kw)

    def http_abort(self, **kw: Any) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """Close the connection on each matching HTTP request instead of forwarding it, for the block."""
        return self.toxic("http_abort", stream=kw.pop("stream", "upstream"), **kw)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """The proxy refuses connections (and drops open ones) for the block."""
        self.update(enabled=False)
        try:
            yield
        finally:
            self.update(enabled=True)
