#!/usr/bin/env bash
# TwinGAN (reference/003_*) end to end at toy scale on a CPU, on real data:
#   0. split selfie2anime: every 31st selfie and every 34th anime face are held out (symlinks);
#      the held-out ones form the search index (index/photo, index/anime), the rest train;
#   1. `toonforge train-twingan` (64 px, narrow nets, progressive growing 8 -> 64 px);
#   2. `toonforge translate` of the held-out photos (photo -> style, the model's default forward),
#      and a sheet of photo | photo norms | style norms: the same encoder and generator, only the
#      norm parameters switched;
#   3. `toonforge twin-search`: the 5 nearest images of either domain to a held-out photo and to a
#      held-out anime face, with contact sheets;
#   4. the sheets go to docs/twingan/, the numbers to OUT/summary.json.
# The scale proves the code path (64 px, a few thousand images seen), not quality; nothing from it
# is a style. A GPU run uses the same commands at --size 256 with default widths and many more steps.
#
#   bash examples/seed_features_twingan.sh          # about 5 minutes on 2 shared CPU cores; rerun resumes
#   STEPS=3000 THREADS=8 bash examples/seed_features_twingan.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-../shared/data}
OUT=${OUT:-work-data/seed-features-twingan}
DOCS=${DOCS:-docs/twingan}
STEPS=${STEPS:-240}
GROW=$((STEPS / 6))   # 8, 16 and 32 px for STEPS/6 steps each, then 64 px for the other half
# One torch thread: on 2 cores shared by several jobs, two threads each ran 5-10x slower (measured).
export OMP_NUM_THREADS=${THREADS:-1}
EVERY=$((STEPS / 3))
PHOTOS="$DATA/faces/selfie2anime"
STYLES="$DATA/anime/selfie2anime"
mkdir -p "$OUT" "$DOCS"
T0=$(date +%s)

# 0. Held-out photos and anime faces: never seen by the trainer; they are the search index.
python - "$PHOTOS" "$STYLES" "$OUT" <<'PY'
import sys
from pathlib import Path

from toonforge.io.images import list_images

photos, styles, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
for src, every, train, held in ((photos, 31, "train-photos", "index/photo"), (styles, 34, "train-styles", "index/anime")):
    for name in (train, held):
        (out / name).mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(list_images(src)):
        link = out / (held if i % every == 0 else train) / f.name
        if not link.exists():
            link.symlink_to(f.resolve())
PY

