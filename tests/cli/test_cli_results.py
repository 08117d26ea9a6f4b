"""`assay results show|convert|merge`, through typer's runner and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from assay.cli.app import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "formats"))
from k6_gen_formats import Generated, generate, to_ndjson  # noqa: E402

runner = CliRunner()


def assay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=60)


def test_show_both_k6_summaries_print_the_same_table(reference_dir: Path) -> None:
    outs = []
    for f in ("k6-summary-export.sample.json", "k6-handle-summary.sample.json"):
        res = runner.invoke(app, ["results", "show", str(reference_dir / f)])
        assert res.exit_code == 0, res.output
        assert "✗ http_req_duration{name:GET /items}: 'p(95)<300'" in res.output
        outs.append(res.output.split("\n", 1)[1])
    assert outs[0] == outs[1]


def test_convert_to_each_format_as_subprocess(reference_dir: Path, tmp_path: Path) -> None:
    src = reference_dir / "k6-handle-summary.sample.json"
    for fmt in ("assay", "k6-summary", "k6-handle-summary"):
        out = tmp_path / f"{fmt}.json"
        proc = assay("results", "convert", str(src), "--to", fmt, "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        data = json.loads(out.read_text())
        if fmt == "assay":
            assert data["schema"] == "assay.run/1"
        elif fmt == "k6-summary":
            assert data["metrics"]["http_req_duration{name:GET /items}"]["thresholds"] == {"p(95)<300": True}
        else:
            assert data["metrics"]["http_req_duration{name:GET /items}"]["thresholds"] == {"p(95)<300": {"ok": False}}
    assert not list(tmp_path.glob(".*.tmp")), "atomic writes leave no temp files"


def test_convert_to_stdout_and_bad_format(reference_dir: Path) -> None:
    res = runner.invoke(app, ["results", "convert", str(reference_dir / "k6-summary-export.sample.json")])
    assert res.exit_code == 0
    assert json.loads(res.output)["tool"] == "k6"
    proc = assay("results", "convert", str(reference_dir / "k6-summary-export.sample.json"), "--to", "xml")
    assert proc.returncode == 64
    assert "expected one of assay, k6-summary, k6-handle-summary" in proc.stderr


def test_merge_as_subprocess(tmp_path: Path) -> None:
    whole = generate(seconds=10, rps=30, seed=11)
    half = len(whole.samples) // 2
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(to_ndjson(Generated(whole.samples[:half], whole.thresholds)))
    b.write_text(to_ndjson(Generated(whole.samples[half:], whole.thresholds)))
    out = tmp_path / "merged.json"
    proc = assay("results", "merge", str(a), str(b), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    merged = json.loads(out.read_text())
    assert merged["metrics"]["http_reqs"]["sum"] == 300
    verdicts = {t["source"]: t["ok"] for t in merged["metrics"]["http_req_duration"]["thresholds"]}
    assert verdicts == {"p(95)<300": True, "p(99)<5": False}
    assert merged["status"] == "failed"


def test_merge_of_summaries_is_refused_clearly(reference_dir: Path, tmp_path: Path) -> None:
    src = str(reference_dir / "k6-summary-export.sample.json")
    proc = assay("results", "merge", src, src, "-o", str(tmp_path / "m.json"))
    assert proc.returncode == 64
    assert "cannot merge" in proc.stderr and "Traceback" not in proc.stderr


def test_truncated_json_gives_one_located_line(reference_dir: Path, tmp_path: Path) -> None:
    text = (reference_dir / "k6-summary-export.sample.json").read_text()
    bad = tmp_path / "truncated.json"
    bad.write_text(text[: len(text) // 2])
    proc = assay("results", "show", str(bad))
    assert proc.returncode == 64
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"{bad}:" in lines[0] and "invalid JSON" in lines[0]


def test_unknown_file_kinds_are_usage_errors(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    proc = assay("results", "show", str(junk))
    assert proc.returncode == 64 and "not a result file" in proc.stderr
    proc = assay("results", "show", str(tmp_path / "missing.json"))
    assert proc.returncode == 64 and "no such file" in proc.stderr


def test_schema_of_run_result() -> None:
    res = runner.invoke(app, ["schema", "run-result"])
    assert res.exit_code == 0
    schema = json.loads(res.output)
    assert "metrics" in schema["properties"]
