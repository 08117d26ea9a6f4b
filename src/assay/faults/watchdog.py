"""The watchdog: a small separate process that reverts one fault when its owner dies or its TTL ends.

Started by the injector in its own session, so a SIGKILL of the owner (or Ctrl-C to the
owner's process group) leaves it running. It polls the fault's state file: when the
owner is gone it reverts at once; when the TTL has passed (plus a short grace for the
owner to do it) it reverts; when someone else reverted, it exits.

    python -m assay.faults.watchdog STATE_FILE
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import psutil

from assay.faults import state as store
from assay.faults.events import FaultEvent

POLL_S = 0.1
GRACE_S = 0.5


def owner_alive(st: dict[str, Any]) -> bool:
    pid = st.get("owner_pid")
    if not pid:
        return False
    try:
        proc = psutil.Process(int(pid))
        alive = proc.status() != psutil.STATUS_ZOMBIE
        return alive and abs(proc.create_time() - float(st.get("owner_start", 0))) < 0.5
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def revert_state(path: Path, reason: str) -> bool:
    """Revert the fault in `path` unless already reverted; returns True when it is reverted now."""
    from assay.faults import registry

    st = store.read(path)
    if st is None or st.get("status") != "active":
        return True
    fault = registry.get(st["fault_type"])
    directory = path.parent
    try:
        fault.revert(st["record"])
    except Exception as exc:  # reported loudly with the manual command, never swallowed
        manual = fault.manual_revert(st["record"])
        error = f"revert failed: {exc}; by hand: {manual}"

        def failed(s: dict[str, Any]) -> None:
            s["status"] = "revert-failed"
            s["manual_revert"] = manual
            store.append_event(
                s, FaultEvent(s["fault_id"], s["fault_type"], "failed", error), directory
            )

        store.update(path, failed)
        return False

    def done(s: dict[str, Any]) -> None:
        if s.get("status") == "active":
            s["status"] = "reverted"
            store.append_event(s, FaultEvent(s["fault_id"], s["fault_type"], "reverted", reason), directory)

    store.update(path, done)
    return True


def watch(path: Path) -> int:
    has_owner = bool((store.read(path) or {}).get("owner_pid"))
    while True:
        st = store.read(path)
        if st is None or st.get("status") != "active":
            return 0
        if has_owner and not owner_alive(st):
            return 0 if revert_state(path, "owner died; reverted by the watchdog") else 1
        expires = st.get("expires_at")
        if expires is not None and time.time() >= float(expires) + (GRACE_S if has_owner else 0.0):
            return 0 if revert_state(path, "TTL ended; reverted by the watchdog") else 1
        time.sleep(POLL_S)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m assay.faults.watchdog STATE_FILE", file=sys.stderr)
        return 64
    return watch(Path(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
