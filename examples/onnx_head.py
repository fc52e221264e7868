"""What an app does with a style folder: draw one face with ONNX Runtime alone.

A style folder ships ``head.onnx`` (the network that draws an aligned face) and, when the style
reshapes faces, ``reshape.onnx`` (the landmark warp that follows it); a style with
``"clean_skin"`` also closes ink strokes on the skin in between, with OpenCV. An app runs its own face
detector and the FFHQ alignment (``toonforge.face.align``, a similarity transform from five
landmarks), then these two graphs; PyTorch is not needed. This script does exactly that, so
that app makers can read the whole chain in one page; ``tests/test_onnx_head_example.py``
checks that it gives what ``toonforge stylize --head-only --backend onnx`` gives.

    python examples/onnx_head.py PHOTO --style anime --out face.png

``FaceDrawer`` opens the graphs once; an app keeps one for all its faces and frames.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

from toonforge.face.align import align_face
from toonforge.face.skin import clean_drawn_face
from toonforge.face.types import five_points


class FaceDrawer:
    """A style's ONNX graphs, opened once, drawing one aligned face per call.

    Args:
        style_dir: a style folder with ``config.json`` and ``head.onnx`` (and ``reshape.onnx``
            if its config has a reshape).
        threads: ONNX Runtime intra-op threads (0: its default).
    """

    def __init__(self, style_dir: Path, threads: int = 0) -> None:
        self.config = json.loads((style_dir / "config.json").read_text())
        self.size = self.config["head"]["resolution"]
        self.lo, self.hi = self.config.get("value_range", (-1.0, 1.0))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.head = open_session(style_dir / "head.onnx", options)
        self.head_input = self.head.get_inputs()[0].name
        self.warp = open_session(style_dir / "reshape.onnx", options) if self.config.get("reshape") else None

    def __call__(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The style's drawing of one face: ``(S, S, 3)`` uint8, S the style's head resolution.

        Args:
            rgb: ``(H, W, 3)`` uint8 photo.
            landmarks: ``(68, 2)`` or ``(5, 2)`` landmarks of the face, in photo pixels.
        """
        lo, hi = self.lo, self.hi
        aligned = align_face(rgb, landmarks, self.size)
        y = self.head.run(None, {self.head_input: to_network(aligned.crop, lo, hi)})[0]
        if self.config.get("clean_skin"):
            # Not a graph: a grey closing and a median on the skin mask, sparing the photo's own
            # thin lines (OpenCV; port face/skin.py).
            drawn = clean_drawn_face(to_uint8(y, lo, hi), aligned.crop, aligned.landmarks_in_crop,
                                     self.config["clean_skin"])
            y = to_network(drawn, lo, hi)
        if self.warp is not None:
            points = five_points(aligned.landmarks_in_crop).astype(np.float32)  # in crop pixels
            y = self.warp.run(None, {"image": y, "landmarks": points})[0]
        return to_uint8(y, lo, hi)


def open_session(path: Path, options: ort.SessionOptions) -> ort.InferenceSession:
    """One ONNX Runtime session on the CPU; a video app keeps it for every frame."""
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def to_network(rgb: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``(S, S, 3)`` uint8 -> ``(1, 3, S, S)`` float32 in the network's value range [lo, hi]."""
    return np.ascontiguousarray((rgb.astype(np.float32) / 255.0 * (hi - lo) + lo).transpose(2, 0, 1)[None])


def to_uint8(y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``(1, 3, S, S)`` float in [lo, hi] -> ``(S, S, 3)`` uint8."""
    return np.clip(np.rint((y[0].transpose(1, 2, 0) - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo", type=Path)
    ap.add_argument("--style", default="anime", help="style name or folder (default anime)")
    ap.add_argument("--out", type=Path, required=True,
                    help="the face drawing to write (PNG); further faces go to NAME-2.png, NAME-3.png, ...")
    args = ap.parse_args()
    from toonforge.errors import ToonforgeError
    from toonforge.face.detector import create_detector
    from toonforge.io.images import load_image, save_image
    from toonforge.styles.registry import load_style

    try:
        style = load_style(args.style)
        if style.onnx_path("head") is None:
            raise ToonforgeError(f"style {style.name!r} ships no head.onnx (a filter style, or not exported)")
        rgb = load_image(args.photo).rgb
        faces = create_detector("dlib")(rgb)  # an app would use its own detector here
        if not faces:
            raise ToonforgeError(f"no face found in {args.photo}")
        draw = FaceDrawer(style.path)  # sessions opened once, for every face
        for i, face in enumerate(faces, 1):
            out = args.out if i == 1 else args.out.with_name(f"{args.out.stem}-{i}{args.out.suffix}")
            save_image(out, draw(rgb, face.landmarks))
            print(f"wrote {out}")
    except ToonforgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
