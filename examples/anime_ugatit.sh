#!/usr/bin/env bash
# The anime line with U-GAT-IT light as its stage-2 teacher: the teacher that can move pixels
# (head shape, eye size, a small nose and mouth), which the DCT-Net teacher of
# examples/anime_style.sh cannot. The teacher needs a GPU (about 10 s a step at 128 px on a 2-core
# CPU, where it needs tens of thousands of steps); the rest runs on the CPU. Three stages, each
# started on a fresh machine from this checkout and ../shared/data alone:
#
#   1. CPU:  STAGE=kit bash examples/anime_ugatit.sh
#      The shared photo split and aligned crops (examples/lib/production_line.sh), the anime split
#      of examples/anime_style.sh, and device-kit/ (scripts/device_kit.sh): KIT_PHOTOS aligned
#      training photos, KIT_STYLES training anime faces, both as 128 px JPEG q85, and dlib's
#      face-and-hair masks of the photos (the device has no dlib). It checks that the kit and
#      the repository fit the device tool's 64 MiB.
#   2. GPU:  the device tool's run, with carry=["device-kit"], as many 8-minute calls in a row as
#      the session's device time allows (each continues the run the last one left on the warm
#      machine; see scripts/device_train.sh):
#        MINUTES=8 TRAINER=train-ugatit TRAIN_ARGS='--size 128 --base-channels 32 --background region
#        --masks device-kit/masks --batch-size 8 --steps 100000 --seed 1 --checkpoint-every 500
#        --eval-every 500' bash scripts/device_train.sh
#      --seed 1: the photos were split with seed 0, so seed 0's validation share would be empty.
#      Each call hands back the EMA generator (generator.safetensors, 10 MiB) and train.log; the
#      whole run (about 400 MiB with the four discriminators and Adam's moments) stays on the
#      machine, so the teacher ends with the session's device time.
#   3. CPU:  STAGE=student GENERATOR=<the returned generator.safetensors> bash examples/anime_ugatit.sh
#      The generator as a teacher style (for the eval only), photo/anime pairs from every aligned
#      training photo at PAIR_SIZE (the light generator pools before its MLP, so it runs at any
#      size), the small-hd student fine-tuned from the shipped `anime` (`sharpen` in
#      examples/lib/production_line.sh; its weights are the start: the student learns what the new
#      teacher changes, not drawing from scratch), and the
#      held-out eval of the student, its teacher, the shipped `anime` and `classic` against the
#      held-out anime faces into DOCS (docs/anime/ugatit/). The student has no eye warp: its teacher
#      reshapes faces itself. Ship it only if that eval and its contact sheet beat `anime`.
# Every stage resumes: rerun it after a stop.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-../shared/data}
PHOTOS=${PHOTOS:-work-data/photos}
OUT=${OUT:-work-data/anime-ugatit}
DEVICE=${DEVICE:-cpu}
STAGE=${STAGE:?set STAGE=kit (before the GPU) or STAGE=student (after it)}
KIT_PHOTOS=${KIT_PHOTOS:-1200}
KIT_STYLES=${KIT_STYLES:-2400}
PAIR_SIZE=${PAIR_SIZE:-256}
STUDENT_STEPS=${STUDENT_STEPS:-1600}
STUDENT_MINUTES=${STUDENT_MINUTES:-120}
START=${START:-src/toonforge/styles/builtin/anime}
DOCS=${DOCS:-docs/anime/ugatit}
case $STAGE in
kit) ;;
student) GENERATOR=${GENERATOR:?set GENERATOR to the generator.safetensors the GPU run handed back}
  [ -f "$GENERATOR" ] || { echo "error: GENERATOR=$GENERATOR is not a file" >&2; exit 2; } ;;
*) echo "error: STAGE must be kit or student, got '$STAGE'" >&2; exit 2 ;;
esac
mkdir -p "$OUT" "$PHOTOS"
source examples/lib/production_line.sh

# The same splits as examples/anime_style.sh: no held-out photo or anime face is trained on.
prepare_photos "$PHOTOS"
link_split 0.12 "$OUT/train-anime" "$OUT/heldout-anime" "$DATA/anime/selfie2anime"

case $STAGE in
kit)
  KIT_SIZE=128 MASK_SIZE=128 SITE=0 QUALITY=85 N_PHOTOS=$KIT_PHOTOS N_STYLES=$KIT_STYLES \
    PHOTOS="$PHOTOS/aligned-photos" STYLES="$OUT/train-anime" bash scripts/device_kit.sh
  echo "device-kit/ is ready: run stage 2 on the GPU (see the header of $0)"
  ;;
student)
  teacher_style "$GENERATOR" "$OUT/style-teacher" anime-ugatit-teacher
  make_pairs "$GENERATOR" "$PHOTOS/aligned-photos" "$OUT/pairs" "$PAIR_SIZE"
  sharpen "$OUT/pairs" "$OUT/runs/student" "$OUT/style-student" anime "$STUDENT_STEPS" "$STUDENT_MINUTES" "$START"
  EVAL_BACKEND=onnx evaluate "$OUT/style-student" "$OUT/style-teacher" "$PHOTOS/heldout-photos" \
    "$OUT/heldout-anime" "$OUT/eval" "$DOCS" \
    "anime: the student of a U-GAT-IT teacher vs that teacher, the shipped anime and classic (held-out photos)" anime
  ;;
esac
