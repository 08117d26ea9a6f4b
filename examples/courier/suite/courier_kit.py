"""What the messaging team's scenarios share: sizes (full or CI), logins, checked payloads, ledgered sends
and subscribers that answer courier's heartbeats.

Sizes. Each scenario names its full size (the plan's numbers) and its CI size; `-e PROFILE=ci`
picks the CI one, `-e SCALE=0.05` scales the full one (rates, counts and durations; durations
never below 10 s), and `-e DURATION=2m` overrides the length:

    assay load run examples/courier/suite/soak.py -e COURIER_URL=http://127.0.0.1:8080              # 30 min
    assay load run examples/courier/suite/soak.py -e COURIER_URL=http://127.0.0.1:8080 -e PROFILE=ci

Every message is ledgered (assay.messaging): its body is exactly the payload size and carries
the ledger's token followed by filler derived from that token, so each receiver can tell a
corrupted body (`messages_corrupted`) from a good one without keeping what was sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from assay.load.custom_metrics import Counter, Trend
from assay.load.ledgered import WsSubscriber, producer_name
from assay.load.ws import WsError, ws_connect
from assay.messaging.envelope import Envelope
from assay.messaging.ledger import Ledger

BASE = os.environ.get("COURIER_URL", "http://127.0.0.1:8080").rstrip("/")
WS_BASE = "ws" + BASE[len("http") :]
PASSWORD = os.environ.get("COURIER_PASSWORD", "courier")
MIN_SCALED_DURATION_S = 10.0

messages_corrupted = Counter("messages_corrupted")
"""Bodies that arrived changed (size or content): recorded, and left out of the ledger (so also lost)."""
subscriber_disconnects = Counter("subscriber_disconnects")
"""Subscriber sockets that closed before the run ended them."""
heartbeats_answered = Counter("heartbeats_answered")
"""Server pings answered with a pong."""
consumer_lag = Trend("courier_consumer_lag_s")
"""courier_consumer_lag_seconds read from courier's /metrics once a second (see `watch_lag`)."""
KIT_METRICS = (messages_corrupted, subscriber_disconnects, heartbeats_answered, consumer_lag)


def profile() -> str:
    return "ci" if os.environ.get("PROFILE", "").lower() == "ci" else "full"


def size(full: dict[str, Any], ci: dict[str, Any]) -> dict[str, Any]:
    """The scenario's numbers for this run: `ci` with PROFILE=ci, else `full` times SCALE.

    Keys ending in `_s` are seconds (scaled, but not below 10 s); numbers are scaled and
    rounded up (at least 1); anything else is kept."""
    if profile() == "ci":
        chosen = dict(ci)
    else:
        scale = float(os.environ.get("SCALE", "1") or 1)
        if scale <= 0:
            raise ValueError(f"SCALE must be > 0, not {scale}")
        chosen = {}
        for key, value in full.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or scale == 1:
                chosen[key] = value
            elif key.endswith("_s"):
                chosen[key] = max(MIN_SCALED_DURATION_S, value * scale)
            else:
                scaled = value * scale
                chosen[key] = max(1, round(scaled)) if isinstance(value, int) else max(1e-3, scaled)
    if os.environ.get("DURATION") and "duration_s" in chosen:
        from assay.load.durations import parse_duration

        chosen["duration_s"] = parse_duration(os.environ["DURATION"], what="DURATION")
    return chosen


def seconds(value: float) -> str:
    """A k6 duration string for `value` seconds."""
    return f"{max(0.001, value):.3f}s"


# -- logins ---------------------------------------------------------------------------------------


async def login(vu: Any, user: str) -> str:
    """`user`'s token from POST /auth/login, once per VU and user."""
    tokens: dict[str, str] = vu.state.setdefault("tokens", {})
    if user not in tokens:
        res = await vu.http.post(
            f"{BASE}/auth/login",
            json={"user_id": user, "password": PASSWORD},
            tags={"name": "login", "kind": "auth"},
        )
        if not vu.check(res, {"login: status is 201": lambda r: r.status == 201}):
            raise RuntimeError(f"courier refused the login of {user}: {res.status} {res.error or res.body[:200]!r}")
        tokens[user] = res.json()["token"]
    return tokens[user]


