"""BlazeFace backend: MediaPipe's face detector CNN, run in ONNX Runtime on a window pyramid.

The two models (``face/models/blazeface_{short,full}.onnx``, Apache-2.0, see the NOTICE beside
them) were converted once from the ``.tflite`` files of the mediapipe 0.10.21 wheel by
``scripts/convert_blazeface.py``; neither mediapipe nor TensorFlow is needed to run them.

Each model sees a square window of the frame, letterboxed and resized to its input side
(128 or 192 pixels), and answers, per anchor, a face score and a box with six keypoints. The
windows come from :func:`toonforge.face.windows.window_pyramid`, so faces from ``min_face``
pixels up to the whole frame are seen at a size the model knows; all windows of a frame go
through the network in batches. Detections of all windows are merged by weighted
non-maximum suppression (overlapping boxes averaged by score, as MediaPipe does).

BlazeFace's keypoints are the eyes, the nose tip, the mouth centre and the two ear tragions.
The aligner wants five points (eyes, nose, mouth corners); with ``landmarks="68"`` (the
default when dlib is installed) dlib's 68-point shape predictor runs in the box where dlib's
own detector would have put the face (styles that clean skin strokes or reshape faces need the 68 points), otherwise the
mouth corners are put either side of the mouth centre along the eye line (the FFHQ crop uses
only their mean, so the crop is the same).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from toonforge.errors import InputError, MissingDependencyError
from toonforge.face.detector import register_detector
from toonforge.face.second_look import confirm, look_candidates, zoom_window
from toonforge.face.types import Face, box_iou
from toonforge.face.windows import Window, window_pyramid
from toonforge.io.images import halve, halvings

__all__ = ["MODELS", "BlazeFaceDetector", "decode", "dlib_box", "five_from_keypoints", "ssd_anchors",
           "weighted_nms"]


@dataclass(frozen=True)
class _Model:
    file: str
    side: int
    strides: tuple[int, ...]  # one per anchor layer (MediaPipe's SsdAnchorsCalculator)
    anchors_per_layer: int
    band: tuple[float, float]  # face sides (fractions of the input side) the model finds well


# band: face sides (dlib-like boxes, see dlib_box), as fractions of the window, that the model
# finds. Pasted SCUT faces, one per window, were found (box within 60 % of the size) from 0.10 to
# 0.85 (short) and 0.05 to 0.70 (full) of the window; but in composed group photos 40 px faces
# were found 14/21, 18/21 and 20/21 times with full-range windows of 533, 400 and 320 px
# (lo = 0.06, 0.08, 0.10), so the small end is kept at 24 input pixels and up.
MODELS = {
    "short": _Model("blazeface_short.onnx", 128, (8, 16, 16, 16), 2, (0.12, 0.75)),
    "full": _Model("blazeface_full.onnx", 192, (4,), 1, (0.1, 0.6)),
}
_SESSIONS: dict[tuple[str, int | None], Any] = {}
_LOCK = threading.Lock()
_BATCH = 16  # windows per network call
# A face's measured side (its dlib-like box, see dlib_box) scatters about the true one (dlib's
# box of the same portrait): over 142 faces of 40-800 px in the composed group photos (seeds 0
# and 1) measured / true was 0.95 in the median, 0.82-0.89 at the 10th percentile at every size
# (0.81 at 40 px), so a face measured at 0.8 min_face or more counts as min_face wide (at 0.9 a
# quarter of the 40 px faces were found but counted too small). Faces found under that (levels
# keep boxes down to 0.7 of the smallest face they answer for, 0.56 min_face) are reported.
SIZE_TOLERANCE = 0.8


def model_path(name: str) -> Path:
    """Path of the packaged ONNX file of model ``name`` ("short" or "full")."""
    return Path(str(resources.files("toonforge.face") / "models" / MODELS[name].file))


def _session(name: str, threads: int | None) -> Any:
    key = (name, threads)
    with _LOCK:
        if key not in _SESSIONS:
            import onnxruntime as ort

            path = model_path(name)
            if not path.is_file():
                raise MissingDependencyError(f"the BlazeFace model is missing from the package: {path}")
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = int(threads)
            opts.log_severity_level = 3
            # No busy-waiting threads: the detector often runs beside the style's networks (the
            # video reader thread), and spinning workers would only take their cores.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            _SESSIONS[key] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return _SESSIONS[key]


def ssd_anchors(side: int, strides: tuple[int, ...], per_layer: int) -> np.ndarray:
    """Anchor centres of MediaPipe's BlazeFace SSD, in units of the input side.

    Layers with the same stride share one feature map (their anchors interleave per cell), as
    in MediaPipe's ``SsdAnchorsCalculator`` with fixed anchor sizes.

    Returns:
        ``(A, 2)`` float32 ``x, y`` in [0, 1]; A = 896 (short range) or 2304 (full range).
    """
    return ssd_anchors_px(side, side, strides, per_layer) / np.float32(side)


def ssd_anchors_px(height: int, width: int, strides: tuple[int, ...], per_layer: int) -> np.ndarray:
    """Anchor centres for an input of ``height`` x ``width`` pixels (multiples of the largest
    stride), in input pixels, row-major over each feature map: ``(A, 2)`` float32 ``x, y``."""
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        n = per_layer * (j - i)
        rows, cols = math.ceil(height / strides[i]), math.ceil(width / strides[i])
        ys, xs = np.mgrid[0:rows, 0:cols]
        cell_y, cell_x = height / rows, width / cols
        centres = np.stack([(xs + 0.5) * cell_x, (ys + 0.5) * cell_y], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, n, axis=1).reshape(-1, 2))
        i = j
    return np.concatenate(out).astype(np.float32)


def decode(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray, side: int,
           threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes, keypoints and scores of the anchors whose score reaches ``threshold``.

    Args:
        regressors: ``(A, 16)`` float32 raw outputs: box centre offset, size, six keypoints,
            in input pixels relative to the anchor centre.
        logits: ``(A,)`` or ``(A, 1)`` float32 raw face logits.
        anchors: ``(A, 2)`` from :func:`ssd_anchors`.
        side: the model's input side in pixels.
        threshold: least sigmoid score kept, in (0, 1).

    Returns:
        ``boxes`` (K, 4) ``x0, y0, x1, y1``, ``keypoints`` (K, 6, 2) and ``scores`` (K,), all
        float32 in units of the input side (0..1 = the input square).
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -80, 80)))
    keep = scores >= threshold
    reg, anc = regressors[keep].astype(np.float32) / side, anchors[keep]
    centre = anc + reg[:, 0:2]
    half = reg[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = reg[:, 4:16].reshape(-1, 6, 2) + anc[:, None, :]
    return boxes, keypoints, scores[keep].astype(np.float32)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou: float = 0.3) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Merge overlapping detections: each cluster's box and keypoints become their score-weighted mean.

    Args:
        boxes: ``(K, 4)``; keypoints: ``(K, P, 2)``; scores: ``(K,)`` (any common units).
        iou: boxes overlapping the best remaining one by at least this join its cluster.

    Returns:
        ``(box (4,), keypoints (P, 2), score)`` per cluster, best first; score = the best
        member's.
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    alive = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        member = alive & (box_iou(boxes[i:i + 1], boxes)[0] >= iou)
        member[i] = True
        w = scores[member][:, None]
        out.append(((boxes[member] * w).sum(0) / w.sum(), (keypoints[member] * w[:, :, None]).sum(0) / w.sum(),
                    float(scores[i])))
        alive &= ~member
    return out


def _unshrink(boxes: np.ndarray, side: int) -> np.ndarray:
    """Undo the shrinking of boxes the full-range model draws around faces under ~36 input pixels.

    Measured on 240 SCUT/selfie faces pasted at 30-130 px into frames and seen in windows
    of 320-533 px (192 input pixels): the face side over the box's dlib-like side was 1.20 for
    boxes under 16 input pixels wide, 1.17 at 16-20, 1.14 at 20-24, 1.07-1.11 at 24-34 and
    1.05 above. Each box is widened about its centre by ``1 + 0.008 * max(0, 36 - width)``
    (width in input pixels), which follows that curve below 36 px and leaves larger boxes alone.
    """
    w = (boxes[:, 2] - boxes[:, 0]) * side
    grow = 1.0 + 0.008 * np.clip(36.0 - w, 0.0, None)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) / 2 * grow[:, None]
    return np.concatenate([centre - half, centre + half], axis=1)


def _cut(image: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """The ``side``-square of ``image`` at (x0, y0), zero where it runs past any edge."""
    h, w = image.shape[:2]
    out = np.zeros((side, side, 3), np.uint8)
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if xa < xb and ya < yb:
        out[ya - y0:yb - y0, xa - x0:xb - x0] = image[ya:yb, xa:xb]
    return out


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` resized to ``size`` = (width, height), as the network's input.

    A shrink first halves by 2x2 averaging while the image is at least twice the target
    (:func:`~toonforge.io.images.halve`; a free-factor area resize was the detector's largest
    cost outside the network at 1024 px), then finishes bilinearly by a factor under 2, as
    MediaPipe's own input resampling does. (A Gaussian prefilter before that last step, by
    scikit-image's anti-aliasing rule, found the same faces on the recall benchmark's seeds
    0-3, so there is none.)
    """
    if (image.shape[1], image.shape[0]) == size:
        return image
    return cv2.resize(halve(image, halvings(image.shape, size)), size, interpolation=cv2.INTER_LINEAR)


