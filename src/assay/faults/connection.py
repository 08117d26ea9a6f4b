"""One proxied TCP connection: the accepted client socket, the dialled upstream, two links.

Built on asyncio protocols (not streams) so the straight-through path is one write per
read. The upstream is dialled only when a client connects; if that fails the client
socket is closed at once, as Toxiproxy does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import struct
from typing import TYPE_CHECKING, Any

from assay.faults.link import Link
from assay.faults.splice import SPLICE_MIN

if TYPE_CHECKING:
    from assay.faults.proxy import Proxy

log = logging.getLogger("assay.faults")

_LINGER_RST = struct.pack("ii", 1, 0)
# On loopback, BBR's pacing (the default congestion control on some kernels) caps a bulk
# stream far below what the hop can carry; the proxy's own sends use an unpaced one there.
_UNPACED = (b"cubic", b"reno")
_TUNE_CC = os.environ.get("ASSAY_FAULTS_LOOPBACK_CC") != "0" and hasattr(socket, "TCP_CONGESTION")


def tune_socket(sock: Any) -> None:
    """TCP_NODELAY on a proxied socket (forwarded writes go out at once) and, when its
    peer is on loopback and the kernel paces it with BBR, an unpaced congestion control."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not _TUNE_CC:
            return
        host = ipaddress.ip_address(str(sock.getpeername()[0]).split("%")[0])
        if isinstance(host, ipaddress.IPv6Address) and host.ipv4_mapped is not None:
            host = host.ipv4_mapped
        if not host.is_loopback or sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0") != b"bbr":
            return
    except (OSError, ValueError):
        return
    for name in _UNPACED:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, name)
            return
        except OSError:
            continue
WRITE_HIGH = 1024 * 1024
WRITE_LOW = 256 * 1024


class _Side(asyncio.Protocol):
    """The protocol of one socket: feeds its reading link, backs off its writing link."""

    def __init__(self, conn: Connection, reading: Link, writing: Link) -> None:
        self.conn = conn
        self.reading = reading  # link whose source is this socket
        self.writing = writing  # link whose destination is this socket
        self.transport: asyncio.Transport | None = None

    def data_received(self, data: bytes) -> None:
        link = self.reading
        dst = link.dst
        if link.fast and link.tap is None and dst is not None:  # the straight pipe, inlined
            n = len(data)
            link.bytes_in += n
            link.bytes_out += n
            dst.write(data)
            if n >= SPLICE_MIN and link.can_splice and not dst.get_write_buffer_size():
                link.start_splice()  # a bulk stream: let the kernel forward it
        else:
            link.feed(data)

    def eof_received(self) -> bool:
        self.reading.feed_eof()
        return True  # keep the other half open until both directions are done

    def pause_writing(self) -> None:
        self.writing.pause_writing()

    def resume_writing(self) -> None:
        self.writing.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            # The peer reset or vanished: nothing queued for it can arrive, and the other side
            # must not wait on it (a graceful close there can block forever on an upstream that
            # is itself blocked sending to us). Pass the reset on.
            self.conn.reset()
        else:
            self.conn.close()
        self.conn.lost(self.transport)


class _ClientSide(_Side):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.conn.client_made(transport)  # type: ignore[arg-type]


class _UpstreamSide(_Side):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]


class Connection:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.up = Link(self, "upstream")  # client -> server
        self.down = Link(self, "downstream")  # server -> client
        self.client: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.closed = False
        self.http: object | None = None  # per-connection HTTP state, created by HTTP toxics
        self._dial: asyncio.Task[None] | None = None
        self._reset_handle: asyncio.TimerHandle | None = None
        self._open: set[asyncio.BaseTransport] = set()  # transports whose connection_lost has not come yet

    def client_protocol(self) -> _ClientSide:
        return _ClientSide(self, self.up, self.down)

    def client_made(self, transport: asyncio.Transport) -> None:
        self.client = transport
        self._open.add(transport)
        self.up.src = transport
        self.down.dst = transport
        transport.pause_reading()
        self.up.src_paused = True
        self.proxy.connection_opened(self)
        self._dial = asyncio.get_running_loop().create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        host, port = self.proxy.upstream_addr()
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_connection(
                lambda: _UpstreamSide(self, self.down, self.up), host, port
            )
        except (OSError, ValueError) as exc:
            log.info("proxy %s: upstream %s unreachable: %s", self.proxy.name, self.proxy.upstream, exc)
            self.close()
            return
        finally:
            self._dial = None
        if self.closed:
            transport.close()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            tune_socket(sock)
        self.upstream = transport
        self._open.add(transport)
        # Bigger write buffers than asyncio's 64 KiB: fewer pause/resume cycles on bulk streams.
        for t in (transport, self.client):
            if t is not None:
                t.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)
        self.up.dst = transport
        self.down.src = transport
        # Toxics that exist now apply to this connection from its first byte.
        self.proxy.attach(self)
        self.up.flush_pending()
        self.up.src_paused = False
        self.up._update_reading()
        if self.client is not None and not self.client.is_closing():
            self.client.resume_reading()

    def direction_done(self) -> None:
        if self.up.eof and self.down.eof:
            self.close()

    def close(self) -> None:
        """Close both sockets (FIN after their buffers flush) and stop every task."""
        if self.closed:
            return
        self.closed = True
        if self._dial is not None:
            self._dial.cancel()
        if self._reset_handle is not None:
            self._reset_handle.cancel()
        self.up.cancel()
        self.down.cancel()
        for t in (self.client, self.upstream):
            if t is not None and not t.is_closing():
                t.close()
        self.proxy.connection_closed(self)
        if self._open:
            self.proxy.lingering.add(self)  # still flushing: released by lost(), or aborted by stop()

    def lost(self, transport: asyncio.BaseTransport | None) -> None:
        """A transport is gone for good (its connection_lost)."""
        self._open.discard(transport)  # type: ignore[arg-type]
        if not self._open:
            self.proxy.lingering.discard(self)

    def reset(self) -> None:
        """Close both sockets with an RST (SO_LINGER 0), dropping unsent data, also when a
        graceful close is already waiting for its buffer to drain."""
        for t in (self.client, self.upstream):
            if t is None or t not in self._open:
                continue
            sock = t.get_extra_info("socket")
            try:
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            except OSError:
                pass
            t.abort()
        self.close()

    def reset_later(self, seconds: float) -> None:
        if self.closed or self._reset_handle is not None:
            return
        self._reset_handle = asyncio.get_running_loop().call_later(seconds, self._reset_now)

    def _reset_now(self) -> None:
        self._reset_handle = None
        self.reset()

    def log_error(self, message: str) -> None:
        log.exception("proxy %s: %s", self.proxy.name, message)
