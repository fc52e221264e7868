#!/usr/bin/env bash
# Build device-kit/ (git-ignored): what a lent GPU machine needs to train a stage-2 teacher, within
# the 64 MiB that travels with the working tree (the tracked repository is about 13 MiB of it):
#   photos/  the first N_PHOTOS aligned training photos (sorted by name), re-encoded as JPEG;
#   styles/  the style training images, re-encoded as JPEG;
#   site/    the ImageNet MobileNetV2 weights of the content loss, as a package the device's python
#            finds on PYTHONPATH; stored in float16 (half the bytes; loaded back into float32);
#   runs/    packed runs to continue (the files of an earlier call's $OUT: RUN.manifest.json and
#            RUN.tar.NNN), copied from RUNS_FROM when given. A DCT-Net teacher's parts are 34 MiB:
#            with them, lower N_PHOTOS to about 150.
# Then, on the device: scripts/device_train.sh (see its header).
#
#   STYLES=work-data/cartoon-line/train-cartoons bash scripts/device_kit.sh
#   RUNS_FROM=/work/.device/files/... bash scripts/device_kit.sh   # add the parts to continue
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=${KIT:-device-kit}
PHOTOS=${PHOTOS:-work-data/photos/aligned-photos}
STYLES=${STYLES:?set STYLES to the folder of style training images}
N_PHOTOS=${N_PHOTOS:-1500}
QUALITY=${QUALITY:-90}
LIMIT_MIB=${LIMIT_MIB:-64}

python - "$KIT" "$PHOTOS" "$STYLES" "$N_PHOTOS" "$QUALITY" <<'PY'
import sys
from pathlib import Path

import torch

from toonforge.io.files import atomic_output
from toonforge.io.images import list_images, load_image, save_image
from toonforge.models.features.mobilenetv2 import WEIGHTS_FILE, WEIGHTS_PACKAGE, imagenet_weights_path

kit, photos, styles, n, quality = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
for src, dst, limit in ((photos, kit / "photos", n), (styles, kit / "styles", None)):
    dst.mkdir(parents=True, exist_ok=True)
    files = list_images(src)[:limit]
    if not files:
        sys.exit(f"error: no images in {src}")
    for f in files:
        out = dst / f"{f.stem}.jpg"
        if not out.exists():
            save_image(out, load_image(f).rgb, quality=quality)  # atomic: a killed build leaves no torn file
    print(f"{len(files)} images: {src} -> {dst}")
package = kit / "site" / WEIGHTS_PACKAGE
if not (package / "weights" / WEIGHTS_FILE).exists():
    (package / "weights").mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    with atomic_output(package / "weights" / WEIGHTS_FILE) as tmp:
        torch.save(half, tmp)
    print(f"MobileNetV2 weights (float16) -> {package}")
PY
if [ -n "${RUNS_FROM:-}" ]; then
  mkdir -p "$KIT/runs"
  cp -n "$RUNS_FROM"/*.manifest.json "$RUNS_FROM"/*.tar.[0-9][0-9][0-9] "$KIT/runs/"
fi
kit_mib=$(du -smL "$KIT" | cut -f1)
repo_mib=$(git ls-files -z | xargs -0 du -cbL | tail -n 1 | awk '{printf "%d", $1 / 1048576 + 1}')
echo "device kit: ${kit_mib} MiB + repository ${repo_mib} MiB (limit ${LIMIT_MIB} MiB)"
if [ $((kit_mib + repo_mib)) -gt "$LIMIT_MIB" ]; then
  echo "error: too large to travel; lower N_PHOTOS or QUALITY" >&2
  exit 2
fi
