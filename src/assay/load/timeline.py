"""The run's per-second buckets, spooled to an unlinked temporary file as they are made.

A run makes one TimeBucket a second, about 3.3 KB as Python objects: 12 MiB an hour of
soak that nothing reads before the run ends. On disk (a JSON line each, under 1 KB), the
load process's memory stays flat however long it runs. The newest bucket stays in memory
(`last`) for the live stream and the `vus` peak; reading the timeline back (`to_list`,
iteration) happens once, when the result is built.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import IO

from assay.results import TimeBucket

__all__ = ["Timeline"]


class Timeline:
    """Append-only per-second buckets: the newest in memory, the older ones in a temporary file."""

    def __init__(self) -> None:
        self.last: TimeBucket | None = None
        self._file: IO[bytes] | None = None
        self._count = 0

    def append(self, bucket: TimeBucket) -> None:
        if self.last is not None:
            self._spool(self.last)
        self.last = bucket
        self._count += 1

    def _spool(self, bucket: TimeBucket) -> None:
        if self._file is None:
            # unlinked at once: nothing is left behind, whatever ends the process
            self._file = tempfile.TemporaryFile(prefix="assay-timeline-")
        # json, not model_dump_json: inf and nan (an empty minimum) must come back as they went
        self._file.write(json.dumps(bucket.model_dump(), separators=(",", ":")).encode() + b"\n")

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[TimeBucket]:
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            for line in self._file:
                yield TimeBucket.model_validate(json.loads(line))
            self._file.seek(0, 2)  # appends go on at the end
        if self.last is not None:
            yield self.last

    def to_list(self) -> list[TimeBucket]:
        return list(self)

    def close(self) -> None:
        """Drop the spooled buckets (the file goes with its descriptor)."""
        if self._file is not None:
            self._file.close()
            self._file = None
