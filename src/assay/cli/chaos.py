"""`assay chaos`: Chaos experiments (Chaos Toolkit format)."""

from assay.cli._stub import not_built_group

app = not_built_group("chaos", "Chaos experiments (Chaos Toolkit format)")
