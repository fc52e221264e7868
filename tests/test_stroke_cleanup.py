"""Removing ink strokes from the skin of a teacher's pair targets."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import FixedDetector
from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.face.types import Face
from toonforge.training.stroke_cleanup import clean_pairs, remove_skin_strokes, skin_mask

SIZE = 256


def face68() -> np.ndarray:
    """A plausible (68, 2) iBUG landmark set for an aligned 256 px face (eyes at y=122)."""
    t = np.linspace(np.pi, 0, 17)
    jaw = np.stack([128 + 72 * np.cos(t), 122 + 95 * np.sin(t)], 1)  # ear to ear through the chin
    brows = np.stack([np.r_[np.linspace(74, 116, 5), np.linspace(140, 182, 5)], np.full(10, 102.0)], 1)
    nose = np.r_[np.stack([np.full(4, 128.0), np.linspace(120, 156, 4)], 1),
                 np.stack([np.linspace(114, 142, 5), np.full(5, 162.0)], 1)]
    eye = np.array([[-14, 0], [-7, -5], [4, -5], [14, 0], [4, 5], [-7, 5]], float)
    eyes = np.r_[eye + [96, 122], eye + [160, 122]]
    a = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    outer = np.stack([128 - 26 * np.cos(a), 188 + 10 * np.sin(a)], 1)
    a8 = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    inner = np.stack([128 - 16 * np.cos(a8), 188 + 4 * np.sin(a8)], 1)
    return np.r_[jaw, brows, nose, eyes, outer, inner]


def test_the_mask_covers_cheeks_and_spares_features_and_outline():
    lm = face68()
    assert lm.shape == (68, 2)
    m = skin_mask(lm, SIZE)
    assert m.shape == (SIZE, SIZE) and m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1
    assert m[160, 85] > 0.99 and m[160, 171] > 0.99  # cheeks
    for x, y in ((96, 122), (160, 122), (128, 188), (96, 102), (128, 162)):  # eyes, mouth, brow, nostrils
        assert m[y, x] < 0.01
    assert m[217, 128] < 0.01 and m[150, 57] < 0.01  # the chin's and cheek's outline
    assert m[20, 20] == 0 and m[250, 128] == 0  # outside the face
    with pytest.raises(InputError, match="68 landmarks"):
        skin_mask(lm[:5], SIZE)


def test_thin_strokes_go_thick_shapes_and_unmasked_pixels_stay():
    img = np.full((64, 64, 3), 200, np.uint8)
    img[30:33, 5:60] = 40  # a 3 px ink stroke
    img[5:20, 40:58] = 30  # a 15 px dark patch (hair, a pupil)
    mask = np.zeros((64, 64), np.float32)
    mask[:, :36] = 1.0
    out = remove_skin_strokes(img, mask, width=7)
    assert np.abs(out[30:33, 8:30].astype(int) - 200).max() <= 2  # the stroke is gone where masked
    assert np.array_equal(out[:, 36:], img[:, 36:])  # untouched outside the mask
    mask[:] = 1.0
    assert (remove_skin_strokes(img, mask, width=7)[8:17, 44:54] == 30).all()  # wider than 7 px: kept
    for bad in (2, 6):
        with pytest.raises(InputError, match="odd"):
            remove_skin_strokes(img, mask, width=bad)


def _pairs(root, names):
    rng = np.random.default_rng(0)
    for sub in ("photo", "style"):
        (root / sub).mkdir(parents=True)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(root / "photo" / f"{name}.png")
        drawing = np.full((SIZE, SIZE, 3), 210, np.uint8)
        drawing[150:153, 70:100] = 50  # a smile line on the left cheek
        Image.fromarray(drawing).save(root / "style" / f"{name}.png")


def test_clean_pairs_writes_cleaned_targets_resumes_and_keeps_the_pairs(tmp_path):
    _pairs(tmp_path / "pairs", ["a", "b"])
    before = (tmp_path / "pairs" / "style" / "a.png").read_bytes()
    face = Face(box=np.array([56, 100, 200, 217], np.float32), landmarks=face68().astype(np.float32), score=1.0)
    rep = clean_pairs(tmp_path / "pairs", tmp_path / "clean", detector=FixedDetector([face]), progress=False)
    assert (rep.written, rep.skipped, rep.no_face) == (2, 0, [])
    cleaned = np.asarray(Image.open(tmp_path / "clean" / "style" / "a.png"))
    assert np.abs(cleaned[150:153, 75:95].astype(int) - 210).max() <= 2
    assert (tmp_path / "clean" / "photo" / "a.png").resolve() == (tmp_path / "pairs" / "photo" / "a.png").resolve()
    assert (tmp_path / "pairs" / "style" / "a.png").read_bytes() == before
    again = clean_pairs(tmp_path / "pairs", tmp_path / "clean", detector=FixedDetector([face]), progress=False)
    assert (again.written, again.skipped) == (0, 2)
    # No face: the target is copied as it is, and the stem is reported.
    _pairs(tmp_path / "other", ["c"])
    rep = clean_pairs(tmp_path / "other", tmp_path / "clean2", detector=FixedDetector([]), progress=False)
    assert rep.no_face == ["c"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "clean2" / "style" / "c.png")),
                          np.asarray(Image.open(tmp_path / "other" / "style" / "c.png")))


def test_clean_pairs_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["clean-pairs", "--pairs", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "holds no pairs" in capsys.readouterr().err
    _pairs(tmp_path / "pairs", ["a"])
    assert main(["clean-pairs", "--pairs", str(tmp_path / "pairs"), "--out", str(tmp_path / "pairs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is the input" in err


# ---- a style's own skin cleanup in the stylizer ----------------------------------------------
def portrait_with_a_cheek_stroke(stroke: bool = True) -> tuple[np.ndarray, Face]:
    """A flat 256 px 'photo' whose face has face68()'s landmarks, with a thin dark line across
    the left cheek (unless ``stroke`` is False) and a wide dark patch (hair) above the face."""
    img = np.full((SIZE, SIZE, 3), 200, np.uint8)
    if stroke:
        img[158:162, 66:104] = 40  # 4 px: 1 px in a 64 px head crop
    img[8:40, 60:200] = 30
    lm = face68().astype(np.float32)
    return img, Face(box=np.array([56, 90, 200, 217], np.float32), landmarks=lm, score=1.0)


CHEEK = (slice(39, 40), slice(18, 25))  # the stroke, in 64 px crop pixels


def inking(stylizer):
    """The network as a passthrough that draws a 1 px ink line across the left cheek of each crop."""
    def translate(role, images):
        out = [im.copy() for im in images]
        for im in out:
            im[CHEEK] = 40
        return out
    stylizer._translate = translate
    return stylizer


def test_a_style_with_clean_skin_closes_cheek_strokes_in_the_stylizer(tiny_style, tmp_path):
    from toonforge.pipelines.stylizer import Stylizer
    from toonforge.styles.style import Style

    img, face = portrait_with_a_cheek_stroke(stroke=False)  # smooth skin: the ink is the network's
    assert main(["reshape", str(tiny_style), "--out", str(tmp_path / "clean"), "--none", "--clean-skin", "3"]) == 0
    clean = Style.load(tmp_path / "clean")
    assert clean.config.clean_skin == 3 and Style.load(tiny_style).config.clean_skin is None

    def head(style, f=face, strength=1.0, photo=img):
        s = inking(Stylizer(style, backend="torch", detector=FixedDetector([f])))
        return s(photo, head_only=True, strength=strength).heads[0].astype(int)

    plain, cleaned = head(Style.load(tiny_style)), head(clean)
    assert plain[CHEEK].max() < 60 and cleaned[CHEEK].min() > 185  # the stroke is gone
    assert np.array_equal(plain[:14], cleaned[:14])  # hair and forehead stay as drawn
    # A line the photo has itself (a glasses rim, a hair) is the person's, not ink: it stays.
    lined, _ = portrait_with_a_cheek_stroke()
    assert np.array_equal(head(clean, photo=lined)[CHEEK], plain[CHEEK])
    assert np.array_equal(head(clean, strength=0.0), head(Style.load(tiny_style), strength=0.0))
    # Five landmarks give no skin mask: the drawing is left as it is.
    five = Face(box=face.box, landmarks=face.five_points(), score=1.0)
    assert np.array_equal(head(clean, five), head(Style.load(tiny_style), five))
    # A copy keeps the setting unless told otherwise; 0 turns it off.
    assert main(["reshape", str(tmp_path / "clean"), "--out", str(tmp_path / "kept"), "--eyes", "1.2"]) == 0
    assert Style.load(tmp_path / "kept").config.clean_skin == 3
    assert main(["reshape", str(tmp_path / "clean"), "--out", str(tmp_path / "off"), "--clean-skin", "0"]) == 0
    assert Style.load(tmp_path / "off").config.clean_skin is None


@pytest.mark.parametrize("bad", [8, 1, 17, "7", True, 7.0])
def test_a_bad_clean_skin_in_config_json_is_a_one_line_error(tiny_style, bad):
    import json

    from toonforge.styles.style import Style

    cfg = json.loads((tiny_style / "config.json").read_text())
    cfg["clean_skin"] = bad
    (tiny_style / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="clean_skin") as info:
        Style.load(tiny_style)
    assert "\n" not in str(info.value)


def test_stroke_share_counts_thin_dark_lines_not_dark_areas():
    from toonforge.face.skin import stroke_share

    img = np.full((64, 64, 3), 200, np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[10:50, 10:50] = True  # 1,600 pixels
    assert stroke_share(img, mask) == 0.0
    img[20:22, 10:50] = 60  # a 2 px line: 80 pixels inside the mask
    assert stroke_share(img, mask) == pytest.approx(80 / 1600)
    img[36:54, :] = 60  # an 18 px dark band: wider than the 11 px disc, not a stroke
    assert stroke_share(img, mask) == pytest.approx(80 / 1600, abs=0.005)
    img[20:22, 10:50] = 180  # a faint line (20 levels): below the contrast
    assert stroke_share(img, mask) < 0.02
    assert stroke_share(img, np.zeros_like(mask)) == 0.0


def test_photo_lines_marks_thin_dark_lines_grown_by_two_pixels_not_dark_areas():
    from toonforge.face.skin import photo_lines

    photo = np.full((SIZE, SIZE, 3), 190, np.uint8)
    photo[100:103, 40:120] = 60  # a 3 px rim
    photo[150:230, 40:200] = 60  # a dark area (hair, a shadow)
    photo[60:62, 150:200] = 170  # a faint line: 20 grey levels, under the contrast
    lines = photo_lines(photo, 7)
    assert lines.dtype == np.float32 and set(np.unique(lines)) <= {0.0, 1.0}
    assert lines[100:103, 45:115].min() == 1 and lines[98, 60] == 1 and lines[105, 60] == 0  # grown 2 px
    assert lines[170:210, 60:180].max() == 0 and lines[55:68, 150:200].max() == 0
    # Grown in proportion at other crop sizes.
    half = photo_lines(np.ascontiguousarray(photo[::2, ::2]), 7)
    assert half[49, 30] == 1 and half[52, 30] == 1 and half[48, 30] == 0 and half[53, 30] == 0  # 1 px at 128
