"""docs/load-python-api.md cannot drift: every example runs against a local server, every public
name of the scenario API is on the page, and every name on the page exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assay.load.api import LoadRequest, prepare
from assay.load.coordinator import run_load
from assay.load.custom_metrics import CustomMetric
from assay.load.http.client import HttpClient
from assay.load.http.cookies import CookieJar
from assay.load.http.response import Headers, Request, Response, Timings
from assay.load.vu import VU

PAGE = Path(__file__).resolve().parents[2] / "docs" / "load-python-api.md"
TEXT = PAGE.read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, re.S)

# engine plumbing that scenarios never touch (the runner, the client and YAML steps use them)
ENGINE_ONLY = {
    VU: {"activate", "iter_series", "lateness", "sink", "tags_key", "count_iteration"},
    # the prepared-GET steps k6 JS VUs drive from response callbacks (assay.load.js.vu_loop)
    HttpClient: {"bind", "run_static", "close", "sink", "client_options",
                 "prepared_get", "idle_for", "complete_get", "finish_get", "failed_get", "cut_off_get"},
    CookieJar: {"store", "header_for"},
}
# how the page writes each object
PREFIX = {VU: "vu.", HttpClient: "vu.http.", Response: "res.", Timings: ".", Headers: ".", Request: ".",
          CustomMetric: "metric.", CookieJar: ""}


def public_names(cls: type) -> set[str]:
    names = {n for n in set(dir(cls)) | set(getattr(cls, "__slots__", ())) if not n.startswith("_")}
    if cls is HttpClient:
        names |= {"cookies"}
    return names - ENGINE_ONLY.get(cls, set())


@pytest.mark.parametrize("cls", list(PREFIX), ids=lambda c: c.__name__)
def test_every_public_name_is_documented(cls: type) -> None:
    missing = [n for n in sorted(public_names(cls)) if f"{PREFIX[cls]}{n}" not in TEXT]
    assert not missing, f"{cls.__name__}: document {missing} in {PAGE.name}"


def test_every_documented_name_exists() -> None:
    for prefix, cls in (("vu.http.", HttpClient), ("res.timings.", Timings), ("res.request.", Request), ("res.headers.", Headers), ("res.", Response)):
        for name in set(re.findall(re.escape(prefix) + r"([a-z_]+)", TEXT)):
            assert name in public_names(cls) or hasattr(cls, name), f"{prefix}{name} is on the page but not in {cls.__name__}"
    for name in set(re.findall(r"`vu\.([a-z_]+)", TEXT)):
        assert name in public_names(VU), f"vu.{name} is on the page but not in VU"


def test_the_page_has_an_example_for_each_section() -> None:
    sections = re.findall(r"^## (.+)$", TEXT, re.M)
    assert len(sections) == len(EXAMPLES) == 6


@pytest.mark.parametrize("n", range(len(EXAMPLES)))
def test_example_runs_clean(n: int, tmp_path: Path, target_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASE", target_url)
    script = tmp_path / f"example{n}.py"
    script.write_text(EXAMPLES[n])
    loaded, plan = prepare(LoadRequest(target=str(script)), env={"BASE": target_url})
    result = run_load(loaded, plan, workers=1, env={"BASE": target_url})
    assert not result.extra.get("errors"), result.extra
    assert not result.extra.get("check_errors"), result.extra
    assert result.status.value == "passed", [(m, t) for m, t in result.thresholds()] + result.notes
    assert result.metrics["iterations"].sum > 0
