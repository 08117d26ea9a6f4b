"""Zero-copy forwarding for a link with no toxics: socket -> pipe -> socket with os.splice.

Through the straight pipe every byte of a bulk stream is copied twice through Python
(kernel -> bytes -> kernel). When a link with no toxics sees a big read, it lets the
kernel move the bytes instead: the source transport stops reading, and os.splice moves
data from the source socket into a pipe and from the pipe into the destination socket
without it entering user space. Request/response traffic (small reads) never switches:
there splice would cost the same syscalls plus a pipe.

The transports keep owning the sockets; the splicer works on dup()ed descriptors of
them (uvloop refuses readers on a transport's own fd, and a descriptor we own can't be
closed and reused under us if the transport dies first). `stop()` hands the link back to its
transports at once, writing what is still in the pipe through the destination
transport first, so a toxic added later sees every following byte, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assay.faults.link import Link

# ASSAY_FAULTS_SPLICE=0 keeps every link on the userspace path (to compare, or to rule splice out).
AVAILABLE = hasattr(os, "splice") and hasattr(fcntl, "F_SETPIPE_SZ") and os.environ.get("ASSAY_FAULTS_SPLICE") != "0"
SPLICE_MIN = 64 * 1024  # a single read this big suggests a bulk stream
PIPE_SIZE = 1024 * 1024  # fewer wakeups per byte; fs.pipe-max-size is 1 MiB by default
_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)


def _fd(transport: asyncio.Transport) -> int:
    sock = transport.get_extra_info("socket")
    if sock is None:
        raise OSError("transport has no socket")
    return int(sock.fileno())


class Splicer:
    """One direction of one connection, forwarded by the kernel."""

    __slots__ = (
        "link", "loop", "src_watch", "dst_watch", "pr", "pw", "size",
        "inpipe", "reading", "writing", "full", "eof", "stopped",
    )

    def __init__(self, link: Link, src: asyncio.Transport, dst: asyncio.Transport) -> None:
        self.link = link
        self.loop = asyncio.get_running_loop()
        src_fd, dst_fd = _fd(src), _fd(dst)
        self.pr, self.pw = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        fds = [self.pr, self.pw]
        try:
            # Over the per-user pipe budget the kernel refuses; its default 64 KiB still works.
            with contextlib.suppress(OSError):
                fcntl.fcntl(self.pw, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            self.size = fcntl.fcntl(self.pw, fcntl.F_GETPIPE_SZ)
            self.src_watch = os.dup(src_fd)
            fds.append(self.src_watch)
            self.dst_watch = os.dup(dst_fd)
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        self.inpipe = 0  # bytes read from the source, not yet written to the destination
        self.reading = False
        self.writing = False
        self.full = False  # the pipe took nothing though the source had data
        self.eof = False
        self.stopped = False

    def start(self) -> None:
        self.reading = True
        self.loop.add_reader(self.src_watch, self._readable)

    def _readable(self) -> None:
        room = self.size - self.inpipe
        if self.stopped or room <= 0:
            return
        try:
            n = os.splice(self.src_watch, self.pw, room, flags=_FLAGS)
        except BlockingIOError:
            # Nothing to read, or the pipe has no free slot: wait for the destination.
            n = -1
            self.full = self.inpipe > 0
        except OSError:  # the source reset or vanished, as connection_lost would say
            self.link.conn.close()
            return
        if n == 0:
            self.eof = True
        elif n > 0:
            self.inpipe += n
            self.link.bytes_in += n
        self._drain()

    def _drain(self) -> None:
        """Write what the pipe holds, then watch what can make progress: the source while
        the pipe has room (so the source never waits on the destination's wakeups), the
        destination while the pipe holds bytes it did not take."""
        if self.stopped:
            return
        if self.inpipe:
            try:
                m = os.splice(self.pr, self.dst_watch, self.inpipe, flags=_FLAGS)
            except BlockingIOError:
                m = 0
            except OSError:  # the destination reset or vanished
                self.link.conn.close()
                return
            if m:
                self.inpipe -= m
                self.link.bytes_out += m
                self.full = False
        if self.eof and not self.inpipe:  # everything read has been written: forward the FIN
            link = self.link
            self.stop()
            link.spliced_eof()
            return
        loop = self.loop
        read = not self.eof and not self.full and self.inpipe < self.size
        if read != self.reading:
            self.reading = read
            if read:
                loop.add_reader(self.src_watch, self._readable)
            else:
                loop.remove_reader(self.src_watch)
        write = self.inpipe > 0
        if write != self.writing:
            self.writing = write
            if write:
                loop.add_writer(self.dst_watch, self._drain)
            else:
                loop.remove_writer(self.dst_watch)

    def stop(self) -> None:
        """Stop watching, close the pipe and the watch descriptors, and give what is left
        in the pipe to the destination transport (unless it is being torn down)."""
        if self.stopped:
            return
        self.stopped = True
        if self.reading:
            self.loop.remove_reader(self.src_watch)
        if self.writing:
            self.loop.remove_writer(self.dst_watch)
        self.reading = self.writing = False
        left: list[bytes] = []
        while self.inpipe > 0:
            try:
                data = os.read(self.pr, self.inpipe)
            except OSError:
                break
            if not data:
                break
            left.append(data)
            self.inpipe -= len(data)
        for fd in (self.pr, self.pw, self.src_watch, self.dst_watch):
            os.close(fd)
        link = self.link
        link.splice = None
        dst = link.dst
        if left and dst is not None and not dst.is_closing():
            data = b"".join(left)
            link.bytes_out += len(data)
            dst.write(data)
