"""courier's load scenario in Python: the CRUD mix plus message sends with end-to-end delivery latency.

    COURIER_URL=http://127.0.0.1:8080 assay load run examples/courier/suite/load.py --summary-export out.json

COURIER_LOAD_DURATION (default 20s) sets how long both scenarios run.
    assay slo check out.json --slo examples/courier/suite/slo.yaml

`crud` picks one operation per iteration: 40% create, 30% list, 20% update, 10% delete.
Each VU updates and deletes conversations it created itself (kept in `vu.state`), so
the mix stays what it says. `chat` keeps a WebSocket open on a conversation and measures
how long a POSTed message takes to arrive on it (`delivery_latency`).
"""

from __future__ import annotations

import os
import random

from assay.load.delivery import DeliveryTracker, delivery_failed, delivery_latency, post_and_measure
from assay.load.ws import ws_connect

BASE = os.environ.get("COURIER_URL", "http://127.0.0.1:8080").rstrip("/")
WS_BASE = "ws" + BASE[len("http") :]
DURATION = os.environ.get("COURIER_LOAD_DURATION", "20s")
MIX = [("create", 40), ("list", 30), ("update", 20), ("delete", 10)]

options = {
    "scenarios": {
        "crud": {
            "executor": "constant-arrival-rate",
            "rate": 40,
            "timeUnit": "1s",
            "duration": DURATION,
            "preAllocatedVUs": 20,
            "maxVUs": 60,
            "exec": "crud",
        },
        "chat": {"executor": "constant-vus", "vus": 2, "duration": DURATION, "exec": "chat"},
    },
    "thresholds": {
        "http_req_duration{kind:read}": ["p(95)<350"],
        "http_req_duration{kind:write}": ["p(95)<700"],
        "http_req_failed": ["rate<0.001"],
        "delivery_latency": ["p(95)<1000"],
        "delivery_failed": ["rate<0.001"],
    },
}
# The loader finds module-level metrics; naming them here lets thresholds use them.
_delivery_metrics = (delivery_latency, delivery_failed)


PASSWORD = os.environ.get("COURIER_PASSWORD", "courier")


def _headers(vu) -> dict[str, str]:
    return {"Authorization": f"Bearer {vu.state['token']}"}


async def _login(vu) -> bool:
    """Each VU logs in once (POST /auth/login) and keeps its token in vu.state."""
    if "token" in vu.state:
        return True
    res = await vu.http.post(
        f"{BASE}/auth/login",
        json={"user_id": f"load-{vu.id}", "password": PASSWORD},
        tags={"name": "login", "kind": "auth"},
    )
    if not vu.check(res, {"login: status is 201": lambda r: r.status == 201}):
        return False
    vu.state["token"] = res.json()["token"]
    return True


def setup() -> dict[str, str]:
    """Fail fast, before any load, if courier is not there."""
    import urllib.request

    with urllib.request.urlopen(f"{BASE}/health/ready", timeout=5) as resp:
        if resp.status != 200:
            raise RuntimeError(f"courier at {BASE} is not ready ({resp.status})")
    return {"base": BASE}


async def _create(vu) -> dict | None:
    res = await vu.http.post(
        f"{BASE}/conversations",
        json={"title": f"load {vu.id}-{vu.iteration}", "participants": ["observer"]},
        headers=_headers(vu),
        tags={"name": "create", "kind": "write"},
    )
    if not vu.check(res, {"create: status is 201": lambda r: r.status == 201}):
        return None
    conv = res.json()
    vu.state.setdefault("mine", []).append((conv["id"], conv["version"]))
    send = await vu.http.post(
        f"{BASE}/conversations/{conv['id']}/messages",
        json={"body": "first!"},
        headers={**_headers(vu), "Idempotency-Key": f"{vu.id}-{vu.iteration}-{conv['id']}"},
        tags={"name": "send", "kind": "write"},
    )
    vu.check(send, {"send: status is 201": lambda r: r.status == 201})
    return conv


async def crud(vu) -> None:
    if not await _login(vu):
        return
    op = random.choices([name for name, _ in MIX], weights=[w for _, w in MIX])[0]
    mine: list[tuple[int, int]] = vu.state.setdefault("mine", [])
    if op == "create":
        await _create(vu)
    elif op == "list":
        res = await vu.http.get(
            f"{BASE}/conversations?limit=20", headers=_headers(vu), tags={"name": "list", "kind": "read"}
        )
        vu.check(res, {"list: status is 200": lambda r: r.status == 200})
    elif not mine:
        await _create(vu)  # nothing of ours to change yet
    elif op == "update":
        index = random.randrange(len(mine))
        cid, version = mine[index]
        res = await vu.http.patch(
            f"{BASE}/conversations/{cid}",
            json={"title": f"renamed {vu.iteration}", "version": version},
            headers=_headers(vu),
            tags={"name": "update", "kind": "write"},
        )
        if vu.check(res, {"update: status is 200": lambda r: r.status == 200}):
            mine[index] = (cid, res.json()["version"])
    else:
        cid, version = mine.pop(random.randrange(len(mine)))
        res = await vu.http.delete(
            f"{BASE}/conversations/{cid}",
            headers={**_headers(vu), "If-Match": f'"{version}"'},
            tags={"name": "delete", "kind": "write"},
        )
        vu.check(res, {"delete: status is 204": lambda r: r.status == 204})


async def chat(vu) -> None:
    if not await _login(vu):
        await vu.sleep(1)
        return
    if "room" not in vu.state:
        conv = await _create(vu)
        if conv is None:
            await vu.sleep(1)
            return
        vu.state["room"] = conv["id"]
    room = vu.state["room"]
    url = f"{WS_BASE}/conversations/{room}/ws"
    async with (
        ws_connect(vu, url, headers=_headers(vu), name="subscribe") as ws,
        DeliveryTracker(vu, ws, correlation="$.message.body", name="message") as tracker,
    ):
        for _ in range(5):
            await post_and_measure(
                vu,
                tracker,
                f"{BASE}/conversations/{room}/messages",
                {"body": ""},
                id_field="body",
                headers=_headers(vu),
                name="send",
            )
            await vu.sleep(0.2)