def _network_input(cuts: list[np.ndarray]) -> np.ndarray:
    """Same-size uint8 (h, w, 3) cuts -> (n, h, w, 3) float32 in [-1, 1], scaled in place."""
    x = np.stack(cuts).astype(np.float32)
    x *= np.float32(1 / 127.5)
    x -= np.float32(1.0)
    return x


def _window_batches(rgb: np.ndarray, windows: list[Window], side: int, each_alone: bool = False):
    """Yield ``(windows, pixels)`` batches: pixels (n, side, side, 3) float32 in [-1, 1].

    Windows of one side that tile the frame (a pyramid level) are cut from the frame resized
    once for that level; a window alone at its side (the whole frame, or a tracked face), or
    every window with ``each_alone`` (a few scattered windows: the second look), is cut
    first and resized alone. Pixels past the image's edge are zero (MediaPipe's letterbox).
    """
    h, w = rgb.shape[:2]
    levels: dict[int, list[Window]] = {}
    for win in windows:
        levels.setdefault(win.side, []).append(win)
    cuts: list[tuple[Window, np.ndarray]] = []
    for t, wins in levels.items():
        scale = side / t
        if len(wins) == 1 or each_alone:
            cuts.extend((win, _resize(_cut(rgb, win.x0, win.y0, t), (side, side))) for win in wins)
            continue
        level = _resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))))
        for win in wins:
            cuts.append((win, _cut(level, round(win.x0 * scale), round(win.y0 * scale), side)))
    for i in range(0, len(cuts), _BATCH):
        chunk = cuts[i:i + _BATCH]
        pixels = _network_input([c for _, c in chunk])
        yield [win for win, _ in chunk], pixels


