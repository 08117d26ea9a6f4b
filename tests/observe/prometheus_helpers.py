"""Shared by the observe tests: a real Pushgateway per test, and Prometheus text parsed into samples."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess

Samples = dict[str, list[tuple[dict[str, str], float]]]


def samples(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def run_and_scrape(cmd: list[str], port: int, seen: Callable[[Samples], bool], timeout: float = 120) -> tuple[int, str, Samples]:
    """Run `cmd`, scraping its /metrics on `port` until `seen(samples)` holds; then let it finish.
    Returns (exit code, stderr, the samples that satisfied `seen`, else the last ones scraped)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    live: Samples = {}
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                live = samples(get(f"http://127.0.0.1:{port}/metrics"))
            except (urllib.error.URLError, ConnectionError):
                live = {}
            if seen(live):
                break
            time.sleep(0.2)
        _, err = proc.communicate(timeout=timeout + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err, live


@pytest.fixture(name="pushgateway")
def pushgateway_service(tmp_path: Path, system_tool: Callable[..., str]) -> Iterator[str]:
    """`pushgateway`: the URL of a Pushgateway started for the test (import `pushgateway_service`);
    without the Debian package the test skips, and fails in CI (`system_tool`)."""
    pushgateway = system_tool("prometheus-pushgateway")
    port = free_port()
    with ServiceProcess(
        # its own persistence file: Debian's default (/var/lib/prometheus/pushgateway.data) is shared by
        # every Pushgateway on the machine, so groups pushed by earlier tests would come back
        [pushgateway, f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn", f"--persistence.file={tmp_path / 'pushgateway.data'}"],
        health_url=f"http://127.0.0.1:{port}/-/ready",
        log_path=tmp_path / "pushgateway.log",
    ):
        yield f"http://127.0.0.1:{port}"
