"""The set of proxies behind the API: create, populate, update, remove, reset.

All changes run on the event loop that carries the traffic, one at a time per
collection, so the API never races a half-started proxy.
"""

from __future__ import annotations

import asyncio
from typing import Any

from assay.faults.errors import PROXY_EXISTS, PROXY_NOT_FOUND, ApiError
from assay.faults.proxy import Proxy, check_name, parse_ttl


def _string_field(body: dict[str, Any], key: str, default: str) -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ApiError(400, f"bad request body: json: cannot unmarshal {_kind(value)} into Go struct field Proxy.{key} of type string")
    return value


def _bool_field(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(400, f"bad request body: json: cannot unmarshal {_kind(value)} into Go struct field Proxy.{key} of type bool")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


class ProxyCollection:
    def __init__(self) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ApiError(404, PROXY_NOT_FOUND)
        return proxy

    def _parse(self, body: Any, where: str = "") -> tuple[str, str, str, bool, int | None]:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, f"bad request body: json: cannot unmarshal {_kind(body)} into Go value of type toxiproxy.Proxy")
        name = _string_field(body, "name", "")
        listen = _string_field(body, "listen", "")
        upstream = _string_field(body, "upstream", "")
        enabled = _bool_field(body, "enabled", True)
        if not name:
            raise ApiError(400, f"missing required field: name{where}")
        try:
            check_name("proxy", name)
        except ApiError as exc:
            raise ApiError(400, f"{exc.message}{where}") from None
        if not upstream:
            raise ApiError(400, f"missing required field: upstream{where}")
        return name, listen, upstream, enabled, parse_ttl(body.get("ttl"))

    async def create(self, body: Any) -> Proxy:
        name, listen, upstream, enabled, ttl = self._parse(body)
        async with self.lock:
            if name in self.proxies:
                raise ApiError(409, PROXY_EXISTS)
            proxy = Proxy(name, listen, upstream, on_expire=self._expire)
            if enabled:
                await proxy.start()
            self.proxies[name] = proxy
            if ttl is not None:
                proxy.expire_after(ttl)
            return proxy

    async def populate(self, body: Any) -> tuple[list[Proxy], ApiError | None]:
        if not isinstance(body, list):
            kind = _kind(body)
            return [], ApiError(400, f"bad request body: json: cannot unmarshal {kind} into Go value of type []struct {{ toxiproxy.Proxy; Enabled *bool \"json:\\\"enabled\\\"\" }}")
        try:
            parsed = [self._parse(item, f" at proxy {i + 1}") for i, item in enumerate(body)]
        except ApiError as exc:
            return [], exc
        done: list[Proxy] = []
        async with self.lock:
            for name, listen, upstream, enabled, ttl in parsed:
                existing = self.proxies.get(name)
                if existing is not None:
                    if existing.listen == listen and existing.upstream == upstream:
                        done.append(existing)
                        continue
                    async with existing.lock:
                        await existing.stop()
                proxy = Proxy(name, listen, upstream, on_expire=self._expire)
                try:
                    if enabled:
                        await proxy.start()
                except ApiError as exc:
                    return done, exc
                if existing is not None and existing.expiry is not None:
                    existing.expiry.cancel()
                self.proxies[name] = proxy
                if ttl is not None:
                    proxy.expire_after(ttl)
                done.append(proxy)
        return done, None

    async def update(self, name: str, body: Any) -> Proxy:
        proxy = self.get(name)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, f"bad request body: json: cannot unmarshal {_kind(body)} into Go value of type toxiproxy.Proxy")
        listen = _string_field(body, "listen", proxy.listen)
        upstream = _string_field(body, "upstream", proxy.upstream)
        enabled = _bool_field(body, "enabled", proxy.enabled)
        ttl = parse_ttl(body.get("ttl"))
        async with self.lock, proxy.lock:
            if proxy.differs(listen, upstream):
                await proxy.stop()
                proxy.listen = listen
                proxy.set_upstream(upstream)
            if enabled and not proxy.enabled:
                await proxy.start()
            elif not enabled and proxy.enabled:
                await proxy.stop()
            if ttl is not None:
                proxy.expire_after(ttl)
        return proxy

    async def remove(self, name: str) -> None:
        async with self.lock:
            proxy = self.get(name)
            async with proxy.lock:
                await proxy.stop()
                await proxy.remove_all_toxics()
                proxy.abort_lingering()
            if proxy.expiry is not None:
                proxy.expiry.cancel()
            del self.proxies[name]

    async def reset(self) -> None:
        """Delete every toxic and start every proxy again (POST /reset)."""
        async with self.lock:
            for proxy in list(self.proxies.values()):
                async with proxy.lock:
                    await proxy.remove_all_toxics()
                    await proxy.start()

    async def _expire(self, proxy: Proxy) -> None:
        if self.proxies.get(proxy.name) is proxy:
            await self.remove(proxy.name)

    async def close(self) -> None:
        async with self.lock:
            for proxy in self.proxies.values():
                await proxy.stop()
