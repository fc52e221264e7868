#!/usr/bin/env bash
# Stage 2 (unpaired translation) end to end at toy scale on a CPU:
#   0. split the photos into a training folder and held-out test photos (every 19th; symlinks);
#   1. U-GAT-IT light with the region-based background term (face-and-hair masks computed
#      from dlib landmarks first), photos <-> photo2cartoon cartoons;
#   2. U-GAT-IT light with the mask branch (the generator predicts its own blend mask);
#   3. DCT-Net texture translation with geometry expansion, calibrated with samples of the
#      stage-1 toy cartoon generator when examples/stage1_toy.sh has made one;
#   4. CycleGAN, the baseline;
#   5. `toonforge translate` of the held-out photos with each model into photo/style pairs
#      (the input of stage 3's train-translator), each with its contact sheet;
#   6. one contact sheet of all four: docs/stage2-toy-<pair>-sheet.png.
# PAIR=cartoon (default): SCUT photos <-> photo2cartoon; PAIR=anime: selfie2anime selfies <->
# anime faces. The scale proves the code path (64 px, narrow nets, about a thousand images
# seen per model), not quality: a GPU run uses the same commands at --size 256 with the
# default widths and far more steps.
#
#   bash examples/stage2_toy.sh                     # about 8 minutes on 2 CPU cores; rerun to resume
#   PAIR=anime STEPS=1200 bash examples/stage2_toy.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-../shared/data}
PAIR=${PAIR:-cartoon}
OUT=${OUT:-work-data/stage2-toy-$PAIR}
SIZE=${SIZE:-64}
STEPS=${STEPS:-300}
EVERY=$((STEPS / 3))
case "$PAIR" in
  cartoon) PHOTOS="$DATA/faces/scut"; STYLES="$DATA/cartoon/photo2cartoon" ;;
  anime) PHOTOS="$DATA/faces/selfie2anime"; STYLES="$DATA/anime/selfie2anime" ;;
  *) echo "PAIR must be cartoon or anime, not $PAIR" >&2; exit 2 ;;
esac
COMMON=(--styles "$STYLES" --size "$SIZE" --batch-size 4 --eval-every "$EVERY" --checkpoint-every "$EVERY")
mkdir -p "$OUT"

# 0. Held-out photos: every 19th file (24 of 453) never reaches a trainer.
python - "$PHOTOS" "$OUT" <<'PY'
import sys
from pathlib import Path

from toonforge.io.images import list_images

src, out = Path(sys.argv[1]), Path(sys.argv[2])
for name in ("train-photos", "test-photos"):
    (out / name).mkdir(parents=True, exist_ok=True)
for i, f in enumerate(list_images(src)):
    link = out / ("test-photos" if i % 19 == 0 else "train-photos") / f.name
    if not link.exists():
        link.symlink_to(f.resolve())
PY

run_of() {  # the newest run folder of a trainer under OUT/runs/NAME
  ls -d "$OUT/runs/$1"/*-"$2" 2>/dev/null | tail -n 1 || true
}

train() {  # name, task, steps, command and flags...: train (or resume) NAME to STEPS steps
  local name=$1 task=$2 steps=$3; shift 3
  local run resume=()
  run=$(run_of "$name" "$task")
  if [ -n "$run" ]; then
    if grep -q "\"step\": $steps," "$run/stats.jsonl" 2>/dev/null; then return; fi
    resume=(--resume "$run")
  fi
  "$@" --steps "$steps" --runs "$OUT/runs/$name" "${resume[@]}"
}

UG=(--light --base-channels 16 --n-blocks 2 --d-channels 16 --d-global-layers 5 --d-local-layers 4)
# 1-2. U-GAT-IT, both background-preserving variants.
train ugatit-region ugatit "$STEPS" toonforge train-ugatit --photos "$OUT/train-photos" "${COMMON[@]}" \
  "${UG[@]}" --background region
train ugatit-mask ugatit "$STEPS" toonforge train-ugatit --photos "$OUT/train-photos" "${COMMON[@]}" \
  "${UG[@]}" --background mask

# 3. DCT-Net, with content calibration when the stage-1 toy cartoon generator exists.
CALIB=()
STAGE1=$(ls -d work-data/stage1-toy/runs/cartoon/*-stylegan2 2>/dev/null | tail -n 1 || true)
if [ "$PAIR" = cartoon ] && [ -n "$STAGE1" ] && [ -f "$STAGE1/best.safetensors" ]; then
  CALIB=(--style-generator "$STAGE1/best.safetensors" --calibration-samples 128 --calibration-truncation 0.7)
fi
train dctnet dctnet $((STEPS * 2)) toonforge train-dctnet --photos "$OUT/train-photos" "${COMMON[@]}" \
  --channels 16 --num-blocks 2 --d-channels 16 --gan-start "$EVERY" "${CALIB[@]}"

# 4. CycleGAN baseline.
train cyclegan cyclegan "$STEPS" toonforge train-cyclegan --photos "$OUT/train-photos" "${COMMON[@]}" \
  --base-channels 16 --n-blocks 3 --d-channels 16

# 5. Pairs from the held-out photos (whole photos: SCUT portraits are square and centred, as in training).
for name in ugatit-region:ugatit ugatit-mask:ugatit dctnet:dctnet cyclegan:cyclegan; do
  run=$(run_of "${name%%:*}" "${name##*:}")
  toonforge translate --model "$run" --in "$OUT/test-photos" --out "$OUT/pairs/${name%%:*}" --crop full --quiet
done

# 6. One sheet: held-out photo, then each model's translation.
python - "$OUT" "$PAIR" <<'PY'
import sys
from pathlib import Path

from toonforge.evaluation.sheet import contact_sheet
from toonforge.io.images import list_images, load_image, save_image

out = Path(sys.argv[1])
models = ["ugatit-region", "ugatit-mask", "dctnet", "cyclegan"]
rows = []
for p in list_images(out / "pairs" / models[0] / "photo")[:8]:
    rows.append([load_image(p).rgb] + [load_image(out / "pairs" / m / "style" / p.name).rgb for m in models])
sheet = contact_sheet(["photo (held out)", *models], rows, tile=128)
Path("docs").mkdir(exist_ok=True)
save_image(f"docs/stage2-toy-{sys.argv[2]}-sheet.png", sheet, overwrite=True)
print(f"contact sheet: docs/stage2-toy-{sys.argv[2]}-sheet.png")
PY
