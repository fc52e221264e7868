"""toonforge.evaluation.skin_ink: the share of skin pixels a style draws strokes on."""

from __future__ import annotations

import numpy as np

from test_stroke_cleanup import SIZE, face68
from toonforge.cli.main import main
from toonforge.evaluation.skin_ink import share_lines, skin_stroke_shares
from toonforge.io.images import save_image


def test_strokes_on_the_cheeks_are_counted_and_clean_skin_is_not(tmp_path):
    photos, inked, clean = tmp_path / "photos", tmp_path / "inked", tmp_path / "clean"
    for i in range(2):
        save_image(photos / f"f{i}.png", np.full((SIZE, SIZE, 3), 180, np.uint8))
        drawing = np.full((SIZE, SIZE, 3), 220, np.uint8)
        save_image(clean / f"f{i}.png", drawing)
        drawing[150:153, 70:100] = 30  # a 3 px ink stroke across the left cheek
        drawing[160:163, 156:186] = 30 if i else 220  # and the right one, on the second face only
        save_image(inked / f"f{i}.png", drawing[::2, ::2])  # outputs at half size: the mask is scaled
    save_image(photos / "wide.png", np.full((SIZE, SIZE * 2, 3), 180, np.uint8))  # not square: skipped
    save_image(photos / "lost.png", np.full((SIZE, SIZE, 3), 180, np.uint8))  # no output anywhere
    shares = skin_stroke_shares(photos, [inked, clean], find_landmarks=lambda rgb: face68())
    assert len(shares[inked]) == len(shares[clean]) == 2  # "wide" is not square, "lost" has no outputs
    assert shares[clean] == [0.0, 0.0]
    assert 0 < shares[inked][0] < shares[inked][1] < 0.2  # two strokes cover more skin than one
    lines = share_lines({inked: shares[inked], tmp_path / "none": []})
    assert lines[0].startswith(f"{inked}: strokes on ") and lines[1].endswith("no face to measure")


def test_eval_skin_ink_needs_the_saved_outputs(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    code = main(["eval", "--style", "classic", "--photos", str(tmp_path / "photos"), "--no-outputs", "--skin-ink",
                 "--out", str(tmp_path / "ev")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --skin-ink") and len(err.strip().splitlines()) == 1
