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
    for room in ROOMS:
        name = f"assay.{room}.fixtures"
        if importlib.util.find_spec(name) is not None:
            config.pluginmanager.register(importlib.import_module(name), name=name)
