"""k6's handleSummary: call it with the end-of-test data and deliver its output map.

`{"stdout": text, "stderr": text, "path/to/file": content}`: files are written atomically
(relative paths from the current directory, as k6 does); the CLI prints stdout/stderr,
and prints its default summary only when handleSummary is absent or failed (as k6).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assay.atomic import write_text_atomic
from assay.load.scenario import LoadedScenario
from assay.results import RunResult


@dataclass
class SummaryOutput:
    stdout: str | None = None
    stderr: str | None = None
    files: tuple[Path, ...] = ()
    error: str | None = None  # handleSummary threw: the default summary is shown instead


def run_handle_summary(loaded: LoadedScenario, result: RunResult) -> SummaryOutput | None:
    """None when the script has no handleSummary."""
    if loaded.handle_summary is None:
        return None
    from assay.formats.k6_summary import to_handle_summary

    try:
        outputs = loaded.handle_summary(to_handle_summary(result))
    except Exception as exc:  # the script's bug: reported, the run's results stand
        return SummaryOutput(error=f"handleSummary failed: {exc}")
    out = SummaryOutput()
    files: list[Path] = []
    failed: list[str] = []
    for key, content in outputs.items():
        if key == "stdout":
            out.stdout = content
        elif key == "stderr":
            out.stderr = content
        else:
            try:
                files.append(write_text_atomic(Path(key), content))
            except OSError as exc:  # as k6: the other outputs are still delivered, the failure is reported
                failed.append(f"could not save the summary to {key!r}: {exc.strerror or exc}")
    out.files = tuple(files)
    if failed:
        out.stderr = (out.stderr or "") + "".join(f"handleSummary: {line}\n" for line in failed)
    return out
