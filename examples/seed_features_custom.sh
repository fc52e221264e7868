#!/usr/bin/env bash
# Customised face generation and face videos from latents (issue 28, parts 2 and 3), end to end on
# the real data at toy scale on a CPU:
#   1. a photo StyleGAN2 from scratch on the SCUT faces, and its transfer to the photo2cartoon cartoons;
#   2. an Info-StyleGAN (2 codes) transferred from the photo model onto photos + cartoons together;
#   3. per-class latent generators (female / male, labels from the SCUT file names AF* / AM*) trained
#      against a classifier on those photos;
#   4. template styles by layer: a SCUT face inverted, its fine layers (4-7 of this 8-layer generator)
#      put into random samples;
#   5. face videos: a real face inverted and walked along the female->male direction (fitted on the
#      latent generators' codes) through the photo and the cartoon generator side by side, and a loop
#      between three inverted faces;
#   6. the shared-encoder face swap between two SCUT people, applied to a short video made from a photo
#      of the first one (slow zoom and pan), with face tracking and paste-back;
#   7. contact sheets and numbers in docs/custom-faces/.
# Toy scale (32 px generators 16 channels wide, a 64 px face swap, hundreds of steps): a smoke test of
# the methods on real data, not a quality result (the 32 px generators draw face-like blobs, not faces);
# nothing here is shipped as a style. Rerunning resumes finished parts.
# Measured on the shared 2-core development CPU (load average 10-14 from other jobs), niced, from an
# empty OUT: 7 min 14 s (photo generator 111 s, cartoon 29 s, Info-StyleGAN 51 s, latent generators
# 46 s, template 12 s, inversions and videos 46 s, face swap 133 s). Numbers: docs/custom-faces/README.md.
#
#   nice -n 10 bash examples/seed_features_custom.sh     # OUT=work-data/seed-features-custom
set -euo pipefail
cd "$(dirname "$0")/.."
source examples/lib/production_line.sh

DATA=${DATA:-../shared/data}
OUT=${OUT:-work-data/seed-features-custom}
DOCS=${DOCS:-docs/custom-faces}
SOURCE_STEPS=${SOURCE_STEPS:-400}
TRANSFER_STEPS=${TRANSFER_STEPS:-80}
INFO_STEPS=${INFO_STEPS:-100}
SWAP_STEPS=${SWAP_STEPS:-250}
INVERT_STEPS=${INVERT_STEPS:-60}
ARCH=(--size 32 --channel-max 16 --style-dim 64 --n-mlp 4)
SCUT=$DATA/faces/scut
# One intra-op thread per process: on a shared machine (several jobs on 2 cores) two threads per
# process thrash and run several times slower; set OMP_NUM_THREADS=2 on an idle machine.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT" "$DOCS"
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 )) s] $*" >&2; }

gen() {  # name, kind, steps, flags...: train (or resume) a StyleGAN2 run; prints its last generator
  local name=$1 kind=$2 steps=$3 run
  shift 3
  run=$(last_run "$OUT/runs/$name" "$kind")
  if [ -z "$run" ] || ! grep -q "\"step\": $steps," "$run/stats.jsonl" 2>/dev/null; then
    toonforge train-stylegan --steps "$steps" --batch-size 8 --eval-every 0 --fd-samples 0 \
      --checkpoint-every 50 --log-every 20 --runs "$OUT/runs/$name" ${run:+--resume "$run"} "$@" >&2
    run=$(last_run "$OUT/runs/$name" "$kind")
  fi
  echo "$run/last.safetensors"
}

# 1. Photo generator from scratch; cartoon generator by transfer (FreezeD 2, ADA).
PHOTO=$(gen photo stylegan2 "$SOURCE_STEPS" --data "$SCUT" "${ARCH[@]}" --ada-kimg 20)
stamp "photo generator: $PHOTO"
TOON=$(gen cartoon stylegan2 "$TRANSFER_STEPS" --data "$DATA/cartoon/photo2cartoon" --resume-from "$PHOTO" \
  --freeze-d 2 --ada-kimg 5)
stamp "cartoon generator: $TOON"

