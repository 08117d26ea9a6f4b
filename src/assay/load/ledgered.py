"""The delivery ledger inside a load run: `vu.ledger`, ledgered sends and per-VU subscribers.

Each worker process has one ledger for the run, created the first time a VU touches it.
When the scenarios end, the engine waits up to the ledger's grace period for messages
still in flight (subscribers keep reading meanwhile), closes the subscribers, and puts the
ledger's state in the worker's result; the coordinator merges the workers' states exactly and
writes the verdict as metrics (`messages_lost`, `message_delivery_latency`, ...) that
thresholds and SLO gates read.

    from assay.load.ledgered import ledgered_request, subscribe_ws

    async def default(vu):
        conv = f"conv-{vu.id % 10}"
        # one socket per VU, kept open across iterations and through the grace period
        await subscribe_ws(vu, WS + f"/ws?user=u{vu.id}", keys=[conv])
        res, env = await ledgered_request(vu, "POST", HTTP + f"/conversations/{conv}/messages", conv,
                                          json={"text": "hi"})

    # or by hand: env = vu.ledger.send(producer_name(vu), key); ...; vu.ledger.ack(env)
    #             vu.ledger.receive("alice", message_text)
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from assay.load.ws import WsError, WsSession, ws_connect
from assay.messaging.envelope import FIELD, Envelope
from assay.messaging.ledger import ALL_KEYS, Ledger
from assay.messaging.verdict import LEDGER_METRICS
from assay.results import RunResult

__all__ = [
    "run_ledger",
    "producer_name",
    "receiver_name",
    "mark_body",
    "ledgered_request",
    "ledgered_ws_send",
    "subscribe_ws",
    "WsSubscriber",
    "finish_run_ledger",
    "apply_ledger",
    "LEDGER_METRICS",
]

_RUN_LEDGERS: weakref.WeakKeyDictionary[Any, Ledger] = weakref.WeakKeyDictionary()
_SUBSCRIBER_STATE = "_assay_ledger_subscribers"


def run_ledger(sink: Any) -> Ledger:
    """The ledger of the run that records into `sink` (this worker's), created on first use."""
    ledger = _RUN_LEDGERS.get(sink)
    if ledger is None:
        ledger = _RUN_LEDGERS[sink] = Ledger()
    return ledger


def producer_name(vu: Any) -> str:
    """A producer name unique in the whole run: VU ids are global across workers."""
    return f"vu{vu.id}"


def receiver_name(vu: Any) -> str:
    return f"vu{vu.id}"


def mark_body(env: Envelope, body: Any) -> Any:
    """`body` carrying `env`'s token: a JSON object gets a `ledger` field, text gets the token appended."""
    if body is None:
        return {FIELD: env.token()}
    if isinstance(body, Mapping):
        return env.wrap(dict(body))
    if isinstance(body, bytes):
        return body + b" " + env.token().encode("ascii")
    return f"{body} {env.token()}"


async def ledgered_request(
    vu: Any,
    method: str,
    url: str,
    key: str,
    *,
    json: Any = None,
    body: str | bytes | None = None,
    producer: str | None = None,
    field: str | None = None,
    **kwargs: Any,
) -> tuple[Any, Envelope]:
    """Send one ledgered message over HTTP: mark it, send it, ack it on 2xx/3xx, fail it otherwise.

    The token goes in the JSON body's `ledger` field (or `field`, a top-level key whose text
    gets the token appended, e.g. a chat message's `text`), or at the end of a text body."""
    ledger: Ledger = vu.ledger
    env = ledger.send(producer or producer_name(vu), key)
    if json is not None or body is None:
        doc = dict(json or {})
        if field:
            doc[field] = f"{doc.get(field, '')} {env.token()}".strip()
            kwargs["json"] = doc
        else:
            kwargs["json"] = mark_body(env, doc)
    else:
        kwargs["body"] = mark_body(env, body)
    try:
        res = await vu.http.request(method, url, **kwargs)
    except BaseException:
        ledger.fail(env)
        raise
    if getattr(res, "error_code", 0) or res.status >= 400 or res.status == 0:
        ledger.fail(env)
    else:
        ledger.ack(env)
    return res, env


async def ledgered_ws_send(vu: Any, session: WsSession, key: str, message: Any = None, *, producer: str | None = None) -> Envelope:
    """Send one ledgered message on a WebSocket (acked once written: frames have no acknowledgement)."""
    ledger: Ledger = vu.ledger
    env = ledger.send(producer or producer_name(vu), key, acked=False)
    try:
        await session.send(mark_body(env, message))
    except WsError:
        ledger.fail(env)
        raise
    ledger.ack(env)
    return env


class WsSubscriber:
    """A WebSocket whose every message is recorded in the ledger as arriving at `receiver`.

    It reads in the background until the ledger closes it at the end of the run (after the
    grace period), so messages delivered after the sending VU finished still count."""

    def __init__(self, ledger: Ledger, session: WsSession, receiver: str, keys: list[str]) -> None:
        self.ledger = ledger
        self.session = session
        self.receiver = receiver
        self.keys = keys
        self.error: str | None = None
        self.task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        receive = self.ledger.receive
        try:
            while True:
                message = await self.session.recv(timeout=None)
                receive(self.receiver, message)
        except WsError as exc:
            self.error = str(exc)
            # a closed subscriber is owed nothing sent after the last message it got
            last = self.ledger.last_seen(self.receiver)
            self.ledger.revoke(self.receiver, self.keys, until=None if last is None else last + 1e-6)

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, WsError):
            pass
        await self.session.close()


