"""A set of non-negative integers kept as sorted half-open ranges.

The ledger remembers which sequence numbers a receiver got. Delivery is mostly in order,
so the set is one range `[first, next)` plus a few holes: memory follows the number of
gaps (losses, reordering), not the number of messages, which keeps a 30-minute soak flat.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator

__all__ = ["RangeSet"]


class RangeSet:
    """Sorted, disjoint, non-adjacent `[start, end)` ranges; `add` is O(1) when values come in order."""

    __slots__ = ("starts", "ends")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for start, end in ranges:
            self.add_range(start, end)

    # -- building ---------------------------------------------------------------------------------

    def add(self, value: int) -> bool:
        """Insert `value`; False if it was already present (a duplicate)."""
        ends = self.ends
        if ends:
            last = ends[-1]
            if value == last:  # the in-order fast path: extend the last range
                ends[-1] = last + 1
                return True
            if value > last:
                self.starts.append(value)
                ends.append(value + 1)
                return True
        else:
            self.starts.append(value)
            ends.append(value + 1)
            return True
        starts = self.starts
        i = bisect_right(starts, value) - 1
        if i >= 0 and value < ends[i]:
            return False
        # value lies in the gap after range i (or before range 0)
        joins_left = i >= 0 and ends[i] == value
        joins_right = i + 1 < len(starts) and starts[i + 1] == value + 1
        if joins_left and joins_right:
            ends[i] = ends[i + 1]
            del starts[i + 1]
            del ends[i + 1]
        elif joins_left:
            ends[i] = value + 1
        elif joins_right:
            starts[i + 1] = value
        else:
            starts.insert(i + 1, value)
            ends.insert(i + 1, value + 1)
        return True

    def add_range(self, start: int, end: int) -> None:
        """Insert every value of `[start, end)`."""
        if end <= start:
            return
        merged = self.union(RangeSet.span(start, end))
        self.starts, self.ends = merged.starts, merged.ends

    @classmethod
    def _of(cls, ranges: list[tuple[int, int]]) -> RangeSet:
        """From already sorted, disjoint, non-adjacent ranges (no checks)."""
        out = cls()
        out.starts = [s for s, _ in ranges]
        out.ends = [e for _, e in ranges]
        return out

    @classmethod
    def span(cls, start: int, end: int) -> RangeSet:
        return cls._of([(start, end)] if end > start else [])

    # -- reading ----------------------------------------------------------------------------------

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect_right(self.starts, value) - 1
        return i >= 0 and value < self.ends[i]

    def __len__(self) -> int:
        return sum(e - s for s, e in zip(self.starts, self.ends, strict=True))

    def __bool__(self) -> bool:
        return bool(self.starts)

    def __iter__(self) -> Iterator[int]:
        for s, e in zip(self.starts, self.ends, strict=True):
            yield from range(s, e)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RangeSet) and self.starts == other.starts and self.ends == other.ends

    def __repr__(self) -> str:
        return f"RangeSet({self.ranges()!r})"

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self.starts, self.ends, strict=True))

    @property
    def range_count(self) -> int:
        return len(self.starts)

    def first(self, limit: int) -> list[int]:
        """Up to `limit` values, smallest first (for listing lost ids without expanding everything)."""
        out: list[int] = []
        for s, e in zip(self.starts, self.ends, strict=True):
            for v in range(s, e):
                if len(out) >= limit:
                    return out
                out.append(v)
        return out

    # -- algebra (linear merges over the ranges) ------------------------------------------------------

    def union(self, other: RangeSet) -> RangeSet:
        merged: list[tuple[int, int]] = []
        for s, e in sorted(self.ranges() + other.ranges()):
            if merged and s <= merged[-1][1]:
                if e > merged[-1][1]:
                    merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        return RangeSet._of(merged)

    def intersection(self, other: RangeSet) -> RangeSet:
        out: list[tuple[int, int]] = []
        a, b = self.ranges(), other.ranges()
        i = j = 0
        while i < len(a) and j < len(b):
            s = max(a[i][0], b[j][0])
            e = min(a[i][1], b[j][1])
            if s < e:
                out.append((s, e))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return RangeSet._of(out)

    def difference(self, other: RangeSet) -> RangeSet:
        out: list[tuple[int, int]] = []
        b = other.ranges()
        j = 0
        for s, e in self.ranges():
            cur = s
            while j < len(b) and b[j][1] <= cur:
                j += 1
            k = j
            while k < len(b) and b[k][0] < e:
                bs, be = b[k]
                if bs > cur:
                    out.append((cur, bs))
                cur = max(cur, be)
                if be >= e:
                    break
                k += 1
            if cur < e:
                out.append((cur, e))
        return RangeSet._of(out)

    # -- persistence --------------------------------------------------------------------------------

    def to_list(self) -> list[list[int]]:
        return [[s, e] for s, e in zip(self.starts, self.ends, strict=True)]

    @classmethod
    def from_list(cls, data: Iterable[Iterable[int]]) -> RangeSet:
        """From `[[start, end], ...]` in any order, overlapping or not (one sort, one pass)."""
        merged: list[tuple[int, int]] = []
        for s, e in sorted(tuple(int(x) for x in pair) for pair in data):
            if e <= s:
                continue
            if merged and s <= merged[-1][1]:
                if e > merged[-1][1]:
                    merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        return cls._of(merged)

    @classmethod
    def of_values(cls, values: Iterable[int]) -> RangeSet:
        """From single values in any order."""
        return cls.from_list((v, v + 1) for v in values)
