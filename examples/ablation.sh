#!/usr/bin/env bash
# The ablation of the reference's supervised-translator table (reference/000_*): the same
# translator trained four times on the same pairs, each recipe adding one ingredient:
#   1 pixel      L1 only
#   2 +pg        + MobileNetV2 perceptual loss + LSGAN patch discriminator
#   3 +edge      + edge-promoting fakes for the discriminator
#   4 +augment   + flip/scale/rotation/shift/colour augmentation
# then `toonforge eval` on held-out photos (never trained on) against their held-out targets,
# and the table in docs/ablation/report.md (discussed in docs/ablation.md).
#
# Pairs: PAIRS/inputs and PAIRS/targets with the same stems. Default: the `classic` filter
# pairs (photos of ../shared/data/faces, targets from `toonforge stylize --style filter`),
# built here when missing. Every step resumes: rerun the script after a stop.
#
#   bash examples/ablation.sh                 # defaults below (about 1 h on a 2-core CPU)
#   STEPS=200 SIZE=64 bash examples/ablation.sh   # a quick smoke run
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-../shared/data}
PAIRS=${PAIRS:-work-data/classic}
OUT=${OUT:-work-data/ablation}
STEPS=${STEPS:-800}
SIZE=${SIZE:-128}
BATCH=${BATCH:-8}
GAN_START=${GAN_START:-200}
VAL_FRACTION=${VAL_FRACTION:-0.05}
DOC=${DOC:-docs/ablation/report.md}

# 1. Pairs (photo -> cartoon filter), unless given.
if [ ! -d "$PAIRS/targets" ]; then
  mkdir -p "$PAIRS/inputs"
  for f in "$DATA"/faces/scut/*.jpg "$DATA"/faces/selfie2anime/*.jpg; do
    ln -sf "$(realpath "$f")" "$PAIRS/inputs/$(basename "$f")"
  done
  toonforge stylize "$PAIRS/inputs" -o "$PAIRS/targets" --style filter --format png
fi

# 2. The held-out split: the same hash split train-translator uses (seed 0), as folders.
python - "$PAIRS" "$OUT/heldout" "$VAL_FRACTION" <<'PY'
import sys
from pathlib import Path

from toonforge.io.images import list_images
from toonforge.training.paired_data import split_names

pairs, out, frac = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
targets = {p.stem: p for p in list_images(pairs / "targets")}
inputs = {p.stem: p for p in list_images(pairs / "inputs") if p.stem in targets}
_, val = split_names(sorted(inputs), frac, seed=0)
for sub, table in (("photos", inputs), ("refs", targets)):
    (out / sub).mkdir(parents=True, exist_ok=True)
    for stem in val:
        link = out / sub / table[stem].name
        if not link.exists():
            link.symlink_to(table[stem].resolve())
print(f"held out: {len(val)} pairs in {out}")
PY

# 3. Four trainings, same seed, steps and data; only the recipe changes.
train() {  # name, extra flags...
  local name=$1; shift
  local style="$OUT/styles/$name"
  if [ -f "$style/config.json" ]; then echo "$name: done ($style)"; return; fi
  local resume=()
  local run
  run=$(ls -d "$OUT/runs/$name"/*-translator 2>/dev/null | tail -n 1 || true)
  if [ -n "$run" ]; then resume=(--resume "$run"); fi
  toonforge train-translator --inputs "$PAIRS/inputs" --targets "$PAIRS/targets" \
    --tier small --size "$SIZE" --steps "$STEPS" --batch-size "$BATCH" --workers 1 \
    --gan-start "$GAN_START" --val-fraction "$VAL_FRACTION" --seed 0 \
    --runs "$OUT/runs/$name" "${resume[@]}" \
    --style-out "$style" --style-name "ablation-$name" \
    --head-resolution "$SIZE" --full-resolution "$SIZE" "$@"
}
train 1-pixel   --w-perceptual 0 --w-gan 0 --no-edge-promoting --no-augment
train 2-pg      --no-edge-promoting --no-augment
train 3-edge    --no-augment
train 4-augment

# 4. Evaluate all four (and the targets' own filter) at the training scale.
toonforge eval --style "$OUT"/styles/1-pixel "$OUT"/styles/2-pg "$OUT"/styles/3-edge "$OUT"/styles/4-augment \
  --photos "$OUT/heldout/photos" --refs "$OUT/heldout/refs" --size "$SIZE" \
  --out "$OUT/eval" --title "Ablation: supervised translator recipes" --overwrite
mkdir -p "$(dirname "$DOC")"
cp "$OUT/eval/report.md" "$DOC"
cp "$OUT/eval/contact_sheet.png" "$(dirname "$DOC")/sheet.png"
echo "table: $DOC"
