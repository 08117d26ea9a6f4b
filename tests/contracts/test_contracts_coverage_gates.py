"""Coverage gates with numbers worked out by hand from tests/contracts/data/coverage-gates-openapi.yaml.

Operations: GET /dashboards (P1 by operationId in the mapping file), GET /dashboards/{id} (P0 by
x-priority), PUT /dashboards/{id} (P0 by tag), DELETE /dashboards/{id} (P1 by the mapping file),
GET /health (unprioritised).  The pact covers GET /dashboards, GET and PUT /dashboards/{id}:
P0 2/2 = 100%, P1 1/2 = 50%, all 3/5 = 60%.  4xx/5xx of covered operations: 404, 500 (GET) and 400,
409 (PUT); only 404 is expected: 1/4 = 25%.  Dashboard's fields: id, title, owner, widget, audit,
audit.created, audit.by; the pact fills id, title, widget: 3/7 = 42.9%.  Chart: kind, series: 2/2.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from contracts_pactgen import run_cli

DATA = Path(__file__).parent / "data" / "coverage-gates-openapi.yaml"


def body(content: object) -> dict[str, object]:
    return {"content": content, "contentType": "application/json", "encoded": False}


@pytest.fixture
def pact_dir(tmp_path: Path) -> Path:
    inters = [
        (
            "GET",
            "/dashboards/7",
            None,
            200,
            {"id": 7, "title": "ops", "widget": {"kind": "chart", "series": 2}},
        ),
        ("GET", "/dashboards/8", None, 404, None),
        ("PUT", "/dashboards/7", {"title": "new"}, 200, {"id": 7, "title": "new"}),
        ("GET", "/dashboards", None, 200, [{"id": 7, "title": "ops"}]),
    ]
    doc = {
        "consumer": {"name": "web"},
        "provider": {"name": "dashboards"},
        "metadata": {"pactSpecification": {"version": "4.0"}},
        "interactions": [
            {
                "type": "Synchronous/HTTP",
                "description": f"{m} {p} {s}",
                "request": {"method": m, "path": p, **({"body": body(rb)} if rb is not None else {})},
                "response": {"status": s, **({"body": body(b)} if b is not None else {})},
            }
            for m, p, rb, s, b in inters
        ],
    }
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "web-dashboards.json").write_text(json.dumps(doc))
    (tmp_path / "priorities.yaml").write_text('listDashboards: P1\n"DELETE /dashboards/{id}": P1\n')
    return tmp_path


def test_contracts_coverage_gates_hand_computed(pact_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json, junit, md = pact_dir / "c.json", pact_dir / "c.xml", pact_dir / "c.md"
    args = ["contract", "coverage", "--openapi", str(DATA), "--pacts", str(pact_dir / "pacts")]
    args += ["--priorities", str(pact_dir / "priorities.yaml"), "--min", "P0=100", "--min", "all=80"]
    args += ["--min", "errors=100", "--schema", "Dashboard=100", "--schema", "Chart=100"]
    args += ["--json", str(out_json), "--junit", str(junit), "--markdown", str(md)]
    code, out, err = run_cli(args, capsys)
    assert code == 2, out + err
    gates = {g["name"]: g for g in json.loads(out_json.read_text())["gates"]}
    got = {n: (g["covered"], g["total"], g["percent"], g["passed"]) for n, g in gates.items()}
    assert got == {
        "P0": (2, 2, 100.0, True),
        "P1": (1, 2, 50.0, True),  # no minimum for P1
        "all": (3, 5, 60.0, False),
        "errors": (1, 4, 25.0, False),
        "schema Dashboard": (3, 7, 42.9, False),
        "schema Chart": (2, 2, 100.0, True),
    }
    assert gates["errors"]["missing"] == [
        "GET /dashboards/{id} 500",
        "PUT /dashboards/{id} 400",
        "PUT /dashboards/{id} 409",
    ]
    assert gates["schema Dashboard"]["missing"] == ["owner", "audit", "audit.created", "audit.by"]
    assert "all 60.0% < 80%" in err and "errors 25.0% < 100%" in err and "P0" not in err
    assert "✘ audit.created" in out and "✔ widget" in out
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "5" and suite.get("failures") == "3"
    assert "| schema Dashboard | 3/7 | 42.9% | 100% | ❌ |" in md.read_text()


def test_contracts_coverage_gates_pass_and_bad_input(
    pact_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["contract", "coverage", "--openapi", str(DATA), "--pacts", str(pact_dir / "pacts")]
    code, out, err = run_cli([*base, "--min", "P0=100", "--min", "all=60", "--schema", "Chart=100"], capsys)
    assert code == 0, out + err
    code, _, err = run_cli([*base, "--min", "P0"], capsys)
    assert code == 64 and "NAME=PERCENT" in err
    code, _, err = run_cli([*base, "--schema", "Nope=50"], capsys)
    assert code == 64 and "Nope" in err and "Dashboard" in err