async def subscribe_ws(
    vu: Any,
    url: str,
    *,
    receiver: str | None = None,
    keys: str | Iterable[str] = ALL_KEYS,
    headers: Mapping[str, str] | None = None,
    name: str | None = None,
    since: float | None = None,
) -> WsSubscriber:
    """The VU's subscriber on `url` (opened on the first call, the same one after), entitled to `keys`.

    A VU may hold several (different URLs or receivers). Entitlement starts when the socket is open."""
    who = receiver or receiver_name(vu)
    subs: dict[tuple[str, str], WsSubscriber] = vu.state.setdefault(_SUBSCRIBER_STATE, {})
    found = subs.get((url, who))
    if found is not None and found.error is None:
        return found
    # the ledger first: a run whose subscribers could not connect still reports its verdict
    # (messages_sent 0, ...), so a threshold such as messages_delivered: count>0 is judged, not skipped
    ledger: Ledger = vu.ledger
    session = await ws_connect(vu, url, headers=headers, name=name or "subscriber")
    key_list = [keys] if isinstance(keys, str) else list(keys)
    ledger.entitle(who, key_list, since=since)
    sub = WsSubscriber(ledger, session, who, key_list)
    ledger.own(sub)
    subs[(url, who)] = sub
    return sub


async def finish_run_ledger(sink: Any) -> dict[str, Any] | None:
    """At the end of a worker's scenarios: wait out the grace period, close subscribers, return the state.

    None when no VU used the ledger."""
    ledger = _RUN_LEDGERS.pop(sink, None)
    if ledger is None:
        return None
    await ledger.settle()
    await ledger.close()
    return ledger.state()


def apply_ledger(result: RunResult, states: Iterable[dict[str, Any] | None]) -> Ledger | None:
    """Merge the workers' ledger states into `result`: verdict metrics and `extra["ledger"]`."""
    parts = [s for s in states if s]
    if not parts:
        return None
    ledger = Ledger.merged(parts)
    verdict = ledger.verdict(final=True)
    result.metrics.update(verdict.metrics())
    result.extra["ledger"] = verdict.to_dict()
    for problem in verdict.problems():
        result.notes.append(f"ledger: {problem}")
    return ledger

