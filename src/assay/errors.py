"""Exit codes and the exceptions that map to them.

Every command exits with the same codes (DESIGN.md), so engines raise these and
only the CLI turns them into a process exit status.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    WARNING = 1
    GATE_FAILED = 2
    THRESHOLDS_CROSSED = 99
    SCRIPT_ABORTED = 108  # a k6 script called exec.test.abort() (k6's own code)
    USAGE = 64
    INTERNAL = 70


class AssayError(Exception):
    """A failure the user can act on; carries the exit code the CLI should use."""

    exit_code: int = ExitCode.INTERNAL

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(AssayError):
    """Bad command-line usage or bad input data: exit 64, one clear line."""

    exit_code = ExitCode.USAGE


class NotBuiltError(UsageError):
    """A command group that exists in the map but is not built yet."""
