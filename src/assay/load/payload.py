"""Payloads of a fixed size that carry their own digest, so corruption is caught per message.

    from assay.load.payload import payload, check_payload

    async def default(vu):
        text = payload("64KiB")                 # exactly 65536 bytes of ASCII, JSON-safe
        await vu.http.post(url, json={"text": text})
        ...
        check_payload(vu, received["text"])     # payloads_verified +1; payloads_corrupt +1 if it changed

A payload is `~a1:<16 hex digits>:<filler>`: the digest (BLAKE2b, 8 bytes) of the random
filler that follows it. Any change on the way (a truncation, a re-encoding, a byte from
another message) makes the digest disagree; no copy of the sent text has to be kept to
check it, so a receiver on another VU or process can verify what it got.

Metrics: `payloads_verified` (counter, every payload checked) and `payloads_corrupt`
(counter, those that did not match): gate with `payloads_corrupt: count==0`. In YAML,
`{{ payload.of('1KiB') }}` makes one, and a WebSocket `expect: {payload: "$.text"}`
checks the one at that JSON path of the awaited message.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any

MAGIC = "~a1:"
DIGEST_HEX = 16
HEADER = len(MAGIC) + DIGEST_HEX + 1
MIN_SIZE = HEADER + 1
MAX_SIZE = 64 * 1024 * 1024
VERIFIED = "payloads_verified"
CORRUPT = "payloads_corrupt"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|k|K)?\s*$")
_UNITS = {None: 1, "B": 1, "KB": 1000, "k": 1024, "K": 1024, "KiB": 1024, "MB": 1000**2, "MiB": 1024**2}


def parse_payload_size(size: int | str) -> int:
    """`1024`, `"1KiB"`, `"64KiB"`, `"1MiB"`, `"2KB"` -> bytes; ValueError naming the accepted forms."""
    if isinstance(size, bool):
        raise ValueError(f"payload size {size!r}: expected bytes (1024) or a size like '1KiB', '64KiB'")
    if isinstance(size, int):
        n = size
    else:
        m = _SIZE.match(str(size))
        if m is None:
            raise ValueError(f"payload size {size!r}: expected bytes (1024) or a size like '1KiB', '64KiB', '1MiB'")
        n = int(float(m.group(1)) * _UNITS[m.group(2)])
    if not MIN_SIZE <= n <= MAX_SIZE:
        raise ValueError(f"payload size {size!r}: must be between {MIN_SIZE} bytes and {MAX_SIZE // 1024**2} MiB")
    return n


def _digest(filler: str) -> str:
    return hashlib.blake2b(filler.encode("ascii"), digest_size=DIGEST_HEX // 2).hexdigest()


def payload(size: int | str = "1KiB") -> str:
    """A fresh payload of exactly `size` bytes (ASCII, safe inside JSON and URLs), random each call."""
    n = parse_payload_size(size)
    body_len = n - HEADER
    raw = os.urandom(body_len * 3 // 4 + 3)
    filler = base64.urlsafe_b64encode(raw).decode("ascii")[:body_len]
    return f"{MAGIC}{_digest(filler)}:{filler}"


def payload_intact(data: str | bytes | None) -> bool:
    """True when `data` is a payload whose filler still matches its digest."""
    if data is None:
        return False
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("ascii")
        except UnicodeDecodeError:
            return False
    if not isinstance(data, str) or len(data) < MIN_SIZE or not data.startswith(MAGIC) or data[HEADER - 1] != ":":
        return False
    return _digest_ok(data[len(MAGIC) : HEADER - 1], data[HEADER:])


def _digest_ok(digest: str, filler: str) -> bool:
    try:
        return _digest(filler) == digest
    except UnicodeEncodeError:
        return False


def check_payload(recorder: Any, data: str | bytes | None, tags: Mapping[str, str] | None = None) -> bool:
    """Verify one received payload and count it (`payloads_verified`, `payloads_corrupt`); returns whether it is intact.

    `recorder` is a VU (or anything with `record(name, value, tags)`, e.g. a ws SinkRecorder)."""
    ok = payload_intact(data)
    from assay.load.ws import declare  # a VU's sink knows these names; a standalone sink learns them here

    sink = getattr(recorder, "sink", None)
    if sink is None or CORRUPT not in getattr(sink, "types", ()):
        declare(recorder, VERIFIED, "counter", "default")
        declare(recorder, CORRUPT, "counter", "default")
    record = recorder.record
    record(VERIFIED, 1.0, tags)
    record(CORRUPT, 0.0 if ok else 1.0, tags)  # 0 when intact: the metric shows (count 0) whenever payloads were checked
    return ok
