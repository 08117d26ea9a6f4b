"""The ledger's mark on a message: id, producer, key, per-key sequence number and send time.

The mark travels with the message through the system under test, so a receiver needs
nothing but the message to tell the ledger what arrived. It is one short ASCII token,

    [ledger:vu-3:conv-7:42:1765112345.123456]

that fits anywhere a string fits: a JSON field, a chat message's text, an AMQP/NATS header,
a Redis stream field, an MQTT payload. `Envelope.find()` picks it out of any text, so a
service that wraps or echoes the body (adding fields, quoting it inside JSON) does not hide it.
Producer and key are percent-encoded, so they may hold any character.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

__all__ = ["Envelope", "HEADER", "FIELD"]

HEADER = "assay-ledger"
"""The header name adapters use where the transport has headers (AMQP, NATS, MQTT 5, HTTP)."""
FIELD = "ledger"
"""The JSON field `Envelope.wrap()` adds to a JSON object body."""

_TOKEN = re.compile(r"\[ledger:([^:\]\s]+):([^:\]\s]+):(\d+):(\d+(?:\.\d+)?)\]")


def _q(text: str) -> str:
    return quote(text, safe="-_.~")


@dataclass(frozen=True, slots=True)
class Envelope:
    """One ledgered message. `ts` is the wall-clock send time (seconds), so latency can be
    computed wherever it arrives, even in another worker process on the same machine."""

    producer: str
    key: str
    seq: int
    ts: float

    @property
    def id(self) -> str:
        """Unique per message: `producer:key:seq` (percent-encoded parts)."""
        return f"{_q(self.producer)}:{_q(self.key)}:{self.seq}"

    @property
    def stream(self) -> tuple[str, str]:
        """(producer, key): the unit whose sequence numbers must arrive in order."""
        return (self.producer, self.key)

    def token(self) -> str:
        return f"[ledger:{_q(self.producer)}:{_q(self.key)}:{self.seq}:{self.ts:.6f}]"

    __str__ = token

    def wrap(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A copy of the JSON object `body` with the token in its `ledger` field."""
        out = dict(body or {})
        out[FIELD] = self.token()
        return out

    @classmethod
    def find(cls, data: str | bytes | bytearray | memoryview | None) -> Envelope | None:
        """The envelope whose token appears in `data` (text or bytes), or None."""
        if data is None:
            return None
        if not isinstance(data, str):
            data = bytes(data).decode("utf-8", "replace")
        m = _TOKEN.search(data)
        if m is None:
            return None
        producer, key, seq, ts = m.groups()
        return cls(unquote(producer) if "%" in producer else producer, unquote(key) if "%" in key else key, int(seq), float(ts))

    @classmethod
    def parse(cls, token: str) -> Envelope:
        """The envelope of a token (ValueError when `token` carries none)."""
        env = cls.find(token)
        if env is None:
            raise ValueError(f"no ledger token in {token[:80]!r}")
        return env

    @classmethod
    def now(cls, producer: str, key: str, seq: int) -> Envelope:
        return cls(producer, key, seq, time.time())
