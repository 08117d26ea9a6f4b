#!/usr/bin/env bash
# The README's main job: one nightly plan on the bundled example, in its short form.
#   starts courier and a local contract broker, verifies and publishes courier's contracts and
#   asks can-i-deploy, load-tests courier with its SLO gate, runs one chaos experiment under
#   load and measures recovery, records the night in the trend store and compares it with the
#   earlier nights, notifies a local webhook sink, and writes one HTML report.
# Exit 0 passed, 1 passed with warnings, 2 failed. Run it twice to see a trend.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/assay plan run examples/courier/nightly.yaml "$@"