# 2. Info-StyleGAN: 2 codes, photos and cartoons in one folder, transferred from the photo generator.
mkdir -p "$OUT/mixed"
for f in "$SCUT"/*.jpg "$DATA"/cartoon/photo2cartoon/*; do
  [ -e "$OUT/mixed/$(basename "$f")" ] || ln -s "$(realpath "$f")" "$OUT/mixed/$(basename "$f")"
done
INFO=$(gen info info-stylegan2 "$INFO_STEPS" --data "$OUT/mixed" --resume-from "$PHOTO" --info-codes 2 \
  --lambda-info 5 --lr-mapping 1 --ada-kimg 5)
stamp "Info-StyleGAN: $INFO"
for c in 0 1; do
  toonforge sample "$INFO" --code "$c" -n 8 --seed 0 -o "$OUT/info-code$c" --quiet
done

# 3. Latent generators against a gender classifier trained on the SCUT photos (AF* female, AM* male).
python - "$SCUT" "$OUT/gender.csv" <<'PY'
import sys
from pathlib import Path

rows = ["name,class"] + [f"{p.stem},{'female' if p.stem.startswith('AF') else 'male'}"
                         for p in sorted(Path(sys.argv[1]).glob("A[FM]*.jpg"))]
Path(sys.argv[2]).write_text("\n".join(rows) + "\n")
PY
if [ ! -f "$OUT/gender.safetensors" ]; then
  toonforge train-latent-generator "$PHOTO" --images "$SCUT" --labels "$OUT/gender.csv" \
    -o "$OUT/gender.safetensors" --classifier-steps 300 --steps 100 --batch-size 16 2>"$OUT/latent-generator.log"
fi
tail -n 1 "$OUT/latent-generator.log" >&2
for cls in female male; do
  toonforge sample "$TOON" --paired "$PHOTO" --latent-generator "$OUT/gender.safetensors" --class "$cls" \
    -n 8 --seed 0 -o "$OUT/class-$cls" --quiet
done
toonforge sample "$TOON" --paired "$PHOTO" -n 8 --seed 0 --truncation 1 -o "$OUT/random" --quiet
stamp "latent generators and class samples"

# 4. Template styles by layer: a face's layers 4-7 (16 and 32 px) in random samples.
toonforge sample "$PHOTO" -n 8 --seed 0 -o "$OUT/template" --template "$SCUT/AF1600.jpg" --layers 4-7 \
  --template-steps "$INVERT_STEPS" --quiet
toonforge sample "$PHOTO" -n 8 --seed 0 -o "$OUT/no-template" --quiet
stamp "template samples"

# 5. Face videos: invert three faces; walk the first along female -> male (a direction fitted on the
#    latent generators' codes); loop between the three. Photo | cartoon side by side.
mkdir -p "$OUT/photos"
for f in AF1554.jpg AM1875.jpg AF1620.jpg; do [ -e "$OUT/photos/$f" ] || cp "$SCUT/$f" "$OUT/photos/"; done
toonforge invert "$PHOTO" "$OUT"/photos/*.jpg -o "$OUT/inverted" --steps "$INVERT_STEPS" --noise-reg 1e3 --quiet
python - "$OUT" <<'PY'
import sys
from pathlib import Path

import numpy as np
import torch

from toonforge.stylegan.editing import fit_direction, save_direction

out = Path(sys.argv[1])
female, male = (np.load(out / f"class-{c}" / f"class-{c}.npy")[:, 0] for c in ("female", "male"))
direction = fit_direction(torch.from_numpy(np.concatenate([female, male])), [0] * len(female) + [1] * len(male))
save_direction(out / "female-to-male.npy", direction)
print(f"female->male direction: training accuracy {direction.accuracy:.2f}", file=sys.stderr)
PY
toonforge face-video "$PHOTO" "$TOON" --latents "$OUT/inverted/latents.npy" --index 0 \
  --direction "$OUT/female-to-male.npy" --step 4 --steps 48 --size 128 -o "$OUT/walk-gender.mp4" --overwrite --quiet
toonforge face-video "$PHOTO" "$TOON" --latents "$OUT/inverted/latents.npy" --steps 48 --size 128 \
  -o "$OUT/walk-loop.mp4" --overwrite --quiet
stamp "face videos"

# 6. Face swap between two SCUT people; the video is a slow zoom and pan over a photo of the first.
SWAP=$(last_run "$OUT/runs/faceswap" faceswap)
if [ -z "$SWAP" ] || ! grep -q "\"step\": $SWAP_STEPS," "$SWAP/stats.jsonl" 2>/dev/null; then
  toonforge train-faceswap --a "$SCUT/AF1554.jpg" --b "$SCUT/AM1875.jpg" --names af1554,am1875 --size 64 \
    --width 16 --steps "$SWAP_STEPS" --batch-size 8 --checkpoint-every 50 --log-every 50 \
    --runs "$OUT/runs/faceswap" ${SWAP:+--resume "$SWAP"} --quiet >&2
  SWAP=$(last_run "$OUT/runs/faceswap" faceswap)
fi
python - "$SCUT/AF1554.jpg" "$OUT/af1554-clip.mp4" <<'PY'
import sys
from fractions import Fraction
from pathlib import Path

import cv2

from toonforge.io.images import load_image
from toonforge.io.video import VideoWriter

rgb, dst = load_image(sys.argv[1]).rgb, Path(sys.argv[2])
if not dst.exists():
    h, w = rgb.shape[:2]
    with VideoWriter(dst, fps=Fraction(12), size=(256, 256)) as writer:
        for i in range(24):  # zoom 1 -> 1.15 while drifting right
            zoom, dx = 1 + 0.15 * i / 23, 10 * i / 23
            m = cv2.getRotationMatrix2D((w / 2, h / 2), 2 * i / 23, zoom)
            m[0, 2] += dx
            frame = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
            writer.write(cv2.resize(frame, (256, 256), interpolation=cv2.INTER_AREA))
PY
toonforge faceswap-video "$SWAP/faceswap.safetensors" "$OUT/af1554-clip.mp4" --to am1875 \
  -o "$OUT/af1554-as-am1875.mp4" --overwrite
stamp "face swap"

# 7. Sheets and numbers.
python examples/custom_faces_sheets.py "$OUT" "$DOCS"
stamp "done"
