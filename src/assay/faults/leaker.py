"""A process that leaks memory slowly: `rate` bytes per minute, up to `limit`, pages touched.

    python -m assay.faults.leaker RATE_BYTES_PER_MIN LIMIT_BYTES [TTL_S]

The memory.leak fault runs it, so a test's leak detector has a real, steady slope to find.
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> int:
    rate, limit = int(argv[0]), int(argv[1])
    ttl = float(argv[2]) if len(argv) > 2 else None
    step_s = 0.1
    chunk = max(1, int(rate * step_s / 60))
    held: list[bytearray] = []
    total = 0
    start = time.monotonic()
    next_at = start
    while ttl is None or time.monotonic() - start < ttl:
        if total + chunk <= limit:
            block = bytearray(chunk)
            for i in range(0, chunk, 4096):  # touch every page so it counts in RSS
                block[i] = 1
            held.append(block)
            total += chunk
        next_at += step_s
        time.sleep(max(0.0, next_at - time.monotonic()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
