#!/usr/bin/env bash
# The production line for the shipped `sketch`, `colour-sketch` and `cartoon` styles (issue 7),
# stage by stage:
#   0. the shared photo split and aligned crops (examples/lib/production_line.sh: the 178
#      held-out photos no shipped style trained on); 12% of the cartoons (hash split, seed 0)
#      are held out as FD references, the rest are aligned like the photos;
#   1. stage 2: DCT-Net texture translation, photos <-> cartoons (the teacher), in three phases,
#      each continuing the previous one's last checkpoint (a copy, so each phase has its own run
#      folder and resumes on its own):
#      a. content weight 2, texture weight 1: learns the cartoons' pale palette;
#      b. content 0.5, texture (grey, line) GAN doubled: outlines and flat skin (`sketch`);
#      c. phase b plus the colour term (--w-colour 8: the photo's low-frequency chroma), EMA
#         decay 0.995: the photo's skin, hair and lip colours come back under the line work
#         (`colour-sketch`);
#      d. phase c plus the structure term (--w-structure 8: pixel L1 to the output's own SLIC
#         superpixel flattening, lines darker than their fill kept): flatter fills between the
#         ink (`flat-sketch`, evaluated, not shipped: tan skin splits into white and olive);
#      e. phase d with the colour term made relative (--colour-relative: chroma over the room
#         above the luma, so brightened skin fades to pale pink instead of holding its tan):
#         pale, flat skin with the photo's hues (`cartoon`);
#   2. `toonforge translate` every aligned training photo into photo/style pairs, with the
#      phase-b, -c, -d and -e teachers;
#   3. stage 3: a small-tier translator distilled from each set of pairs, written as a style
#      folder with its ONNX head (the `colour-sketch` student fine-tunes the `sketch` student,
#      the `flat-sketch` student fine-tunes the `colour-sketch` one, `cartoon` the `flat-sketch` one);
#   4. `toonforge eval` on the held-out photos: each distilled style, its teacher and `classic`,
#      against the held-out cartoons; tables and contact sheets into docs/<style>/;
#   5. stage 3b: the small-hd translator (the small tier plus a full-resolution last stage) grown
#      from the `cartoon` student, which is what ships as `cartoon`, and the eval again with both.
# Every step resumes: rerun the script after a stop. The defaults are the CPU run of
# docs/cartoon/README.md (2-core CPU). On a GPU scale the steps:
# DEVICE=cuda TEACHER_STEPS=8000 LINES_STEPS=20000 COLOUR_STEPS=25000 FLAT_STEPS=29000
# PALE_STEPS=33000 STUDENT_STEPS=4000 COLOUR_STUDENT_STEPS=6000 FLAT_STUDENT_STEPS=8000
# PALE_STUDENT_STEPS=10000.
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
COLOUR_STEPS=${COLOUR_STEPS:-3900}
TEACHER_MINUTES=${TEACHER_MINUTES:-90}
STUDENT_STEPS=${STUDENT_STEPS:-800}
COLOUR_STUDENT_STEPS=${COLOUR_STUDENT_STEPS:-1200}
FLAT_STEPS=${FLAT_STEPS:-4500}
FLAT_STUDENT_STEPS=${FLAT_STUDENT_STEPS:-1600}
PALE_STEPS=${PALE_STEPS:-5500}
PALE_STUDENT_STEPS=${PALE_STUDENT_STEPS:-2000}
CARTOON_HD_STEPS=${CARTOON_HD_STEPS:-1600}
HD_MINUTES=${HD_MINUTES:-100}
STUDENT_MINUTES=${STUDENT_MINUTES:-30}
mkdir -p "$OUT" "$PHOTOS"
source examples/lib/production_line.sh

# 0. The shared photo split and aligned crops; 12% of the cartoons held out, the rest aligned.
prepare_photos "$PHOTOS"
link_split 0.12 "$OUT/train-cartoons-src" "$OUT/heldout-cartoons" "$DATA/cartoon/photo2cartoon"
toonforge align --in "$OUT/train-cartoons-src" --out "$OUT/train-cartoons" --quiet

