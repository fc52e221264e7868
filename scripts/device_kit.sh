#!/usr/bin/env bash
# Build device-kit/ (git-ignored): what a lent GPU machine needs to train a stage-2 teacher, within
# the 64 MiB that travels with the working tree (the tracked repository is about 13 MiB of it):
#   photos/  the first N_PHOTOS aligned training photos (sorted by name), re-encoded as JPEG;
#   styles/  the first N_STYLES style training images (default all), re-encoded as JPEG;
#            with KIT_SIZE set, both are stored centre-cropped to KIT_SIZE squares, as the trainers
#            crop them (give --size KIT_SIZE or smaller), which makes them several times smaller;
#   site/    the ImageNet MobileNetV2 weights of DCT-Net's content loss, as a package the device's
#            python finds on PYTHONPATH; float16 (half the bytes; loaded back into float32);
#            SITE=0 leaves it out (U-GAT-IT and CycleGAN do not use it);
#   masks/   with MASK_SIZE set: face-and-hair masks of the photos at that size, for
#            `train-ugatit --background region --masks device-kit/masks` (the device has no dlib);
#   runs/    packed runs to continue (the files of an earlier call's $OUT: RUN.manifest.json and
#            RUN.tar.NNN), copied from RUNS_FROM when given. A DCT-Net teacher's parts are 34 MiB:
#            with them, lower N_PHOTOS to about 150.
# Then, on the device: scripts/device_train.sh (see its header).
#
#   STYLES=work-data/cartoon-forge/sketch/data/styles-train bash scripts/device_kit.sh
#   STYLES=work-data/anime-line/train-anime KIT_SIZE=128 MASK_SIZE=128 SITE=0 bash scripts/device_kit.sh  # U-GAT-IT
#   RUNS_FROM=/work/.device/files/... bash scripts/device_kit.sh   # add the parts to continue
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=${KIT:-device-kit}
PHOTOS=${PHOTOS:-work-data/photos/aligned-photos}
STYLES=${STYLES:?set STYLES to the folder of style training images}
N_PHOTOS=${N_PHOTOS:-1500}
N_STYLES=${N_STYLES:-0}  # 0: all
KIT_SIZE=${KIT_SIZE:-0}  # 0: keep each image's size
SITE=${SITE:-1}
QUALITY=${QUALITY:-90}
LIMIT_MIB=${LIMIT_MIB:-64}

python - "$KIT" "$PHOTOS" "$STYLES" "$N_PHOTOS" "$QUALITY" "$N_STYLES" "$KIT_SIZE" "$SITE" <<'PY'
import sys
from pathlib import Path

import torch

from toonforge.io.files import atomic_output
from toonforge.io.images import list_images, load_image, save_image
from toonforge.models.features.mobilenetv2 import WEIGHTS_FILE, WEIGHTS_PACKAGE, imagenet_weights_path
from toonforge.io.images import square_resize

kit, photos, styles = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
n, quality, n_styles, size, site = (int(a) for a in sys.argv[4:9])
for src, dst, limit in ((photos, kit / "photos", n), (styles, kit / "styles", n_styles or None)):
    dst.mkdir(parents=True, exist_ok=True)
    files = list_images(src)[:limit]
    if not files:
        sys.exit(f"error: no images in {src}")
    for f in files:
        out = dst / f"{f.stem}.jpg"
        if not out.exists():
            rgb = load_image(f).rgb
            save_image(out, square_resize(rgb, size) if size else rgb, quality=quality)  # atomic: no torn file
    print(f"{len(files)} images: {src} -> {dst}")
package = kit / "site" / WEIGHTS_PACKAGE
if site and not (package / "weights" / WEIGHTS_FILE).exists():
    (package / "weights").mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    with atomic_output(package / "weights" / WEIGHTS_FILE) as tmp:
        torch.save(half, tmp)
    print(f"MobileNetV2 weights (float16) -> {package}")
PY
if [ -n "${MASK_SIZE:-}" ]; then
  python -c "import sys; from toonforge.face.region_mask import write_region_masks as w; \
r = w(sys.argv[1], sys.argv[2], size=int(sys.argv[3])); \
print(f'masks: {r.written} written, {r.skipped} already there, {len(r.no_face)} without a face (fallback mask)')" \
    "$KIT/photos" "$KIT/masks" "$MASK_SIZE"
fi
if [ -n "${RUNS_FROM:-}" ]; then
  mkdir -p "$KIT/runs"
  cp -n "$RUNS_FROM"/*.manifest.json "$RUNS_FROM"/*.tar.[0-9][0-9][0-9] "$KIT/runs/"
fi
# Bytes that travel (not disk blocks: 4 KiB blocks would count the kit's small JPEGs 40% larger):
# the kit, and the tracked and untracked-not-ignored files of the repository.
kit_mib=$(du -sbL "$KIT" | awk '{printf "%d", $1 / 1048576 + 1}')
repo_mib=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cbL | tail -n 1 \
  | awk '{printf "%d", $1 / 1048576 + 1}')
echo "device kit: ${kit_mib} MiB + repository ${repo_mib} MiB (limit ${LIMIT_MIB} MiB)"
if [ $((kit_mib + repo_mib)) -gt "$LIMIT_MIB" ]; then
  echo "error: too large to travel; lower N_PHOTOS or QUALITY" >&2
  exit 2
fi
