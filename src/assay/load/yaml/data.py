"""Where an iteration's values come from: data file rows (CSV, JSON) and weighted choices."""

from __future__ import annotations

import bisect
import csv
import json
import random as _random
from collections.abc import Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any

from assay.load.yaml.template import TemplateError


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV (header line first) or JSON (a list of objects) data file."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"data file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read data file {str(path)!r}: {exc}") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(raw.splitlines())
        if not reader.fieldnames:
            raise TemplateError(f"data file {str(path)!r} has no header line")
        rows: list[dict[str, Any]] = []
        for lineno, row in enumerate(reader, start=2):
            if None in row:
                raise TemplateError(f"{path}:{lineno}: more values than the {len(reader.fieldnames)} header columns")
            rows.append({k: v for k, v in row.items()})
    elif suffix == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TemplateError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise TemplateError(f"data file {str(path)!r} must hold a JSON list of objects")
        rows = data
    else:
        raise TemplateError(f"data file {str(path)!r}: expected a .csv or .json file")
    if not rows:
        raise TemplateError(f"data file {str(path)!r} has no rows")
    return rows


class DataSource:
    """Rows from a data file, handed out per VU or shared by every VU of the process.

    - `shared`: one cursor for all VUs; every iteration takes the next row (wrapping), or
      a random row with order=random. With several worker processes each has its own cursor.
    - `per_vu`: each VU keeps one row for its whole life: row (vu.id - 1) mod n, or a random
      row picked once with order=random. Use it for "each VU logs in as its own user".
    """

    __slots__ = ("name", "rows", "mode", "order", "_cursor", "_per_vu")

    def __init__(self, name: str, rows: list[dict[str, Any]], mode: str = "shared", order: str = "sequential") -> None:
        self.name = name
        self.rows = rows
        self.mode = mode
        self.order = order
        self._cursor = 0
        self._per_vu: dict[int, dict[str, Any]] = {}

    @property
    def columns(self) -> set[str]:
        cols: set[str] = set()
        for row in self.rows:
            cols.update(row)
        return cols

    def row_for(self, vu_id: int) -> dict[str, Any]:
        if self.mode == "per_vu":
            row = self._per_vu.get(vu_id)
            if row is None:
                if self.order == "random":
                    row = _random.choice(self.rows)
                else:
                    row = self.rows[(vu_id - 1) % len(self.rows)]
                self._per_vu[vu_id] = row
            return row
        if self.order == "random":
            return _random.choice(self.rows)
        row = self.rows[self._cursor]
        self._cursor = (self._cursor + 1) % len(self.rows)
        return row


# --- weighted choice ------------------------------------------------------------------------------------------


class WeightedChoice:
    """Pick one of several items with probability proportional to its weight (40/30/20/10)."""

    __slots__ = ("items", "_cumulative", "_total")

    def __init__(self, items: Sequence[Any], weights: Sequence[float]) -> None:
        if len(items) != len(weights) or not items:
            raise TemplateError("weighted choice needs one weight per item and at least one item")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise TemplateError("weights must be >= 0 and add up to more than 0")
        self.items = list(items)
        self._cumulative = list(accumulate(float(w) for w in weights))
        self._total = self._cumulative[-1]

    def pick(self) -> Any:
        i = bisect.bisect_right(self._cumulative, _random.random() * self._total)
        return self.items[min(i, len(self.items) - 1)]
