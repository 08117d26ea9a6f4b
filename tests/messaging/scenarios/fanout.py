"""Four users in two conversations over the faulty fan-out service; every message ledgered.

Each VU is a user: it holds a subscriber socket entitled to its conversation, waits for the
others to connect, then posts to its conversation (to both of its members)."""

from assay.load.ledgered import ledgered_request, subscribe_ws

options = {
    "scenarios": {"chat": {"executor": "per-vu-iterations", "vus": 4, "iterations": 12, "maxDuration": "30s"}},
    "thresholds": {"messages_lost": ["count==0"], "messages_duplicated": ["count==0"]},
}


async def everyone_online(vu, base, n):
    """Wait until all 4 users hold their socket, so every message is owed to every member."""
    for _ in range(200):
        res = await vu.http.get(base + "/online", tags={"name": "online"})
        if res.status == 200 and res.json()["users"] >= n:
            return
        await vu.sleep(0.05)


async def default(vu):
    base = vu.env["BASE"]
    user = f"u{vu.id}"
    conv = f"c{vu.id % 2}"
    members = [f"u{i}" for i in range(1, 5) if i % 2 == vu.id % 2]
    await subscribe_ws(vu, base.replace("http", "ws") + f"/ws?user={user}", receiver=user, keys=[conv])
    if vu.iteration == 0:
        await everyone_online(vu, base, 4)
    res, _ = await ledgered_request(vu, "POST", base + "/send", conv, json={"from": user, "to": members})
    vu.check(res, {"201": lambda r: r.status == 201})
