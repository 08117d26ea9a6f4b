"""The courier web app's API client: the consumer whose expectations the pacts record."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx


class CourierError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('error_code')}: {body.get('message')}")
        self.status = status
        self.error_code = body.get("error_code")
        self.body = body


class CourierWebClient:
    """What the web UI calls; it reads only the fields it renders."""

    def __init__(self, base_url: str, token: str) -> None:
        """`token` is what POST /auth/login gave the signed-in user."""
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=5.0)

    @staticmethod
    def login(base_url: str, user: str, password: str) -> str:
        """Sign in: the bearer token for every later call."""
        resp = httpx.post(f"{base_url.rstrip('/')}/auth/login", json={"user_id": user, "password": password}, timeout=5.0)
        if resp.status_code >= 400:
            raise CourierError(resp.status_code, resp.json())
        return str(resp.json()["token"])

    def _json(self, resp: httpx.Response) -> Any:
        if resp.status_code >= 400:
            raise CourierError(resp.status_code, resp.json())
        return resp.json()

    def start_conversation(self, title: str, participants: list[str]) -> dict[str, Any]:
        return self._json(
            self.http.post("/conversations", json={"title": title, "participants": participants})
        )  # type: ignore[no-any-return]

    def conversation(self, cid: int) -> dict[str, Any]:
        return self._json(self.http.get(f"/conversations/{cid}"))  # type: ignore[no-any-return]

    def rename(self, cid: int, title: str, version: int) -> dict[str, Any]:
        return self._json(self.http.patch(f"/conversations/{cid}", json={"title": title, "version": version}))  # type: ignore[no-any-return]

    def send(self, cid: int, body: str, idempotency_key: str) -> dict[str, Any]:
        resp = self.http.post(
            f"/conversations/{cid}/messages",
            json={"body": body},
            headers={"Idempotency-Key": idempotency_key},
        )
        return self._json(resp)  # type: ignore[no-any-return]

    def messages(self, cid: int) -> list[dict[str, Any]]:
        return self._json(self.http.get(f"/conversations/{cid}/messages"))["items"]  # type: ignore[no-any-return]

    def close(self) -> None:
        self.http.close()


class Timeline:
    """What the web UI does with each WebSocket frame: new messages go on the conversation's timeline."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def on_frame(self, raw: str | bytes | None, metadata: dict[str, object] | None = None) -> None:
        event = json.loads(raw or b"{}")
        if event["type"] == "ping":
            return  # courier's heartbeat; the socket layer answers it with a pong
        if event["type"] != "message.created":
            raise ValueError(f"unknown event type {event['type']!r}")
        msg = event["message"]
        stamp = datetime.fromisoformat(msg["created_at"].replace("Z", "+00:00"))
        self.lines.append(
            f"[{stamp:%H:%M}] {msg['sender_id']} in #{msg['conversation_id']}: {msg['body']} (#{msg['id']})"
        )
