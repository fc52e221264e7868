"""Temporal stability for video: a One Euro filter and an IoU face tracker.

Detectors answer each frame on its own, so boxes and landmarks of a still face wobble by a
pixel or two from frame to frame; the aligned crop then jitters and the pasted head shimmers.
:class:`FaceTracker` links detections across frames by box overlap and runs each track's box
and landmarks through a :class:`OneEuroFilter` (Casiez, Roussel and Vogel, CHI 2012): a
low-pass filter whose cutoff rises with the signal's speed, so a still face is held steady
and a moving one is followed with little lag.

A track that finds no detection keeps its last smoothed face for up to ``max_missing`` frames
(a blink, a hand in front of the face, a missed detection) and is dropped after that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toonforge.face.types import Face, box_iou

__all__ = ["FaceTracker", "IntervalFaceFinder", "OneEuroFilter", "box_iou"]


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass with ``cutoff`` Hz at time step ``dt`` s."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Speed-adaptive low-pass filter over arrays, one filter per coordinate.

    Args:
        min_cutoff: cutoff frequency (Hz) for a still signal; lower = steadier but laggier.
        beta: how fast the cutoff rises with speed (Hz per unit of signal per second);
            higher = less lag when the signal moves.
        d_cutoff: cutoff frequency (Hz) of the low-pass applied to the speed estimate.

    Call it with the newest sample and its time in seconds; the first call returns the sample
    unchanged. Samples are float arrays of any fixed shape (e.g. ``(N, 2)`` points); the
    result is float64 of the same shape.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"need min_cutoff > 0, d_cutoff > 0, beta >= 0; got {min_cutoff}, {d_cutoff}, {beta}")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next sample passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` (seconds, increasing)."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or x.shape != self._x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        if dt <= 0:  # a repeated or out-of-order time: keep the state, answer the last value
            return self._x.copy()
        a_d = _alpha(self.d_cutoff, dt)
        dx = self._dx + a_d * ((x - self._x) / dt - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(dx)
        a = _alpha(cutoff, dt)
        self._x = self._x + a * (x - self._x)
        self._dx, self._t = dx, float(t)
        return self._x.copy()


@dataclass
class _Track:
    face: Face  # the last smoothed face
    scale: float  # face size (pixels) at the track's start: filter units are face sizes
    filt: OneEuroFilter
    missing: int = 0


class FaceTracker:
    """Links per-frame detections into tracks and smooths them.

    Args:
        max_missing: frames a track survives without a matching detection (it keeps its last
            smoothed face meanwhile); the frame after that it is dropped.
        iou_match: least box IoU between a track and a detection to call them the same face.
        min_cutoff, beta, d_cutoff: :class:`OneEuroFilter` parameters. The filter works in
            units of the face's size (box side at the track's start), so the defaults behave
            alike for small and large faces: ``beta`` is in Hz per (face sizes per second).

    Matching is greedy on IoU (highest pairs first), which is exact enough for the few faces
    of a portrait video. A detection that matches no track starts a new, unsmoothed one.
    """

    def __init__(self, max_missing: int = 5, iou_match: float = 0.3, *, min_cutoff: float = 1.0,
                 beta: float = 5.0, d_cutoff: float = 1.0) -> None:
        if max_missing < 0 or not 0.0 <= iou_match <= 1.0:
            raise ValueError(f"need max_missing >= 0 and iou_match in [0, 1]; got {max_missing}, {iou_match}")
        self.max_missing, self.iou_match = int(max_missing), float(iou_match)
        self._params = (min_cutoff, beta, d_cutoff)
        OneEuroFilter(*self._params)  # validate now
        self._tracks: list[_Track] = []

    def reset(self) -> None:
        """Drop every track (e.g. at a scene cut)."""
        self._tracks = []

    @property
    def track_count(self) -> int:
        """Tracks alive now (found in the last frame or coasting)."""
        return len(self._tracks)

    def update(self, faces: list[Face], t: float) -> list[Face]:
        """Feed one frame's detections (time ``t`` in seconds); return the faces to use.

        Returns smoothed faces of every track alive in this frame (matched now, or missing for
        at most ``max_missing`` frames), sorted by box area, largest first.
        """
        matched_det: set[int] = set()
        matched_trk: set[int] = set()
        if self._tracks and faces:
            iou = box_iou(np.stack([tr.face.box for tr in self._tracks]), np.stack([f.box for f in faces]))
            for flat in np.argsort(-iou, axis=None):
                ti, di = np.unravel_index(flat, iou.shape)
                if iou[ti, di] < self.iou_match:
                    break
                if ti in matched_trk or di in matched_det:
                    continue
                matched_trk.add(int(ti))
                matched_det.add(int(di))
                self._follow(self._tracks[ti], faces[di], t)
        survivors = []
        for i, tr in enumerate(self._tracks):
            if i not in matched_trk:
                tr.missing += 1
                if tr.missing > self.max_missing:
                    continue
            survivors.append(tr)
        for di, face in enumerate(faces):
            if di not in matched_det:
                survivors.append(self._start(face, t))
        self._tracks = survivors
        out = [tr.face for tr in self._tracks]
        return sorted(out, key=lambda f: f.area, reverse=True)

    def _start(self, face: Face, t: float) -> _Track:
        x0, y0, x1, y1 = (float(v) for v in face.box)
        scale = max(x1 - x0, y1 - y0, 1.0)
        track = _Track(face=face, scale=scale, filt=OneEuroFilter(*self._params))
        track.filt(self._pack(face) / scale, t)  # first sample passes through unchanged
        return track

    def _follow(self, track: _Track, face: Face, t: float) -> None:
        if face.landmarks.shape != track.face.landmarks.shape:
            track.filt.reset()  # a different landmark model: restart the smoothing
        smooth = track.filt(self._pack(face) / track.scale, t) * track.scale
        track.face = Face(box=smooth[:2].reshape(4), landmarks=smooth[2:], score=face.score)
        track.missing = 0

    @staticmethod
    def _pack(face: Face) -> np.ndarray:
        """Box corners and landmarks as one (2 + N, 2) float64 array."""
        return np.concatenate([face.box.reshape(2, 2), face.landmarks]).astype(np.float64)


class IntervalFaceFinder:
    """Faces of successive video frames: a full detection every ``every`` frames, tracking between.

    On a detection frame the detector scans the whole frame (every size down to its
    ``min_face``), so new faces are picked up within ``every`` frames. On the frames between,
    each face of the previous frame is looked for again only around where it was, through the
    detector's ``track(rgb, faces)`` method (with 68 landmarks: the shape predictor alone;
    BlazeFace without dlib: one network window per face; dlib: a HOG scan of a small crop),
    which costs a fraction of a full scan. A face the next full scan does not find is no longer
    followed (the tracker may still coast on it for a few frames). A detector without ``track``
    is run in full on every frame. The faces found go through ``tracker`` (box and landmark
    smoothing; None: raw faces).

    Args:
        detector: a face detector (see :mod:`toonforge.face.detector`).
        every: frames between full detections (1 = every frame).
        tracker: the smoother, or None.
    """

    def __init__(self, detector, every: int = 5, tracker: FaceTracker | None = None) -> None:
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.detector, self.every, self.tracker = detector, int(every), tracker
        self._index = 0
        self._last: list[Face] = []
        self.full_scans = 0

    def __call__(self, rgb: np.ndarray, t: float) -> list[Face]:
        """Faces of the next frame (``rgb`` (H, W, 3) uint8, time ``t`` seconds), largest first."""
        track = getattr(self.detector, "track", None)
        if self._index % self.every == 0 or track is None:
            found = self.detector(rgb)
            self.full_scans += 1
        else:  # no face lately: wait for the next full scan
            found = track(rgb, self._last) if self._last else []
        self._index += 1
        # What is followed next is what was found now (not the tracker's coasting faces), so
        # a face that a full scan no longer finds stops being followed.
        self._last = found
        return self.tracker.update(found, t) if self.tracker is not None else found
