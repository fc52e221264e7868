#!/usr/bin/env bash
# The production line for the shipped `sketch` style (the cartoon pair of issue 7), stage by stage:
#   0. the shared photo split and aligned crops (examples/lib/production_line.sh: the 178
#      held-out photos no shipped style trained on); 12% of the cartoons (hash split, seed 0)
#      are held out as FD references, the rest are aligned like the photos;
#   1. stage 2: DCT-Net texture translation, photos <-> cartoons (the teacher), in two phases,
#      the second continuing the first's last checkpoint (a copy, so each phase has its own run
#      folder and resumes on its own):
#      a. content weight 2, texture weight 1: learns the cartoons' pale palette;
#      b. content 0.5, texture (grey, line) GAN doubled: outlines and flat skin;
#   2. `toonforge translate` every aligned training photo into a photo/style pair with the teacher;
#   3. stage 3: the small-tier translator distilled from those pairs, written as a style folder
#      with its ONNX head;
#   4. `toonforge eval` on the held-out photos: the distilled style, its teacher and `classic`,
#      against the held-out cartoons; table and contact sheet into docs/cartoon/.
# Every step resumes: rerun the script after a stop. The defaults are the CPU run of
# docs/cartoon/README.md (2-core CPU). On a GPU scale the steps:
# DEVICE=cuda TEACHER_STEPS=8000 LINES_STEPS=20000 STUDENT_STEPS=4000.
#
#   bash examples/cartoon_style.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-../shared/data}
PHOTOS=${PHOTOS:-work-data/photos}
OUT=${OUT:-work-data/cartoon-line}
DEVICE=${DEVICE:-cpu}
TEACHER_STEPS=${TEACHER_STEPS:-1400}
LINES_STEPS=${LINES_STEPS:-3300}
TEACHER_MINUTES=${TEACHER_MINUTES:-90}
STUDENT_STEPS=${STUDENT_STEPS:-800}
STUDENT_MINUTES=${STUDENT_MINUTES:-30}
mkdir -p "$OUT" "$PHOTOS"
source examples/lib/production_line.sh

# 0. The shared photo split and aligned crops; 12% of the cartoons held out, the rest aligned.
prepare_photos "$PHOTOS"
link_split 0.12 "$OUT/train-cartoons-src" "$OUT/heldout-cartoons" "$DATA/cartoon/photo2cartoon"
toonforge align --in "$OUT/train-cartoons-src" --out "$OUT/train-cartoons" --quiet

# 1. The teacher: DCT-Net at 256 px, batch 2, content-only warm-up of 200 steps, two phases.
TRAIN=(toonforge train-dctnet --photos "$PHOTOS/aligned-photos" --styles "$OUT/train-cartoons" --size 256
       --batch-size 2 --gan-start 200 --workers 1 --device "$DEVICE")
teacher_phase "$OUT/runs/dctnet" "$TEACHER_STEPS" "" "$OUT/teacher-phase-a.pt" \
  --checkpoint-every 200 --eval-every 400
teacher_phase "$OUT/runs/dctnet-lines" "$LINES_STEPS" "$OUT/teacher-phase-a.pt" "" \
  --w-content 0.5 --w-texture 2.0 --w-surface 1.0 --checkpoint-every 150 --eval-every 0

# 2-4. Pairs, the distilled translator, the held-out evaluation.
TEACHER=$(last_run "$OUT/runs/dctnet-lines" dctnet)
make_pairs "$TEACHER" "$PHOTOS/aligned-photos" "$OUT/pairs"
distil "$OUT/pairs" "$OUT/runs/student" "$OUT/style-sketch" sketch "$STUDENT_STEPS" "$STUDENT_MINUTES"
teacher_style "$TEACHER" "$OUT/style-teacher" sketch-teacher
evaluate "$OUT/style-sketch" "$OUT/style-teacher" "$PHOTOS/heldout-photos" "$OUT/heldout-cartoons" "$OUT/eval" \
  docs/cartoon "sketch: distilled translator vs its DCT-Net teacher and classic (held-out photos)"
