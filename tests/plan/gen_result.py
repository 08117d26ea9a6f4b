"""Write a RunResult whose http_req_duration sits at a given level (for the regression test's nights)."""

import os
import sys
from pathlib import Path

from assay.results import Metric, RunResult

level = float(sys.argv[1])
metric = Metric.builtin("http_req_duration")
for i in range(200):
    metric.add(level * (0.9 + 0.2 * (i % 10) / 10))
RunResult(name="gen", metrics={"http_req_duration": metric}, duration_s=10.0).save(Path(os.environ["ASSAY_STEP_DIR"]) / "result.json")
