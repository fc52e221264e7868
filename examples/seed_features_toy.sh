#!/usr/bin/env bash
# The three remaining ideas of the production line (issue 28), each end to end on the real data in
# ../shared/data at the scale a 2-core CPU allows, one after the other:
#   1. TwinGAN: one encoder and generator for photo and anime, per-domain norms, and the nearest-
#      neighbour search in its shared embedding (examples/seed_features_twingan.sh, docs/twingan/);
#   2. customised face generation: per-class latent generators against a classifier, template
#      styles by layer, Info-StyleGAN (examples/seed_features_custom.sh, docs/custom-faces/);
#   3. face videos from latents, and the shared-encoder face swap on a video (same script).
# Measured on the shared development CPU under load: 4 min 06 s + 7 min 14 s, about 11.5 minutes
# from nothing; a rerun resumes each part. Toy scale: nothing here is shipped as a style.
#
#   nice -n 10 bash examples/seed_features_toy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash examples/seed_features_twingan.sh
echo "seed_features_toy: TwinGAN done after $((SECONDS - start)) s" >&2
bash examples/seed_features_custom.sh
echo "seed_features_toy: all three parts done in $((SECONDS - start)) s" >&2
