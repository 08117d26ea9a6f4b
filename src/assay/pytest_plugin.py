"""assay's pytest plugin (entry point `assay`).

Each room that offers fixtures keeps them in its own `fixtures` module
(`assay.faults.fixtures`, `assay.contracts.fixtures`, ...); this plugin registers
every one that exists, so user test suites get them with no conftest boilerplate.
"""

from __future__ import annotations

import importlib
import importlib.util

import pytest

ROOMS = ("faults", "contracts", "load", "chaos", "slo", "harness")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "scenario(*ids): acceptance scenarios (e.g. 'US1-AS2') this test covers, for `assay trace matrix`"
    )
    for room in ROOMS:
        name = f"assay.{room}.fixtures"
        if importlib.util.find_spec(name) is not None:
            config.pluginmanager.register(importlib.import_module(name), name=name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's scenario ids go into its JUnit XML properties (<property name="scenario">),
    so `assay trace matrix --junit` knows which scenarios the run covered and how they did."""
    for item in items:
        for mark in item.iter_markers("scenario"):
            for sid in mark.args:
                if isinstance(sid, str) and ("scenario", sid) not in item.user_properties:
                    item.user_properties.append(("scenario", sid))
