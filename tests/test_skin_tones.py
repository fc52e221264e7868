"""Skin tones: the measurement (patches, CIELAB, groups, slope) and keep_colours."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import FixedDetector
from toonforge.errors import InputError
from toonforge.evaluation.report import EvalReport, StyleRow
from toonforge.evaluation.skin_tones import dimmed, mottle_table_markdown, skin_summary, skin_table_markdown
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
        brow = ((int((x - 12) * s), int(78 * s)), (int((x + 12) * s), int(78 * s)))
        cv2.line(img, *brow, (40, 30, 25), max(1, int(3 * s)))
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


def test_skin_unevenness_sees_blotches_on_flat_skin():
    skin = (205, 160, 130)
    flat = drawn_face(skin)
    blotched = flat.copy()
    mask = skin_patch_mask(flat.shape, LM)
    rng = np.random.default_rng(0)
    spots = mask & (rng.random(mask.shape) < 0.4)
    blotched[spots] = (120, 80, 60)  # mud-brown patches over 40% of the skin
    even, mottled = measure_skin(flat, LM), measure_skin(blotched, LM)
    assert even.l_iqr < 0.5 and mottled.l_iqr > 15
    row = skin_summary([(even, mottled)] * 3)
    group = row["groups"][tone_group(even.L)]
    assert group["photo_iqr"] == pytest.approx(even.l_iqr) and group["out_iqr"] == pytest.approx(mottled.l_iqr)
    table = mottle_table_markdown([("style", row), ("none", None)])
    assert f"{even.l_iqr:.1f}→{mottled.l_iqr:.1f}" in table and table.count("\n") == 3
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


# Stated bounds, per shipped style with its default keep_colours: the slope of output on photo
# skin L* is at least 0.6, and the shifts (output - photo L*) of faces of different tones differ
# by less than SHIFT_RANGE L* on four drawn faces from L* 21 to 83 (measured: anime 6.8,
# cartoon 6.9, cartoon-lite 6.6, classic 1.7, classic-lite 2.5, colour-sketch 4.7, filter 0.3,
# sketch 9.2; with keep_colours 0 cartoon, colour-sketch and sketch were 28.5, 20.6 and 38.8),
# and by less than REAL_RANGE L* between the three exposures of one real photo (measured: anime
# 9.4, cartoon 11.9, cartoon-lite 12.1, classic 2.3, classic-lite 3.7, colour-sketch 14.0, filter
# 0.5, sketch 11.4; with keep_colours 0 cartoon, colour-sketch and sketch were 45, 41 and 39). On
# the 132 held-out faces of scripts/skin_tones.py the tone groups' shifts differ by less than 10
# for every style (at most 6.9): docs/skin-tones.md.
SHIFT_RANGE = {"anime": 10, "cartoon": 10, "cartoon-lite": 10, "classic": 5, "classic-lite": 5,
               "colour-sketch": 10, "filter": 3, "sketch": 12}
REAL_RANGE = {"anime": 12, "cartoon": 15, "cartoon-lite": 15, "classic": 5, "classic-lite": 5,
              "colour-sketch": 17, "filter": 3, "sketch": 15}
SHIPPED = tuple(SHIFT_RANGE)  # the styles the bounds are stated for (REAL_RANGE has the same keys)
TONES = [(235, 200, 180), (170, 120, 90), (130, 85, 60), (70, 45, 30)]


@pytest.fixture(scope="module")
def shipped():
    return {name: Stylizer(name, detector=None, threads=1) for name in SHIPPED}


def test_shipped_styles_keep_drawn_skin_tones_apart(shipped):
    face = Face(box=np.array([45, 30, 155, 180], np.float32), landmarks=LM, score=1.0)
    photos = [drawn_face(t) for t in TONES]
    for name, st in shipped.items():
        pairs = [(measure_skin(im, LM), measure_skin(st(im, faces=[face]).image, LM)) for im in photos]
        shifts = [o.L - p.L for p, o in pairs]
        assert skin_summary(pairs)["slope"] >= 0.6, name
        assert max(shifts) - min(shifts) < SHIFT_RANGE[name], (name, [round(v, 1) for v in shifts])


def test_shipped_styles_keep_real_skin_tones_apart(shipped):
    """A held-out SCUT photo (the report half of scripts/skin_tones.py) at exposures x1,
    x0.45 and x0.2 in linear light (light, medium and dark groups)."""
    from conftest import shared_data
    from toonforge.face.detector import create_detector
    from toonforge.io.images import load_image

    folder = shared_data("faces/scut")
    det = create_detector("dlib")
    faces = []
    for name in ("AF1646.jpg",):
        rgb = load_image(folder / name).rgb
        face = det(rgb)[0]
        faces += [(dimmed(rgb, f) if f != 1 else rgb, face) for f in (1.0, 0.45, 0.2)]
    for name, st in shipped.items():
        pairs = [(measure_skin(im, f.landmarks), measure_skin(st(im, faces=[f]).image, f.landmarks))
                 for im, f in faces]
        s = skin_summary(pairs)
        shifts = [g["shift"] for g in s["groups"].values()]
        assert len(shifts) >= 2 and s["slope"] >= 0.6, (name, s)
        assert max(shifts) - min(shifts) < REAL_RANGE[name], (name, s["groups"])
