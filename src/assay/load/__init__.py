"""Load engine: k6's executors, thresholds and results in Python, on raw asyncio protocols.

Scenario authors import custom metric types from here: `from assay.load import Trend, Counter, Rate, Gauge`.
"""

from assay.load.custom_metrics import Counter, Gauge, Rate, Trend

__all__ = ["Counter", "Gauge", "Rate", "Trend"]