LOOK_SIDE = 128  # network input side of a second-look window (free-size graph; else the model's side)
CANVAS = 1280  # most network input pixels per side of one level tile (bounds the memory)
_MULTIPLE = 32  # the free-size graph takes heights and widths in multiples of this


@dataclass(frozen=True)
class _Tile:
    """A piece of one pyramid level, run through the network whole (any size, see free_size).

    ``x0, y0``: its top-left corner in pixels of the level image (the frame resized by ``sx``
    horizontally and ``sy`` vertically, network pixels per image pixel); ``smallest`` and
    ``largest``: the face sides (image pixels) the level answers for.
    """

    x0: int
    y0: int
    sx: float
    sy: float
    smallest: float
    largest: float


def _level_tiles(rgb: np.ndarray, wins: list[Window], side: int):
    """Yield ``(tiles, pixels)``: one level of windows (one side ``t``) as a few large tiles.

    The frame is resized once by ``side / t`` and cut into tiles of at most ``CANVAS`` pixels
    a side, padded with zeros to a multiple of 32, all of one size, that overlap by 1.25x the largest face the
    level answers for (so each such face lies whole in one tile, as in the level's windows).
    This is the level's windows without their overlap: about half the network pixels at
    1024 px, a third at 4K. ``pixels`` is (n, H, W, 3) float32 in [-1, 1], tiles of one size.
    """
    h, w = rgb.shape[:2]
    t = wins[0].side
    lw, lh = max(1, round(w * side / t)), max(1, round(h * side / t))
    level = _resize(rgb, (lw, lh))
    sx, sy = lw / w, lh / h
    overlap = int(math.ceil(1.25 * wins[0].largest * side / t)) + _MULTIPLE

    def spans(length: int) -> tuple[int, list[int]]:
        """Tile length and starts along one axis: as few tiles as fit, all of one length."""
        padded = _MULTIPLE * math.ceil(length / _MULTIPLE)
        if padded <= CANVAS:
            return padded, [0]
        n = math.ceil((length - overlap) / (CANVAS - overlap))
        tile = _MULTIPLE * math.ceil((length + (n - 1) * overlap) / n / _MULTIPLE)  # <= CANVAS
        step = (length - tile) / (n - 1)  # consecutive tiles overlap by tile - step >= overlap
        return tile, [round(i * step) for i in range(n)]

    tw, xs = spans(lw)
    th, ys = spans(lh)
    tiles, cuts = [], []
    for y0 in ys:
        for x0 in xs:
            tiles.append(_Tile(x0, y0, sx, sy, wins[0].smallest, wins[0].largest))
            cut = np.zeros((th, tw, 3), np.uint8)
            part = level[y0:y0 + th, x0:x0 + tw]
            cut[:part.shape[0], :part.shape[1]] = part
            cuts.append(cut)
    for i in range(0, len(cuts), 2):  # two tiles per call: memory grows with the batch
        yield tiles[i:i + 2], _network_input(cuts[i:i + 2])