# 1. The teacher: DCT-Net at 256 px, batch 2, content-only warm-up of 200 steps, three phases.
TRAIN=(toonforge train-dctnet --photos "$PHOTOS/aligned-photos" --styles "$OUT/train-cartoons" --size 256
       --batch-size 2 --gan-start 200 --workers 1 --device "$DEVICE")
teacher_phase "$OUT/runs/dctnet" "$TEACHER_STEPS" "" "$OUT/teacher-phase-a.pt" \
  --checkpoint-every 200 --eval-every 400
teacher_phase "$OUT/runs/dctnet-lines" "$LINES_STEPS" "$OUT/teacher-phase-a.pt" "$OUT/teacher-phase-b.pt" \
  --w-content 0.5 --w-texture 2.0 --w-surface 1.0 --checkpoint-every 150 --eval-every 0

teacher_phase "$OUT/runs/dctnet-colour" "$COLOUR_STEPS" "$OUT/teacher-phase-b.pt" "$OUT/teacher-phase-c.pt" \
  --w-content 0.5 --w-texture 2.0 --w-surface 1.0 --w-colour 8 --ema-decay 0.995 --checkpoint-every 100 --eval-every 0
teacher_phase "$OUT/runs/dctnet-flat" "$FLAT_STEPS" "$OUT/teacher-phase-c.pt" "$OUT/teacher-phase-d.pt" \
  --w-content 0.5 --w-texture 2.0 --w-surface 1.0 --w-colour 8 --w-structure 8 --structure-ink 0.2 \
  --ema-decay 0.995 --checkpoint-every 100 --eval-every 0
teacher_phase "$OUT/runs/dctnet-pale" "$PALE_STEPS" "$OUT/teacher-phase-d.pt" "" \
  --w-content 0.5 --w-texture 2.0 --w-surface 1.0 --w-colour 8 --colour-relative --w-structure 8 \
  --structure-ink 0.2 --ema-decay 0.995 --checkpoint-every 100 --eval-every 0

# 2-4. For each teacher: pairs, the distilled translator, the held-out evaluation; each student
# after the first starts from the one before.
REFS="$OUT/heldout-cartoons" DOCS=docs/cartoon
distil_phase "$OUT/runs/dctnet-lines" "" sketch "$STUDENT_STEPS"
distil_phase "$OUT/runs/dctnet-colour" -colour colour-sketch "$COLOUR_STUDENT_STEPS" sketch
distil_phase "$OUT/runs/dctnet-flat" -flat flat-sketch "$FLAT_STUDENT_STEPS" colour-sketch
distil_phase "$OUT/runs/dctnet-pale" -pale cartoon "$PALE_STUDENT_STEPS" flat-sketch

# 5. The shipped `cartoon`: small-hd grown from the frozen `cartoon` student (its generator and
#    discriminator; the full-resolution stage starts as the identity) on phase e's pairs, 1,600
#    steps at lr 3e-4 falling linearly over the last 800 (the anime line's settings). Its style
#    folder is OUT/style-cartoon-hd; the eval replaces docs/cartoon/pale/eval.md with both students.
#    OUT/student-cartoon.pt stays the small student: the anime line starts from it.
sharpen "$OUT/pairs-pale" "$OUT/runs/student-pale-hd" "$OUT/style-cartoon-hd" cartoon "$CARTOON_HD_STEPS" \
  "$HD_MINUTES" "$OUT/student-cartoon.pt"
evaluate "$OUT/style-cartoon-hd" "$OUT/style-teacher-pale" "$PHOTOS/heldout-photos" "$REFS" "$OUT/eval-pale-hd" \
  docs/cartoon/pale "cartoon: small-hd student vs the small student, their DCT-Net teacher and classic (held-out photos)" \
  "$OUT/style-cartoon"