# 1. Train (or resume) to STEPS steps.
RUN=$(ls -d "$OUT"/runs/*-twingan 2>/dev/null | tail -n 1 || true)
RESUME=()
[ -n "$RUN" ] && RESUME=(--resume "$RUN")
if [ -z "$RUN" ] || ! grep -q "\"step\": $STEPS," "$RUN/stats.jsonl" 2>/dev/null; then
  toonforge train-twingan --photos "$OUT/train-photos" --styles "$OUT/train-styles" -o "$OUT/runs" \
    --size 64 --lr 5e-4 --norm-lr-mult 10 --base-channels 8 --max-channels 128 --embed-dim 128 --d-channels 16 --batch-size 8 \
    --steps "$STEPS" --grow-steps "$GROW" --start-res 8 --eval-every "$EVERY" --checkpoint-every "$EVERY" \
    --val-fraction 0.02 "${RESUME[@]}"
  RUN=$(ls -d "$OUT"/runs/*-twingan | tail -n 1)
fi
T1=$(date +%s)

# 2. Translate the held-out photos (whole images: the selfies are square and face-centred, as in training).
toonforge translate --model "$RUN" --in "$OUT/index/photo" --out "$OUT/pairs" --crop full --sheet 12 --quiet
python - "$RUN" "$OUT" "$DOCS" <<'PY'
import json
import sys
from pathlib import Path

import numpy as np
import torch

from toonforge.evaluation.sheet import contact_sheet, pick_evenly
from toonforge.io.images import list_images, load_image, save_image
from toonforge.pipelines.tensors import from_network, to_network
from toonforge.pipelines.twin_search import load_twin

run, out, docs = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
net, _ = load_twin(run)
files = list_images(out / "pairs" / "photo")
rows, show, gaps = [], set(pick_evenly(len(files), 10)), []
with torch.inference_mode():
    for i, f in enumerate(files):
        x = torch.from_numpy(to_network(load_image(f).rgb))
        z, skips = net.encode(x)
        outs = [from_network(net.decode(z, skips, d).numpy())[0] for d in ("photo", "style")]
        gaps.append(float(np.abs(outs[0].astype(np.float32) - outs[1]).mean()))
        if i in show:
            rows.append([load_image(f).rgb, *outs])
sheet = contact_sheet(["held-out photo", "photo norms", "style norms"], rows, tile=128)
print("sheet:", save_image(docs / "translations.png", sheet, overwrite=True))
# How far the norm switch moves the output: mean |photo-norm image - style-norm image|, 0-255.
(out / "switch.json").write_text(json.dumps({"norm_switch_mean_abs_diff": round(float(np.mean(gaps)), 2)}))
PY
T2=$(date +%s)

# 3. Nearest neighbours of a held-out photo and a held-out anime face, in either domain.
Q_PHOTO=$(ls "$OUT"/index/photo/* | sed -n 5p)
Q_ANIME=$(ls "$OUT"/index/anime/* | sed -n 5p)
toonforge twin-search "$RUN" --index "$OUT/index" --query "$Q_PHOTO" -k 5 --cache "$OUT/index.npz" \
  -o "$DOCS/search-photo.png" --overwrite | tee "$OUT/search-photo.txt"
toonforge twin-search "$RUN" --index "$OUT/index" --query "$Q_ANIME" -k 5 --cache "$OUT/index.npz" \
  -o "$DOCS/search-anime.png" --overwrite | tee "$OUT/search-anime.txt"
toonforge twin-search "$RUN" --index "$OUT/index" --query "$Q_PHOTO" -k 5 --domain anime --cache "$OUT/index.npz" \
  -o "$DOCS/search-photo-to-anime.png" --overwrite | tee "$OUT/search-photo-to-anime.txt"
cp "$OUT/pairs/sheet.png" "$DOCS/translate-sheet.png"
T3=$(date +%s)

# 4. Numbers: the last validation, the self-retrieval rate over the whole index, the times.
python - "$RUN" "$OUT" "$((T1 - T0))" "$((T2 - T1))" "$((T3 - T2))" <<'PY'
import json
import sys
from pathlib import Path

import numpy as np

from toonforge.pipelines.twin_search import similarities

run, out = Path(sys.argv[1]), Path(sys.argv[2])
stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
val = [s for s in stats if "val/fd" in s][-1]
with np.load(out / "index.npz", allow_pickle=False) as z:
    v, domains = z["vectors"], z["domains"]
sims = similarities(v, v)
self_first = float(np.mean(np.argmax(sims, axis=1) == np.arange(len(v))))
np.fill_diagonal(sims, -2)
same_domain = float(np.mean(domains[np.argmax(sims, axis=1)] == domains))
summary = {"steps": stats[-1]["step"], "train_seconds_this_call": int(sys.argv[3]),
           "translate_seconds": int(sys.argv[4]), "search_seconds": int(sys.argv[5]),
           "val_step": val["step"], "val_fd": round(val["val/fd"], 1), "val_fd_input": round(val["val/fd_input"], 1),
           "val_best_fd": round(val["val/best_fd"], 1), "val_content": round(val["val/content"], 3),
           "index_images": len(v), "self_is_nearest": self_first,
           "nearest_other_is_same_domain": round(same_domain, 3),
           **json.loads((out / "switch.json").read_text())}
(out / "summary.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary, indent=1))
PY
