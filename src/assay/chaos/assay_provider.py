"""The `assay` provider type: faults from the faults registry and fault-proxy toxics, each
reverted automatically at the end of the method, on abort, or on Ctrl-C/SIGTERM.

    {"type": "action", "name": "pause worker", "provider": {"type": "assay", "func": "fault",
     "arguments": {"fault": "process.pause", "target": "pid:4242", "duration": "10s"}}}
    {"type": "action", "name": "slow db", "provider": {"type": "assay", "func": "toxic",
     "arguments": {"api": "http://127.0.0.1:8474", "proxy": "db", "type": "latency",
                   "attributes": {"latency": 1500}, "duration": "30s"}}}
    {"type": "action", "name": "heal", "provider": {"type": "assay", "func": "revert"}}
    {"type": "probe", "name": "ready", "tolerance": true, "provider": {"type": "assay", "func": "http",
     "arguments": {"url": "http://127.0.0.1:8080/health/ready", "expect_status": 200, "max_latency": "500ms"}}}

(probes: http, tcp, metric, prometheus, log, slo; see probes.py)

Faults get the TTL the faults model requires (its watchdog reverts even after SIGKILL);
toxics get the proxy's own `ttl`, so they expire too if assay dies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.chaos.blast import BlastLimit, BlastRadiusExceeded, check_processes
from assay.chaos.probes import PROBE_FUNCS, REQUIRED, ProbeMemory, run_probe
from assay.chaos.providers import ActivityFailed
from assay.chaos.substitute import substitute

FUNCS = ("fault", "toxic", "revert", *PROBE_FUNCS)
DEFAULT_TOXIC_S = 300.0


@dataclass
class Injected:
    kind: str  # "fault" | "toxic"
    label: str
    injected_at: float
    undo: Any
    reverted_at: float | None = None
    what: str = ""  # for people: "process.pause on pattern:worker for 20s"


@dataclass
class AssayContext:
    """What assay injected during a run, so nothing outlives the method."""

    injected: list[Injected] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)
    memory: ProbeMemory = field(default_factory=ProbeMemory)
    current_result: Callable[[], Any] = lambda: None  # the load's RunResult of the phase under way
    blast: BlastLimit | None = None
    tripped: str | None = None  # why a guard aborted the run (load guard, blast radius)
    tripped_at: float | None = None
    on_trip: Callable[[str], None] | None = None
    on_fault: Callable[[str, dict[str, Any]], None] | None = None  # ("fault-in" | "fault-out", details): the live console

    def trip(self, reason: str) -> None:
        """Abort: remember why (once) and revert every fault at once."""
        with self.lock:
            first = self.tripped is None
            if first:
                self.tripped, self.tripped_at = reason, time.time()
        if first:
            self.revert_all()
            if self.on_trip is not None:
                self.on_trip(reason)

    def add(self, item: Injected) -> None:
        with self.lock:
            self.injected.append(item)
        self._tell("fault-in", item)

    def _tell(self, kind: str, item: Injected) -> None:
        if self.on_fault is not None:
            try:
                self.on_fault(kind, {"kind": item.kind, "label": item.label, "what": item.what or item.label})
            except Exception as exc:  # a display hook must not stop a revert
                self.errors.append(f"{kind} hook: {type(exc).__name__}: {exc}")

    def active(self) -> Iterator[Injected]:
        with self.lock:
            items = [i for i in self.injected if i.reverted_at is None]
        yield from reversed(items)

    def revert_all(self) -> list[str]:
        done = []
        for item in self.active():
            try:
                item.undo()
            except Exception as exc:  # keep reverting the others; report every failure
                self.errors.append(f"revert {item.label}: {type(exc).__name__}: {exc}")
            item.reverted_at = time.time()
            done.append(item.label)
            self._tell("fault-out", item)
        return done

    def end_of_method(self) -> None:
        self.revert_all()


def check(provider: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """Problems in an assay provider spec, as (sub key path, message)."""
    out: list[tuple[tuple[str, ...], str]] = []
    func = provider.get("func")
    if func not in FUNCS:
        return [(("func",), f"expected one of {', '.join(FUNCS)}, got {func!r}")]
    args = provider.get("arguments") or {}
    if not isinstance(args, dict):
        return [(("arguments",), "expected a mapping")]
    if func == "fault":
        name = args.get("fault")
        if not isinstance(name, str):
            out.append((("arguments", "fault"), "required: a fault type (see `assay fault types`)"))
        else:
            from assay.faults import registry
            from assay.faults.model import FaultError

            try:
                registry.get(name)
            except FaultError as exc:
                out.append((("arguments", "fault"), exc.message))
        if "duration" not in args:
            out.append((("arguments", "duration"), "required: every fault has a TTL (e.g. 30s)"))
    if func == "toxic":
        for key in ("proxy", "type"):
            if not isinstance(args.get(key), str):
                out.append((("arguments", key), "required: a string"))
    if func in PROBE_FUNCS:
        for key in REQUIRED[func]:
            if key not in args:
                out.append((("arguments", key), f"required by the assay {func} probe"))
    out += _typed(args)
    return out


_DURATIONS = ("duration", "timeout", "max_latency")
_PORTS = ("port",)


def _typed(args: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """Values the run would refuse, refused at validation (a `${var}` is judged after substitution)."""
    from assay.faults.model import parse_duration

    out: list[tuple[tuple[str, ...], str]] = []
    for key, value in args.items():
        if isinstance(value, str) and "${" in value:
            continue
        if key in _DURATIONS:
            try:
                ok = parse_duration(value) >= 0
            except Exception:
                ok = False
            if not ok:
                out.append((("arguments", key), f"expected seconds or a duration such as 30s, got {value!r}"))
        elif key in _PORTS and (isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536):
            out.append((("arguments", key), f"expected a port number (1-65535), got {value!r}"))
        elif key == "url" and not isinstance(value, str):
            out.append((("arguments", key), f"expected a URL, got {value!r}"))
        elif key == "expect_status" and not _statuses(value):
            out.append((("arguments", key), f"expected a status code or [low, high], got {value!r}"))
    return out


def _statuses(value: Any) -> bool:
    def code(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599

    return code(value) or (isinstance(value, list) and bool(value) and all(code(v) for v in value))


def _seconds(value: Any) -> float:
    from assay.faults.model import parse_duration

    return float(parse_duration(value))


def run_assay(provider: Mapping[str, Any], configuration: Any, secrets: Any, ctx: AssayContext | None) -> Any:
    if ctx is None:
        raise ActivityFailed("the assay provider runs only inside `assay chaos run`")
    args = dict(substitute(provider.get("arguments") or {}, configuration, secrets))
    func = provider.get("func")
    try:
        if func == "fault":
            return _fault(args, ctx)
        if func == "toxic":
            return _toxic(args, ctx)
        if func == "revert":
            return {"reverted": ctx.revert_all()}
        if func in PROBE_FUNCS:
            return run_probe(str(func), args, ctx.memory, ctx.current_result)
    except ActivityFailed:
        raise
    except BlastRadiusExceeded as exc:
        ctx.trip(f"blast radius: {exc}")
        raise ActivityFailed(str(exc)) from exc
    except Exception as exc:
        raise ActivityFailed(f"{type(exc).__name__}: {exc}") from exc
    raise ActivityFailed(f"unknown assay func {func!r}")


def _fault(args: dict[str, Any], ctx: AssayContext) -> dict[str, Any]:
    from assay.faults import injector

    name = args.pop("fault")
    target = args.pop("target", None)
    duration = args.pop("duration")
    check_processes(ctx.blast, str(name), target)
    handle = injector.inject(name, target, duration=duration, params=args)
    ctx.add(Injected("fault", handle.id, time.time(), lambda: handle.revert("reverted by the experiment"),
                     what=f"{name} on {target} for {duration}"))
    return {"id": handle.id, "fault": name, "target": target, "record": handle.record}


def _toxic(args: dict[str, Any], ctx: AssayContext) -> dict[str, Any]:
    from assay.faults.client import Toxiproxy

    api = str(args.get("api", "http://127.0.0.1:8474"))
    seconds = _seconds(args.get("duration", DEFAULT_TOXIC_S))
    server = Toxiproxy(api)
    proxy = server.get(str(args["proxy"]))
    body = proxy.add_toxic(str(args["type"]), dict(args.get("attributes") or {}), name=args.get("name"),
                           stream=str(args.get("stream", "downstream")), toxicity=float(args.get("toxicity", 1.0)),
                           ttl=int(seconds * 1000))
    toxic_name = body["name"]

    def undo() -> None:
        try:
            proxy.remove_toxic(toxic_name)
        except Exception as exc:
            if "not found" not in str(exc):  # already expired by its ttl
                raise
        finally:
            server.close()

    ctx.add(Injected("toxic", f"{args['proxy']}/{toxic_name}", time.time(), undo,
                     what=f"toxic {args['type']} on proxy {args['proxy']} for {seconds:g}s"))
    return body
