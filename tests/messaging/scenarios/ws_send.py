"""Three users in one room: each sends ledgered frames on its own socket, which also receives."""

from assay.load.ledgered import ledgered_ws_send, subscribe_ws

options = {"scenarios": {"room": {"executor": "per-vu-iterations", "vus": 3, "iterations": 10, "maxDuration": "30s"}}}


async def everyone_online(vu, base, n):
    """Wait until all 3 users hold their socket, so every message is owed to every member."""
    for _ in range(200):
        res = await vu.http.get(base + "/online", tags={"name": "online"})
        if res.status == 200 and res.json()["users"] >= n:
            return
        await vu.sleep(0.05)


async def default(vu):
    user = f"u{vu.id}"
    sub = await subscribe_ws(vu, vu.env["BASE"].replace("http", "ws") + f"/ws?user={user}", receiver=user, keys=["room"])
    if vu.iteration == 0:
        await everyone_online(vu, vu.env["BASE"], 3)
    await ledgered_ws_send(vu, sub.session, "room", {"from": user, "to": ["u1", "u2", "u3"]})
    await vu.sleep(0.02)
