"""`assay trend`: Baselines and regression detection across runs."""

from assay.cli._stub import not_built_group

app = not_built_group("trend", "Baselines and regression detection across runs")
