# Shell functions for the steps that are not forge recipes yet (examples/anime_style.sh after step 5,
# examples/anime_ugatit.sh; the cartoon line and anime's steps 0-5 are examples/recipes/*.toml,
# run by `toonforge forge`). The
# product logic lives in toonforge.forge (splits, runs, reshape_fit, stages), called here through
# `python -m toonforge.forge.shell_steps`:
# splits, the aligned photo set, pairs, distillation, the teacher as a style folder and the
# held-out evaluation. Source it from the project root after `set -euo pipefail`; it reads
# DATA (the shared data folder) and DEVICE (cpu or cuda); distil_phase also reads OUT, PHOTOS, REFS,
# DOCS and STUDENT_MINUTES.

# link_split FRACTION TRAIN_DIR HELD_DIR SRC_DIR... : hash split (seed 0) of the images of every
# SRC_DIR, by file stem, into two folders of symbolic links; prints the counts.
link_split() { python -m toonforge.forge.shell_steps link-split "$@"; }

# prepare_photos DIR : the photo side every style shares. DIR/heldout-photos is the 5% hash split
# of faces/scut + faces/selfie2anime that no shipped style trained on (the 178 photos `classic`
# was evaluated on too); DIR/aligned-photos holds 256 px FFHQ-aligned crops of the rest (faces
# not found are listed in DIR/align-photos.log and skipped).
prepare_photos() {
  link_split 0.05 "$1/train-photos-src" "$1/heldout-photos" "$DATA/faces/scut" "$DATA/faces/selfie2anime"
  toonforge align --in "$1/train-photos-src" --out "$1/aligned-photos" --quiet 2>"$1/align-photos.log" || true
}

