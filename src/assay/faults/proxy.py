"""A proxy: one listener, its live connections and its toxics (Toxiproxy's Proxy and
ToxicCollection in one class, since both are guarded by the same lock)."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Callable
from typing import Any

from assay.faults.connection import Connection, tune_socket
from assay.faults.errors import INVALID_STREAM, TOXIC_EXISTS, TOXIC_NOT_FOUND, ApiError
from assay.faults.stats import ProxyStats
from assay.faults.toxics import REGISTRY, AttributeError_, BadAttributes, Toxic, build_toxic, unknown_type

STREAMS = ("upstream", "downstream")


def split_host_port(addr: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, enough for listen/upstream strings."""
    if addr.startswith("["):
        end = addr.find("]")
        if end < 0 or not addr[end + 1 :].startswith(":"):
            raise ValueError(f"address {addr}: missing port in address")
        return addr[1:end], addr[end + 2 :]
    host, sep, port = addr.rpartition(":")
    if not sep:
        raise ValueError(f"address {addr}: missing port in address")
    if ":" in host:
        raise ValueError(f"address {addr}: too many colons in address")
    return host, port


def _port(addr: str, text: str) -> int:
    if text == "":
        return 0
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"address {addr}: unknown port") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"address {addr}: invalid port")
    return port


def _format(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ToxicEntry:
    """A toxic as the API sees it: name, type, stream as sent, toxicity, attributes, ttl."""

    def __init__(self, name: str, type_name: str, stream_raw: str, toxicity: float, toxic: Toxic) -> None:
        self.name = name
        self.type = type_name
        self.stream_raw = stream_raw
        self.stream = stream_raw.lower()
        self.toxicity = toxicity
        self.toxic = toxic
        self.ttl: int | None = None  # ms
        self.expiry: asyncio.TimerHandle | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": self.toxic.attributes(),
            "name": self.name,
            "type": self.type,
            "stream": self.stream_raw,
            "toxicity": self.toxicity,
        }
        if self.ttl is not None:
            out["ttl"] = self.ttl
        return out


