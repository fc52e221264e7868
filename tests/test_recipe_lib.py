"""The shell functions the style recipes share (examples/lib/production_line.sh)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toonforge.training.paired_data import split_names

LIB = Path(__file__).resolve().parents[1] / "examples" / "lib" / "production_line.sh"
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    # `python` inside the functions must be this interpreter (the one with toonforge installed).
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    return subprocess.run(["bash", "-c", f"set -euo pipefail; source {LIB}; {script}"], cwd=cwd,
                          capture_output=True, text=True, env={"PATH": path, "DATA": str(cwd)})


def _images(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(folder / f"{name}.png")


def test_link_split_is_the_seed0_hash_split_of_all_sources_as_links(tmp_path: Path) -> None:
    _images(tmp_path / "a", [f"a{i}" for i in range(30)])
    _images(tmp_path / "b", [f"b{i}" for i in range(20)])
    result = _bash("link_split 0.2 train held a b", tmp_path)
    assert result.returncode == 0, result.stderr
    train = sorted(p.stem for p in (tmp_path / "train").iterdir())
    held = sorted(p.stem for p in (tmp_path / "held").iterdir())
    expected = split_names([f"a{i}" for i in range(30)] + [f"b{i}" for i in range(20)], 0.2, seed=0)
    assert (train, held) == (sorted(expected[0]), sorted(expected[1]))
    link = next((tmp_path / "held").iterdir())
    assert link.is_symlink() and link.resolve().parent.name in ("a", "b")
    assert f"{len(train)} train, {len(held)} held out" in result.stdout
    # A rerun keeps the links and adds nothing.
    assert _bash("link_split 0.2 train held a b", tmp_path).returncode == 0
    assert len(list((tmp_path / "train").iterdir())) == len(train)


def test_last_run_and_reached(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for name in ("00000-dctnet", "00001-dctnet", "00002-translator"):
        (runs / name).mkdir(parents=True)
    run = runs / "00001-dctnet"
    (run / "stats.jsonl").write_text(json.dumps({"step": 100, "loss": 1.0}) + "\n")
    out = _bash("last_run runs dctnet; last_run runs ugatit", tmp_path)
    assert out.stdout.strip() == "runs/00001-dctnet"
    # Not reached without the generator file, nor at a step never logged (1000 is not 100).
    assert _bash("reached runs/00001-dctnet 100", tmp_path).returncode != 0
    (run / "generator.safetensors").write_bytes(b"x")
    assert _bash("reached runs/00001-dctnet 100", tmp_path).returncode == 0
    assert _bash("reached runs/00001-dctnet 10", tmp_path).returncode != 0
    assert _bash("reached '' 100", tmp_path).returncode != 0


# A stand-in trainer for teacher_phase: records its arguments, makes (or reuses) a run folder and
# logs steps up to --steps, or only half of them when FAKE_STOP_EARLY is set.
FAKE_TRAIN = r'''
fake_train() {
  local steps runs resume="" args="$*" run
  while [ $# -gt 0 ]; do
    case $1 in --steps) steps=$2;; --runs) runs=$2;; --resume) resume=$2;; esac; shift
  done
  echo "$args" >> calls.txt
  mkdir -p "$runs"
  if [ -n "$resume" ] && [ -d "$resume" ]; then run=$resume; else run="$runs/0000$(ls "$runs" | wc -l)-dctnet"; fi
  mkdir -p "$run/checkpoints"
  local last=$steps
  if [ -n "${FAKE_STOP_EARLY:-}" ]; then last=$((steps / 2)); fi
  echo "{\"step\": $last, \"loss\": 0}" >> "$run/stats.jsonl"
  echo "ckpt $last" > "$run/checkpoints/latest.pt"; touch "$run/generator.safetensors"
}
TRAIN=(fake_train --size 8); TEACHER_MINUTES=5
'''


def test_teacher_phase_resumes_its_own_run_copies_its_checkpoint_and_stops_when_cut_short(tmp_path: Path) -> None:
    (tmp_path / "a.pt").write_text("ckpt a")
    early = _bash(f"{FAKE_TRAIN} FAKE_STOP_EARLY=1 teacher_phase runs/b 100 a.pt b.pt --w-texture 2", tmp_path)
    assert early.returncode == 3 and "stopped before step 100; rerun" in early.stderr
    assert not (tmp_path / "b.pt").exists()
    again = _bash(f"{FAKE_TRAIN} teacher_phase runs/b 100 a.pt b.pt --w-texture 2", tmp_path)
    assert again.returncode == 0, again.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls[0].endswith("--resume a.pt") and "--w-texture 2" in calls[0]
    assert calls[1].endswith("--resume runs/b/00000-dctnet")  # its own run, not the start point
    assert (tmp_path / "b.pt").read_text().strip() == "ckpt 100"
    # Reached: nothing trains again; a fresh phase ("" start) passes no --resume.
    assert _bash(f"{FAKE_TRAIN} teacher_phase runs/b 100 a.pt b.pt", tmp_path).returncode == 0
    assert _bash(f"{FAKE_TRAIN} teacher_phase runs/a 10 '' ''", tmp_path).returncode == 0
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert len(calls) == 3 and "--resume" not in calls[2]
