"""Inference pipelines: all stylization logic lives here (CLI and app are thin layers)."""

__all__ = ["StylizeResult", "Stylizer", "VideoReport", "stylize_video"]


def __getattr__(name: str):
    # Load lazily: the stylizer pulls in PyTorch and the video pipeline PyAV, while the CLI
    # only needs ``backends`` to build its parser.
    if name in ("Stylizer", "StylizeResult"):
        from . import stylizer

        return getattr(stylizer, name)
    if name in ("stylize_video", "VideoReport"):
        from . import video

        return getattr(video, name)
    raise AttributeError(name)
