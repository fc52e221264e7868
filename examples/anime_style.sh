#!/usr/bin/env bash
# The production line for the shipped `anime` style (issue 7), stage by stage:
#   0. the shared photo split and aligned crops (examples/lib/production_line.sh: the 178
#      held-out photos no shipped style trained on); 12% of the selfie2anime anime faces (hash
#      split, seed 0) are held out as FD references; the rest are used as they are (they are framed
#      like aligned crops already, and photo face detectors find few anime faces);
#   1. stage 2: a DCT-Net texture translator, photos <-> anime faces, started from the cartoon
#      line's phase-a teacher (examples/cartoon_style.sh; a photo-to-drawing warm start) with the
#      projected discriminator added (--w-projected: patch heads on frozen ImageNet MobileNetV2
#      features, DiffAugment on its inputs). Without it both DCT-Net discriminators sat at chance
#      on this set and 560 steps left a sharpened photo (docs/cartoon/README.md, trials 4 and 5);
#   2. `toonforge translate` every aligned training photo into photo/anime pairs;
#   3. stage 3: the small-tier translator distilled from the pairs, fine-tuning the `cartoon`
#      student (the cartoon line's frozen checkpoint), written as a style folder with its ONNX head;
#   4. `toonforge eval` on the held-out photos: `anime`, its teacher and `classic` against the
#      held-out anime faces; table and contact sheet into docs/anime/;
#   5. stage 3b: the small-hd translator (the small tier plus a full-resolution last stage) grown
#      from that student, and the eval again with both students;
#   6. a small-subpixel student grown the same way, compared (not shipped);
#   7. the small-hd student fine-tuned with a stronger adversarial term, compared (not shipped: 4
#      FD better, but its fills are less flat), the eval of every student into docs/anime/fine-tune/;
#   8. the face reshape (larger eyes), fitted by FD on validation photos, and the small-hd student
#      with it, evaluated into docs/anime/reshape/;
#   9. the teacher's ink strokes removed from the skin of the pair targets (clean-pairs) and the
#      small-hd student fine-tuned on them, compared (not shipped; docs/anime/clean-skin/).
#  10. more face-reshape candidates (taller eyes, a smaller mouth, a pointed chin) scored the same
#      way as step 8 (docs/anime/reshape/fit2.md);
#  11. the small-hd student grown again from the small student, as in step 5 but on the cleaned
#      pairs, with the reshape of step 8, and evaluated (docs/anime/clean-hd/).
#  12. skin cleanup in the stylizer instead of in the pairs ("clean_skin"), widths scored on the
#      validation photos with the stroke count (docs/anime/clean-skin/stylizer-fit.md).
#  13. a second judge beside FD: a linear probe on MobileNetV2 features, training anime faces vs
#      training photos, scoring the held-out outputs of steps 8, 9 and 11 (docs/anime/probe.txt).
#  14. (a person, not run here) blind A/B sheets of two styles' head-only outputs of the same held-out
#      photos, `python -m toonforge.evaluation.ab_sheets make A B --out DIR --seed S`, rated into a picks file and
#      unblinded with `python -m toonforge.evaluation.ab_sheets score DIR PICKS` (docs/anime/README.md, step 14).
# The line with a U-GAT-IT teacher, which reshapes faces but needs a GPU: examples/anime_ugatit.sh.
# Steps 0-5 are the `toonforge forge` recipes examples/recipes/anime-small.toml and anime.toml (each
# in its own work folder under ROOT; they start from the cartoon line's, in ROOT/../cartoon-forge:
# run examples/cartoon_style.sh first); the later steps
# read their folders through links under their older names in OUT and PHOTOS. Every step resumes:
# rerun the script after a stop. The defaults are the CPU run of docs/anime/README.md (2-core
# CPU); on a GPU copy the recipes, set device = "cuda" and scale their steps, e.g. phases to 6000,
# 10000, 20000 and the student to 8000 (untried).
#
#   bash examples/anime_style.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=${ROOT:-work-data/anime-forge}
PHOTOS=${PHOTOS:-work-data/photos}
OUT=${OUT:-work-data/anime-line}
DEVICE=${DEVICE:-cpu}
ANIME_SUB_STEPS=${ANIME_SUB_STEPS:-1200}
ANIME_GAN_STEPS=${ANIME_GAN_STEPS:-600}
ANIME_HD_STEPS=${ANIME_HD_STEPS:-1600}
STUDENT_MINUTES=${STUDENT_MINUTES:-120}
source examples/lib/production_line.sh

