"""Renderers of SLO verdicts: console (rich), Markdown, JSON, JUnit XML, HTML and Prometheus metrics.

Each takes a `SloCheck` (the verdicts of one `assay slo check`) and returns text; the CLI
decides where it goes.
"""

from __future__ import annotations

FORMATS = ("console", "json", "markdown", "junit", "html")
