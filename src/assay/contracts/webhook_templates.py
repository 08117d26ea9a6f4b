"""Ready-made webhook bodies for the notifications teams ask for, so nobody writes one by hand.

Two shapes: a Slack-compatible message (`text` plus one mrkdwn block; Slack incoming
webhooks, Mattermost and Rocket.Chat take it) and a generic JSON post.  Three events:
contract_content_changed (approve a changed contract), provider_verification_published
(any result) and provider_verification_failed ("breaking change from consumer X version
Y").  The `${pactbroker.*}` placeholders are filled by the broker when the hook fires.
"""

from __future__ import annotations

from typing import Any

from assay.errors import UsageError

KINDS = ("slack", "json")
EVENTS = ("contract_content_changed", "provider_verification_published", "provider_verification_failed")

_C = "${pactbroker.consumerName}"
_CV = "${pactbroker.consumerVersionNumber}"
_P = "${pactbroker.providerName}"
_PV = "${pactbroker.providerVersionNumber}"

_TEXT = {
    "contract_content_changed": (
        f":memo: Contract changed: {_C} version {_CV} published a new pact with {_P}; "
        "review and approve it: <${pactbroker.pactUrl}|the pact>"
    ),
    "provider_verification_published": (
        f"Verification of {_C} {_CV} by {_P} {_PV}: ${{pactbroker.githubVerificationStatus}} "
        "<${pactbroker.verificationResultUrl}|details>"
    ),
    "provider_verification_failed": (
        f":rotating_light: Breaking change: {_P} version {_PV} fails the pact of consumer {_C} version {_CV}. "
        "<${pactbroker.verificationResultUrl}|mismatches> · <${pactbroker.pactUrl}|the pact>"
    ),
}


def request_body(kind: str, event: str) -> dict[str, Any]:
    """The JSON the hook posts."""
    if kind == "slack":
        text = _TEXT[event]
        return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
    return {
        "event": "${pactbroker.eventName}",
        "consumer": {"name": _C, "version": _CV},
        "provider": {"name": _P, "version": _PV},
        "status": "${pactbroker.githubVerificationStatus}",
        "pactUrl": "${pactbroker.pactUrl}",
        "verificationResultUrl": "${pactbroker.verificationResultUrl}",
    }


def webhook(
    kind: str, event: str, url: str, *, consumer: str | None = None, provider: str | None = None
) -> dict[str, Any]:
    """A Pact Broker webhook definition (POST /webhooks) built from a template."""
    if kind not in KINDS:
        raise UsageError(f"--template: expected one of {', '.join(KINDS)}, got {kind!r}")
    if event not in EVENTS:
        raise UsageError(f"--event: expected one of {', '.join(EVENTS)}, got {event!r}")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url: expected an http(s) URL, got {url!r}")
    body: dict[str, Any] = {
        "description": f"{kind} notification: {event.replace('_', ' ')}",
        "events": [{"name": event}],
        "request": {
            "method": "POST",
            "url": url,
            "headers": {"Content-Type": "application/json"},
            "body": request_body(kind, event),
        },
    }
    if consumer:
        body["consumer"] = {"name": consumer}
    if provider:
        body["provider"] = {"name": provider}
    return body