class Proxy:
    def __init__(self, name: str, listen: str, upstream: str, on_expire: Callable[[Proxy], Any] | None = None) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics: dict[str, list[ToxicEntry]] = {"upstream": [], "downstream": []}
        self.connections: set[Connection] = set()
        self.lingering: set[Connection] = set()  # closed, still flushing a write buffer
        self.stats = ProxyStats()
        self.lock = asyncio.Lock()
        self.ttl: int | None = None
        self.expiry: asyncio.TimerHandle | None = None
        self._on_expire = on_expire
        self._server: asyncio.AbstractServer | None = None
        self._upstream_addr: tuple[str, int] | None = None

    # -- JSON ---------------------------------------------------------------------------------
    def toxic_list(self) -> list[ToxicEntry]:
        return self.toxics["upstream"] + self.toxics["downstream"]

    def as_json(self, with_stats: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.as_json() for t in self.toxic_list()],
        }
        if self.ttl is not None:
            out["ttl"] = self.ttl
        if with_stats:
            out["stats"] = self.stats.as_json(self.live_bytes(), [t.name for t in self.toxic_list()])
        return out

    def live_bytes(self) -> list[int]:
        b = [0, 0, 0, 0]
        for c in self.connections:
            b[0] += c.up.bytes_in
            b[1] += c.up.bytes_out
            b[2] += c.down.bytes_in
            b[3] += c.down.bytes_out
        return b

    # -- listener ---------------------------------------------------------------------------
    def upstream_addr(self) -> tuple[str, int]:
        if self._upstream_addr is None:
            host, port = split_host_port(self.upstream)
            self._upstream_addr = (host or "127.0.0.1", _port(self.upstream, port))
        return self._upstream_addr

    def set_upstream(self, upstream: str) -> None:
        self.upstream = upstream
        self._upstream_addr = None

    @staticmethod
    def resolve_listen(listen: str) -> tuple[int, str, int]:
        """(family, bind host, port) for a listen string; "" and wildcards are dual-stack."""
        host, port_text = split_host_port(listen) if listen else ("", "0")
        port = _port(listen, port_text)
        if host in ("", "0.0.0.0", "::"):
            return socket.AF_INET6, "::", port
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ValueError(f"lookup {host}: {exc.strerror or exc}") from None
        infos.sort(key=lambda i: 0 if i[0] == socket.AF_INET else 1)  # Go prefers IPv4
        family, _, _, _, sockaddr = infos[0]
        return family, str(sockaddr[0]), port

    def differs(self, listen: str, upstream: str) -> bool:
        if upstream != self.upstream:
            return True
        try:
            family, host, port = self.resolve_listen(listen)
        except ValueError:
            return True
        return _format(host, port) != self.listen

    async def start(self) -> None:
        """Listen; `listen` is rewritten to the bound address (Toxiproxy semantics)."""
        if self.enabled:
            return
        try:
            family, host, port = self.resolve_listen(self.listen)
        except ValueError as exc:
            raise ApiError(500, f"listen tcp {self.listen}: {exc}") from None
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if family == socket.AF_INET6 and host == "::":
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(4096)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            if exc.errno == errno.EADDRINUSE:
                reason = "address already in use"
            raise ApiError(500, f"listen tcp {self.listen}: bind: {reason}") from None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_connection, sock=sock, backlog=4096)
        bound = sock.getsockname()
        self.listen = _format(bound[0], bound[1])
        self.enabled = True

    def _new_connection(self) -> asyncio.Protocol:
        return Connection(self).client_protocol()

    async def stop(self) -> None:
        """Stop listening and close every connection (FIN); toxics are kept."""
        if not self.enabled:
            return
        self.enabled = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.close()

    def abort_lingering(self) -> None:
        """Reset the closed connections still flushing (the proxy is being deleted: nothing of it stays)."""
        for conn in list(self.lingering):
            conn.reset()
        self.lingering.clear()

    # -- connections ------------------------------------------------------------------------
    def connection_opened(self, conn: Connection) -> None:
        self.connections.add(conn)
        self.stats.connections_total += 1
        self.stats.connections_active += 1
        sock = conn.client.get_extra_info("socket") if conn.client is not None else None
        if sock is not None:
            tune_socket(sock)

    def connection_closed(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self.stats.connections_active -= 1
            b = self.stats.bytes_closed
            b[0] += conn.up.bytes_in
            b[1] += conn.up.bytes_out
            b[2] += conn.down.bytes_in
            b[3] += conn.down.bytes_out

    def attach(self, conn: Connection) -> None:
        """Put the current toxics on a connection whose upstream just connected."""
        for entry in self.toxics["upstream"]:
            conn.up.add(entry.name, entry.toxic, entry.toxicity)
        for entry in self.toxics["downstream"]:
            conn.down.add(entry.name, entry.toxic, entry.toxicity)

    def _links(self, stream: str) -> list[Any]:
        live = [c for c in self.connections if c.upstream is not None and not c.closed]
        return [c.up if stream == "upstream" else c.down for c in live]

    # -- toxics -----------------------------------------------------------------------------
    def find_toxic(self, name: str) -> ToxicEntry:
        for entry in self.toxic_list():
            if entry.name == name:
                return entry
        raise ApiError(404, TOXIC_NOT_FOUND)

    async def add_toxic(self, body: dict[str, Any]) -> ToxicEntry:
        """AddToxicJson: checks in Toxiproxy's order, then splice into live links."""
        stream_raw = body.get("stream")
        if stream_raw is None or stream_raw == "":
            stream_raw = "downstream"
        if not isinstance(stream_raw, str):
            raise ApiError(400, "bad request body: json: cannot unmarshal into field stream of type string")
        if stream_raw.lower() not in STREAMS:
            raise ApiError(400, INVALID_STREAM)
        type_name = body.get("type") or ""
        if not isinstance(type_name, str):
            raise ApiError(400, "bad request body: json: cannot unmarshal into field type of type string")
        name = body.get("name") or f"{type_name}_{stream_raw}"
        if not isinstance(name, str):
            raise ApiError(400, "bad request body: json: cannot unmarshal into field name of type string")
        check_name("toxic", name)
        if type_name not in REGISTRY:
            raise ApiError(400, unknown_type(type_name))
        if any(t.name == name for t in self.toxic_list()):
            raise ApiError(409, TOXIC_EXISTS)
        toxicity = _toxicity(body.get("toxicity"), 1.0)
        attributes = body.get("attributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise ApiError(400, "bad request body: json: cannot unmarshal into field attributes of type object")
        toxic = _build(type_name, attributes, None)
        entry = ToxicEntry(name, type_name, stream_raw, toxicity, toxic)
        ttl = parse_ttl(body.get("ttl"))
        self.toxics[entry.stream].append(entry)
        self.stats.activations.pop(name, None)
        await asyncio.gather(*(link.add_live(entry.name, entry.toxic, entry.toxicity) for link in self._links(entry.stream)))
        if ttl is not None:
            self._expire_toxic_after(entry, ttl)
        return entry

    async def update_toxic(self, name: str, body: dict[str, Any]) -> ToxicEntry:
        entry = self.find_toxic(name)
        attributes = body.get("attributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise ApiError(400, "bad request body: json: cannot unmarshal into field attributes of type object")
        toxic = _build(entry.type, attributes, entry.toxic)
        toxicity = _toxicity(body.get("toxicity"), entry.toxicity)
        ttl = parse_ttl(body.get("ttl"))
        entry.toxic = toxic
        entry.toxicity = toxicity
        await asyncio.gather(*(link.update(name, toxic, toxicity) for link in self._links(entry.stream)))
        if ttl is not None:
            self._expire_toxic_after(entry, ttl)
        return entry

    async def remove_toxic(self, name: str) -> None:
        entry = self.find_toxic(name)
        self.toxics[entry.stream].remove(entry)
        if entry.expiry is not None:
            entry.expiry.cancel()
        await asyncio.gather(*(link.remove(name) for link in self._links(entry.stream)))

    async def remove_all_toxics(self) -> None:
        for entry in list(self.toxic_list()):
            await self.remove_toxic(entry.name)

    # -- ttl -------------------------------------------------------------------------------
    def _expire_toxic_after(self, entry: ToxicEntry, ttl_ms: int) -> None:
        if entry.expiry is not None:
            entry.expiry.cancel()
        entry.ttl = ttl_ms
        loop = asyncio.get_running_loop()
        entry.expiry = loop.call_later(ttl_ms / 1000.0, lambda: loop.create_task(self._expire_toxic(entry)))

    async def _expire_toxic(self, entry: ToxicEntry) -> None:
        async with self.lock:
            if entry in self.toxics[entry.stream]:
                entry.expiry = None
                await self.remove_toxic(entry.name)

    def expire_after(self, ttl_ms: int) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        self.ttl = ttl_ms
        loop = asyncio.get_running_loop()
        callback = self._on_expire
        if callback is not None:
            self.expiry = loop.call_later(ttl_ms / 1000.0, lambda: loop.create_task(callback(self)))


MAX_NAME = 255


def check_name(kind: str, name: str) -> None:
    """Refuse a proxy or toxic name that could never be addressed in the API's paths
    (/proxies/{name}, /proxies/{p}/toxics/{name}) or that no one means."""
    shown = repr(name[:40] + "...") if len(name) > 40 else repr(name)
    problem = ""
    if len(name) > MAX_NAME:
        problem = f"is {len(name)} characters long (at most {MAX_NAME})"
    elif name in (".", ".."):
        problem = "is a path segment of its own"
    elif any(c in name for c in "/?#"):
        problem = "contains '/', '?' or '#'"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "contains a control character"
    if problem:
        raise ApiError(400, f"invalid {kind} name {shown}: it {problem}, so it could not be addressed in the API's paths")


def _toxicity(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, "bad request body: json: cannot unmarshal into field toxicity of type float32")
    if not 0.0 <= float(value) <= 1.0:
        raise ApiError(400, f"invalid toxicity {value}: must be between 0 and 1")
    return float(value)


def parse_ttl(value: Any) -> int | None:
    """A request body's `ttl` (milliseconds) or None; ApiError 400 for anything else. Shared with
    collection.py: a proxy's create, populate and update take the same field as a toxic does here."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 2**63:
        raise ApiError(400, f"invalid ttl {value!r}: must be a positive number of milliseconds")
    return int(value)


def _build(type_name: str, attributes: dict[str, Any] | None, base: Toxic | None) -> Toxic:
    try:
        return build_toxic(type_name, attributes, base)
    except BadAttributes as exc:
        raise ApiError(400, f"bad request body: {exc}") from None
    except AttributeError_ as exc:
        raise ApiError(400, str(exc)) from None