Detections = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes (K, 4), keypoints (K, 6, 2), scores (K,)


def _to_image(b: np.ndarray, k: np.ndarray, s: np.ndarray, smallest: float, largest: float, to_image
              ) -> Detections:
    """Decoded boxes ``b`` and keypoints ``k`` (network units) in image pixels, those of faces
    from 0.7 ``smallest`` to 1.3 ``largest`` only: each level answers for its own band of sizes
    (with some slack); the others are found better elsewhere. ``to_image`` maps (N, 2) network
    units to image edge coordinates; minus 0.5 gives pixel centres."""
    box = np.concatenate([to_image(b[:, :2]), to_image(b[:, 2:])], 1)
    size = face_sides(box)
    ok = (size >= 0.7 * smallest) & (size <= 1.3 * largest)
    return box[ok] - 0.5, to_image(k[ok].reshape(-1, 2)).reshape(-1, 6, 2) - 0.5, s[ok]


def _merged(parts: list[Detections]) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """All of ``parts`` merged by :func:`weighted_nms`, best first ([] when there is none)."""
    if not parts:
        return []
    boxes, kps, scores = (np.concatenate(p) for p in zip(*parts))
    return weighted_nms(boxes, kps, scores) if len(scores) else []


PART_RATIO = 2.0  # a detection this many times smaller than a face it sits in is part of it


def without_parts(dets: list) -> list:
    """``dets`` (``(box (4,), keypoints, score)``, best first) less those that are part of a
    larger face: a box whose centre lies inside a box ``PART_RATIO`` or more times as wide.

    In a tile of a 4K level the lower half of an 800 px face (its nose and mouth) can score as
    a face of its own; stylized, it would be pasted over the real face's head. Two faces are
    never nested that way (a face's box holds that face only)."""
    if len(dets) < 2:
        return dets
    boxes = np.stack([d[0] for d in dets])
    widths = boxes[:, 2] - boxes[:, 0]
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    keep = []
    for i, d in enumerate(dets):
        inside = (boxes[:, 0] <= centres[i, 0]) & (centres[i, 0] <= boxes[:, 2]) \
            & (boxes[:, 1] <= centres[i, 1]) & (centres[i, 1] <= boxes[:, 3])
        if not (inside & (widths >= PART_RATIO * widths[i])).any():
            keep.append(d)
    return keep


