"""The benchmark's runs come from the tests' own builder (real histograms), not a second copy of it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("trends_conftest", Path(__file__).resolve().parents[2] / "tests" / "trends" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
make_run = _module.make_run
