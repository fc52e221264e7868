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
from toonforge.face.types import Face
from toonforge.face.windows import Window, window_pyramid

__all__ = ["MODELS", "BlazeFaceDetector", "decode", "dlib_box", "five_from_keypoints", "ssd_anchors",
           "weighted_nms"]


@dataclass(frozen=True)
class _Model:
    file: str
    side: int
    strides: tuple[int, ...]  # one per anchor layer (MediaPipe's SsdAnchorsCalculator)
    anchors_per_layer: int
    band: tuple[float, float]  # face sides (fractions of the input side) the model finds well


# band: face sides (the dlib-like box of dlib_box_from_keypoints) found in >= 95 % of SCUT faces
# pasted at known sizes into one window: short 0.10-0.85, full 0.05-0.70; kept with a margin.
MODELS = {
    "short": _Model("blazeface_short.onnx", 128, (8, 16, 16, 16), 2, (0.12, 0.75)),
    "full": _Model("blazeface_full.onnx", 192, (4,), 1, (0.06, 0.6)),
}
_SESSIONS: dict[tuple[str, int | None], Any] = {}
_LOCK = threading.Lock()
_BATCH = 16  # windows per network call


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
            _SESSIONS[key] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return _SESSIONS[key]


def ssd_anchors(side: int, strides: tuple[int, ...], per_layer: int) -> np.ndarray:
    """Anchor centres of MediaPipe's BlazeFace SSD, in units of the input side.

    Layers with the same stride share one feature map (their anchors interleave per cell), as
    in MediaPipe's ``SsdAnchorsCalculator`` with fixed anchor sizes.

    Returns:
        ``(A, 2)`` float32 ``x, y`` in [0, 1]; A = 896 (short range) or 2304 (full range).
    """
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        n = per_layer * (j - i)
        cells = math.ceil(side / strides[i])
        ys, xs = np.mgrid[0:cells, 0:cells]
        centres = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], -1).reshape(-1, 1, 2)
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
    from toonforge.face.types import box_iou

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
    """Undo the shrinking of boxes the models draw around faces under ~24 input pixels.

    Measured on SCUT faces pasted at 40 and 60 px and seen at 12-22 input pixels, the boxes
    came out 27 %, 20 % and 8 % too small at 12, 17 and 22 pixels; each box is widened about
    its centre by ``1 + 0.03 * max(0, 24 - width_in_input_pixels)``, which matches those three.
    """
    w = (boxes[:, 2] - boxes[:, 0]) * side
    grow = 1.0 + 0.03 * np.clip(24.0 - w, 0.0, None)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) / 2 * grow[:, None]
    return np.concatenate([centre - half, centre + half], axis=1)


