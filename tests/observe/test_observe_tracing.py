"""Tracing: spans into an in-process exporter, W3C traceparent values, the slowest trace ids,
and the CLI's spans reaching an OTLP/HTTP receiver as protobuf."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assay.errors import UsageError
from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess
from assay.observe.tracing import RequestSampler, SlowestTraces, Tracing, traceparent

sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra is not installed")
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


def test_spans_nest_and_carry_attributes() -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing()
    assert tracing.configure(exporter=exporter)
    with tracing.span("plan.stage", stage="load") as stage:
        with tracing.span("chaos.phase", phase="method", skipped=None):
            pass
    tracing.shutdown()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["chaos.phase"].parent is not None and spans["chaos.phase"].parent.span_id == stage.get_span_context().span_id
    assert dict(spans["chaos.phase"].attributes or {}) == {"phase": "method"}
    assert spans["plan.stage"].resource.attributes["service.name"] == "assay"


def test_without_configuration_spans_are_one_shared_null_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    tracing = Tracing()
    assert not tracing.configure()
    assert tracing.span("a") is tracing.span("b")
    with tracing.span("a") as value:
        assert value is None


def test_traceparent_and_sampling() -> None:
    header, trace_id = traceparent(random.Random(1))
    assert TRACEPARENT.match(header) and header.split("-")[1] == trace_id
    sampler = RequestSampler(0.01, seed=7)
    picked = sum(1 for _ in range(100_000) if sampler.maybe() is not None)
    assert 800 < picked < 1200
    with pytest.raises(UsageError, match="sampling rate"):
        RequestSampler(0.0)


def test_slowest_traces_per_endpoint() -> None:
    a, b = SlowestTraces(keep=3), SlowestTraces(keep=3)
    for i in range(10):
        a.add("GET /x", float(i), f"t{i}")
    b.add("GET /x", 100.0, "slowest")
    b.add("POST /y", 1.0, "only")
    a.merge(b)
    kept = a.to_dict()
    assert [e["trace_id"] for e in kept["GET /x"]] == ["slowest", "t9", "t8"]
    assert kept["POST /y"] == [{"trace_id": "only", "duration_ms": 1.0}]


class _Receiver(BaseHTTPRequestHandler):
    requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        message = trace_service_pb2.ExportTraceServiceRequest()
        message.ParseFromString(body)
        type(self).requests.append(message)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_load_run_span_reaches_an_otlp_receiver(receiver: str, tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    with ServiceProcess(cmd, port=port):
        done = subprocess.run(
            [sys.executable, "-m", "assay", "load", "run", f"http://127.0.0.1:{port}/", "--iterations", "5",
             "--workers", "1", "--quiet", "--otel-endpoint", receiver],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    spans = [s for r in _Receiver.requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    names = [s.name for s in spans]
    assert names == ["load.run"]
    attrs = {a.key: a.value.string_value or a.value.int_value for a in spans[0].attributes}
    assert attrs["target"] == f"http://127.0.0.1:{port}/" and attrs["workers"] == 1
    assert spans[0].end_time_unix_nano > spans[0].start_time_unix_nano


def test_traceparent_continues_through_courier(receiver: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("opentelemetry.instrumentation.fastapi", reason="opentelemetry-instrumentation-fastapi is not installed")
    import httpx

    port = free_port()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "COURIER_DATABASE_URL": f"sqlite:///{tmp_path / 'courier.db'}",
        "COURIER_LOG_LEVEL": "warning",
    }
    with ServiceProcess([sys.executable, "-m", "courier", "--port", str(port)], env=env, health_url=f"http://127.0.0.1:{port}/health/live", start_timeout=60):
        header, trace_id = traceparent()
        response = httpx.get(f"http://127.0.0.1:{port}/health/live", headers={"traceparent": header}, timeout=10)
        assert response.status_code == 200
        deadline = time.monotonic() + 30
        spans: list[object] = []
        while time.monotonic() < deadline:
            spans = [
                s
                for r in list(_Receiver.requests)
                for rs in r.resource_spans
                for ss in rs.scope_spans
                for s in ss.spans
                if s.trace_id.hex() == trace_id
            ]
            if spans:
                break
            time.sleep(0.2)
    assert spans, "courier exported no span of the request's trace"
    parent_span_id = header.split("-")[2]
    assert any(s.parent_span_id.hex() == parent_span_id for s in spans)  # type: ignore[attr-defined]