# 0-5. The recipes: splits and aligned photos, the three-phase teacher from the cartoon line's
#    phase-a teacher, pairs, the small student from the cartoon student (docs/anime/ gets its eval),
#    then the small-hd student grown from it (its eval, with both students, replaces it).
toonforge forge examples/recipes/anime-small.toml -o "$ROOT/anime-small"
toonforge forge examples/recipes/anime.toml -o "$ROOT/anime"
cp "$ROOT/anime/eval/report.md" docs/anime/eval.md
cp "$ROOT/anime/eval/contact_sheet.png" docs/anime/eval-sheet.png

# The recipes' folders under the names the later steps (and their docs) use.
S=$ROOT/anime-small
mkdir -p "$OUT/runs" "$PHOTOS"
link() { [ -e "$2" ] || [ -L "$2" ] || ln -s "$(realpath "$1")" "$2"; }
link "$S/data/styles-train-src" "$OUT/train-anime"
link "$S/data/styles-heldout" "$OUT/heldout-anime"
link "$S/data/photos-heldout" "$PHOTOS/heldout-photos"
link "$S/data/photos-train-src" "$PHOTOS/train-photos-src"
link "$S/pairs" "$OUT/pairs-anime"
link "$S/student.pt" "$OUT/student-anime.pt"
link "$S/style-teacher" "$OUT/style-teacher-anime"
link "$S/style-anime-small" "$OUT/style-anime"
link "$ROOT/anime/style-anime" "$OUT/style-anime-hd"
link "$ROOT/anime/student" "$OUT/runs/student-anime-hd"
REFS="$OUT/heldout-anime"

# 6. The small-subpixel student (the small tier with its head at half resolution: no full-size
#    layer), grown the same way from the small student, 1,200 steps (44 min), for comparison: it
#    scored 6.7 FD behind small-hd, so small-hd is kept. The eval runs every style
#    under ONNX Runtime, as an app would, and replaces docs/anime/eval.md.
sharpen "$OUT/pairs-anime" "$OUT/runs/student-anime-sub" "$OUT/style-anime-sub" anime "$ANIME_SUB_STEPS" \
  "$STUDENT_MINUTES" "$OUT/student-anime.pt" small-subpixel
EVAL_BACKEND=onnx evaluate "$OUT/style-anime-sub" "$OUT/style-teacher-anime" "$PHOTOS/heldout-photos" "$REFS" \
  "$OUT/eval-anime-sub" docs/anime \
  "anime: small-subpixel and small-hd students vs their DCT-Net teacher and classic (held-out photos, ONNX Runtime)" \
  "$OUT/style-anime-hd"

# 7. Compared, not shipped: the small-hd student (its last checkpoint, generator and discriminator,
#    frozen as OUT/student-anime-hd.pt) fine-tuned 600 steps with the adversarial term at 0.2
#    instead of 0.05, learning rate 2e-4 falling linearly over the last two thirds, seed 2 (33 min
#    on the 2-core CPU). The eval runs every student under ONNX Runtime into docs/anime/fine-tune/.
hd_run=$(last_run "$OUT/runs/student-anime-hd" translator)
[ -f "$OUT/student-anime-hd.pt" ] || cp "$hd_run/checkpoints/latest.pt" "$OUT/student-anime-hd.pt"
gan_run=$(last_run "$OUT/runs/student-anime-gan" translator)
gan_start=(--init-from "$OUT/student-anime-hd.pt")
if [ -n "$gan_run" ]; then gan_start=(--resume "$gan_run"); fi
train_student "$OUT/pairs-anime" "$OUT/runs/student-anime-gan" "$OUT/style-anime-gan" anime "$ANIME_GAN_STEPS" \
  "$STUDENT_MINUTES" --tier small-hd --lr 2e-4 --lr-decay-steps $((ANIME_GAN_STEPS * 2 / 3)) --w-gan 0.2 \
  --gan-start 0 --ema-start 0 --ema-decay 0.998 --seed 2 "${gan_start[@]}"
