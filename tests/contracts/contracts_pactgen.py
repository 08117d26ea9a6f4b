"""Helpers shared by the contracts tests: pacts written by the real pact-python, and a tiny provider."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from pact import Pact, match


def write_pacts(out: Path, spec: str = "V4", consumer: str = "UserWeb", provider: str = "UserAPI") -> Path:
    """Run a consumer test against pact-python's mock server and write the pact file."""
    p = Pact(consumer, provider).with_specification(spec)
    (
        p.upon_receiving("a request for user 42")
        .given("user exists", id=42, name="Alice")
        .with_request("GET", "/users/42")
        .with_header("Accept", "application/json")
        .will_respond_with(200)
        .with_body(
            {
                "id": match.int(42),
                "name": match.like("Alice"),
                "email": match.regex("alice@example.com", regex=r"^[^@]+@[^@]+\.[a-z]+$"),
                "tags": match.each_like("admin", min=1),
            },
            content_type="application/json",
        )
    )
    (
        p.upon_receiving("a request for a missing user")
        .given("no user 404")
        .with_request("GET", "/users/404")
        .will_respond_with(404)
        .with_body({"error": match.like("not found")}, content_type="application/json")
    )
    with p.serve(addr="127.0.0.1") as srv:
        with httpx.Client(base_url=str(srv.url)) as c:
            assert c.get("/users/42", headers={"Accept": "application/json"}).status_code == 200
            assert c.get("/users/404").status_code == 404
    out.mkdir(parents=True, exist_ok=True)
    p.write_file(out, overwrite=True)
    return out / f"{consumer}-{provider}.json"


class UserStore:
    """The provider's data, changed by provider-state handlers."""

    def __init__(self) -> None:
        self.users: dict[int, dict[str, Any]] = {}
        self.broken = False
        self.without_id = False  # answer user 42 without its "id" key
        self.state_calls: list[tuple[str, str, dict[str, Any]]] = []


@contextmanager
def user_provider(store: UserStore) -> Iterator[str]:
    """A real HTTP provider on loopback; `store.broken` makes it return a string id."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            uid = self.path.rsplit("/", 1)[-1]
            user = store.users.get(int(uid)) if uid.isdigit() else None
            if user is None:
                status, body = 404, {"error": f"user {uid} not found"}
            else:
                status, body = 200, dict(user)
                if store.broken:
                    body["id"] = str(body["id"])
                if store.without_id:
                    del body["id"]
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def handlers(store: UserStore) -> dict[str, Any]:
    def user_exists(action: str, parameters: dict[str, Any] | None = None) -> None:
        params = parameters or {}
        store.state_calls.append(("user exists", action, params))
        if action == "setup":
            uid = int(params.get("id", 42))
            store.users[uid] = {
                "id": uid,
                "name": params.get("name", "Alice"),
                "email": "alice@example.com",
                "tags": ["admin", "ops"],
                "extra": True,
            }
        else:
            store.users.clear()

    def no_user(action: str, parameters: dict[str, Any] | None = None) -> None:
        store.state_calls.append(("no user 404", action, parameters or {}))
        store.users.pop(404, None)

    return {"user exists": user_exists, "no user 404": no_user}