@register_detector("blazeface")
class BlazeFaceDetector:
    """MediaPipe BlazeFace on a window pyramid, with optional dlib 68-point landmarks.

    Args:
        model: "full" (192 px input, finds faces down to a tenth of a window) or "short"
            (128 px, a fifth; faster per window but needs more windows for small faces).
        min_face: smallest face side (pixels of the input image) to report, give or take
            the 20 % a face's measured side varies (``SIZE_TOLERANCE``); faces found
            below it are kept in :attr:`last_below_min` instead.
        threshold: least face score (0..1) kept. On the composed group photos of
            ``benchmarks/bench_face_detection.py`` (seed 0), 0.5 kept 5 boxes on no face and 0.65
            none, with the same 59 of 60 faces found; 0.7 lost one.
        landmarks: "68" (dlib's shape predictor in a box placed from the keypoints; needs
            dlib), "5" (from BlazeFace's keypoints alone), or "auto" (68 when dlib is
            installed).
        threads: ONNX Runtime intra-op threads (None: its default).
        max_windows: a bound on the windows scanned per frame; a larger frame with a small
            ``min_face`` raises InputError naming the smallest ``min_face`` that fits.
        tile_threshold: least face score kept from a pyramid level scanned as large tiles
            (the free-size full-range graph): a face there is seen once, not in several
            overlapping windows whose best score counts, so its score runs lower. On the
            composed group photos (seeds 0 and 1, 24 frames) 0.4 found every face of 60 px and
            up with no box on no face down to 0.4; 0.65 lost one 90 px face per seed.
        look_floor: detections of the full scan scoring from this up to their keep threshold
            get a second look (``face/second_look.py``): each is scored again in a zoomed
            window of its own and kept when that window finds the face with ``threshold``.
            None: no second look. On seeds 0 and 1, 0.1 found 20 of 24 faces of 40 px (14
            without the look, 18 without it but with ``size_tolerance`` 0.8), 0.05 and 0.03
            the same or one more at 2-4x the look's windows, none a box on no face.
            With the look windows at 128 px (``LOOK_SIDE``; 192 found 20, 96 found 20) 21.
        look_limit: at most this many second-look windows per frame (the best-scored weak
            detections; seeds 0 and 1 had 5 a 1080p frame and 15 a 4K one at floor 0.1,
            before ``look_below``).
        look_below: only weak detections of faces under this many ``min_face`` get the look
            (None: of every size). On seeds 0 and 1 all confirmed candidates were under 1.0
            (3 of 8; none of 108 larger ones), so 1.25 was the default; seeds 2 and 3 then
            showed the gap it left: faces of about 270-400 px in a 1080p frame are above the
            tiles' largest and only 14-20 % of the whole-frame window, where one 340 px face
            scored 0.47 and was lost (3 of 4 such misses of 140 px and up, seeds 2 and 3; the
            zoomed window finds them). The default is None.
        size_tolerance: a face measured at this fraction of ``min_face`` or more counts as
            ``min_face`` wide (``SIZE_TOLERANCE``).
    """

    def __init__(self, model: str = "full", min_face: int = 40, threshold: float = 0.65,
                 landmarks: str = "auto", threads: int | None = None, max_windows: int = 400,
                 tile_threshold: float = 0.4, look_floor: float | None = 0.1, look_limit: int = 32,
                 size_tolerance: float = SIZE_TOLERANCE, look_below: float | None = None) -> None:
        if model not in MODELS:
            raise InputError(f"unknown BlazeFace model {model!r}; use one of {', '.join(MODELS)}")
        if landmarks not in ("auto", "5", "68"):
            raise InputError(f"landmarks must be 'auto', '5' or '68', got {landmarks!r}")
        if not 8 <= int(min_face) <= 4096:
            raise InputError(f"min face must be in 8..4096 pixels, got {min_face}")
        if not 0.0 < threshold < 1.0 or not 0.0 < tile_threshold < 1.0:
            raise InputError(f"thresholds must be in (0, 1), got {threshold} and {tile_threshold}")
        if look_floor is not None and not 0.0 < look_floor < 1.0:
            raise InputError(f"look_floor must be in (0, 1) or None, got {look_floor}")
        self.tile_threshold = float(tile_threshold)
        self.look_floor = None if look_floor is None else float(look_floor)
        self.look_limit = int(look_limit)
        self.size_tolerance = float(size_tolerance)
        self.look_side = LOOK_SIDE
        self.look_below = None if look_below is None else float(look_below)
        self.model, self.spec = model, MODELS[model]
        self.min_face, self.threshold, self.max_windows = int(min_face), float(threshold), int(max_windows)
        self._session = _session(model, threads)
        self._anchors = ssd_anchors(self.spec.side, self.spec.strides, self.spec.anchors_per_layer)
        self._anchor_cache: dict[tuple[int, int], np.ndarray] = {}
        # A graph whose height and width are free (scripts/convert_blazeface.py, free_size)
        # scans each pyramid level as a few large tiles instead of many overlapping windows.
        dims = self._session.get_inputs()[0].shape
        self._free_size = len(self.spec.strides) == 1 and not all(isinstance(d, int) for d in dims[1:3])
        self._predictor = None
        if landmarks != "5":
            try:
                from toonforge.face.dlib_backend import default_predictor_path, shared_predictor

                self._predictor = shared_predictor(default_predictor_path())
            except MissingDependencyError:
                if landmarks == "68":
                    raise
        self.last_below_min: list[Face] = []

    @property
    def landmark_count(self) -> int:
        """68 with dlib's predictor, else 5."""
        return 68 if self._predictor is not None else 5

    def windows(self, height: int, width: int) -> list[Window]:
        """The pyramid of windows scanned for an image of this size."""
        wins = window_pyramid(height, width, self.min_face, band=self.spec.band, below=0.8)
        if len(wins) > self.max_windows:
            raise InputError(f"finding faces of {self.min_face} px in a {width}x{height} image needs "
                             f"{len(wins)} detector windows (limit {self.max_windows}); raise --min-face")
        return wins

    def detect_raw(self, rgb: np.ndarray, windows: list[Window] | None = None
                   ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Merged detections ``(box (4,), keypoints (6, 2), score)`` in image pixels, best first.

        Without ``windows`` the whole pyramid is scanned; with a model that takes any input
        size (the full-range one), each level of several windows is run as a few large tiles
        (:func:`_level_tiles`), the single windows (the whole frame) as they are.
        """
        tiled = windows is None and self._free_size
        wins = windows if windows is not None else self.windows(*rgb.shape[:2])
        look = windows is None and self.look_floor is not None
        found: list[Detections] = []
        weak: list[Detections] = []  # scored under the keep threshold: for the second look

        def keep(dets: Detections, threshold: float) -> None:
            m = dets[2] >= threshold
            found.append(tuple(d[m] for d in dets))
            weak.append(tuple(d[~m] for d in dets))

        def floor(threshold: float) -> float:  # the least score decoded
            return min(self.look_floor, threshold) if look else threshold

        levels: dict[int, list[Window]] = {}
        for win in wins:
            levels.setdefault(win.side, []).append(win)
        singles = [w for ws in levels.values() for w in ws] if not tiled else \
            [ws[0] for ws in levels.values() if len(ws) == 1]
        for _, dets in self._scan_windows(rgb, singles, floor(self.threshold)):
            keep(dets, self.threshold)
        for ws in (ws for ws in levels.values() if tiled and len(ws) > 1):
            for chunk, x in _level_tiles(rgb, ws, self.spec.side):
                reg, cls = self._session.run(["regressors", "classificators"], {"input": x})
                anchors = self._anchors_px(x.shape[1], x.shape[2])
                for tile, r, c in zip(chunk, reg, cls):
                    b, k, sc = decode(r, c, anchors, 1, floor(self.tile_threshold))  # in tile pixels
                    if len(sc):
                        scale = np.array([tile.sx, tile.sy], np.float32)
                        off = np.array([tile.x0, tile.y0], np.float32)
                        keep(_to_image(_unshrink(b, 1), k, sc, tile.smallest, tile.largest,
                                       lambda u, scale=scale, off=off: (u + off) / scale), self.tile_threshold)
        strong = _merged(found)
        if look:
            strong = sorted(strong + self._second_look(rgb, weak, strong), key=lambda d: -d[2])
        return without_parts(strong)

    def _scan_windows(self, rgb: np.ndarray, wins: list[Window], threshold: float, each_alone: bool = False,
                      side: int | None = None):
        """Yield ``(window, (boxes, keypoints, scores))`` for each of ``wins`` (each resized to
        ``side`` pixels, by default the model's input; another side needs the free-size graph)
        with detections scoring ``threshold`` or more, in image pixels (:func:`_to_image`)."""
        side = side or self.spec.side
        anchors = self._anchors if side == self.spec.side else self._anchors_px(side, side) / np.float32(side)
        for chunk, x in _window_batches(rgb, wins, side, each_alone):
            reg, cls = self._session.run(["regressors", "classificators"], {"input": x})
            for win, r, c in zip(chunk, reg, cls):
                b, k, sc = decode(r, c, anchors, side, threshold)
                if len(sc):
                    off = np.array([win.x0, win.y0], np.float32)
                    yield win, _to_image(_unshrink(b, side), k, sc, win.smallest, win.largest,
                                         lambda u, win=win, off=off: u * win.side + off)

    def _second_look(self, rgb: np.ndarray, weak: list[Detections], strong: list) -> list:
        """The weak detections (of faces under ``look_below`` min_face, or all) that a zoomed
        window of their own confirms (``face/second_look.py``), as that window saw them;
        ``strong``: the merged detections kept already. All the windows go through the network
        together."""
        if self.look_below is not None:
            weak = [tuple(d[m] for d in part) for part in weak
                    for m in [face_sides(part[0]) < self.look_below * self.min_face]]
        candidates = look_candidates(_merged(weak), strong, self.look_limit)
        if not candidates:
            return []
        windows = [zoom_window(c[0]) for c in candidates]
        seen: dict[int, list[Detections]] = {}
        side = self.look_side if self._free_size else None
        for win, dets in self._scan_windows(rgb, windows, self.threshold, each_alone=True, side=side):
            seen.setdefault(id(win), []).append(dets)
        out = []
        for cand, win in zip(candidates, windows):
            got = confirm(cand, _merged(seen.get(id(win), [])), self.threshold)
            if got is not None and not any(box_iou(got[0][None], d[0][None])[0, 0] > 0.3 for d in out):
                out.append(got)
        return out

    def _anchors_px(self, height: int, width: int) -> np.ndarray:
        key = (height, width)
        if key not in self._anchor_cache:
            self._anchor_cache[key] = ssd_anchors_px(height, width, self.spec.strides, self.spec.anchors_per_layer)
        return self._anchor_cache[key]

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        """Detect faces.

        Args:
            rgb: ``(H, W, 3)`` ``uint8`` RGB image.

        Returns:
            Faces at least ``min_face`` wide, largest first: ``box`` in pixels, ``landmarks``
            (68, 2) or (5, 2) (see ``landmark_count``), ``score`` in (0, 1). Faces found but
            narrower are left in :attr:`last_below_min`.
        """
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("rgb must be a (H, W, 3) uint8 array, got "
                             f"{getattr(rgb, 'dtype', type(rgb))} {getattr(rgb, 'shape', '')}")
        return self.faces_from(rgb, self.detect_raw(rgb))

    def track(self, rgb: np.ndarray, faces: list[Face]) -> list[Face]:
        """Find ``faces`` (of a previous frame) again in ``rgb``, each in one window around where it was.

        With dlib's 68-point predictor (``landmark_count`` 68) the faces are followed by it
        alone (:func:`~toonforge.face.dlib_backend.track_by_landmarks`, about a millisecond a
        face, no network). Otherwise each is looked for in one window, a square of 2.5 face
        sides centred on the old face, so a face that moved by up to about half its size is
        still inside, at a size the model knows; all windows go through the network together.
        Returns the faces found, largest first; faces that were not found are left out.
        """
        if self._predictor is not None:
            from toonforge.face.dlib_backend import track_by_landmarks

            return sorted(track_by_landmarks(self._predictor, rgb, faces), key=lambda f: f.area, reverse=True)
        windows = []
        for f in faces:
            x0, y0, x1, y1 = (float(v) for v in f.box)
            side = max(int(round(2.5 * max(x1 - x0, y1 - y0))), 16)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            windows.append(Window(int(round(cx - side / 2)), int(round(cy - side / 2)), side, 0.0, float("inf")))
        raw = self.detect_raw(rgb, windows)
        return self.faces_from(rgb, raw[:len(faces)])

    def faces_from(self, rgb: np.ndarray, raw: list[tuple[np.ndarray, np.ndarray, float]]) -> list[Face]:
        """Turn :meth:`detect_raw` output into faces, splitting off those below ``min_face``.

        A face's box is put where dlib's detector would put it (brows to chin, see
        :func:`dlib_box`), so face sizes mean the same for every backend.
        """
        faces, small = [], []
        for blaze_box, kp, score in raw:
            box = dlib_box(blaze_box)
            if box[2] - box[0] < self.size_tolerance * self.min_face:
                small.append(Face(box=box, landmarks=five_from_keypoints(kp), score=score))
                continue
            faces.append(Face(box=box, landmarks=self._landmarks(rgb, box, kp), score=score))
        faces.sort(key=lambda f: f.area, reverse=True)
        self.last_below_min = small
        return faces

    def _landmarks(self, rgb: np.ndarray, box: np.ndarray, kp: np.ndarray) -> np.ndarray:
        if self._predictor is None:
            return five_from_keypoints(kp)
        from toonforge.face.dlib_backend import shape_near

        return shape_near(self._predictor, rgb, tuple(int(round(v)) for v in box))


def five_from_keypoints(kp: np.ndarray) -> np.ndarray:
    """The aligner's five points from BlazeFace's six keypoints.

    Args:
        kp: ``(6, 2)``: the eye on the image's left (the subject's right), the other eye, nose
            tip, mouth centre, and the two ear tragions.

    Returns:
        ``(5, 2)`` float32 in :func:`toonforge.face.types.five_points` order; the mouth corners
        sit 0.4 eye distances either side of the mouth centre, along the eye line.
    """
    eye_l, eye_r, nose, mouth = (np.asarray(kp[i], np.float64) for i in range(4))
    half = 0.4 * (eye_r - eye_l)
    return np.stack([eye_l, eye_r, nose, mouth - half, mouth + half]).astype(np.float32)


# dlib's HOG box of a face from BlazeFace's box (width w, centre c): side = 0.89 w, centre =
# c + (0, 0.043 w): the medians over 91 SCUT and selfie2anime portraits where both found one
# face (side ratio: 0.886 on SCUT, 0.919 on the selfies).
_DLIB_SIDE, _DLIB_DROP = 0.89, 0.043


def face_sides(boxes: np.ndarray) -> np.ndarray:
    """Face side (that of :func:`dlib_box` ) of each of ``(K, 4)`` BlazeFace boxes: (K,)."""
    return _DLIB_SIDE * (boxes[:, 2] - boxes[:, 0])


def dlib_box(box: np.ndarray) -> np.ndarray:
    """Where dlib's detector would put the face of a BlazeFace box: ``(4,)`` x0, y0, x1, y1 pixels.

    dlib's 68-point shape predictor expects that box; using it for every backend also makes
    face sizes (``--min-face``) mean the same for all.
    """
    b = np.asarray(box, np.float64)
    w = b[2] - b[0]
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2 + _DLIB_DROP * w
    half = _DLIB_SIDE * w / 2
    return np.array([cx - half, cy - half, cx + half, cy + half])
