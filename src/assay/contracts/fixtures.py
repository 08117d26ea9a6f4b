"""pytest fixtures for consumer tests: `pact` gives a pact-python Pact that writes itself.

    @pytest.mark.pact(consumer="UserWeb", provider="UserAPI")
    def test_get_user(pact):
        pact.upon_receiving("a request for user 42").with_request("GET", "/users/42") ...
        with pact.serve() as srv:
            ...call srv.url...

    @pytest.mark.pact(consumer="Mailer", provider="Orders")
    def test_order_shipped(pact):
        pact.upon_receiving("an order shipped event", "Async").with_body({...})
        pact.verify(my_consumer.on_message, "Async")    # required for message interactions

Names come from the `pact` marker, else from a `pact_config` fixture you may
override in conftest.py, else from ASSAY_PACT_CONSUMER / ASSAY_PACT_PROVIDER.  When
the test passes, the interactions are merged into `<dir>/<consumer>-<provider>.json`
(dir: ASSAY_PACT_DIR, default `pacts`); the first test of a session to touch a file
starts it afresh, so stale interactions from earlier runs never linger.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class PactConfig:
    consumer: str | None = None
    provider: str | None = None
    directory: Path = field(default_factory=lambda: Path(os.environ.get("ASSAY_PACT_DIR", "pacts")))
    specification: str = "V4"

    @classmethod
    def from_env(cls) -> PactConfig:
        return cls(
            consumer=os.environ.get("ASSAY_PACT_CONSUMER"),
            provider=os.environ.get("ASSAY_PACT_PROVIDER"),
            specification=os.environ.get("ASSAY_PACT_SPECIFICATION", "V4"),
        )


_STARTED: set[Path] = set()
_FAILED_KEY = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pact(consumer=None, provider=None, specification=None): names for the `pact` fixture"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED_KEY] = True
    return report


@pytest.fixture
def pact_config() -> PactConfig:
    """Override in conftest.py to set consumer, provider, directory or specification for a suite."""
    return PactConfig.from_env()


@pytest.fixture
def pact(request: pytest.FixtureRequest, pact_config: PactConfig) -> Iterator[Any]:
    from pact import Pact

    marker = request.node.get_closest_marker("pact")
    kwargs = dict(marker.kwargs) if marker else {}
    consumer = kwargs.get("consumer") or pact_config.consumer
    provider = kwargs.get("provider") or pact_config.provider
    spec = kwargs.get("specification") or pact_config.specification
    if not consumer or not provider:
        raise pytest.UsageError(
            "the `pact` fixture needs names: @pytest.mark.pact(consumer=..., provider=...), a `pact_config` "
            "fixture, or ASSAY_PACT_CONSUMER/ASSAY_PACT_PROVIDER"
        )
    directory = Path(pact_config.directory)
    if not directory.is_absolute():
        directory = Path(request.config.rootpath) / directory
    p = Pact(consumer, provider).with_specification(spec)
    verified: set[str] = set()
    original_verify: Any = p.verify

    def verify(handler: Any, kind: str, **kwargs: Any) -> Any:
        verified.add(kind)
        return original_verify(handler, kind, **kwargs)

    p.verify = verify  # type: ignore[method-assign,assignment]
    yield p
    if request.node.stash.get(_FAILED_KEY, False):
        return
    for kind in ("Async", "Sync"):
        if kind not in verified and any(True for _ in p.interactions(kind)):
            # A message pact is only worth publishing once the consumer has handled the message.
            pytest.fail(
                f"{request.node.nodeid}: {kind} message interactions were declared but never handed to the "
                f"consumer: call pact.verify(handler, {kind!r}) before the test ends (the pact was not written)",
                pytrace=False,
            )
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{consumer}-{provider}.json"
    if target not in _STARTED:
        _STARTED.add(target)
        target.unlink(missing_ok=True)
    p.write_file(directory, overwrite=False)
