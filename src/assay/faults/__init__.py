"""Fault proxy: a Toxiproxy-compatible server (API + TCP toxics) with HTTP-level and
self-expiring faults, a Python client with context managers, and pytest fixtures.

The names below are imported on first use (PEP 562), so `python -m assay.faults.watchdog`
and `from assay.faults import injector` do not pay for the proxy server and HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.faults.client import Proxy, Toxiproxy, ToxiproxyError
    from assay.faults.server import ProxyServer

_LAZY = {"Proxy": "assay.faults.client", "Toxiproxy": "assay.faults.client",
         "ToxiproxyError": "assay.faults.client", "ProxyServer": "assay.faults.server"}

__all__ = ["Proxy", "ProxyServer", "Toxiproxy", "ToxiproxyError"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'assay.faults' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
