"""Message providers for verifying message pacts (V3 `messages[]`, V4 asynchronous/synchronous messages).

Pact verifies a message by asking the provider to *produce* it for a description
(after the provider states are set up) and matching what comes back.  The provider
is either Python (a function called with the description and metadata, or a dict of
description -> function/value) handed to pact-python's `Verifier.message_handler`,
or an HTTP endpoint that speaks Pact's message protocol (POST {"description",
"providerStates"} -> the message body, metadata in the `Pact-Message-Metadata`
header), added as a `message` transport.  The Rust core does all the matching.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from assay.errors import UsageError

MESSAGE_KINDS = ("Asynchronous/Messages", "Synchronous/Messages")


@dataclass
class MessageProvider:
    """Either a Python producer (function or dict) or the URL of an HTTP message endpoint."""

    obj: Callable[..., Any] | Mapping[str, Any] | None = None
    url: str | None = None

    @property
    def host(self) -> str | None:
        return urlparse(self.url).hostname if self.url else None

    def attach(self, verifier: Any) -> Any:
        """Register this provider on a pact-python Verifier and return it."""
        if self.url:
            u = urlparse(self.url)
            port = u.port or (443 if u.scheme == "https" else 80)
            return verifier.add_transport(protocol="message", port=port, path=u.path or "/", scheme=u.scheme)
        if self.obj is not None:
            return verifier.message_handler(_producer(self.obj))
        return verifier


def load_message_provider(spec: str | None) -> MessageProvider:
    """`module:obj`, `file.py:obj`, or the http(s) URL of a message endpoint."""
    from assay.contracts.verify import load_object

    if not spec:
        return MessageProvider()
    if spec.startswith(("http://", "https://")):
        return MessageProvider(url=spec)
    return MessageProvider(obj=load_object(spec, "--message-provider"))


def as_message(value: Any) -> dict[str, Any]:
    """What a producer returned, as pact-python's `Message`: bytes pass through, anything else is JSON.

    A producer may return the message itself (a dict, list, str...) or a full
    `{"contents", "metadata", "content_type"}` message.
    """
    if isinstance(value, Mapping) and "contents" in value:
        contents = value["contents"]
        ctype = value.get("content_type")
        if not isinstance(contents, bytes | bytearray):
            contents = json.dumps(contents).encode()
            ctype = ctype or "application/json"
        return {"contents": bytes(contents), "metadata": value.get("metadata"), "content_type": ctype}
    if isinstance(value, bytes | bytearray):
        return {"contents": bytes(value), "metadata": None, "content_type": None}
    return {"contents": json.dumps(value).encode(), "metadata": None, "content_type": "application/json"}


def _call(fn: Callable[..., Any], name: str, metadata: dict[str, Any] | None) -> Any:
    """Call a producer by parameter name (`name`/`description`, `metadata`/`states`), else positionally."""
    meta = metadata or {}
    offered = {
        "name": name,
        "description": name,
        "metadata": meta,
        "states": meta.get("providerStates") or [],
        "provider_states": meta.get("providerStates") or [],
    }
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return fn(**offered)
    named = {k: v for k, v in offered.items() if k in params}
    if named:
        return fn(**named)
    positional = [name, meta][: len(params)]
    return fn(*positional)


def _producer(obj: Callable[..., Any] | Mapping[str, Any]) -> Callable[[str, dict[str, Any] | None], Any]:
    def produce(name: str, metadata: dict[str, Any] | None) -> Any:
        if isinstance(obj, Mapping):
            if name not in obj:
                raise KeyError(f"no producer for message {name!r}; known: {', '.join(sorted(obj))}")
            val = obj[name]
            return as_message(_call(val, name, metadata) if callable(val) else val)
        if callable(obj):
            return as_message(_call(obj, name, metadata))
        raise UsageError("--message-provider must be a function or a dict of description -> function/value")

    return produce
