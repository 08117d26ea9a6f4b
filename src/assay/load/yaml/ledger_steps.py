"""The ledger in YAML scenarios: a request marked `ledger:` and a per-VU `subscribe:` step.

    requests:
      - subscribe: /ws?user=u{{ vu.id }}       # once per VU, kept open through the grace period
        keys: ["room-{{ vu.id }}"]            # what it is owed (default: every key)
        receiver: u{{ vu.id }}                # default: vu<id>
      - name: post
        method: POST
        url: /rooms/room-{{ vu.id }}/messages
        json: {text: "hello"}
        ledger: {key: "room-{{ vu.id }}"}     # marks it, acks it on 2xx/3xx, fails it otherwise

The mark goes where the request says: `{{ ledger }}` anywhere in the body or URL, or else
(JSON object bodies) a `ledger` field added to the body, `field: text` appends it to that
field, and text bodies get it appended. The compiler calls these helpers; everything the
steps do at run time is in assay.load.ledgered.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

from assay.load.ledgered import producer_name, subscribe_ws
from assay.messaging.envelope import FIELD
from assay.messaging.ledger import ALL_KEYS, Ledger

__all__ = ["LEDGER_NAME", "mark_template", "ledgered_send", "subscribe_runner", "ws_join"]

LEDGER_NAME = "ledger"
"""The template name holding the current request's ledger token."""

Scope = dict[str, Any]
Send = Callable[[Any, Scope], Awaitable[Any]]


def _mentions(obj: Any) -> bool:
    if isinstance(obj, str):
        return "ledger" in obj and "{{" in obj
    if isinstance(obj, dict):
        return any(_mentions(k) or _mentions(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(_mentions(v) for v in obj)
    return False


def mark_template(url: str, json_body: Any, body: str | None, field: str | None) -> tuple[Any, str | None]:
    """The request's (json, body) with `{{ ledger }}` placed, unless the request places it itself."""
    token = "{{ " + LEDGER_NAME + " }}"
    if _mentions(url) or _mentions(json_body) or _mentions(body):
        return json_body, body
    if json_body is not None:
        if not isinstance(json_body, dict):
            raise ValueError("a ledgered request with a non-object JSON body must place {{ ledger }} itself")
        marked = copy.deepcopy(json_body)
        if field:
            marked[field] = f"{marked.get(field, '')} {token}".strip()
        else:
            marked[FIELD] = token
        return marked, body
    if body is not None:
        return json_body, f"{body} {token}"
    return {FIELD: token}, None


def ledgered_send(send: Send, key: Callable[[Scope], Any], producer: Callable[[Scope], Any] | None) -> Send:
    """Wrap a request sender: take a mark for `key`, expose it as `{{ ledger }}`, ack on success."""

    async def run(vu: Any, scope: Scope) -> Any:
        ledger: Ledger = vu.ledger
        who = str(producer(scope)) if producer is not None else producer_name(vu)
        env = ledger.send(who, str(key(scope)))
        scope[LEDGER_NAME] = env.token()
        try:
            res = await send(vu, scope)
        except BaseException:
            ledger.fail(env)
            raise
        if getattr(res, "error_code", 0) or res.status == 0 or res.status >= 400:
            ledger.fail(env)
        else:
            ledger.ack(env)
        return res

    return run


def ws_join(base: str, url: str) -> str:
    """A ws:// URL from a path and the scenario's base_url (http -> ws, https -> wss)."""
    if "://" in url[:10]:
        return url
    base = base.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[8:]
    elif base.startswith("http://"):
        base = "ws://" + base[7:]
    return base + (url if url.startswith("/") else "/" + url)


def subscribe_runner(
    url: Callable[[Scope], str],
    keys: list[Callable[[Scope], Any]] | None,
    receiver: Callable[[Scope], Any] | None,
    headers: Callable[[Scope], dict[str, str] | None],
    name: str,
) -> Callable[[Any, Scope], Awaitable[None]]:
    """The step: open the VU's subscriber on its first run, reuse it after (see subscribe_ws)."""

    async def run(vu: Any, scope: Scope) -> None:
        await subscribe_ws(
            vu,
            url(scope),
            receiver=None if receiver is None else str(receiver(scope)),
            keys=ALL_KEYS if keys is None else [str(k(scope)) for k in keys],
            headers=headers(scope),
            name=name,
        )

    return run
