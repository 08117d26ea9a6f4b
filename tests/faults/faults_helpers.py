"""Socket helpers shared by the fault proxy tests."""

from __future__ import annotations

import socket


def port_of(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def connect(listen: str, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port_of(listen)), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            break
        buf += data
    return buf


def recv_all(sock: socket.socket) -> bytes:
    buf = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return buf
        buf += data


def closed_by_peer(sock: socket.socket) -> bool:
    """True once the peer closed: a FIN, or an RST (closing a socket with unread data sends one)."""
    try:
        return recv_all(sock) == b""
    except ConnectionResetError:
        return True
