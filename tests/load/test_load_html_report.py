"""`assay results show --html`: one run as a self-contained page, checked in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from assay.report.run_html import ERROR_COLOUR, P99_COLOUR, THROUGHPUT_COLOUR

SCENARIO = '''
import os
BASE = os.environ["BASE"]
options = {
    "scenarios": {"mix": {"executor": "constant-vus", "vus": 2, "duration": "3s"}},
    "thresholds": {"http_req_failed": ["rate<0.01"], "http_req_duration": ["p(95)<5000"]},
}

async def default(vu):
    with vu.group("browse"):
        res = await vu.http.get(BASE + "/json", tags={"name": "item"})
        vu.check(res, {"status is 200": lambda r: r.status == 200, "has id": lambda r: r.json("id") == 7})
    await vu.http.get(BASE + "/status/503", tags={"name": "broken"})
    await vu.sleep(0.01)
'''



def chromium(page: Path, png: Path) -> str:
    """Screenshot `page`; returns Chromium's log (console messages are logged at INFO)."""
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(binary).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="assay-chromium-") as profile:
        proc = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--enable-logging=stderr", "--v=0", f"--screenshot={png}", "--window-size=1100,3000", "--hide-scrollbars",
             page.as_uri()],
            check=True, capture_output=True, text=True, timeout=90,
        )
    return proc.stderr


def pixels(png: Path, hex_colour: str) -> int:
    target = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return sum(1 for p in Image.open(png).convert("RGB").getdata() if p == target)


@pytest.mark.slow
def test_html_report_of_a_run_is_self_contained_and_drawn(tmp_path: Path, target_url: str, run_cli: Callable[..., tuple[int, str, str]]) -> None:
    cli = run_cli
    script = tmp_path / "mix.py"
    script.write_text(SCENARIO)
    run = tmp_path / "run.json"
    code, _, err = cli("load", "run", str(script), "-e", f"BASE={target_url}", "--workers", "1", "-q", "--result", str(run))
    assert code == 99, err  # the failure-rate threshold is crossed
    page = tmp_path / "report.html"
    code, _, err = cli("results", "show", str(run), "--html", str(page))
    assert code == 0, err
    html = page.read_text()
    # offline: no script, stylesheet link or remote resource
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?https?:""", html)
    for section in ("Summary", "Thresholds", "Checks", "Latency percentiles", "Endpoints", "Why requests failed", "Over time"):
        assert f"<h2>{section}</h2>" in html, section
    assert "<code>rate&lt;0.01</code>" in html and "crossed" in html
    assert "status is 200" in html and "browse" in html
    assert "<td>item</td>" in html and "<td>broken</td>" in html and "100.00%" in html
    assert "HTTP 503" in html and "Service Unavailable" in html
    assert html.count('class="series"') == 4  # throughput, errors, p(95) and p(99)
    png = tmp_path / "report.png"
    log = chromium(page, png)
    assert "CONSOLE" not in log and "Uncaught" not in log, log
    # the charts are drawn: each line colour covers hundreds of exact pixels
    assert pixels(png, THROUGHPUT_COLOUR) > 300 and pixels(png, ERROR_COLOUR) > 300 and pixels(png, P99_COLOUR) > 300
    # and k6's files get the same page
    nd = tmp_path / "samples.ndjson"
    code, _, err = cli("load", "run", target_url + "/", "--vus", "1", "-d", "1s", "--workers", "1", "-q", "-o", f"json={nd}")
    assert code == 0, err
    code, _, err = cli("results", "show", str(nd), "--html", str(tmp_path / "k6.html"))
    assert code == 0 and "<h2>Latency percentiles</h2>" in (tmp_path / "k6.html").read_text()


def test_html_needs_exactly_one_result(tmp_path: Path, run_cli: Callable[..., tuple[int, str, str]]) -> None:
    cli = run_cli
    code, _, err = cli("results", "show", "a.json", "b.json", "--html", str(tmp_path / "x.html"))
    assert code == 64 and "one result" in err
