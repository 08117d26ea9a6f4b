"""Rack-style nested query parameters (`q[][pacticipant]=A&q[][version]=1`).

The Pact Broker is a Rack app and its clients encode matrix queries that way, so
we parse them the same way: `a[]=` appends, `a[b]=` sets a key, and `a[][b]=`
starts a new hash in the array whenever the last one already has key `b`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def parse(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        m = _KEY.match(raw_key)
        if not m:
            out[raw_key] = value
            continue
        name, rest = m.group(1), m.group(2)
        parts = re.findall(r"\[([^\[\]]*)\]", rest)
        if not parts:
            out[name] = value
        elif parts == [""]:
            existing = out.get(name)
            if not isinstance(existing, list):
                existing = out[name] = []
            existing.append(value)
        elif len(parts) == 1:
            existing = out.get(name)
            if not isinstance(existing, dict):
                existing = out[name] = {}
            existing[parts[0]] = value
        elif parts[0] == "" and len(parts) == 2:
            existing = out.get(name)
            if not isinstance(existing, list):
                existing = out[name] = []
            child = parts[1]
            if existing and isinstance(existing[-1], dict) and child not in existing[-1]:
                existing[-1][child] = value
            else:
                existing.append({child: value})
        else:
            out[raw_key] = value
    return out