EVAL_BACKEND=onnx evaluate "$OUT/style-anime-gan" "$OUT/style-teacher-anime" "$PHOTOS/heldout-photos" "$REFS" \
  "$OUT/eval-anime-gan7" docs/anime/fine-tune \
  "anime: the adversarially fine-tuned small-hd student (shipped) vs the small-hd and small-subpixel students, their DCT-Net teacher and classic (held-out photos, ONNX Runtime)" \
  "$OUT/style-anime-hd" "$OUT/style-anime-sub"

# 8. The face reshape (`toonforge reshape`, src/toonforge/face/reshape.py): DCT-Net and its students
#    keep every pixel in place, so the shipped style enlarges the eyes after stylizing, with a warp
#    that follows each face's landmarks. Candidates are scored by FD-MNv2 on the small-hd student's
#    174 validation photos (raw photos of the pairs it never trained on) against 595 training anime
#    faces, never the held-out sets; the lowest FD that keeps identity within 0.01 wins
#    (fit_reshape, 12 min on the 2-core CPU). The reshaped copy is the shipped `anime`; the held-out eval under ONNX
#    Runtime, with the unreshaped student beside it, goes into docs/anime/reshape/.
FIT=$OUT/reshape-fit
fit_reshape "$OUT/style-anime-hd" "$FIT" "$OUT/pairs-anime/photo" "$PHOTOS/train-photos-src" "$OUT/train-anime" \
  "none --none" "eyes1.15 --eyes 1.15" "eyes1.3 --eyes 1.3" "eyes1.45 --eyes 1.45" "eyes1.6 --eyes 1.6" \
  "eyes1.8 --eyes 1.8" "eyes2.0 --eyes 2.0" "eyes1.8-r0.4 --eyes 1.8 --eye-radius 0.4" \
  "eyes1.8-r0.5 --eyes 1.8 --eye-radius 0.5" "eyes1.8-nose0.8 --eyes 1.8 --nose 0.8" \
  "eyes1.6-jaw0.15 --eyes 1.6 --jaw 0.15" "eyes1.6-jaw0.3 --eyes 1.6 --jaw 0.3"
read -r _ chosen <"$FIT/chosen"
# shellcheck disable=SC2086 # the chosen flags are words
[ -f "$OUT/style-anime-shaped/config.json" ] || toonforge reshape "$OUT/style-anime-hd" --out "$OUT/style-anime-shaped" \
  --name anime $chosen
EVAL_BACKEND=onnx evaluate "$OUT/style-anime-shaped" "$OUT/style-teacher-anime" "$PHOTOS/heldout-photos" "$REFS" \
  "$OUT/eval-anime-shaped" docs/anime/reshape \
  "anime: the small-hd student with the fitted face reshape (shipped) vs the same student unreshaped, their DCT-Net teacher and classic (held-out photos, ONNX Runtime)" \
  "$OUT/style-anime-hd"
cp "$FIT/eval/report.md" docs/anime/reshape/fit.md

# 9. Smooth skin: the teacher draws shading (smile lines, cheek shadows, the nose bridge) as ink.
#    `toonforge clean-pairs` closes dark strokes under 7 px on the skin of every pair target, away
#    from eyes, brows, nostrils, mouth and the face's outline (2.6 min), and the small-hd student is
#    fine-tuned on the cleaned pairs from its last checkpoint, 600 steps at lr 2e-4 falling over
#    the last 400, with the same seed, so the same 174 pairs stay out for validation: once with the
#    adversarial term (x0.05, generator and discriminator resumed; 28 min) and once without it
#    (--w-gan 0; 17 min), then with it at lr 1e-4 (38 min). None is shipped: the first and third draw
#    24-30% fewer skin strokes at the same FD but sharpen hair and background past the flat-fill look
#    test (tests/test_real_photos.py); the second goes soft and loses 9 FD. With the fitted reshape, the eval of every anime
#    student goes into docs/anime/clean-skin/, with the stroke counts of toonforge.evaluation.skin_ink.
[ -f "$OUT/pairs-clean/.done" ] || { toonforge clean-pairs --pairs "$OUT/pairs-anime" --out "$OUT/pairs-clean" --quiet \
  && touch "$OUT/pairs-clean/.done"; }
