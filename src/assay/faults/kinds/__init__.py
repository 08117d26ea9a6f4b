"""Every fault type, one module each; importing this package registers them."""

from assay.faults.kinds import process_kill, process_pause

__all__ = ["process_kill", "process_pause"]