def _window_batches(rgb: np.ndarray, windows: list[Window], side: int):
    """Yield ``(windows, pixels)`` batches: pixels (n, side, side, 3) float32 in [-1, 1].

    The image is resized once per window side (one pyramid level), and each window is cut
    from that level, zero past the image's edge (the letterbox of MediaPipe's preprocessing).
    """
    h, w = rgb.shape[:2]
    levels: dict[int, list[Window]] = {}
    for win in windows:
        levels.setdefault(win.side, []).append(win)
    for t, wins in levels.items():
        scale = side / t
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        level = rgb if size == (w, h) else cv2.resize(
            rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        for i in range(0, len(wins), _BATCH):
            chunk = wins[i:i + _BATCH]
            batch = np.zeros((len(chunk), side, side, 3), np.uint8)
            for b, win in zip(batch, chunk):
                x0, y0 = round(win.x0 * scale), round(win.y0 * scale)
                part = level[y0:y0 + side, x0:x0 + side]
                b[:part.shape[0], :part.shape[1]] = part
            yield chunk, batch.astype(np.float32) * (1 / 127.5) - 1.0, scale


@register_detector("blazeface")
class BlazeFaceDetector:
    """MediaPipe BlazeFace on a window pyramid, with optional dlib 68-point landmarks.

    Args:
        model: "full" (192 px input, finds faces down to a tenth of a window) or "short"
            (128 px, a fifth; faster per window but needs more windows for small faces).
        min_face: smallest face side (pixels of the input image) to report; faces found
            below it are kept in :attr:`last_below_min` instead.
        threshold: least face score (0..1) kept.
        landmarks: "68" (dlib's shape predictor in a box placed from the keypoints; needs
            dlib), "5" (from BlazeFace's keypoints alone), or "auto" (68 when dlib is
            installed).
        threads: ONNX Runtime intra-op threads (None: its default).
        max_windows: a bound on the windows scanned per frame; a larger frame with a small
            ``min_face`` raises InputError naming the smallest ``min_face`` that fits.
    """

    def __init__(self, model: str = "full", min_face: int = 40, threshold: float = 0.5,
                 landmarks: str = "auto", threads: int | None = None, max_windows: int = 400) -> None:
        if model not in MODELS:
            raise InputError(f"unknown BlazeFace model {model!r}; use one of {', '.join(MODELS)}")
        if landmarks not in ("auto", "5", "68"):
            raise InputError(f"landmarks must be 'auto', '5' or '68', got {landmarks!r}")
        if not 8 <= int(min_face) <= 4096:
            raise InputError(f"min face must be in 8..4096 pixels, got {min_face}")
        if not 0.0 < threshold < 1.0:
            raise InputError(f"threshold must be in (0, 1), got {threshold}")
        self.model, self.spec = model, MODELS[model]
        self.min_face, self.threshold, self.max_windows = int(min_face), float(threshold), int(max_windows)
        self._session = _session(model, threads)
        self._anchors = ssd_anchors(self.spec.side, self.spec.strides, self.spec.anchors_per_layer)
        self._predictor = None
        if landmarks != "5":
            try:
                from toonforge.face.dlib_backend import default_predictor_path, shared_predictor

                self._predictor = shared_predictor(default_predictor_path())
                import dlib

                self._rect = dlib.rectangle
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
        """Merged detections ``(box (4,), keypoints (6, 2), score)`` in image pixels, best first."""
        wins = windows if windows is not None else self.windows(*rgb.shape[:2])
        side = self.spec.side
        boxes, kps, scores = [], [], []
        for chunk, x, scale in _window_batches(rgb, wins, side):
            reg, cls = self._session.run(["regressors", "classificators"], {"input": x})
            for win, r, c in zip(chunk, reg, cls):
                b, k, s = decode(r, c, self._anchors, side, self.threshold)
                if not len(s):
                    continue
                b = _unshrink(b, side)
                size = face_sides(b) * side / scale
                # Each level answers for its own band of sizes (with some slack); the others
                # are found better elsewhere.
                ok = (size >= 0.7 * win.smallest) & (size <= 1.3 * win.largest)
                offset = np.array([round(win.x0 * scale), round(win.y0 * scale)], np.float32)
                # Input units (0..1 edge to edge) -> level edge coordinates -> image pixel centres.
                boxes.append((b[ok] * side + np.tile(offset, 2)) / scale - 0.5)
                kps.append((k[ok] * side + offset) / scale - 0.5)
                scores.append(s[ok])
        if not boxes:
            return []
        return weighted_nms(np.concatenate(boxes), np.concatenate(kps), np.concatenate(scores))

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

    def faces_from(self, rgb: np.ndarray, raw: list[tuple[np.ndarray, np.ndarray, float]]) -> list[Face]:
        """Turn :meth:`detect_raw` output into faces, splitting off those below ``min_face``.

        A face's box is put where dlib's detector would put it (brows to chin, see
        :func:`dlib_box`), so face sizes mean the same for every backend.
        """
        faces, small = [], []
        for blaze_box, kp, score in raw:
            box = dlib_box(blaze_box)
            if box[2] - box[0] < self.min_face:
                small.append(Face(box=box, landmarks=five_from_keypoints(kp), score=score))
                continue
            faces.append(Face(box=box, landmarks=self._landmarks(rgb, box, kp), score=score))
        faces.sort(key=lambda f: f.area, reverse=True)
        self.last_below_min = small
        return faces

    def _landmarks(self, rgb: np.ndarray, box: np.ndarray, kp: np.ndarray) -> np.ndarray:
        if self._predictor is None:
            return five_from_keypoints(kp)
        r = self._rect(*(int(round(v)) for v in box))
        shape = self._predictor(np.ascontiguousarray(rgb), r)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)


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
