#!/usr/bin/env bash
# Stage 1 (StyleGAN2) end to end at toy scale on a CPU, in a few minutes:
#   1. a source generator trained from scratch on real faces (../shared/data/faces/scut);
#   2. transfer learning of that generator to the photo2cartoon cartoons (FreezeD + ADA);
#   3. model fusion: the cartoon generator's coarse layers with the source's fine ones, and
#      the reverse (layer swap at one resolution);
#   4. a paired dataset: the same latents through the source and the cartoon generator;
#   5. inversion of two real photos into the source's W+ and those codes through the cartoon
#      generator (Toonify);
#   6. a contact sheet of all of it: docs/stage1-toy-sheet.png.
# Measured on the 2-core development CPU (nothing else running): 5 min 16 s end to end.
# Source generator (32 px, channel_max 64, 600 steps of 16): FD-MNv2 to the SCUT photos
# 404 -> 290 (evaluated every 100 steps on 128 samples), 202 s. Transfer to the 194 cartoons
# (300 steps, FreezeD 2): FD to the cartoons 453 -> 403 (best, step 200) -> 412, 88 s.
# The sheet shows face-shaped 32 px samples whose cartoon versions (same latents) have the
# lighter skin, white backgrounds and dark hair outlines of the cartoon set, and two real
# photos inverted (coarse likeness) and toonified.
# The scale is a smoke test of the whole stage (32 px, narrow layers, hundreds of steps), not
# a quality result: a GPU run uses the same commands with --size 256 and far more steps.
#
#   bash examples/stage1_toy.sh            # OUT=work-data/stage1-toy; rerun to resume
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-../shared/data}
OUT=${OUT:-work-data/stage1-toy}
SIZE=${SIZE:-32}
SOURCE_STEPS=${SOURCE_STEPS:-600}
TRANSFER_STEPS=${TRANSFER_STEPS:-300}
ARCH=(--size "$SIZE" --channel-max 64 --style-dim 64 --n-mlp 4)
mkdir -p "$OUT"

gen() {  # name, data, steps, extra flags...: train (or resume) and print the best generator path
  local name=$1 data=$2 steps=$3; shift 3
  local run
  run=$(ls -d "$OUT/runs/$name"/*-stylegan2 2>/dev/null | tail -n 1 || true)
  if [ -n "$run" ] && [ -f "$run/best.safetensors" ] && grep -q "\"step\": $steps" "$run/stats.jsonl"; then
    echo "$run/best.safetensors"; return
  fi
  local resume=()
  if [ -n "$run" ]; then resume=(--resume "$run"); fi
  toonforge train-stylegan --data "$data" --steps "$steps" --batch-size 16 --eval-every 100 \
    --fd-samples 128 --checkpoint-every 100 --runs "$OUT/runs/$name" "${resume[@]}" "$@" >&2
  run=$(ls -d "$OUT/runs/$name"/*-stylegan2 | tail -n 1)
  echo "$run/best.safetensors"
}

# 1. Source generator: real faces, from scratch.
SRC=$(gen source "$DATA/faces/scut" "$SOURCE_STEPS" "${ARCH[@]}" --ada-kimg 20)
# 2. Transfer to the cartoons: start from the source, freeze D's first 2 blocks, ADA on.
TOON=$(gen cartoon "$DATA/cartoon/photo2cartoon" "$TRANSFER_STEPS" --resume-from "$SRC" --freeze-d 2 --ada-kimg 5)

# 3. Fusion: cartoon structure (< 16 px) with photo texture, and photo structure with cartoon texture.
[ -f "$OUT/toon-coarse.safetensors" ] || toonforge blend "$TOON" "$SRC" --swap-resolution 16 \
  -o "$OUT/toon-coarse.safetensors" --preview "$OUT/blend-toon-coarse.png"
[ -f "$OUT/photo-coarse.safetensors" ] || toonforge blend "$SRC" "$TOON" --swap-resolution 16 \
  -o "$OUT/photo-coarse.safetensors" --preview "$OUT/blend-photo-coarse.png"

# 4. Paired dataset: same latents through the source (photo/) and the cartoon generator (style/).
toonforge sample "$TOON" --paired "$SRC" -n 64 --seed 0 --truncation 0.7 -o "$OUT/paired" --quiet

# 5. Toonify two real photos: invert into the source's W+, render with the cartoon generator.
mkdir -p "$OUT/photos"
for f in AF1554.jpg AM1875.jpg; do cp -n "$DATA/faces/scut/$f" "$OUT/photos/" 2>/dev/null || true; done
toonforge invert "$SRC" "$OUT"/photos/*.jpg -o "$OUT/inverted" --space w+ --steps 200 --noise-reg 1e3 --quiet
toonforge sample "$TOON" --latents "$OUT/inverted/latents.npy" -o "$OUT/toonified" --quiet

# 6. Contact sheet: source | cartoon for 6 paired seeds, then photo | reconstruction | toonified.
python - "$OUT" <<'PY'
import sys
from pathlib import Path

from toonforge.evaluation.sheet import contact_sheet
from toonforge.io.images import list_images, load_image, save_image

out = Path(sys.argv[1])
load = lambda p: load_image(p).rgb
rows = []
for p in list_images(out / "paired" / "photo")[:6]:
    rows.append([load(p), load(out / "paired" / "style" / p.name), None])
toon = list_images(out / "toonified")
for i, photo in enumerate(sorted((out / "photos").glob("*.jpg"))):
    recon = out / "inverted" / f"{photo.stem}.png"
    rows.append([load(photo), load(recon) if recon.exists() else None, load(toon[i]) if i < len(toon) else None])
sheet = contact_sheet(["source / photo", "cartoon / inverted", "toonified"], rows, tile=128)
Path("docs").mkdir(exist_ok=True)
save_image("docs/stage1-toy-sheet.png", sheet, overwrite=True)
print("contact sheet: docs/stage1-toy-sheet.png")
PY
