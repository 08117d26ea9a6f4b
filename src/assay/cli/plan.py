"""`assay plan`: Nightly plans that run everything and write one report."""

from assay.cli._stub import not_built_group

app = not_built_group("plan", "Nightly plans that run everything and write one report")
