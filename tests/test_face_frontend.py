"""The face front end: window pyramid, BlazeFace decoding, group photos, --min-face, backends, video interval."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_data, synthetic_face
from toonforge.errors import InputError, MissingDependencyError
from toonforge.face import blazeface as bf
from toonforge.face.frontend import build_detector, detection_notices
from toonforge.face.tracking import FaceTracker, IntervalFaceFinder
from toonforge.face.types import Face, box_iou
from toonforge.face.windows import window_pyramid

# ---- pure logic ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(720, 1280), (2160, 3840), (500, 500)])
def test_every_face_size_fits_whole_in_a_window_of_its_band(size):
    h, w = size
    band = (0.1, 0.6)
    wins = window_pyramid(h, w, 40, band=band, below=0.8)
    assert wins[0].side == max(h, w) and (wins[0].x0, wins[0].y0) == (0, 0)
    rng = np.random.default_rng(0)
    for _ in range(300):
        side = float(np.exp(rng.uniform(np.log(32), np.log(0.55 * min(h, w)))))
        x0, y0 = rng.uniform(0, w - side), rng.uniform(0, h - side)
        ok = [win for win in wins
              if win.x0 <= x0 and win.y0 <= y0 and x0 + side <= win.x0 + win.side and y0 + side <= win.y0 + win.side
              and band[0] * win.side <= side <= band[1] * win.side and side <= 1.3 * win.largest
              and side >= 0.7 * win.smallest]
        assert ok, (side, x0, y0)


def test_anchor_layout_and_decoding_of_a_known_box():
    short = bf.ssd_anchors(128, (8, 16, 16, 16), 2)
    full = bf.ssd_anchors(192, (4,), 1)
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    assert np.allclose(short[0], [0.5 / 16, 0.5 / 16]) and np.allclose(short[512], [0.5 / 8, 0.5 / 8])
    reg = np.zeros((896, 16), np.float32)
    logits = np.full((896, 1), -10.0, np.float32)
    i = 600
    reg[i, :4] = [6.4, -12.8, 32.0, 25.6]  # centre offset (+0.05, -0.1), size (0.25, 0.2) of 128
    reg[i, 4:6] = [-6.4, 0.0]
    logits[i] = 3.0
    boxes, kps, scores = bf.decode(reg, logits, short, 128, 0.5)
    assert boxes.shape == (1, 4) and kps.shape == (1, 6, 2)
    cx, cy = short[i] + [0.05, -0.1]
    assert np.allclose(boxes[0], [cx - 0.125, cy - 0.1, cx + 0.125, cy + 0.1], atol=1e-6)
    assert np.allclose(kps[0, 0], short[i] + [-0.05, 0.0], atol=1e-6)
    assert np.isclose(scores[0], 1 / (1 + np.exp(-3.0)))


def test_weighted_nms_averages_a_cluster_and_keeps_others():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    kps = np.zeros((3, 6, 2), np.float32)
    kps[1] += 3
    out = bf.weighted_nms(boxes, kps, np.array([0.9, 0.3, 0.8], np.float32))
    assert len(out) == 2
    box, kp, score = out[0]
    assert score == pytest.approx(0.9)
    assert np.allclose(box, [0.25, 0.25, 10.25, 10.25]) and np.allclose(kp, 0.75)
    assert np.allclose(out[1][0], [50, 50, 60, 60])


def test_five_points_from_keypoints_keep_the_mouth_centre():
    kp = np.array([[40, 50], [80, 50], [60, 70], [60, 90], [20, 60], [100, 60]], np.float32)
    five = bf.five_from_keypoints(kp)
    assert np.allclose(five[:3], kp[:3]) and np.allclose(five[3:].mean(0), kp[3])
    assert five[3, 0] < five[4, 0]


# ---- backend selection -----------------------------------------------------------------------


def test_backend_selection_errors(monkeypatch, tmp_path):
    with pytest.raises(InputError, match="unknown face detector 'foo'.*blazeface.*dlib"):
        build_detector("foo")
    assert build_detector("none") is None and build_detector(None) is None
    with pytest.raises(InputError, match="min face"):
        build_detector("blazeface", min_face=2)
    with pytest.raises(InputError, match="BlazeFace model"):
        bf.BlazeFaceDetector(model="tiny")
    monkeypatch.setattr(bf, "_SESSIONS", {})
    monkeypatch.setattr(bf, "model_path", lambda name: tmp_path / "absent.onnx")
    with pytest.raises(MissingDependencyError, match="missing"):
        bf.BlazeFaceDetector(landmarks="5")


def test_cli_detector_errors_are_one_line(tmp_path, capsys):
    from PIL import Image

    from toonforge.cli.main import main

    img, _ = synthetic_face(64)
    Image.fromarray(img).save(tmp_path / "a.png")
    code = main(["stylize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o.png"), "--style", "filter",
                 "--detector", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().count("\n") == 0 and err.startswith("error: unknown face detector 'nope'")
    with pytest.raises(SystemExit) as exc:
        main(["stylize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o.png"), "--min-face", "3"])
    assert exc.value.code == 2 and "--min-face" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


# ---- real faces --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def portraits():
    from toonforge.evaluation.group_photos import Portrait, reference_box
    from toonforge.io.images import load_image

    scut = shared_data("faces/scut")
    det = bf.BlazeFaceDetector(landmarks="5", min_face=60)
    out = []
    for path in sorted(scut.glob("*.jpg"))[10:20]:
        rgb = load_image(path).rgb
        box = reference_box(rgb, det)
        if box is not None:
            out.append(Portrait(rgb, box))
    return out


@pytest.mark.data
def test_blazeface_decodes_a_real_face(portraits):
    pytest.importorskip("dlib", reason="dlib (dlib-bin) gives the reference landmarks")
    from toonforge.face.detector import create_detector

    rgb = portraits[0].rgb
    blaze = bf.BlazeFaceDetector(landmarks="5", min_face=60)
    faces = blaze(rgb)
    assert len(faces) == 1 and faces[0].landmarks.shape == (5, 2) and 0.5 < faces[0].score <= 1
    ref = create_detector("dlib", min_face=60)(rgb)[0]
    side = float(ref.box[2] - ref.box[0])
    # Boxes agree with dlib's (the backend puts them where dlib would) ...
    assert np.abs(faces[0].box - ref.box).max() < 0.15 * side
    # ... and so do the eyes and nose; the mouth's mean sits on dlib's mouth corners' mean.
    five, ref5 = faces[0].landmarks, ref.five_points()
    assert np.linalg.norm(five[:3] - ref5[:3], axis=1).max() < 0.08 * side
    assert np.linalg.norm(five[3:].mean(0) - ref5[3:].mean(0)) < 0.08 * side
    with68 = bf.BlazeFaceDetector(landmarks="68", min_face=60)(rgb)[0]
    assert with68.landmarks.shape == (68, 2)
    assert np.linalg.norm(with68.landmarks - ref.landmarks, axis=1).mean() < 0.03 * side


@pytest.mark.data
def test_group_photo_faces_found_at_their_sizes_and_places(portraits):
    from toonforge.evaluation.group_photos import compose_group, recall

    sides = [260, 150, 90, 56]
    g = compose_group(portraits[:4], sides, (1280, 720), seed=5)
    det = bf.BlazeFaceDetector(landmarks="5", min_face=40)
    faces = det(g.image)
    boxes = np.stack([f.box for f in faces])
    assert recall(g.boxes, boxes).all(), (g.boxes.round(), boxes.round())
    assert len(faces) == 4  # and nothing else
    found = sorted(float(f.box[2] - f.box[0]) for f in faces)
    assert np.allclose(found, sorted(sides), rtol=0.2)


@pytest.mark.data
def test_a_face_under_min_face_is_reported_not_dropped(portraits):
    from toonforge.evaluation.group_photos import compose_group
    from toonforge.pipelines import Stylizer

    # 50 px: 0.69 of the minimum, under the 0.8 from which a face counts as min_face wide, and
    # still found (levels keep boxes down to 0.56 of it): reported, not stylized.
    g = compose_group(portraits[:2], [200, 50], (900, 500), seed=2)
    det = build_detector("blazeface", min_face=72)
    faces = det(g.image)
    assert len(faces) == 1 and faces[0].box[2] - faces[0].box[0] > 150
    assert len(det.last_below_min) == 1
    small = det.last_below_min[0].box
    assert abs((small[0] + small[2]) / 2 - (g.boxes[1, 0] + g.boxes[1, 2]) / 2) < 15
    (notice,) = detection_notices(det)
    assert "smaller than --min-face 72" in notice and "lower --min-face" in notice
    result = Stylizer("filter", detector=det)(g.image)  # the notice reaches the user
    assert len(result.faces) == 1 and any("smaller than --min-face 72" in n for n in result.notices)


# ---- video: detection every N frames ----------------------------------------------------------


class CountingDetector:
    """Full scans find the faces visible at the current frame; ``track`` returns the old faces moved by 1 px."""

    def __init__(self, appear_at: dict[int, Face]):
        self.appear_at, self.frame, self.full, self.tracked = appear_at, 0, 0, 0

    def visible(self):
        return [f for t, f in self.appear_at.items() if t <= self.frame]

    def __call__(self, rgb):
        self.full += 1
        return self.visible()

    def track(self, rgb, faces):
        self.tracked += 1
        return [Face(f.box + 1, f.landmarks + 1, f.score) for f in faces]


def test_interval_finder_scans_every_n_frames_and_tracks_between():
    _, face = synthetic_face(200)
    late = Face(face.box + 300, face.landmarks + 300, 1.0)
    det = CountingDetector({0: face, 4: late})
    finder = IntervalFaceFinder(det, every=3, tracker=FaceTracker())
    counts = []
    for i in range(9):
        det.frame = i
        counts.append(len(finder(np.zeros((8, 8, 3), np.uint8), i / 25)))
    assert det.full == 3 and det.tracked == 6 and finder.full_scans == 3
    # The face appearing at frame 4 is picked up by the full scan at frame 6, not before.
    assert counts == [1, 1, 1, 1, 1, 1, 2, 2, 2]
    # A detector without track() is run in full on every frame.
    plain = IntervalFaceFinder(lambda rgb: [face], every=4)
    for i in range(5):
        assert len(plain(np.zeros((8, 8, 3), np.uint8), i)) == 1
    assert plain.full_scans == 5
    with pytest.raises(ValueError):
        IntervalFaceFinder(det, every=0)


def test_video_scans_faces_every_n_frames(tmp_path):
    from test_video import make_clip
    from toonforge.pipelines import Stylizer
    from toonforge.pipelines.video import stylize_video

    make_clip(tmp_path / "in.mp4", w=96, h=96, n=10, audio=None)
    _, face = synthetic_face(96)
    det = CountingDetector({0: face})
    report = stylize_video(tmp_path / "in.mp4", tmp_path / "out.mp4", Stylizer("filter", detector=det),
                           detect_every=4, batch_size=4)
    assert report.frames == 10 and report.frames_with_faces == 10
    assert det.full == 3 and det.tracked == 7  # frames 0, 4, 8 scanned in full
    with pytest.raises(InputError, match="detect every"):
        stylize_video(tmp_path / "in.mp4", tmp_path / "o2.mp4", Stylizer("filter", detector=det), detect_every=0)


# ---- a pyramid level scanned as large tiles (the free-size full-range graph) ------------------


@pytest.mark.parametrize("size", [(1024, 1024), (1080, 1920), (2160, 3840)])
def test_level_tiles_hold_every_face_of_their_band_whole(size):
    h, w = size
    det = bf.BlazeFaceDetector(min_face=40, landmarks="5")
    assert det._free_size  # the shipped full-range graph takes any size
    rgb = np.zeros((h, w, 3), np.uint8)
    levels: dict[int, list] = {}
    for win in det.windows(h, w):
        levels.setdefault(win.side, []).append(win)
    tiled = [ws for ws in levels.values() if len(ws) > 1]
    assert tiled
    for ws in tiled:
        batches = list(bf._level_tiles(rgb, ws, det.spec.side))
        tiles = [t for chunk, _ in batches for t in chunk]
        pixels = sum(x.shape[0] * x.shape[1] * x.shape[2] for _, x in batches)
        assert all(x.shape[1] % 32 == 0 and x.shape[2] % 32 == 0 and max(x.shape[1:3]) <= bf.CANVAS
                   for _, x in batches)
        assert pixels < len(ws) * det.spec.side ** 2  # fewer network pixels than the windows
        t = tiles[0]
        th, tw = batches[0][1].shape[1:3]
        big = ws[0].largest  # image pixels; a face that large anywhere must fit whole in a tile
        rng = np.random.default_rng(0)
        for _ in range(200):
            x0, y0 = rng.uniform(0, w - big), rng.uniform(0, h - big)
            inside = [(x0 * t.sx >= c.x0 and (x0 + big) * t.sx <= c.x0 + tw
                       and y0 * t.sy >= c.y0 and (y0 + big) * t.sy <= c.y0 + th) for c in tiles]
            assert any(inside), (x0, y0)


@pytest.mark.data
def test_tiled_scan_finds_what_the_windows_find(portraits):
    from toonforge.evaluation.group_photos import compose_group

    g = compose_group(portraits[:4], [300, 140, 80, 60], (1920, 1080), seed=5)
    det = bf.BlazeFaceDetector(min_face=40, landmarks="5")
    tiled = det(g.image)
    det._free_size = False
    windowed = det(g.image)
    assert len(tiled) == len(windowed) == 4
    for a, b in zip(tiled, windowed):
        assert box_iou(a.box[None], b.box[None])[0, 0] > 0.8
    for truth in g.boxes:
        assert max(box_iou(truth[None], f.box[None])[0, 0] for f in tiled) > 0.5


@pytest.mark.data
def test_tracking_between_scans_skips_the_network_and_follows_a_moving_face(portraits):
    import cv2

    p = portraits[0]
    x0, y0, x1, y1 = p.box
    scale = 120.0 / (x1 - x0)  # a 120 px face
    face = cv2.resize(p.rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = face.shape[:2]
    det = bf.BlazeFaceDetector(min_face=60)
    if det.landmark_count != 68:
        pytest.skip("tracking without a network needs dlib's 68-point shape predictor")
    runs = []

    class CountingSession:  # counts the detector's network calls
        def __init__(self, session):
            self.session = session

        def run(self, *a, **k):
            runs.append(len(frames))
            return self.session.run(*a, **k)

    det._session = CountingSession(det._session)
    finder = IntervalFaceFinder(det, every=5, tracker=None)
    frames, found, truth = [], [], []
    for i in range(8):
        dx = 4 * i  # the face moves 4 px a frame to the right
        rgb = np.full((h + 80, w + 120, 3), 90, np.uint8)
        rgb[40:40 + h, 20 + dx:20 + dx + w] = face
        frames.append(rgb)
        truth.append(np.array([x0 * scale + 20 + dx, y0 * scale + 40]))
        found.append(finder(rgb, i / 25))
    assert sorted(set(runs)) == [1, 6]  # the network ran on the full scans of frames 0 and 5 only
    assert finder.full_scans == 2
    for fs, (tx, _ty) in zip(found, truth):
        assert len(fs) == 1
        # The box's corner follows the face (boxes of any backend sit where dlib's would, so
        # compare the motion, not the absolute place).
        moved = fs[0].box[:2] - found[0][0].box[:2]
        assert abs(moved[0] - (tx - truth[0][0])) < 4 and abs(moved[1]) < 4
