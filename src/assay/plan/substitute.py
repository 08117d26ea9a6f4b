"""`${services.courier.url}`, `${matrix.mode}`, `${env.HOME}`, `${run.dir}`: values known only at run time.

A plan names its services' addresses, matrix values and directories with `${...}`; they are
expanded just before a service starts or a step runs. `assay plan validate` checks each
reference names something (assay.plan.validate); an unknown one at run time is a usage error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from assay.errors import UsageError

_REF = re.compile(r"\$\{([^}]*)\}")


def expand(text: str, values: Mapping[str, str]) -> str:
    """Replace each `${name}` with its value; `${env.X}` reads the environment (empty when unset)."""

    def one(m: re.Match[str]) -> str:
        key = m.group(1).strip()
        if key in values:
            return values[key]
        if key.startswith("env."):
            return os.environ.get(key[4:], "")
        raise UsageError(f"${{{key}}} is not known here; known: {', '.join(sorted(values)) or 'nothing'}")

    return _REF.sub(one, text)


__all__ = ["expand"]
