#!/usr/bin/env bash
# The courier demo: start courier, run its load scenario for ~20 s, gate on its SLO file,
# print the report, and exit with the gate's code (0 pass, 1 warning, 2 fail).
#   bash examples/courier/demo.sh [OUT_DIR]        (from the repository root; uses .venv)
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin
OUT=${1:-out/courier-demo}
mkdir -p "$OUT"
rm -f "$OUT/courier.db" "$OUT/courier.db-wal" "$OUT/courier.db-shm"
PORT=$($BIN/python -c "from assay.harness.ports import free_port; print(free_port())")
URL="http://127.0.0.1:$PORT"

$BIN/assay example serve courier --port "$PORT" --db "sqlite:///$OUT/courier.db" >"$OUT/courier.log" 2>&1 &
COURIER=$!
trap 'kill -TERM $COURIER 2>/dev/null; wait $COURIER 2>/dev/null' EXIT
if ! $BIN/python - "$URL" <<'PY'
import sys, time, urllib.request
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(sys.argv[1] + "/health/ready", timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
PY
then
  echo "courier did not become ready; its log is $OUT/courier.log" >&2
  exit 70
fi
echo "== courier is up on $URL; running examples/courier/suite/load.yaml (~20 s) =="
COURIER_URL="$URL" $BIN/assay load run examples/courier/suite/load.yaml \
  --summary-export "$OUT/summary-export.json" -o assay="$OUT/run.json"
LOAD=$?
if [ "$LOAD" -ne 0 ] && [ "$LOAD" -ne 99 ]; then
  echo "the load run failed (exit $LOAD)" >&2
  exit "$LOAD"
fi
echo "== gating on examples/courier/suite/slo.yaml =="
$BIN/assay slo check "$OUT/run.json" --slo examples/courier/suite/slo.yaml
GATE=$?
$BIN/assay slo check "$OUT/run.json" --slo examples/courier/suite/slo.yaml --format markdown --output "$OUT/slo.md" >/dev/null
echo "results in $OUT/ (run.json, summary-export.json, slo.md, courier.log); gate exit $GATE"
exit "$GATE"
