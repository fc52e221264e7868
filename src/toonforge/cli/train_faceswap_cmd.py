"""``toonforge train-faceswap``: the shared-encoder, two-decoder face swap, trained on two people's photos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..io.outputs import declare_io


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-faceswap", help="train a face swap (one encoder, a decoder per person) on two identities",
        description="Detect and align the faces of --a and --b (files or folders, one person each), then train "
        "one shared encoder and one decoder per person to redraw each person's randomly warped faces. Runs go "
        "to numbered folders under --runs (resume with --resume); the model is RUN/faceswap.safetensors, "
        "used by 'toonforge faceswap-video'.",
    )
    p.add_argument("--a", type=Path, nargs="+", required=True, metavar="PHOTOS", help="photos of the first person")
    p.add_argument("--b", type=Path, nargs="+", required=True, metavar="PHOTOS", help="photos of the second person")
    p.add_argument("--names", default="a,b", help="names of the two identities (default a,b)")
    p.add_argument("--size", type=int, default=64, help="face side in px, a power of two >= 32 (default 64)")
    p.add_argument("--width", type=int, default=32, help="channels of the first layer (default 32)")
    p.add_argument("--steps", type=int, default=2000, help="training steps (default 2000)")
    p.add_argument("--batch-size", type=int, default=16, help="faces per identity per step (default 16)")
    p.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate (default 5e-4)")
    p.add_argument("--lambda-mse", type=float, default=1.0, help="weight of the MSE term beside L1 (default 1)")
    p.add_argument("--warp", type=float, default=2.5, help="random warp of the inputs, px at --size (default 2.5)")
    p.add_argument("--detector", default="dlib", help="face detector backend (default dlib)")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="where numbered run folders go (default runs)")
    p.add_argument("--resume", type=Path, default=None, help="run folder (or checkpoint) to continue")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints (default 500)")
    p.add_argument("--log-every", type=int, default=50, help="steps between log lines (default 50)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop cleanly (with a checkpoint) after this long")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    declare_io(p, inputs=["a", "b", "resume"], outputs={"runs": "parent"})
    p.set_defaults(func=run)


def aligned_faces(inputs: list[Path], size: int, detector, label: str) -> list:
    """The largest face of every photo, aligned FFHQ-style at ``size``; photos without one are skipped."""
    from ..face.align import align_face
    from ..io.images import load_image
    from .invert_cmd import collect_photos

    faces = []
    photos = collect_photos(inputs)
    for _, path in photos:
        rgb = load_image(path).rgb
        found = detector(rgb)
        if not found:
            print(f"notice: no face in {path}; skipped", file=sys.stderr)
            continue
        faces.append(align_face(rgb, found[0].landmarks, size).crop)
    if not faces:
        raise InputError(f"no face found in the {len(photos)} photo(s) of identity {label}")
    return faces


def run(args: argparse.Namespace) -> int:
    from ..face.detector import create_detector
    from ..training.faceswap_task import EXPORT, FaceSwapConfig, FaceSwapTask
    from ..training.loop import LoopConfig, train

    names = tuple(n.strip() for n in args.names.split(","))
    if len(names) != 2 or not all(names) or names[0] == names[1]:
        raise InputError(f"--names needs two different names, got {args.names!r}")
    if args.size < 32 or args.size & (args.size - 1) or args.width < 1 or args.lr <= 0 or args.lambda_mse < 0:
        raise InputError("need --size a power of two >= 32, --width >= 1, --lr > 0 and --lambda-mse >= 0")
    detector = create_detector(args.detector)
    faces_a = aligned_faces(args.a, args.size, detector, names[0])
    faces_b = aligned_faces(args.b, args.size, detector, names[1])
    cfg = FaceSwapConfig(size=args.size, width=args.width, lr=args.lr, lambda_mse=args.lambda_mse, warp=args.warp,
                         seed=args.seed)
    task = FaceSwapTask(faces_a, faces_b, names, cfg)
    loop = LoopConfig(total_steps=args.steps, batch_size=args.batch_size, log_every=args.log_every,
                      checkpoint_every=args.checkpoint_every, ema_decay=0.999, seed=args.seed,
                      max_minutes=args.max_minutes, progress=not args.quiet)
    result = train(task, loop, runs_root=args.runs, resume=args.resume, device=args.device)
    print(f"run folder: {result.run_dir} (step {result.step}/{args.steps}); model: {result.run_dir / EXPORT}")
    return 0