read -r _ chosen <"$FIT/chosen"
for variant in clean:0.05:2e-4 clean2:0:2e-4 clean3:0.05:1e-4; do
  IFS=: read -r name w_gan lr <<<"$variant"
  run=$(last_run "$OUT/runs/student-anime-$name" translator)
  start=(--init-from "$OUT/student-anime-hd.pt")
  if [ -n "$run" ]; then start=(--resume "$run"); fi
  train_student "$OUT/pairs-clean" "$OUT/runs/student-anime-$name" "$OUT/style-anime-$name" anime "${ANIME_CLEAN_STEPS:-600}" \
    "$STUDENT_MINUTES" --tier small-hd --lr "$lr" --lr-decay-steps 400 --w-gan "$w_gan" --gan-start 0 --ema-start 0 \
    --ema-decay 0.998 "${start[@]}"
  # shellcheck disable=SC2086 # the chosen flags are words
  [ -f "$OUT/style-anime-$name-shaped/config.json" ] || toonforge reshape "$OUT/style-anime-$name" \
    --out "$OUT/style-anime-$name-shaped" --name anime $chosen
done
EVAL_BACKEND=onnx evaluate "$OUT/style-anime-clean2-shaped" "$OUT/style-teacher-anime" "$PHOTOS/heldout-photos" "$REFS" \
  "$OUT/eval-anime-clean2" docs/anime/clean-skin \
  "anime: the small-hd student fine-tuned on skin-cleaned pairs without the adversarial term vs the same with it and the shipped student, all with the fitted reshape; their DCT-Net teacher and classic (held-out photos, ONNX Runtime)" \
  "$OUT/style-anime-shaped" "$OUT/style-anime-clean-shaped"
python -m toonforge.evaluation.skin_ink "$PHOTOS/heldout-photos" "$OUT"/eval-anime-clean2/outputs/style-anime-{clean2-shaped,clean-shaped,shaped} \
  "$OUT/eval-anime-clean2/outputs/style-teacher-anime" | tee docs/anime/clean-skin/skin-ink.txt
toonforge eval --style "$OUT/style-anime-clean3-shaped" --photos "$PHOTOS/heldout-photos" --refs "$REFS" \
  --out "$OUT/eval-anime-clean3" --backend onnx --threads 2 --speed-photos 0 --no-baseline --quiet --overwrite
python -m toonforge.evaluation.skin_ink "$PHOTOS/heldout-photos" "$OUT/eval-anime-clean3/outputs/style-anime-clean3-shaped" \
  | tee -a docs/anime/clean-skin/skin-ink.txt

# 10. More reshape candidates, scored like step 8 into their own folder: taller eye lenses
#     (--eye-height), a smaller mouth (--mouth) and a chin squeeze below the mouth (--chin), with
#     step 8's rule. None beat eyes 2.0 under it: taller eyes and a smaller mouth took FD 1.1-1.7
#     lower (inside KID's spread) but cost identity past the 0.01 limit (eyes 1.6 x1.4 tall by
#     0.00002); the chin squeeze made FD worse. 12 min on the 2-core CPU.
fit_reshape "$OUT/style-anime-hd" "$OUT/reshape-fit2" "$OUT/pairs-anime/photo" "$PHOTOS/train-photos-src" \
  "$OUT/train-anime" \
  "none --none" "eyes2.0 --eyes 2.0" "eyes2.0-h1.2 --eyes 2.0 --eye-height 1.2" "eyes2.0-h1.4 --eyes 2.0 --eye-height 1.4" \
  "eyes1.8-h1.25 --eyes 1.8 --eye-height 1.25" "eyes1.6-h1.4 --eyes 1.6 --eye-height 1.4" \
  "eyes2.0-mouth0.8 --eyes 2.0 --mouth 0.8" "eyes1.8-mouth0.8 --eyes 1.8 --mouth 0.8" \
  "eyes2.0-chin0.15 --eyes 2.0 --chin 0.15" "eyes2.0-chin0.3 --eyes 2.0 --chin 0.3" \
  "eyes1.8-h1.25-mouth0.8-chin0.15 --eyes 1.8 --eye-height 1.25 --mouth 0.8 --chin 0.15" \
  "eyes1.6-h1.25-mouth0.8 --eyes 1.6 --eye-height 1.25 --mouth 0.8"
cp "$OUT/reshape-fit2/eval/report.md" docs/anime/reshape/fit2.md

