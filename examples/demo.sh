#!/usr/bin/env bash
# The README's main job on the bundled example: start courier, load-test it for ~20 s,
# gate on its SLO file, write the reports, and exit with the gate's code (0/1/2).
# Then show that k6's own result files read into the same model.
set -uo pipefail
cd "$(dirname "$0")/.."
ASSAY=.venv/bin/assay
OUT=out/demo
mkdir -p "$OUT"

bash examples/courier/demo.sh "$OUT/courier"
GATE=$?
if [ -f "$OUT/courier/run.json" ]; then
  $ASSAY slo check "$OUT/courier/run.json" --slo examples/courier/suite/slo.yaml --format html \
    --output "$OUT/courier/slo.html" >/dev/null
  $ASSAY results convert "$OUT/courier/run.json" --to k6-handle-summary -o "$OUT/courier/handle-summary.json"
fi

echo
echo "== k6's files read into the same model: a --summary-export with a failed threshold =="
$ASSAY results show examples/results/k6-summary-export.json || exit $?
echo "== and a k6 --out json NDJSON file, converted to assay JSON and k6's summary shape =="
$ASSAY results convert examples/results/k6-out.ndjson --to assay -o "$OUT/k6-run.json" || exit $?
$ASSAY results convert examples/results/k6-out.ndjson --to k6-summary -o "$OUT/k6-summary-export.json" || exit $?
echo
echo "reports: $OUT/courier/slo.html, $OUT/courier/slo.md, $OUT/courier/run.json; gate exit $GATE"
exit "$GATE"
