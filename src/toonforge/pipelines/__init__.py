"""Inference pipelines: all stylization logic lives here (CLI and app are thin layers)."""

from .stylizer import Stylizer, StylizeResult

__all__ = ["StylizeResult", "Stylizer", "VideoReport", "stylize_video"]


def __getattr__(name: str):
    # The video pipeline pulls in PyAV; load it only when asked for.
    if name in ("stylize_video", "VideoReport"):
        from . import video

        return getattr(video, name)
    raise AttributeError(name)
