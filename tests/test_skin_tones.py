"""Skin tones: the measurement (patches, CIELAB, groups, slope) and keep_colours."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import FixedDetector
from toonforge.errors import InputError
from toonforge.evaluation.report import EvalReport, StyleRow
from toonforge.evaluation.skin_tones import dimmed, skin_summary, skin_table_markdown
from toonforge.face.skin_tone import SkinTone, measure_skin, skin_patch_mask, tone_group
from toonforge.face.types import Face
from toonforge.pipelines import Stylizer
from toonforge.pipelines.colour import keep_colours
from toonforge.styles.style import StyleConfig

LM = np.array([[80, 90], [120, 90], [100, 110], [85, 130], [115, 130]], np.float32)  # in a 200 px image


def drawn_face(skin_rgb, size: int = 200) -> np.ndarray:
    """A flat-skinned face drawn on grey: an ellipse of ``skin_rgb`` with dark eyes, brows, mouth."""
    s = size / 200
    img = np.full((size, size, 3), 120, np.uint8)
    cv2.ellipse(img, (int(100 * s), int(105 * s)), (int(55 * s), int(75 * s)), 0, 0, 360, skin_rgb, -1)
    for x in (80, 120):
        cv2.circle(img, (int(x * s), int(90 * s)), int(5 * s), (30, 20, 20), -1)
        cv2.line(img, (int((x - 12) * s), int(78 * s)), (int((x + 12) * s), int(78 * s)), (40, 30, 25), max(1, int(3 * s)))
    cv2.line(img, (int(85 * s), int(130 * s)), (int(115 * s), int(130 * s)), (120, 40, 40), max(1, int(4 * s)))
    return img


def lab_of(rgb) -> np.ndarray:
    return cv2.cvtColor(np.array([[rgb]], np.float32) / 255.0, cv2.COLOR_RGB2Lab)[0, 0]


def test_patches_read_the_skin_not_the_features():
    skin = (205, 160, 130)
    img = drawn_face(skin)
    mask = skin_patch_mask(img.shape, LM)
    assert 300 < mask.sum() < 4000
    assert (img[mask] == skin).all()  # cheeks and forehead miss eyes, brows, mouth and background
    tone = measure_skin(img, LM)
    np.testing.assert_allclose([tone.L, tone.a, tone.b], lab_of(skin), atol=0.5)
    assert 30 < tone.hue < 90  # skin hues lie between red and yellow
    assert measure_skin(img, LM + 1000) is None  # face off the image: no reading
    assert [tone_group(v) for v in (80, 65, 64.9, 50, 49.9)] == ["light", "light", "medium", "medium", "dark"]


def test_summary_slope_groups_and_spread():
    def pair(photo_l, out_l):
        return SkinTone(photo_l, 15, 20, 100), SkinTone(out_l, 10, 15, 100)

    kept = [pair(x, 0.5 * x + 45) for x in (30, 40, 45, 55, 60, 62, 70, 80, 85)]
    s = skin_summary(kept)
    assert s["slope"] == pytest.approx(0.5) and s["faces"] == 9
    assert set(s["groups"]) == {"light", "medium", "dark"}
    assert s["groups"]["dark"]["shift"] == pytest.approx(np.mean([0.5 * x + 45 - x for x in (30, 40, 45)]))
    shifts = [g["shift"] for g in s["groups"].values()]
    assert s["spread"] == pytest.approx(max(shifts) - min(shifts))
    assert skin_summary([]) is None and skin_summary(kept[:2])["slope"] is None
    table = skin_table_markdown([("a", s), ("b", None)])
    assert "| a | 9 | 0.50 |" in table and "| b | 0 | — |" in table
    # The eval report carries it through JSON and shows the per-tone table.
    report = EvalReport("t", "", "p", None, 256, "torch", "FD-MNv2", [StyleRow("a", skin=s)])
    assert EvalReport.from_json(json.loads(json.dumps(report.to_json()))) == report
    md = report.markdown()
    assert "## Skin tones" in md and "| a | 9 | 0.50 |" in md and "→" in report.table_markdown()


def test_keep_colours_takes_the_photos_coarse_colour_and_keeps_the_lines():
    photo = drawn_face((120, 80, 60))  # a dark face
    styl = drawn_face((250, 245, 240))  # the style painted it nearly white, with the same lines
    assert keep_colours(styl, photo, 0.0) is styl
    out = keep_colours(styl, photo, 1.0)
    before, after, truth = (measure_skin(im, LM).L for im in (styl, out, photo))
    assert abs(after - truth) < 3 < abs(before - truth)
    half = measure_skin(keep_colours(styl, photo, 0.5), LM).L
    assert abs(half - (before + truth) / 2) < 4
    # An eye stays darker than the skin around it: the style's detail is kept.
    grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(int)
    assert grey[90, 80] < grey[110, 70] - 20
    with pytest.raises(ValueError):
        keep_colours(styl, photo[:10], 0.5)
    with pytest.raises(ValueError):
        keep_colours(styl, photo, 1.5)


def test_style_config_and_stylizer_knob(tiny_style, small_model_cpu):
    cfg = json.loads((tiny_style / "config.json").read_text())
    assert StyleConfig.from_dict({**cfg, "keep_colours": 0.4}, "x").keep_colours == 0.4
    for bad in (1.5, -0.1, "a", True):
        with pytest.raises(InputError, match="keep_colours"):
            StyleConfig.from_dict({**cfg, "keep_colours": bad}, "x")
    img = drawn_face((120, 80, 60))
    face = Face(box=np.array([45, 30, 155, 180], np.float32), landmarks=LM, score=1.0)
    st = Stylizer(tiny_style, backend="torch", detector=FixedDetector([face]))
    assert st.keep_colours == 0.0
    raw = st(img).image
    st.keep_colours = 1.0
    kept = st(img).image
    photo_l = measure_skin(img, LM).L
    assert abs(measure_skin(kept, LM).L - photo_l) < abs(measure_skin(raw, LM).L - photo_l)
    assert np.array_equal(st(img, strength=0.0).image, img)


def test_dimmed_scales_linear_light():
    img = drawn_face((205, 160, 130))
    assert np.array_equal(dimmed(img, 1.0), img)
    lower = dimmed(img, 0.2)
    assert measure_skin(lower, LM).L < measure_skin(img, LM).L - 25
    assert (lower <= img).all()
