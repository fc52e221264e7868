"""toonforge.evaluation.ab_sheets: blind sheets with a seeded side per pair, unblinding, and the sign test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toonforge.errors import InputError
from toonforge.evaluation import ab_sheets as ab
from toonforge.io.images import load_image, save_image


def _outputs(tmp_path, n=6):
    for folder, value in (("A", 40), ("B", 200)):
        for i in range(n):
            save_image(tmp_path / folder / f"face{i}.png", np.full((32, 32, 3), value + i, np.uint8))
    save_image(tmp_path / "A" / "only-in-a.png", np.zeros((32, 32, 3), np.uint8))
    return tmp_path / "A", tmp_path / "B"


def test_sheets_put_each_style_on_its_keyed_side(tmp_path):
    a, b = _outputs(tmp_path)
    assert ab.make_sheets(a, b, tmp_path / "ab", seed=3, per_sheet=4, side=32) == 6  # the unpaired one is left out
    key = json.loads((tmp_path / "ab" / "key.json").read_text())
    assert [p["name"] for p in key["pairs"]] == [f"face{i}" for i in range(6)]
    sides = [p["left"] for p in key["pairs"]]
    assert set(sides) == {"A", "B"}  # seed 3 draws both sides
    for i, left in enumerate(sides):
        sheet = load_image(tmp_path / "ab" / f"sheet{i // 4:02d}.png").rgb
        y = (i % 4) * 42 + 16
        left_px, right_px = sheet[y, 40 + 16], sheet[y, 40 + 32 + 8 + 16]
        a_px, b_px = (left_px, right_px) if left == "A" else (right_px, left_px)
        assert abs(int(a_px[0]) - (40 + i)) <= 1 and abs(int(b_px[0]) - (200 + i)) <= 1
    with pytest.raises(InputError, match="may be rated already"):
        ab.make_sheets(a, b, tmp_path / "ab")
    again = tmp_path / "ab2"
    ab.make_sheets(a, b, again, seed=3, per_sheet=4, side=32)
    assert json.loads((again / "key.json").read_text())["pairs"] == key["pairs"]  # same seed, same sides


def test_score_unblinds_the_picks(tmp_path):
    a, b = _outputs(tmp_path)
    ab.make_sheets(a, b, tmp_path / "ab", seed=3, side=32)
    pairs = json.loads((tmp_path / "ab" / "key.json").read_text())["pairs"]
    # Always pick B's side, except no preference on the last pair.
    picks = ["L" if p["left"] == "B" else "R" for p in pairs[:-1]] + ["="]
    r = ab.score(tmp_path / "ab", ab.read_picks("# rater 1\n" + " ".join(picks[:3]) + "\n" + "".join(picks[3:])))
    assert (r["A"], r["B"], r["ties"]) == (0, 5, 1) and r["A_names"] == []
    assert r["p"] == pytest.approx(2 / 32)
    with pytest.raises(InputError, match="5 picks for 6 pairs"):
        ab.score(tmp_path / "ab", picks[:-1])
    with pytest.raises(InputError, match="only L, R and ="):
        ab.read_picks("L R X")


def test_sign_test():
    assert ab.sign_test(0, 0) == 1.0 and ab.sign_test(3, 3) == 1.0
    assert ab.sign_test(27, 11) == pytest.approx(0.0135, abs=5e-4)
    assert ab.sign_test(10, 0) == pytest.approx(2 / 1024)


def test_command_errors_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    a, _ = _outputs(tmp_path)
    assert ab.main(["make", str(a), str(empty), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no image name is in both") and err.count("\n") == 1