# 11. Smooth skin without a fine-tune of the sharpened student: step 5 again (small-hd grown from
#     the 4,800-step small student, 1,600 steps, lr 3e-4 falling over the last 800, adversarial
#     x0.05 from step 0; 86-98 min), but on the cleaned pairs of step 9, given step 8's reshape, and
#     evaluated with the stroke count beside the shipped style. Not shipped: 45% fewer skin strokes
#     (1.99% against 3.63%) and it passes the flat-fill look test (3.95), but FD is 8.9 worse.
sharpen "$OUT/pairs-clean" "$OUT/runs/student-anime-cleanhd" "$OUT/style-anime-cleanhd" anime "$ANIME_HD_STEPS" \
  "$STUDENT_MINUTES" "$OUT/student-anime.pt"
read -r _ chosen <"$FIT/chosen"
# shellcheck disable=SC2086 # the chosen flags are words
[ -f "$OUT/style-anime-cleanhd-shaped/config.json" ] || toonforge reshape "$OUT/style-anime-cleanhd" \
  --out "$OUT/style-anime-cleanhd-shaped" --name anime $chosen
EVAL_BACKEND=onnx evaluate "$OUT/style-anime-cleanhd-shaped" "$OUT/style-teacher-anime" "$PHOTOS/heldout-photos" "$REFS" \
  "$OUT/eval-anime-cleanhd" docs/anime/clean-hd \
  "anime: small-hd grown from the small student on skin-cleaned pairs vs the shipped student, both with the fitted reshape; their DCT-Net teacher and classic (held-out photos, ONNX Runtime)" \
  "$OUT/style-anime-shaped"
python -m toonforge.evaluation.skin_ink "$PHOTOS/heldout-photos" "$OUT"/eval-anime-cleanhd/outputs/style-anime-{cleanhd-shaped,shaped} \
  | tee docs/anime/clean-hd/skin-ink.txt

# 12. Skin cleanup as a post-process of the shipped student (config "clean_skin", `toonforge reshape
#     --clean-skin W`): widths 5-11 with step 8's reshape, scored on the validation photos of step 8
#     with the stroke count (6 min). Rule, set before the run: the fewest strokes among widths whose
#     FD stays within 1.0 of no cleanup and whose identity drops by at most 0.002. Strokes fell from
#     4.2% to 1.4-0.2% of skin pixels, but FD rose by 9.4-13.6, so none is shipped.
SKIN=$OUT/skin-fit
for w in 0 5 7 9 11; do
  name=cs$w flags=(--clean-skin "$w")
  if [ "$w" = 0 ]; then name=eyes2.0 flags=(); fi
  # shellcheck disable=SC2086 # the chosen flags are words
  [ -f "$SKIN/$name/config.json" ] || toonforge reshape "$OUT/style-anime-hd" --out "$SKIN/$name" $chosen "${flags[@]}"
done
[ -f "$SKIN/eval/report.json" ] || toonforge eval --style "$SKIN"/{eyes2.0,cs5,cs7,cs9,cs11} --photos "$FIT/val-photos" \
  --refs "$FIT/fit-refs" --out "$SKIN/eval" --backend onnx --threads 2 --speed-photos 0 --no-baseline --quiet \
  --overwrite --title "skin cleanup fit: validation photos vs training references"
cp "$SKIN/eval/report.md" docs/anime/clean-skin/stylizer-fit.md
python -m toonforge.evaluation.skin_ink "$FIT/val-photos" "$SKIN"/eval/outputs/{eyes2.0,cs5,cs7,cs9,cs11} \
  | tee docs/anime/clean-skin/stylizer-fit-ink.txt

# 13. A second judge: a logistic-regression probe on MobileNetV2 pooled features, fitted on 1,500
#     training anime faces against 1,500 training photos (every 5th held back to check it), scores
#     the held-out outputs of the earlier evals (3 min). It ranks the styles as FD does.
python -m toonforge.metrics.probe --refs "$OUT/train-anime" --photos "$PHOTOS/train-photos-src" \
  "$OUT"/eval-anime-cleanhd/outputs/{style-anime-shaped,style-anime-cleanhd-shaped,style-teacher-anime,classic} \
  "$OUT"/eval-anime-clean2/outputs/style-anime-{clean2,clean}-shaped "$OUT/eval-anime-shaped/outputs/style-anime-hd" \
  "$PHOTOS/heldout-photos" "$REFS" 2>/dev/null | tee docs/anime/probe.txt