# last_run RUNS KIND : the newest run folder of KIND under RUNS (empty when none).
last_run() { ls -d "$1"/*-"$2" 2>/dev/null | tail -n 1 || true; }

# reached RUN STEP : true when RUN has written its generator and logged STEP.
reached() { python -m toonforge.forge.shell_steps reached "$1" "$2"; }

# teacher_phase RUNS STEPS FROM COPY ARGS... : one phase of a stage-2 teacher: the command in the
# array TRAIN (set by the recipe) with ARGS, in the run folder RUNS, to STEPS steps, started from the
# checkpoint FROM ("" for a fresh start), or resumed from RUNS' own last run when there is one. When
# the phase has reached STEPS its last checkpoint is copied to COPY ("" for none), where the next
# phase starts; when it stopped early (TEACHER_MINUTES) the recipe exits and says to rerun.
teacher_phase() {
  local runs=$1 steps=$2 from=$3 copy=$4 run
  shift 4
  run=$(last_run "$runs" dctnet)
  if ! reached "$run" "$steps"; then
    if [ -n "$run" ]; then from=$run; fi
    "${TRAIN[@]}" --steps "$steps" --max-minutes "$TEACHER_MINUTES" --runs "$runs" "$@" ${from:+--resume "$from"}
    run=$(last_run "$runs" dctnet)
    if ! reached "$run" "$steps"; then
      echo "the teacher in $runs stopped before step $steps; rerun the recipe to continue it" >&2
      exit 3
    fi
  fi
  if [ -n "$copy" ] && [ ! -f "$copy" ]; then cp "$run/checkpoints/latest.pt" "$copy"; fi
}

# make_pairs TEACHER PHOTOS OUT [SIZE] : the teacher's photo/style pairs. The inputs are aligned
# crops already, so --crop full (a square kept as is). SIZE: the pairs' side (default: the size the
# teacher trained at). Resumes from OUT's manifest.
make_pairs() {
  toonforge translate --model "$1" --in "$2" --out "$3" --crop full ${4:+--size "$4"} --batch-size 8 \
    --device "$DEVICE" --quiet
}

# train_student PAIRS RUNS STYLE_OUT NAME STEPS MINUTES ARGS... : `train-translator` on PAIRS at
# 256 px, batch 8, for STEPS steps (at most MINUTES per call) in RUNS, writing the style folder
# STYLE_OUT named NAME (with its ONNX head) when it ends; ARGS choose the tier and the start.
# Returns at once when STYLE_OUT is already written (the step is done).
# STUDENT_SEED (1) and STUDENT_VAL (0.05): the validation split hashes names with the seed, and seed 0
# would pick exactly the held-out photos removed above; fit_reshape takes the same split.
STUDENT_SEED=${STUDENT_SEED:-1}
STUDENT_VAL=${STUDENT_VAL:-0.05}
train_student() {
  local pairs=$1 runs=$2 out=$3 name=$4 steps=$5 minutes=$6
  shift 6
  [ -f "$out/config.json" ] && return 0
  toonforge train-translator --inputs "$pairs/photo" --targets "$pairs/style" --size 256 --steps "$steps" \
    --batch-size 8 --workers 1 --seed "$STUDENT_SEED" --val-fraction "$STUDENT_VAL" --max-minutes "$minutes" \
    --runs "$runs" --device "$DEVICE" --style-out "$out" --style-name "$name" "$@"
}

# distil PAIRS RUNS STYLE_OUT NAME STEPS MINUTES [FROM] : stage 3, the small-tier translator trained
# on PAIRS (train_student). With FROM (another student's checkpoint) it fine-tunes that student, its
# EMA decay cut to 0.99 so the average forgets the start within a few hundred steps.
# STUDENT_LR_DECAY (default 0): the learning rate falls linearly over that many last steps.
distil() {
  local start=() run
  run=$(last_run "$2" translator)
  if [ -n "${7:-}" ]; then start=(--resume "${run:-$7}" --ema-decay 0.99)
  elif [ -n "$run" ]; then start=(--resume "$run"); fi
  train_student "${@:1:6}" --tier small --lr-decay-steps "${STUDENT_LR_DECAY:-0}" --gan-start 150 "${start[@]}"
}

# sharpen PAIRS RUNS STYLE_OUT NAME STEPS MINUTES FROM [TIER] : stage 3b, a translator of TIER
# (default small-hd: the small tier plus a full-resolution last stage; small-subpixel: the small
# tier with its head moved to half resolution) grown from the small student's checkpoint FROM: its
# generator, starting out computing what the small student did, and its discriminator, so the
# adversarial term is on from step 0. Learning rate 3e-4, falling linearly over the second half of
# STEPS; EMA 0.998 from the start. A rerun continues RUNS' own last run.
sharpen() {
  local start=(--init-from "$7") run
  run=$(last_run "$2" translator)
  if [ -n "$run" ]; then start=(--resume "$run"); fi
  train_student "${@:1:6}" --tier "${8:-small-hd}" --lr 3e-4 --lr-decay-steps $(($5 / 2)) --gan-start 0 --ema-start 0 \
    --ema-decay 0.998 "${start[@]}"
}

# teacher_style TEACHER DIR NAME : the teacher's generator as a style folder, for eval only (a
# stage-2 teacher is never shipped).
teacher_style() { python -m toonforge.forge.shell_steps teacher-style "$@"; }

# evaluate STYLE TEACHER_STYLE PHOTOS REFS EVAL_OUT DOCS TITLE [MORE_STYLES...] : `toonforge eval`
# of the distilled style, its teacher, `classic` (and MORE_STYLES) on the held-out photos against the
# held-out references; the table and contact sheet are copied into DOCS as eval.md and eval-sheet.png.
# EVAL_BACKEND (default torch): onnx times every style as an app would run it, under ONNX Runtime.
evaluate() {
  toonforge eval --style "$1" "$2" classic "${@:8}" --photos "$3" --refs "$4" --out "$5" --backend "${EVAL_BACKEND:-torch}" \
    --threads 2 --title "$7" --overwrite
  mkdir -p "$6"
  cp "$5/report.md" "$6/eval.md"
  cp "$5/contact_sheet.png" "$6/eval-sheet.png"
}

# distil_phase TEACHER_RUNS SUFFIX NAME STEPS [FROM] : stages 2-4 for the last run of one teacher
# phase in TEACHER_RUNS, with every folder named from SUFFIX ("" or "-colour", ...) and NAME:
# pairs in OUT/pairs$SUFFIX; the student in OUT/runs/student$SUFFIX, written as the style folder
# OUT/style-NAME (fine-tuning the frozen checkpoint OUT/student-FROM.pt when FROM is given, or FROM
# itself when it is a path: another line's student); the teacher as OUT/style-teacher$SUFFIX; the
# held-out eval against REFS in OUT/eval$SUFFIX, copied to
# DOCS with SUFFIX as a subfolder (DOCS/colour for "-colour"). The student's last checkpoint is
# then frozen as OUT/student-NAME.pt, where a later phase's student can start even if this one's
# run is continued. Reads OUT, PHOTOS, REFS, DOCS and STUDENT_MINUTES.
distil_phase() {
  local teacher suffix=$2 name=$3 student from=""
  case ${5:-} in "") ;; */*) from=$5 ;; *) from="$OUT/student-$5.pt" ;; esac
  teacher=$(last_run "$1" dctnet)
  make_pairs "$teacher" "$PHOTOS/aligned-photos" "$OUT/pairs$suffix"
  distil "$OUT/pairs$suffix" "$OUT/runs/student$suffix" "$OUT/style-$name" "$name" "$4" "$STUDENT_MINUTES" $from
  teacher_style "$teacher" "$OUT/style-teacher$suffix" "$name-teacher"
  evaluate "$OUT/style-$name" "$OUT/style-teacher$suffix" "$PHOTOS/heldout-photos" "$REFS" "$OUT/eval$suffix" \
    "$DOCS${suffix/-//}" "$name: distilled translator vs its DCT-Net teacher and classic (held-out photos)"
  student=$(last_run "$OUT/runs/student$suffix" translator)
  [ -f "$OUT/student-$name.pt" ] || cp "$student/checkpoints/latest.pt" "$OUT/student-$name.pt"
}

# fit_reshape STYLE FIT PAIRS SRC_PHOTOS STYLE_REFS CANDIDATE... : choose a face reshape for STYLE by
# FD-MNv2 on data the held-out eval never sees. The photos are the raw SRC_PHOTOS of the student's own
# validation pairs (PAIRS/photo split as train_student splits it: STUDENT_VAL, STUDENT_SEED); the
# references every 5th image of STYLE_REFS (training references: the held-out ones stay for the
# final eval). Each CANDIDATE is "NAME FLAGS..." for `toonforge reshape` ("none --none" is the
# start). One `toonforge eval` measures them all into FIT/eval; the lowest FD among candidates that
# keep identity within 0.01 of the first candidate wins: its name and flags go to FIT/chosen.
fit_reshape() {
  python -m toonforge.forge.shell_steps fit-reshape "$@" --val-fraction "$STUDENT_VAL" --seed "$STUDENT_SEED"
}
