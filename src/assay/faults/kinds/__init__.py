"""Every fault type, one module each; importing this package registers them."""

from assay.faults.kinds import inprocess, process_kill, process_pause

__all__ = ["inprocess", "process_kill", "process_pause"]