def login_sync(user: str) -> str:
    """A token for setup(), which runs before any VU."""
    import urllib.request

    request = urllib.request.Request(
        f"{BASE}/auth/login",
        data=json.dumps({"user_id": user, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return str(json.loads(resp.read())["token"])


def call_sync(method: str, path: str, token: str, body: Any = None) -> Any:
    """One JSON call for setup(): conversations and participants are made before the load."""
    import urllib.request

    request = urllib.request.Request(
        f"{BASE}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_ready(timeout: float = 30.0) -> None:
    """Fail fast, before any load, if courier is not there."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{BASE}/health/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"courier at {BASE} is not ready")
        time.sleep(0.5)


# -- checked payloads -----------------------------------------------------------------------------


def _filler(token: str, length: int) -> str:
    seed = hashlib.sha256(token.encode()).hexdigest()
    return (seed * (length // len(seed) + 1))[:length]


def payload(token: str, size_bytes: int) -> str:
    """A message body of exactly `size_bytes` (ASCII): the ledger token, a space, filler from the token."""
    room = size_bytes - len(token) - 1
    if room < 0:
        raise ValueError(f"a {size_bytes}-byte payload cannot hold the {len(token)}-byte ledger token")
    return f"{token} {_filler(token, room)}"


def intact(body: str) -> bool:
    """Whether a received body is exactly what `payload` made for its token."""
    token, _, rest = body.partition(" ")
    return Envelope.find(token) is not None and rest == _filler(token, len(rest)) and len(rest) > 0


async def send(
    vu: Any, cid: int, token: str, key: str, size_bytes: int, *, name: str = "send", tags: dict[str, str] | None = None
) -> Any:
    """POST one ledgered message of `size_bytes` to conversation `cid`; ack or fail it in the ledger."""
    ledger: Ledger = vu.ledger
    env = ledger.send(producer_name(vu), key)
    body = payload(env.token(), size_bytes)
    try:
        res = await vu.http.post(
            f"{BASE}/conversations/{cid}/messages",
            json={"body": body},
            headers=auth(token),
            tags={"name": name, "kind": "write", **(tags or {})},
        )
    except BaseException:
        ledger.fail(env)
        raise
    if res.error_code or res.status != 201:
        ledger.fail(env)
    else:
        ledger.ack(env)
    return res


# -- subscribers ----------------------------------------------------------------------------------


class CheckedSubscriber(WsSubscriber):
    """A ledger subscriber on a courier conversation: answers pings, checks every body before the ledger sees it."""

    closing = False

    async def _read(self) -> None:
        receive = self.ledger.receive
        try:
            while True:
                raw = await self.session.recv(timeout=None)
                try:
                    event = json.loads(raw)
                except (TypeError, ValueError):
                    continue
                kind = event.get("type") if isinstance(event, dict) else None
                if kind == "ping":
                    await self.session.send({"type": "pong", "seq": event.get("seq")})
                    heartbeats_answered.add(1)
                    continue
                if kind != "message.created":
                    continue
                body = str(event.get("message", {}).get("body", ""))
                if not intact(body):
                    messages_corrupted.add(1)
                    continue
                receive(self.receiver, body)
        except WsError as exc:
            self.error = str(exc)
            if not self.closing:
                subscriber_disconnects.add(1)
            self.ledger.revoke(self.receiver, self.keys)

    async def close(self) -> None:
        self.closing = True
        await super().close()


async def subscribe(vu: Any, cid: int, token: str, *, receiver: str, key: str) -> CheckedSubscriber:
    """The VU's subscriber to conversation `cid` as `receiver`, entitled to ledger key `key` (opened once)."""
    subs: dict[str, CheckedSubscriber] = vu.state.setdefault("subscribers", {})
    found = subs.get(receiver)
    if found is not None and found.error is None:
        return found
    session = await ws_connect(vu, f"{WS_BASE}/conversations/{cid}/ws?token={token}", name="subscribe")
    ledger: Ledger = vu.ledger
    ledger.entitle(receiver, [key])
    sub = CheckedSubscriber(ledger, session, receiver, [key])
    ledger.own(sub)
    subs[receiver] = sub
    return sub


def use_grace(vu: Any, grace_s: float) -> None:
    """Give messages in flight `grace_s` after the load to arrive before they count as lost."""
    ledger: Ledger = vu.ledger
    ledger.grace = max(ledger.grace, grace_s)


# -- courier's own metrics ------------------------------------------------------------------------


def read_metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            try:
                return float(line.rsplit(" ", 1)[1])
            except ValueError:
                return None
    return None


async def watch_lag(vu: Any, until: float, base: str = BASE) -> None:
    """Read courier_consumer_lag_seconds from `base`/metrics once a second until `until` (time.time())."""
    while time.time() < until:
        res = await vu.http.get(f"{base}/metrics", tags={"name": "metrics", "kind": "monitor"})
        if res.status == 200:
            lag = read_metric(res.body.decode("utf-8", "replace"), "courier_consumer_lag_seconds")
            if lag is not None:
                consumer_lag.add(lag)
        await asyncio.sleep(max(0.0, min(1.0, until - time.time())))


# -- rooms: one writer and one reader per conversation --------------------------------------------


def setup_rooms(prefix: str, count: int) -> dict[str, Any]:
    """Create `count` conversations, room i owned by `<prefix>-writer-i` with `<prefix>-reader-i` in it.

    The writers log in here, once: the load that follows is messages, not logins."""
    wait_ready()
    rooms = []
    for i in range(count):
        writer, reader = f"{prefix}-writer-{i}", f"{prefix}-reader-{i}"
        token = login_sync(writer)
        conv = call_sync("POST", "/conversations", token, {"title": f"{prefix} {i}", "participants": [reader]})
        rooms.append({"cid": conv["id"], "writer": writer, "reader": reader, "writer_token": token})
    return {"rooms": rooms}


async def read_room(vu: Any, grace_s: float) -> None:
    """Reader VU i: subscribe to room i as its reader (the socket stays open through the grace period)."""
    use_grace(vu, grace_s)
    room = vu.data["rooms"][(vu.id_in_scenario - 1) % len(vu.data["rooms"])]
    token = await login(vu, room["reader"])
    await subscribe(vu, room["cid"], token, receiver=room["reader"], key=f"room-{room['cid']}")


async def write_room(vu: Any, size_bytes: int) -> None:
    """One message of `size_bytes` from a room's writer, the rooms taken in turn."""
    rooms = vu.data["rooms"]
    room = rooms[(vu.id_in_scenario * 7 + vu.iteration) % len(rooms)]
    res = await send(vu, room["cid"], room["writer_token"], f"room-{room['cid']}", size_bytes)
    vu.check(res, {"send: status is 201": lambda r: r.status == 201})


def room_scenarios(*, rooms: int, rate: float, duration_s: float, lead_s: float = 3.0) -> dict[str, Any]:
    """readers (one VU per room, connected first), writers (an arrival rate after `lead_s`), monitor (lag)."""
    return {
        "readers": {
            "executor": "per-vu-iterations",
            "vus": rooms,
            "iterations": 1,
            "maxDuration": seconds(lead_s + duration_s),
            "exec": "reader",
        },
        "writers": {
            "executor": "constant-arrival-rate",
            "rate": rate,
            "timeUnit": "1s",
            "duration": seconds(duration_s),
            "startTime": seconds(lead_s),
            "preAllocatedVUs": max(2, int(rate // 20)),
            "maxVUs": max(10, int(rate)),
            "exec": "writer",
        },
        "monitor": {
            "executor": "per-vu-iterations",
            "vus": 1,
            "iterations": 1,
            "maxDuration": seconds(lead_s + duration_s + 5),
            "exec": "monitor",
        },
    }


@dataclass(frozen=True)
class RoomTraffic:
    """A room-traffic scenario's shape: `rooms` readers connected first, writers at `rate`/s, a lag monitor.

    The loader runs only functions defined in the scenario file itself, so each file keeps its
    `reader`/`writer`/`monitor` one-liners and hands them to these methods."""

    prefix: str
    rooms: int
    rate: float
    duration_s: float
    message_bytes: int
    grace_s: float
    lead_s: float = 3.0

    def options(self, thresholds: dict[str, list[str]]) -> dict[str, Any]:
        return {
            "scenarios": room_scenarios(rooms=self.rooms, rate=self.rate, duration_s=self.duration_s, lead_s=self.lead_s),
            "thresholds": thresholds,
        }

    def setup(self) -> dict[str, Any]:
        return setup_rooms(self.prefix, self.rooms)

    async def read(self, vu: Any) -> None:
        await read_room(vu, self.grace_s)

    async def write(self, vu: Any) -> None:
        await write_room(vu, self.message_bytes)

    async def watch(self, vu: Any) -> None:
        await watch_lag(vu, time.time() + self.lead_s + self.duration_s)
