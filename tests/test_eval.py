"""`toonforge eval` and `toonforge card`: reports, contact sheet, plots, card sections, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import shared_data, synthetic_face
from toonforge.cli.main import main
from toonforge.evaluation.card import END, START, fill_metrics, metrics_section
from toonforge.evaluation.report import EvalReport, StyleRow
from toonforge.evaluation.sheet import contact_sheet, pick_evenly


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def folders(tmp_path):
    photos, refs = tmp_path / "photos", tmp_path / "refs"
    photos.mkdir()
    refs.mkdir()
    for i in range(4):
        img, _ = synthetic_face(80, seed=i)
        Image.fromarray(img).save(photos / f"p{i}.png")
        Image.fromarray(255 - img).save(refs / f"p{i}.png")  # "style" = inverted colours
    (photos / "broken.jpg").write_bytes(b"not an image at all")
    return photos, refs


def test_eval_writes_report_sheet_and_outputs(folders, tiny_style, tmp_path, capsys):
    photos, refs = folders
    out = tmp_path / "ev"
    code, stdout, err = run(["eval", "--style", tiny_style, "--photos", photos, "--refs", refs, "--out", out,
                             "--size", "64", "--detector", "none", "--quiet", "--sheet-rows", "3"], capsys)
    assert code == 0, err
    data = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in data["rows"]] == ["input photos (no style)", "tiny-test"]
    assert data["photo_count"] == 4 and data["ref_count"] == 4 and data["fd_label"] == "FD-MNv2"
    assert [s["path"].endswith("broken.jpg") for s in data["skipped"]] == [True]
    base, style = (StyleRow(**r) for r in data["rows"])
    assert base.content_distance == 0.0 and style.content_distance > 0
    assert style.images == 4 and style.sharpness >= 0 and style.images_per_second > 0
    assert style.fd > 0 and base.fd > 0 and style.identity is None  # no detector, no identity
    assert (base.backend, style.backend, data["backend"]) == (None, "onnx", "auto: onnx")  # the default engine
    assert (data["speed_photos"], data["speed_warmup"], data["speed_rounds"]) == (4, 3, 5)  # 24 asked, 4 readable
    assert "timed after the quality pass on 4 photos" in (out / "report.md").read_text()
    assert "backend `auto: onnx`" in (out / "report.md").read_text()
    assert "tiny-test" in stdout and "| style |" in (out / "report.md").read_text()
    assert "broken.jpg" in (out / "report.md").read_text()
    sheet = np.asarray(Image.open(out / "contact_sheet.png"))
    # 3 rows of 192 px tiles plus the label strip; input, the style and the paired reference.
    assert sheet.shape == (28 + 3 * 196 + 4, 3 * 196 + 4, 3)
    outputs = sorted(p.name for p in (out / "outputs" / "tiny-test").iterdir())
    assert outputs == ["p0.png", "p1.png", "p2.png", "p3.png"]
    assert Image.open(out / "outputs" / "tiny-test" / "p0.png").size == (64, 64)
    # A second run into the same folder is refused without --overwrite.
    code, _, err = run(["eval", "--style", tiny_style, "--photos", photos, "--out", out, "--detector", "none"], capsys)
    assert code == 2 and err.startswith("error:") and "--overwrite" in err and len(err.splitlines()) == 1


def test_eval_identity_style_matches_baseline(folders, tmp_path):
    """Measuring the photos again reproduces the baseline row; against themselves FD is ~0."""
    from toonforge.evaluation.runner import EvalOptions, Evaluator

    photos, refs = folders
    ev = Evaluator(photos, refs, EvalOptions(size=64, detector=None, progress=False))
    photo_set = ev.load_photos()
    feats, _ = ev.reference_features()
    base = ev.baseline_row(photo_set, feats)
    again = StyleRow("again")
    ev.distribution_metrics(again, [p.small for p in photo_set], feats)
    assert again.fd == pytest.approx(base.fd) and again.sharpness == pytest.approx(base.sharpness)
    # Against themselves as references, the photos are at distance ~0.
    own = ev.extractor(np.stack([p.small for p in photo_set]))
    ev.distribution_metrics(again, [p.small for p in photo_set], own)
    assert abs(again.fd) < 1e-3 * base.fd


def test_eval_times_styles_in_turns_after_warm_up(folders, monkeypatch):
    """The speed pass warms each style up untimed, then lets the styles take turns, each running
    the whole block of photos between two clock reads; --speed-photos 0 times nothing."""
    from toonforge.evaluation import runner
    from toonforge.evaluation.runner import EvalOptions, Evaluator

    photos, refs = folders
    opts = EvalOptions(size=64, detector=None, progress=False, speed_photos=3, speed_warmup=1, speed_rounds=2)
    ev = Evaluator(photos, refs, opts)
    photo_set = ev.load_photos()
    tags = {p.path: i for i, p in enumerate(photo_set)}  # 4 photos; 3 spread evenly: 0, 2, 3

    def tagged(path, max_pixels):
        img = np.zeros((8, 8, 3), np.uint8)
        img[0, 0, 0] = tags[path]
        return type("Loaded", (), {"rgb": img})

    events = []
    ticks = iter(range(0, 1000, 6))  # every block takes 6 ticks: 0.5 images per tick
    monkeypatch.setattr(runner, "load_image", tagged)
    monkeypatch.setattr("toonforge.metrics.speed.time.perf_counter", lambda: events.append("t") or next(ticks))

    def fake(name):
        return lambda rgb: events.append(f"{name}{rgb[0, 0, 0]}")

    speeds = ev.pipeline_speeds({"a": fake("a"), "b": fake("b")}, photo_set)
    assert speeds == {"a": pytest.approx(0.5), "b": pytest.approx(0.5)}
    assert events[:2] == ["a0", "b0"]  # one untimed warm-up call each
    turn = ["t", "a0", "a2", "a3", "t", "t", "b0", "b2", "b3", "t"]
    assert events[2:] == turn * 2  # two rounds of turns, nothing else between clock reads
    ev.opts.speed_photos = 0
    assert ev.pipeline_speeds({"a": fake("a")}, photo_set) == {}


@pytest.mark.parametrize("args, msg", [
    (["eval"], "nothing to do"),
    (["eval", "--style", "classic", "--photos", "PHOTOS", "--speed-photos", "-1"], "--speed-photos"),
    (["eval", "--style", "classic"], "--photos"),
    (["eval", "--style", "classic", "--photos", "PHOTOS", "--size", "8"], "--size"),
    (["eval", "--style", "classic", "--photos", "PHOTOS", "--features", "inception"], "--inception-weights"),
    (["eval", "--style", "classic", "--photos", "nowhere"], "not a folder"),
    (["eval", "--run", "nowhere"], "not a folder"),
    (["eval", "--style", "classic", "no-such-style", "--photos", "PHOTOS"], "unknown style 'no-such-style'"),
    (["eval", "--style", "classic", "PHOTOS", "--photos", "PHOTOS"], "not a style folder"),
])
def test_eval_bad_arguments(args, msg, folders, capsys, tmp_path):
    photos, _ = folders
    args = [str(photos) if a == "PHOTOS" else a for a in args] + ["--out", str(tmp_path / "o")]
    code, _, err = run(args, capsys)
    assert code == 2 and err.startswith("error:") and msg in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()  # refused before any style ran


def test_eval_plots_run_curves(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_dir = tmp_path / "runs" / "00000-translator"
    run_dir.mkdir(parents=True)
    lines = [{"step": s, "time": s * 0.1, "loss/pixel": 1.0 / s, "val/l1": 0.5 / s} for s in range(10, 200, 10)]
    (run_dir / "stats.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n{truncated")
    code, _, err = run(["eval", "--run", run_dir, "--out", tmp_path / "ev"], capsys)
    assert code == 0, err
    png = tmp_path / "ev" / "curves" / "runs-00000-translator.png"
    im = Image.open(png)
    assert im.format == "PNG" and im.size[0] > im.size[1] > 100


def test_contact_sheet_layout_and_pick():
    red = np.zeros((10, 20, 3), np.uint8)
    red[..., 0] = 255
    sheet = contact_sheet(["a", "b"], [[red, None]], tile=40, gap=2)
    assert sheet.shape == (28 + 40 + 4, 2 * 42 + 2, 3)
    tile = sheet[28 + 2:28 + 42, 2:42]
    assert (tile[15:25, :, 0] == 255).all() and (tile[0, :] == 255).all()  # letterboxed in white
    assert (sheet[28 + 2:28 + 42, 44:84] == 255).all()  # the None cell stays blank
    assert pick_evenly(10, 3) == [0, 4, 9] and pick_evenly(2, 5) == [0, 1]
    with pytest.raises(ValueError):
        contact_sheet(["a"], [[red, red]])


def _report():
    rows = [StyleRow("input photos (no style)", kind="baseline", images=3, sharpness=5.0, fd=40.0),
            StyleRow("mine", images=3, faces=3, sharpness=6.5, fd=12.25, kid_mean=0.004, kid_std=0.001,
                     identity=0.91, same_person_rate=1.0, face_found_rate=2 / 3, images_per_second=10.0)]
    return EvalReport("t", "toonforge card mine --photos p", "p", "r", 256, "torch", "FD-MNv2", rows,
                      photo_count=3, ref_count=5, created="2026-11-21", machine="x86_64")


def test_card_section_replaces_only_its_part():
    report = _report()
    section = metrics_section(report, "mine")
    assert section.startswith(START) and section.rstrip().endswith(END)
    assert "| mine | 6.50 | 12.25 | 4.0 ± 1.0 | 0.910 | 100% | 67% |" in section
    assert "toonforge card mine --photos p" in section
    card = "# mine\n\nHand-written text.\n"
    once = fill_metrics(card, section)
    assert once.startswith(card.rstrip("\n")) and section in once
    report.rows[1].fd = 9.5
    twice = fill_metrics(fill_metrics(once, metrics_section(report, "mine")) + "\nAfter.\n", section)
    assert twice.count(START) == 1 and "Hand-written text." in twice and "After." in twice
    with pytest.raises(Exception, match="no row"):
        metrics_section(report, "other")


def test_report_json_round_trip(tmp_path):
    report = _report()
    report.skipped = [("a.jpg", "truncated")]
    md, js = report.write(tmp_path)
    again = EvalReport.from_json(json.loads(js.read_text()))
    assert again == report and "a.jpg" in md.read_text()


def test_card_command_from_report(tiny_style, tmp_path, capsys):
    report = _report()
    report.rows[1].name = "tiny-test"
    report.write(tmp_path / "ev")
    code, out, err = run(["card", tiny_style, "--from-report", tmp_path / "ev"], capsys)
    assert code == 0, err
    card = (tiny_style / "card.md").read_text()
    assert "Untrained test style." in card and "| tiny-test | 6.50 |" in card
    code, _, err = run(["card", tiny_style, "--from-report", tmp_path / "missing.json"], capsys)
    assert code == 2 and "cannot read the report" in err


@pytest.mark.slow
@pytest.mark.data
def test_eval_classic_on_real_faces(tmp_path, capsys):
    """The shipped style on real photos, with dlib identity and face-found rate."""
    scut = shared_data("faces/scut")
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("AF1554.jpg", "AF1555.jpg", "AM1384.jpg"):
        if (scut / name).exists():
            shutil.copy(scut / name, photos / name)
    code, _, err = run(["eval", "--style", "classic", "--photos", photos, "--out", tmp_path / "ev",
                        "--quiet", "--no-outputs"], capsys)
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads((tmp_path / "ev" / "report.json").read_text())["rows"]}
    classic = rows["classic"]
    assert classic["faces"] == len(list(photos.iterdir()))
    assert 0.8 < classic["identity"] <= 1.0 and classic["face_found_rate"] == 1.0
    assert rows["input photos (no style)"]["face_found_rate"] == 1.0
    assert classic["fd"] is None  # no --refs, no FD
