"""What an app does with a style folder: draw one face with ONNX Runtime alone.

A style folder ships ``head.onnx`` (the network that draws an aligned face) and, when the style
reshapes faces, ``reshape.onnx`` (the landmark warp that follows it); a style with
``"clean_skin"`` also closes ink strokes on the skin in between, with OpenCV. An app runs its own face
detector and the FFHQ alignment (``toonforge.face.align``, a similarity transform from five
landmarks), then these two graphs; PyTorch is not needed. This script does exactly that, so
that app makers can read the whole chain in one page; ``tests/test_onnx_head_example.py``
checks that it gives what ``toonforge stylize --head-only --backend onnx`` gives.

    python examples/onnx_head.py PHOTO --style anime --out face.png
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


def draw_face(style_dir: Path, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The style's drawing of one face: ``(S, S, 3)`` uint8, S the style's head resolution.

    Args:
        style_dir: a style folder with ``config.json`` and ``head.onnx`` (and ``reshape.onnx``
            if its config has a reshape).
        rgb: ``(H, W, 3)`` uint8 photo.
        landmarks: ``(68, 2)`` or ``(5, 2)`` landmarks of the face, in photo pixels.
    """
    config = json.loads((style_dir / "config.json").read_text())
    size = config["head"]["resolution"]
    lo, hi = config.get("value_range", (-1.0, 1.0))
    aligned = align_face(rgb, landmarks, size)
    head = ort.InferenceSession(str(style_dir / "head.onnx"), providers=["CPUExecutionProvider"])
    y = head.run(None, {head.get_inputs()[0].name: to_network(aligned.crop, lo, hi)})[0]
    if config.get("clean_skin"):
        # Not a graph: a grey closing and a median on the skin mask (OpenCV; port face/skin.py).
        drawn = to_uint8(y, lo, hi)
        drawn = clean_drawn_face(drawn, aligned.landmarks_in_crop, config["clean_skin"])
        y = to_network(drawn, lo, hi)
    if config.get("reshape"):
        warp = ort.InferenceSession(str(style_dir / "reshape.onnx"), providers=["CPUExecutionProvider"])
        points = five_points(aligned.landmarks_in_crop).astype(np.float32)  # in crop pixels
        y = warp.run(None, {"image": y, "landmarks": points})[0]
    return to_uint8(y, lo, hi)


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
    ap.add_argument("--out", type=Path, required=True, help="the face drawing to write (PNG)")
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
        save_image(args.out, draw_face(style.path, rgb, faces[0].landmarks))
    except ToonforgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
