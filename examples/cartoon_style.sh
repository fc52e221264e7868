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
# Each style is a recipe in examples/recipes/ run by `toonforge forge`, each in its own work folder
# under OUT, beside the one it starts from (the recipes say which: `{work}/../sketch/...`). Every
# stage resumes: rerun the script after a stop. The recipes hold the CPU run of
# docs/cartoon/README.md (2-core CPU). On a GPU, copy the recipes, set device = "cuda" and scale
# the steps (e.g. phases to 8000, 20000, 25000, 29000, 33000; students to 4000, 6000, 8000, 10000).
#
#   bash examples/cartoon_style.sh
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-work-data/cartoon-forge}
# recipe:docs folder for its eval (the shipped `cartoon` replaces the small student's table).
for step in sketch:docs/cartoon colour-sketch:docs/cartoon/colour flat-sketch:docs/cartoon/flat \
  cartoon-small:docs/cartoon/pale cartoon:docs/cartoon/pale; do
  recipe=${step%%:*} docs=${step#*:}
  toonforge forge "examples/recipes/$recipe.toml" -o "$OUT/$recipe"
  mkdir -p "$docs"
  cp "$OUT/$recipe/eval/report.md" "$docs/eval.md"
  cp "$OUT/$recipe/eval/contact_sheet.png" "$docs/eval-sheet.png"
done
