"""HAL JSON for the broker: the response, and link builders relative to the base the client used."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

HAL = "application/hal+json"


def hal(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=HAL, headers=headers)


def q(part: str) -> str:
    return quote(part, safe="")


class Links:
    """URL builders relative to the base the client used to reach us."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def pacticipant(self, name: str) -> str:
        return f"{self.base}/pacticipants/{q(name)}"

    def version(self, name: str, number: str) -> str:
        return f"{self.pacticipant(name)}/versions/{q(number)}"

    def tag(self, name: str, number: str, tag: str) -> str:
        return f"{self.version(name, number)}/tags/{q(tag)}"

    def branch_version(self, name: str, branch: str, number: str) -> str:
        return f"{self.pacticipant(name)}/branches/{q(branch)}/versions/{q(number)}"

    def pact(self, provider: str, consumer: str, number: str) -> str:
        return f"{self.base}/pacts/provider/{q(provider)}/consumer/{q(consumer)}/version/{q(number)}"

    def pact_version(self, provider: str, consumer: str, sha: str) -> str:
        return f"{self.base}/pacts/provider/{q(provider)}/consumer/{q(consumer)}/pact-version/{sha}"

    def verification(self, provider: str, consumer: str, sha: str, vid: int) -> str:
        return f"{self.pact_version(provider, consumer, sha)}/verification-results/{vid}"

    def environment(self, uuid_: str) -> str:
        return f"{self.base}/environments/{uuid_}"
