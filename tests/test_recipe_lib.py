"""The shell functions the style recipes share (examples/lib/production_line.sh), and the forge
functions behind them (toonforge.forge: splits, runs, reshape_fit)."""

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

from toonforge.forge.reshape_fit import fit_reshape
from toonforge.forge.shell_steps import main as shell_steps
from toonforge.training.paired_data import split_names

LIB = Path(__file__).resolve().parents[1] / "examples" / "lib" / "production_line.sh"
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    # `python` inside the functions must be this interpreter (the one with toonforge installed).
    # The wrappers run `python -m toonforge.forge.shell_steps`: the same toonforge as this test.
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    src = str(Path(__file__).resolve().parents[1] / "src")
    pythonpath = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    env = {"PATH": path, "DATA": str(cwd), "PYTHONPATH": pythonpath}
    return subprocess.run(["bash", "-c", f"set -euo pipefail; source {LIB}; {script}"], cwd=cwd,
                          capture_output=True, text=True, env=env)


def _images(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(folder / f"{name}.png")


def test_link_split_is_the_seed0_hash_split_of_all_sources_as_links(tmp_path: Path, capsys, monkeypatch) -> None:
    # The step behind the shell's link_split, run in this process (a subprocess would import torch twice).
    monkeypatch.chdir(tmp_path)
    _images(tmp_path / "a", [f"a{i}" for i in range(30)])
    _images(tmp_path / "b", [f"b{i}" for i in range(20)])
    assert shell_steps(["link-split", "0.2", "train", "held", "a", "b"]) == 0
    train = sorted(p.stem for p in (tmp_path / "train").iterdir())
    held = sorted(p.stem for p in (tmp_path / "held").iterdir())
    expected = split_names([f"a{i}" for i in range(30)] + [f"b{i}" for i in range(20)], 0.2, seed=0)
    assert (train, held) == (sorted(expected[0]), sorted(expected[1]))
    link = next((tmp_path / "held").iterdir())
    assert link.is_symlink() and link.resolve().parent.name in ("a", "b")
    assert f"{len(train)} train, {len(held)} held out" in capsys.readouterr().out
    # A rerun keeps the links and adds nothing.
    assert shell_steps(["link-split", "0.2", "train", "held", "a", "b"]) == 0
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


# Stand-ins for the heavy steps distil_phase calls: each records its arguments; distil also makes
# the student's run folder with a checkpoint named after the pairs it trained on.
FAKE_STEPS = r'''
make_pairs() { echo "make_pairs $*" >> calls.txt; }
teacher_style() { echo "teacher_style $*" >> calls.txt; }
evaluate() { echo "evaluate $*" >> calls.txt; }
distil() {
  echo "distil $*" >> calls.txt
  mkdir -p "$2/00000-translator/checkpoints"; echo "student of $1" > "$2/00000-translator/checkpoints/latest.pt"
}
OUT=o PHOTOS=p REFS=r DOCS=d STUDENT_MINUTES=30
'''


def test_distil_phase_names_every_folder_from_its_suffix_and_freezes_the_student(tmp_path: Path) -> None:
    for run in ("runs/t/00000-dctnet", "runs/c/00000-dctnet", "runs/c/00001-dctnet"):
        (tmp_path / run).mkdir(parents=True)
    script = "distil_phase runs/t '' sketch 800; distil_phase runs/c -colour colour-sketch 1200 sketch"
    result = _bash(FAKE_STEPS + script, tmp_path)
    assert result.returncode == 0, result.stderr
    title = "distilled translator vs its DCT-Net teacher and classic (held-out photos)"
    assert (tmp_path / "calls.txt").read_text().splitlines() == [
        "make_pairs runs/t/00000-dctnet p/aligned-photos o/pairs",
        "distil o/pairs o/runs/student o/style-sketch sketch 800 30",
        "teacher_style runs/t/00000-dctnet o/style-teacher sketch-teacher",
        f"evaluate o/style-sketch o/style-teacher p/heldout-photos r o/eval d sketch: {title}",
        "make_pairs runs/c/00001-dctnet p/aligned-photos o/pairs-colour",
        "distil o/pairs-colour o/runs/student-colour o/style-colour-sketch colour-sketch 1200 30 o/student-sketch.pt",
        "teacher_style runs/c/00001-dctnet o/style-teacher-colour colour-sketch-teacher",
        f"evaluate o/style-colour-sketch o/style-teacher-colour p/heldout-photos r o/eval-colour d/colour "
        f"colour-sketch: {title}",
    ]
    frozen = tmp_path / "o" / "student-sketch.pt"
    assert frozen.read_text().strip() == "student of o/pairs"
    assert (tmp_path / "o" / "student-colour-sketch.pt").read_text().strip() == "student of o/pairs-colour"
    # A frozen checkpoint is never replaced, even when its student's run has moved on.
    (tmp_path / "o/runs/student/00000-translator/checkpoints/latest.pt").write_text("later")
    assert _bash(FAKE_STEPS + "make_pairs() { :; }; distil() { :; }; distil_phase runs/t '' sketch 900",
                 tmp_path).returncode == 0
    assert frozen.read_text().strip() == "student of o/pairs"


def test_distil_phase_takes_another_lines_student_as_a_path(tmp_path: Path) -> None:
    (tmp_path / "runs/a/00000-dctnet").mkdir(parents=True)
    result = _bash(FAKE_STEPS + "distil_phase runs/a -anime anime 600 other-line/student-cartoon.pt", tmp_path)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls[1] == ("distil o/pairs-anime o/runs/student-anime o/style-anime anime 600 30 "
                        "other-line/student-cartoon.pt")
    assert calls[3].split()[5:7] == ["o/eval-anime", "d/anime"]  # docs subfolder from the suffix


# A stand-in `toonforge` for the student functions: records its arguments and makes a run folder.
FAKE_TOONFORGE = r'''
toonforge() {
  echo "$*" >> calls.txt
  local runs=""
  while [ $# -gt 0 ]; do case $1 in --runs) runs=$2;; esac; shift; done
  mkdir -p "$runs/00000-translator"
}
DEVICE=cpu
'''


def test_sharpen_grows_the_small_student_then_resumes_its_own_run(tmp_path: Path) -> None:
    first = _bash(FAKE_TOONFORGE + "sharpen pairs runs/hd style-hd anime 1600 40 student.pt", tmp_path)
    assert first.returncode == 0, first.stderr
    again = _bash(FAKE_TOONFORGE + "sharpen pairs runs/hd style-hd anime 1600 40 student.pt", tmp_path)
    assert again.returncode == 0, again.stderr
    calls = [line.split() for line in (tmp_path / "calls.txt").read_text().splitlines()]

    def opt(call: list[str], name: str) -> str:
        return call[call.index(name) + 1]

    assert calls[0][0] == "train-translator" and opt(calls[0], "--tier") == "small-hd"
    assert opt(calls[0], "--init-from") == "student.pt" and "--resume" not in calls[0]
    assert opt(calls[0], "--lr-decay-steps") == "800" and opt(calls[0], "--gan-start") == "0"
    assert (opt(calls[0], "--inputs"), opt(calls[0], "--targets")) == ("pairs/photo", "pairs/style")
    assert (opt(calls[0], "--steps"), opt(calls[0], "--max-minutes"), opt(calls[0], "--seed")) == ("1600", "40", "1")
    assert opt(calls[0], "--val-fraction") == "0.05"  # the split fit_reshape takes too
    assert opt(calls[1], "--resume") == "runs/hd/00000-translator" and "--init-from" not in calls[1]
    # A written style folder means done: nothing trains.
    (tmp_path / "style-hd").mkdir()
    (tmp_path / "style-hd" / "config.json").write_text("{}")
    assert _bash(FAKE_TOONFORGE + "sharpen pairs runs/hd style-hd anime 1600 40 student.pt", tmp_path).returncode == 0
    assert len((tmp_path / "calls.txt").read_text().splitlines()) == 2


def test_distil_fine_tunes_a_small_student_from_its_checkpoint(tmp_path: Path) -> None:
    result = _bash(FAKE_TOONFORGE + "STUDENT_LR_DECAY=300 distil pairs runs/s style-s s 900 20 from.pt", tmp_path)
    assert result.returncode == 0, result.stderr
    call = (tmp_path / "calls.txt").read_text().split()
    assert call[call.index("--tier") + 1] == "small" and call[call.index("--resume") + 1] == "from.pt"
    assert call[call.index("--lr-decay-steps") + 1] == "300" and call[call.index("--ema-decay") + 1] == "0.99"


class FakeCli:
    """Stand-in for the commands fit_reshape runs: records them; `reshape` makes the folder, `eval`
    writes the prepared report."""

    def __init__(self, rows: dict):
        self.calls: list[str] = []
        self.rows = rows

    def __call__(self, argv: list[str]) -> None:
        self.calls.append(" ".join(argv))
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        if argv[0] == "eval":
            (out / "report.json").write_text(json.dumps(self.rows))
        else:
            (out / "config.json").write_text("{}")


def test_fit_reshape_scores_on_the_students_validation_split_and_keeps_identity(tmp_path: Path, capsys,
                                                                                monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    stems = [f"p{i:03d}" for i in range(120)]
    _images(tmp_path / "pairs", stems)
    _images(tmp_path / "raw", stems)
    _images(tmp_path / "refs", [f"r{i}" for i in range(23)])
    rows = [("none", 240.0, 0.960), ("big", 235.0, 0.955), ("huge", 230.0, 0.945), ("odd", 236.0, 0.970)]
    cli = FakeCli({"rows": [{"name": n, "fd": fd, "identity": ident} for n, fd, ident in rows]})
    cands = ["none --none", "big --eyes 1.5", "huge --eyes 2.0 --jaw 0.3", "odd --nose 0.9"]

    def fit(candidates: list[str]) -> str:
        return fit_reshape(Path("st"), Path("fit"), Path("pairs"), Path("raw"), Path("refs"), candidates,
                           val_fraction=0.05, seed=1, run=cli)

    assert fit(cands) == "big --eyes 1.5"
    # "huge" has the lowest FD but loses 0.015 identity: the fit keeps "big" (flags and all).
    assert (tmp_path / "fit" / "chosen").read_text() == "big --eyes 1.5\n"
    assert "reshape fit: big (FD 235.00, identity 0.955) against none (FD 240.00" in capsys.readouterr().out
    val = sorted(p.stem for p in (tmp_path / "fit" / "val-photos").iterdir())
    assert val == split_names(stems, 0.05, seed=1)[1] and len(val) > 0
    assert len(list((tmp_path / "fit" / "fit-refs").iterdir())) == 5  # every 5th of 23
    calls = list(cli.calls)
    assert calls[:4] == ["reshape st --out fit/none --none", "reshape st --out fit/big --eyes 1.5",
                         "reshape st --out fit/huge --eyes 2.0 --jaw 0.3", "reshape st --out fit/odd --nose 0.9"]
    assert calls[4].startswith("eval --style fit/none fit/big fit/huge fit/odd --photos fit/val-photos "
                               "--refs fit/fit-refs --out fit/eval")
    # A rerun reuses the variants and the report; another candidate list evaluates again.
    fit(cands)
    assert len(cli.calls) == 5
    fit(cands + ["tiny --eyes 1.1"])
    calls = cli.calls
    assert calls[5:] == ["reshape st --out fit/tiny --eyes 1.1"] + calls[6:] and calls[6].startswith("eval --style")
    assert "fit/tiny" in calls[6] and "--overwrite" in calls[6]


def test_fit_reshape_shell_wrapper_passes_the_students_split(tmp_path: Path) -> None:
    # The wrapper hands STUDENT_VAL and STUDENT_SEED on; a bad candidate is one error line.
    result = _bash("fit_reshape st fit pairs raw refs 'none'", tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("error: reshape candidate 'none'"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
