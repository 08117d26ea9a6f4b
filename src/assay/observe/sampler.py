"""Follow target processes during a run and record their resources once a second (psutil).

Soak tests exist to find leaks, so the target's memory, threads, file descriptors and
connections are sampled next to the load: `proc_rss_bytes{proc:courier}` and friends
become gauges of the RunResult with a per-second time series that thresholds, SLOs,
leak verdicts and trends read. The sampler runs on its own thread so a busy event loop
does not skew its clock, and the load generator samples itself as `proc:assay`.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import psutil

from assay.errors import UsageError
from assay.results import Metric, MetricType, RunResult, TimeBucket, submetric_name

# metric base name -> help text; every name here is a gauge tagged with proc:NAME
RESOURCE_METRICS: dict[str, str] = {
    "proc_rss_bytes": "resident set size, bytes",
    "proc_uss_bytes": "unique set size (memory freed if the process exited), bytes",
    "proc_cpu_percent": "CPU use since the previous sample, percent of one core",
    "proc_threads": "threads",
    "proc_open_fds": "open file descriptors",
    "proc_children": "child processes (recursive)",
    "proc_tcp_connections": "TCP connections (all states; by state with the state tag)",
}
TCP_STATES = ("ESTABLISHED", "LISTEN", "TIME_WAIT", "CLOSE_WAIT", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "LAST_ACK", "CLOSING")
SELF_NAME = "assay"


@dataclass(frozen=True)
class Target:
    """What to follow: a PID, or a pattern matched against command lines (re-resolved if it restarts)."""

    name: str
    pid: int | None = None
    pattern: str | None = None

    def resolve(self, exclude: Iterable[int] = ()) -> psutil.Process | None:
        if self.pid is not None:
            try:
                return psutil.Process(self.pid)
            except psutil.Error:
                return None
        assert self.pattern is not None
        rx = re.compile(self.pattern)
        skip = set(exclude) | own_family()
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmdline = " ".join(proc.info.get("cmdline") or [])
            if proc.info["pid"] not in skip and cmdline and rx.search(cmdline):
                return proc
        return None


def own_family() -> set[int]:
    """This process, its ancestors and its forked copies: their command lines hold the pattern
    itself (`assay load run ... --sample courier`, the shell that ran it, forked workers), so a
    pattern must never match them. Other children (a service the run started) stay sampleable."""
    me = psutil.Process()
    family = {me.pid}
    try:
        family |= {p.pid for p in me.parents()}
        mine = me.cmdline()
        for child in me.children(recursive=True):
            try:
                if child.cmdline() == mine:
                    family.add(child.pid)
            except psutil.Error:
                continue
    except psutil.Error:
        pass
    return family


# Linux's largest process id (/proc/sys/kernel/pid_max can be at most 2**22).
PID_MAX = 4_194_304


def parse_target(spec: str, services: Mapping[str, int] | None = None) -> Target:
    """`1234`, `courier=1234`, `courier` (a harness service by name) or `re:uvicorn.*courier`.

    A bare word that is neither a number nor a known service is a command-line pattern
    and names the series after itself.
    """
    text = spec.strip()
    if not text:
        raise UsageError("--sample: expected PID, NAME=PID, a service name or a command-line pattern")
    name, sep, rest = text.partition("=")
    if sep and name.strip() and re.fullmatch(r"[A-Za-z0-9_.-]+", name.strip()):
        label, what = name.strip(), rest.strip()
    else:
        label, what = "", text
    if not what:
        raise UsageError(f"--sample {spec!r}: nothing to follow after '='")
    if re.fullmatch(r"[+-]?[0-9]+", what):  # a number is a PID, never a pattern (`-1` matched any `-1` in a command line)
        pid = int(what)
        if not 0 < pid <= PID_MAX:
            raise UsageError(f"--sample {spec!r}: {what} is no process id (1 to {PID_MAX}); a pattern that is a number goes after 're:'")
        return Target(name=label or what, pid=pid)
    if services and what in services:
        return Target(name=label or what, pid=services[what])
    pattern = what[3:] if what.startswith("re:") else what
    try:
        re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"--sample {spec!r}: not a valid pattern ({exc})") from None
    return Target(name=label or _slug(pattern), pattern=pattern)


def _slug(pattern: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", pattern).strip("_")[:40] or "proc"


@dataclass
class Series:
    """One resource of one process over time: (seconds since start, value)."""

    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, t: float, v: float) -> None:
        self.times.append(t)
        self.values.append(v)


def children_by_parent() -> dict[int, list[int]]:
    """Every process's children, read once per tick (psutil's children() rescans the system per call)."""
    tree: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info.get("ppid")
        if ppid is not None:
            tree.setdefault(ppid, []).append(proc.pid)
    return tree


def count_descendants(pid: int, tree: Mapping[int, list[int]]) -> int:
    count, stack, seen = 0, list(tree.get(pid, ())), {pid}
    while stack:
        child = stack.pop()
        if child in seen:
            continue
        seen.add(child)
        count += 1
        stack.extend(tree.get(child, ()))
    return count


def sample_process(proc: psutil.Process, *, uss: bool = True, tree: Mapping[int, list[int]] | None = None) -> dict[str, float]:
    """One reading of one process; resources the OS refuses are left out (not zero)."""
    out: dict[str, float] = {}
    with proc.oneshot():
        mem = proc.memory_info()
        out["proc_rss_bytes"] = float(mem.rss)
        out["proc_cpu_percent"] = float(proc.cpu_percent(None))
        out["proc_threads"] = float(proc.num_threads())
        try:
            out["proc_open_fds"] = float(proc.num_fds())
        except (psutil.AccessDenied, AttributeError):
            pass
    if uss:
        try:
            out["proc_uss_bytes"] = float(proc.memory_full_info().uss)
        except (psutil.AccessDenied, AttributeError):
            pass
    if tree is not None:
        out["proc_children"] = float(count_descendants(proc.pid, tree))
    else:
        try:
            out["proc_children"] = float(len(proc.children(recursive=True)))
        except psutil.Error:
            pass
    try:
        conns = proc.net_connections(kind="tcp")
    except (psutil.AccessDenied, AttributeError):
        conns = None
    if conns is not None:
        out["proc_tcp_connections"] = float(len(conns))
        for state in TCP_STATES:
            out[f"proc_tcp_connections@{state}"] = float(sum(1 for c in conns if c.status == state))
    return out


class Sampler:
    """Samples every target once per `interval` on a daemon thread until stopped.

    Use as a context manager around the run; `attach(result)` then adds the gauges and
    their per-second series to the RunResult.
    """

    def __init__(
        self,
        targets: Iterable[Target],
        *,
        interval: float = 1.0,
        include_self: bool = True,
        uss: bool = True,
        on_sample: Callable[[str, dict[str, float]], None] | None = None,
    ) -> None:
        self.targets = list(targets)
        if include_self and not any(t.name == SELF_NAME for t in self.targets):
            self.targets.append(Target(name=SELF_NAME, pid=os.getpid()))
        names = [t.name for t in self.targets]
        duplicate = {n for n in names if names.count(n) > 1}
        if duplicate:
            raise UsageError(f"--sample: two targets are named {sorted(duplicate)[0]!r}; name them NAME=PID")
        self.interval = interval
        self.uss = uss
        self.on_sample = on_sample
        self.series: dict[str, dict[str, Series]] = {t.name: {} for t in self.targets}
        self.missing: dict[str, int] = {t.name: 0 for t in self.targets}
        self.started_wall: float = 0.0
        self._procs: dict[str, psutil.Process | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> Sampler:
        self.started_wall = time.time()
        self._t0 = time.monotonic()
        for t in self.targets:
            self._procs[t.name] = self._resolve(t)
            proc = self._procs[t.name]
            if proc is not None:
                try:
                    proc.cpu_percent(None)  # prime: the first call always says 0
                except psutil.Error:
                    pass
        self._thread = threading.Thread(target=self._loop, name="assay-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval * 5 + 5)
            self._thread = None

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _resolve(self, target: Target) -> psutil.Process | None:
        return target.resolve()

    def _loop(self) -> None:
        next_at = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self.sample_once()
            next_at += self.interval
            now = time.monotonic()
            if next_at < now:  # fell behind (suspended box): skip, never burst
                next_at = now + self.interval
        self.sample_once()

    def sample_once(self) -> None:
        """Take one reading of every target now (the thread calls this; tests may too)."""
        t = time.monotonic() - self._t0
        tree = children_by_parent()
        for target in self.targets:
            proc = self._procs.get(target.name)
            if proc is None or not _alive(proc):
                proc = self._procs[target.name] = self._resolve(target) if target.pattern else None
                if proc is not None:
                    try:
                        proc.cpu_percent(None)
                    except psutil.Error:
                        pass
            if proc is None:
                self.missing[target.name] += 1
                continue
            try:
                reading = sample_process(proc, uss=self.uss, tree=tree)
            except psutil.Error:
                self.missing[target.name] += 1
                continue
            store = self.series[target.name]
            for key, value in reading.items():
                store.setdefault(key, Series()).add(t, value)
            if self.on_sample is not None:
                self.on_sample(target.name, reading)

    # -- results ---------------------------------------------------------------------------------

    def metric_names(self) -> dict[str, tuple[str, str]]:
        """Result metric name -> (target, series key)."""
        out: dict[str, tuple[str, str]] = {}
        for target, store in self.series.items():
            for key in store:
                base, _, state = key.partition("@")
                tags = {"proc": target, **({"state": state} if state else {})}
                out[submetric_name(base, tags)] = (target, key)
        return out

    def attach(self, result: RunResult) -> RunResult:
        """Add one gauge per (resource, process) and its values to the result's per-second series."""
        buckets = {b.t: b for b in result.timeseries}
        for name, (target, key) in sorted(self.metric_names().items()):
            series = self.series[target][key]
            metric = Metric(type=MetricType.GAUGE, tags=_tags_of(name))
            for t, v in zip(series.times, series.values, strict=True):
                metric.add(v)
                second = float(int(self.started_wall + t))  # buckets are epoch seconds, as the load engine's
                bucket = buckets.get(second)
                if bucket is None:
                    bucket = buckets[second] = TimeBucket(t=second)
                bucket.metrics[name] = {"value": v}
            result.metrics[name] = metric
        result.timeseries = [buckets[t] for t in sorted(buckets)]
        for target, count in self.missing.items():
            if count:
                result.notes.append(f"sampler: {target} was not found in {count} of its readings")
        return result


def _tags_of(name: str) -> dict[str, str]:
    from assay.results import parse_metric_name

    return parse_metric_name(name)[1]


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def series_of(result: RunResult, metric: str) -> tuple[list[float], list[float]]:
    """The (seconds, values) of one gauge from a result's per-second series (what leak verdicts read)."""
    times: list[float] = []
    values: list[float] = []
    for bucket in result.timeseries:
        stats = bucket.metrics.get(metric)
        if stats is not None and "value" in stats:
            times.append(bucket.t)
            values.append(stats["value"])
    return times, values
