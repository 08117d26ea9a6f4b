"""The live progress line shared by the long-running commands (``load run``, ``messaging run``).

On a TTY it redraws one rich ``Live`` region on stderr; otherwise (CI logs) it prints a plain
line at most every ``PLAIN_EVERY`` seconds of run time, so logs stay readable.
"""

from __future__ import annotations

from typing import Any, Self


class LiveProgress:
    """Context manager owning the rich ``Live`` region; subclasses format and call ``show``/``plain_due``."""

    PLAIN_EVERY = 5.0

    def __init__(self, *, enabled: bool, tty: bool) -> None:
        self.enabled = enabled
        self.tty = tty
        self._live: Any = None
        self._last_plain = -1e9

    def __enter__(self) -> Self:
        if self.enabled and self.tty:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(stderr=True), refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def plain_due(self, elapsed: float) -> bool:
        """True (and restarts the interval) when a plain line is due at ``elapsed`` seconds."""
        if elapsed - self._last_plain >= self.PLAIN_EVERY:
            self._last_plain = elapsed
            return True
        return False
