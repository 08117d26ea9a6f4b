"""The layout of the per-tag-set http_* series, defined once for every place that records a request.

`MetricsSink.http_series` maps a series key to an `HttpSeries` (assay.load.sink), whose buffer
holds one row of 8 doubles per request. The key is

    (VU tags version, name, method, status, error_code, expected_response, request tags key)

where name is the `name` tag or the URL, and the request tags key is the sorted other tags
(None when there are none). The client, its prepared GETs and its static loop all build keys
with `series_key` and rows with `pack_row`, so one request recorded by any of them lands in
the same series.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

TagKey = tuple[tuple[str, str], ...]

# one row of the series buffer: blocked, connecting, tls, sending, waiting, receiving, duration,
# corrected duration (-1 when the executor has no schedule); cheaper than extending with a tuple
pack_row = struct.Struct("8d").pack

# a key no series has: the inlined lookup misses and the request takes the general way
NO_KEY: tuple[Any, ...] = ("no series",)


def series_key(
    tags_version: int, name: str, method: str, status: int, error_code: int, expected: bool, tag_key: TagKey | None
) -> tuple[Any, ...]:
    """The key of the series a request with these properties is recorded in."""
    return (tags_version, name, method, status, error_code, expected, tag_key)


def name_and_tag_key(url: str, tags: Mapping[str, Any] | None) -> tuple[str, TagKey | None]:
    """The series name (the `name` tag, else the URL) and the key of the other request tags."""
    if type(tags) is FrozenTags:
        return (url if tags.name is None else tags.name), tags.key
    if tags:
        return tags.get("name", url), tuple(sorted((k, str(v)) for k, v in tags.items() if k != "name")) or None
    return url, None


class FrozenTags(dict[str, str]):
    """Request tags that never change (YAML steps, constants in a script): their series key is
    computed once instead of sorting the tags on every request. Do not modify one after use."""

    __slots__ = ("key", "name")

    def __init__(self, tags: Mapping[str, Any] | None = None) -> None:
        super().__init__({str(k): str(v) for k, v in (tags or {}).items()})
        self.name: str | None = self.get("name")
        self.key: tuple[tuple[str, str], ...] | None = tuple(sorted((k, v) for k, v in self.items() if k != "name")) or None
