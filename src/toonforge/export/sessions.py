"""ONNX Runtime sessions, opened one way for every runner (exported styles and imported graphs).

No PyTorch here: the ONNX path of the runtime needs ONNX Runtime and NumPy only.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CheckpointError, InputError, MissingDependencyError, first_line


def open_session(path: str | Path, device: str = "cpu", threads: int | None = None, *, model: bytes | None = None):
    """An ONNX Runtime session of ``path`` (or of the serialized ``model``, ``path`` then naming it
    in messages) on the CPU, or CUDA when asked and available.

    One-line InputError / CheckpointError for a missing file, a missing CUDA provider or a file
    ONNX Runtime cannot load.
    """
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - a core dependency
        raise MissingDependencyError("onnxruntime is not installed: pip install onnxruntime") from None
    path = Path(path)
    if model is None and not path.is_file():
        raise InputError(f"ONNX file not found: {path}")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    # No busy-waiting worker threads after a run: the pipelines do their pre- and
    # post-processing, face finding (the video reader thread) and encoding (the writer) between
    # network calls, and on a small CPU spinning workers take those threads' cores. On the
    # 2-core machine a 720p video ran 1.3-1.9x faster without spinning (benchmarks/bench_video.py).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise InputError("--device cuda with --backend onnx needs onnxruntime-gpu")
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path) if model is None else model, opts, providers=providers)
    except Exception as exc:
        raise CheckpointError(f"cannot load ONNX model {path.name}: {first_line(exc)}") from None
