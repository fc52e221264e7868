#!/usr/bin/env bash
# Evaluate the shipped styles on held-out real photos, against the photo2cartoon cartoons as
# style references; the table and contact sheet go to docs/eval/. The photos are the 5%
# hash split that no shipped style trained on (examples/ablation.sh makes the folder).
set -euo pipefail
cd "$(dirname "$0")/.."
HELDOUT=${HELDOUT:-work-data/ablation/heldout/photos}
REFS=${REFS:-../shared/data/cartoon/photo2cartoon}
OUT=${OUT:-work-data/eval-shipped}
toonforge eval --style classic filter --photos "$HELDOUT" --refs "$REFS" --out "$OUT" \
  --backend onnx --threads 2 --title "Shipped styles on held-out photos" --overwrite "$@"
mkdir -p docs/eval
cp "$OUT/report.md" docs/eval/shipped.md
cp "$OUT/contact_sheet.png" docs/eval/shipped-sheet.png
