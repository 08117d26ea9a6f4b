"""Multi-user: 100 users x 10 devices; each user's messages reach only their conversations' participants.

Users sit in teams of five (one conversation each) and in pairs (user i with user i + N/2),
so every user takes part in two conversations. Every device of every user logs in on its
own and holds one socket per conversation of its user; each socket is a ledger receiver
entitled to its conversation only, so a message that shows up on another conversation's
socket is `messages_misdelivered`. Each user also tries to subscribe to a conversation it
is not in, which courier must refuse (a check).

Thresholds: messages_misdelivered == 0, messages_lost == 0, outsiders refused (checks),
errors < 0.1%.

    assay load run examples/courier/suite/multi_user.py -e COURIER_URL=http://127.0.0.1:8080   # 100 x 10, 5 min
    assay load run examples/courier/suite/multi_user.py -e COURIER_URL=... -e PROFILE=ci       # 6 x 3
"""

from __future__ import annotations

from courier_kit import (  # the metrics are imported by name: the loader finds module-level metrics
    BASE,
    WS_BASE,
    call_sync,
    heartbeats_answered,
    login,
    login_sync,
    messages_corrupted,
    seconds,
    send,
    size,
    subscribe,
    subscriber_disconnects,
    use_grace,
    wait_ready,
)

from assay.load.ws import WsError, ws_connect

SIZE = size(
    full={"users": 100, "devices": 10, "rate_per_user": 1.0, "duration_s": 300.0},
    ci={"users": 6, "devices": 3, "rate_per_user": 2.0, "duration_s": 8.0},
)
USERS = max(4, int(SIZE["users"]) // 2 * 2)  # pairs need an even count
TEAM = 5
LEAD_S = 5.0 + USERS * int(SIZE["devices"]) * 2 * 0.01  # time for every device to log in and connect
GRACE_S = 10.0

options = {
    "scenarios": {
        "users": {
            "executor": "per-vu-iterations",
            "vus": USERS,
            "iterations": 1,
            "maxDuration": seconds(LEAD_S + SIZE["duration_s"] + 30),
        },
    },
    "thresholds": {
        "messages_misdelivered": ["count==0"],
        "messages_lost": ["count==0"],
        "messages_failed": ["count==0"],
        "http_req_failed": ["rate<0.001"],
        "checks": ["rate==1"],
    },
}
_metrics = (heartbeats_answered, messages_corrupted, subscriber_disconnects)


def user_name(i: int) -> str:
    return f"user-{i}"


def setup() -> dict:
    """Teams of five and pairs; returns each user's conversations."""
    wait_ready()
    convs: dict[str, list[int]] = {user_name(i): [] for i in range(USERS)}
    for start in range(0, USERS, TEAM):
        members = [user_name(i) for i in range(start, min(start + TEAM, USERS))]
        token = login_sync(members[0])
        conv = call_sync("POST", "/conversations", token, {"title": f"team {start // TEAM}", "participants": members[1:]})
        for m in members:
            convs[m].append(conv["id"])
    half = USERS // 2
    for i in range(half):
        a, b = user_name(i), user_name(i + half)
        conv = call_sync("POST", "/conversations", login_sync(a), {"title": f"pair {i}", "participants": [b]})
        convs[a].append(conv["id"])
        convs[b].append(conv["id"])
    return {"convs": convs}


async def default(vu) -> None:
    use_grace(vu, GRACE_S)
    me = user_name(vu.id_in_scenario - 1)
    mine: list[int] = vu.data["convs"][me]
    for device in range(int(SIZE["devices"])):
        # each device logs in on its own: a fresh token per device, same user
        res = await vu.http.post(
            f"{BASE}/auth/login",
            json={"user_id": me, "password": vu.env.get("COURIER_PASSWORD", "courier")},
            tags={"name": "login", "kind": "auth"},
        )
        vu.check(res, {"login: status is 201": lambda r: r.status == 201})
        token = res.json()["token"]
        for cid in mine:
            await subscribe(vu, cid, token, receiver=f"{me}/d{device}/c{cid}", key=f"conv-{cid}")
    # An outsider: the first conversation this user is not in must refuse the socket.
    others = sorted({c for convs in vu.data["convs"].values() for c in convs} - set(mine))
    if others:
        token = await login(vu, me)
        try:
            session = await ws_connect(vu, f"{WS_BASE}/conversations/{others[0]}/ws?token={token}", name="outsider")
        except WsError as exc:
            vu.check(exc, {"outsider refused (403)": lambda e: e.status == 403})
        else:
            vu.check(None, {"outsider refused (403)": False})
            await session.close()
    await vu.sleep(max(0.0, LEAD_S - 0.5))  # everyone's devices are connected before the first message
    token = await login(vu, me)
    interval = 1.0 / float(SIZE["rate_per_user"])
    sent = 0
    while sent * interval < SIZE["duration_s"]:
        cid = mine[sent % len(mine)]
        res = await send(vu, cid, token, f"conv-{cid}", 256)
        vu.check(res, {"send: status is 201": lambda r: r.status == 201})
        sent += 1
        await vu.sleep(interval)
