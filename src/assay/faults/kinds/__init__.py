"""Every fault type, one module each; importing this package registers them."""

from assay.faults.kinds import (
    disk_fill,
    export_only,
    inprocess,
    network,
    network_loss,
    process_kill,
    process_pause,
    stress,
)

__all__ = ["disk_fill", "export_only", "inprocess", "network", "network_loss", "process_kill", "process_pause", "stress"]
