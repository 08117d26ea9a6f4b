"""Chaos Mesh export: assay faults as validated v2.8 manifests (PodChaos, NetworkChaos, StressChaos,
IOChaos, TimeChaos, HTTPChaos, Schedule, Workflow)."""

from assay.faults.chaosmesh.export import (
    InvalidManifest,
    NoEquivalent,
    SelectorMap,
    export_fault,
    load_mapping,
    schedule,
    workflow,
)
from assay.faults.chaosmesh.validate import validate

__all__ = ["InvalidManifest", "NoEquivalent", "SelectorMap", "export_fault", "load_mapping", "schedule", "validate", "workflow"]
