"""The Python API over every fault type: inject with a TTL, revert, list, events.

    from assay.faults import injector
    with injector.inject("process.pause", target="pid:4242", duration=5) as fault:
        ...                                   # reverted on exit, on an exception, at the TTL
    fault.events                              # injected / reverted, with timestamps

Each injected fault gets a state file and its own watchdog process (watchdog.py), so it
never outlives its owner: if this process dies, even by SIGKILL, the watchdog reverts.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil
from pydantic import BaseModel

from assay.config import validate_data
from assay.faults import registry
from assay.faults import state as store
from assay.faults.model import FaultError, FaultEvent, FaultType, RevertFailed, parse_duration
from assay.faults.watchdog import revert_state

_OWNED: dict[str, ActiveFault] = {}
_LOCK = threading.Lock()


def validate(type_name: str, params: dict[str, Any] | BaseModel | None, *, source: str | None = None) -> BaseModel:
    """Parameters for a type, with located errors (exit 64) for a bad or unknown key."""
    fault = registry.get(type_name)
    if isinstance(params, fault.Params):
        return params
    raw = params.model_dump() if isinstance(params, BaseModel) else dict(params or {})
    return validate_data(raw, fault.Params, source=source or f"fault {type_name}")  # type: ignore[return-value]


class ActiveFault:
    """A fault that is in place; revert() (or leaving the `with` block) undoes it once."""

    def __init__(self, fault: FaultType, fault_id: str, params: BaseModel, target: Any, path: Path) -> None:
        self.fault = fault
        self.id = fault_id
        self.params = params
        self.target = target
        self.path = path
        self.record: dict[str, Any] = {}
        self.injected_at = 0.0
        self.expires_at: float | None = None
        self.watchdog: subprocess.Popen[bytes] | None = None
        self._timer: threading.Timer | None = None
        self._local_events: list[FaultEvent] = []

    @property
    def events(self) -> list[FaultEvent]:
        st = store.read(self.path)
        if st is None:
            return list(self._local_events)
        return [FaultEvent.from_dict(e) for e in st.get("events", [])]

    @property
    def status(self) -> str:
        st = store.read(self.path)
        return "reverted" if st is None else str(st.get("status"))

    def time_left(self) -> float | None:
        return None if self.expires_at is None else max(0.0, self.expires_at - time.time())

    def wait(self) -> None:
        """Block until the TTL ends, then revert."""
        left = self.time_left()
        if left:
            time.sleep(left)
        self.revert()

    def revert(self, reason: str = "reverted by its owner") -> None:
        if self._timer is not None:
            self._timer.cancel()
        with _LOCK:
            _OWNED.pop(self.id, None)
        ok = revert_state(self.path, reason)
        if self.watchdog is not None:
            self.watchdog.poll()  # it sees the reverted state and exits by itself; reaped later
        if not ok:
            st = store.read(self.path) or {}
            raise RevertFailed(
                f"fault {self.id} ({self.fault.name}) could NOT be reverted; revert it by hand: "
                f"{st.get('manual_revert', self.fault.manual_revert(self.record))}"
            )

    def __enter__(self) -> ActiveFault:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.revert("reverted on leaving its block" if exc is None else f"reverted after {exc_type.__name__ if exc_type else 'an error'}")


def inject(
    type_name: str,
    target: Any = None,
    *,
    duration: float | str | None = None,
    params: dict[str, Any] | BaseModel | None = None,
    owned: bool = True,
    directory: Path | None = None,
    **kwargs: Any,
) -> ActiveFault:
    """Inject one fault for `duration`; `owned=False` leaves it to the watchdog alone (--background)."""
    fault = registry.get(type_name)
    merged = {**(params.model_dump() if isinstance(params, BaseModel) else dict(params or {})), **kwargs}
    checked = validate(type_name, merged)
    seconds = None if duration is None else _seconds(duration)
    if seconds is None and not fault.instant:
        raise FaultError(f"{type_name}: a duration is required (every fault has a TTL)")
    fault.check(checked, target)
    directory = directory or store.run_dir()
    fault_id = f"{type_name.replace('.', '-')}-{uuid.uuid4().hex[:8]}"
    handle = ActiveFault(fault, fault_id, checked, target, store.state_path(fault_id, directory))
    started = time.time()
    try:
        record = fault.inject(checked, target, seconds)
    except FaultError:
        raise
    except Exception as exc:
        raise FaultError(f"{type_name}: could not inject: {exc}") from exc
    record["fault_id"] = fault_id
    handle.record = record
    handle.injected_at = started
    desc = fault.describe(checked, target)
    injected = FaultEvent(fault_id, type_name, "injected", desc, started, {"record": record})
    if fault.instant:
        handle._local_events.append(injected)
        done = FaultEvent(fault_id, type_name, "reverted", "an action: nothing to hold", time.time())
        handle._local_events.append(done)
        return handle
    handle.expires_at = started + (seconds or 0.0)
    me = psutil.Process()
    st: dict[str, Any] = {
        "fault_id": fault_id,
        "fault_type": type_name,
        "description": desc,
        "params": checked.model_dump(mode="json"),
        "target": str(getattr(target, "name", target)),
        "record": record,
        "status": "active",
        "injected_at": started,
        "expires_at": handle.expires_at,
        "owner_pid": me.pid if owned else None,
        "owner_start": me.create_time() if owned else None,
        "events": [],
    }
    store.append_event(st, injected, directory)
    store.write(handle.path, st)
    handle.watchdog = subprocess.Popen(
        [sys.executable, "-m", "assay.faults.watchdog", str(handle.path)],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(directory / f"{fault_id}.watchdog.log", "ab"),
    )
    store.update(handle.path, lambda s: s.__setitem__("watchdog_pid", handle.watchdog.pid if handle.watchdog else None))
    if owned:
        with _LOCK:
            _OWNED[fault_id] = handle
        handle._timer = threading.Timer(seconds or 0.0, _expire, args=(handle,))
        handle._timer.daemon = True
        handle._timer.start()
    return handle


def _expire(handle: ActiveFault) -> None:
    try:
        handle.revert("TTL ended")
    except RevertFailed:
        pass  # recorded in the state file and its events; the owner sees it in `status`


def _seconds(value: float | str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise FaultError(f"--duration: {exc}") from None


def active(directory: Path | None = None) -> list[dict[str, Any]]:
    """Faults not yet reverted (including ones whose revert failed), with time left."""
    out = []
    for _path, st in store.all_states(directory):
        if st.get("status") in ("active", "revert-failed"):
            st["time_left"] = store.time_left(st)
            out.append(st)
    return out


def revert(fault_id: str, directory: Path | None = None) -> bool:
    """Revert one fault by id (any process may); False when there is no such active fault."""
    with _LOCK:
        owned = _OWNED.get(fault_id)
    if owned is not None:
        owned.revert("reverted on request")
        return True
    path = store.state_path(fault_id, directory)
    st = store.read(path)
    if st is None or st.get("status") not in ("active", "revert-failed"):
        return False
    if st.get("status") == "revert-failed":
        store.update(path, lambda s: s.__setitem__("status", "active"))
    if not revert_state(path, "reverted on request"):
        raise RevertFailed(f"fault {fault_id} could NOT be reverted; by hand: {(store.read(path) or {}).get('manual_revert')}")
    return True


def revert_all(directory: Path | None = None) -> list[str]:
    done = []
    for st in active(directory):
        if revert(st["fault_id"], directory):
            done.append(st["fault_id"])
    return done


def prune(directory: Path | None = None, older_than_s: float = 3600.0) -> None:
    """Remove files of faults reverted long ago."""
    now = time.time()
    for path, st in store.all_states(directory):
        if st.get("status") == "reverted" and now - float(st.get("expires_at") or 0) > older_than_s:
            for p in (path, path.with_suffix(".lock"), path.parent / f"{st['fault_id']}.watchdog.log"):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass


@atexit.register
def _revert_owned_at_exit() -> None:
    for handle in list(_OWNED.values()):
        try:
            handle.revert("reverted at interpreter exit")
        except Exception:  # noqa: BLE001 - the watchdog still has it
            pass
