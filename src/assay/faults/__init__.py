"""Fault proxy: a Toxiproxy-compatible server (API + TCP toxics) with HTTP-level and
self-expiring faults, a Python client with context managers, and pytest fixtures."""

from assay.faults.client import Proxy, Toxiproxy, ToxiproxyError
from assay.faults.server import ProxyServer

__all__ = ["Proxy", "ProxyServer", "Toxiproxy", "ToxiproxyError"]
