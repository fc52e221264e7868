#!/usr/bin/env bash
# One call on a lent GPU machine (run from the repository root, with device-kit/ carried; see
# scripts/device_kit.sh): continue or start a stage-2 teacher for MINUTES, then hand its run back
# through $OUT: the run folder packed without its generator files (at most 5 parts of 15 MiB plus
# the manifest: what a later call carries in to continue), the EMA generator.safetensors (what
# `translate` needs) and train.log. WORK lies in the repository's ignored work-data/, so a call
# that finds the machine still warm continues the run it left there without unpacking.
# Installs nothing: the device's python has torch, numpy, Pillow, OpenCV, safetensors and tqdm;
# toonforge runs from src/ and the content-loss weights come from device-kit/site.
#   TRAINER    train-dctnet (default) or another stage-2 trainer;
#   TRAIN_ARGS its settings beyond data, device, runs and resume (e.g. "--steps 20000 --batch-size 8");
#   FROM       checkpoint to start from when no packed run is in device-kit/runs (default: none);
#   MINUTES    training time of this call (default 8, inside the 10-minute call limit).
#
#   run(command="MINUTES=8 TRAIN_ARGS='--steps 20000 --batch-size 8' bash scripts/device_train.sh",
#       carry=["device-kit"])
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=${KIT:-device-kit}
OUT=${OUT:?OUT must name the folder whose files come back}
MINUTES=${MINUTES:-8}
TRAINER=${TRAINER:-train-dctnet}
WORK=${WORK:-work-data/device-runs}
export PYTHONPATH="$PWD/src:$PWD/$KIT/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
DEVICE=${DEVICE:-cuda}
KIND=${TRAINER#train-}  # run folders are NNNNN-<kind>: dctnet, ugatit, cyclegan
source examples/lib/production_line.sh  # last_run
tf() { python3 -m toonforge "$@"; }

mkdir -p "$WORK"
for manifest in "$KIT"/runs/*.manifest.json; do
  [ -e "$manifest" ] || continue
  name=$(basename "$manifest" .manifest.json)
  [ -d "$WORK/$name" ] || tf unpack-run "$manifest" --into "$WORK"
done
RUN=$(last_run "$WORK" "$KIND")
RESUME=${RUN:-${FROM:-}}
# shellcheck disable=SC2086
tf "$TRAINER" --photos "$KIT/photos" --styles "$KIT/styles" --device "$DEVICE" --runs "$WORK" \
  --max-minutes "$MINUTES" ${RESUME:+--resume "$RESUME"} ${TRAIN_ARGS:-} 2>&1 | tee "$OUT/train.log"
RUN=$(last_run "$WORK" "$KIND")
cp "$RUN/generator.safetensors" "$OUT/"  # first: whatever else fails, the trained generator comes back
tail -n 3 "$RUN/stats.jsonl"
# A U-GAT-IT run (two generators, four discriminators, Adam's moments: about 400 MiB at
# --base-channels 32) is far over what comes back; it continues only in calls that find the
# machine warm, from $WORK. Its generator still comes back above.
if ! tf pack-run "$RUN" --out "$OUT" --part-mib 15 --max-parts 5 --skip 'events.*' --skip '*generator.safetensors'; then
  echo "note: $RUN stays on this machine only (see above); its generator.safetensors came back"
fi
