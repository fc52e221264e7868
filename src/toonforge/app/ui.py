"""The Gradio page: ``build_demo(...)`` makes the ``gr.Blocks``, ``launch_demo`` serves it.

Importing this module imports Gradio; nothing else in toonforge does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ToonforgeError
from ..io.images import list_images
from . import require_gradio
from .handlers import AppHandlers, ImageOutcome

gr = require_gradio()
log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_MB = 20.0
DEFAULT_CONCURRENCY = 2
MAX_EXAMPLES = 8
ERROR_SECONDS = 30  # how long an error message stays up
_REPO = Path(__file__).resolve().parents[3]
_SCUT = Path("shared", "data", "faces", "scut")
EXAMPLE_DIRS = (_REPO.parent / _SCUT, Path.cwd().parent / _SCUT)


def path_image(**kwargs: Any) -> Any:
    """A ``gr.Image`` input (type "filepath") that hands the uploaded file over undecoded.

    Gradio's own preprocessing opens every upload with Pillow before our code runs, so a text
    file named ``photo.jpg`` would fail inside Gradio with a bare "Error". Passing the path on
    lets :func:`toonforge.io.images.load_image` check it and say what is wrong in one line.
    (An instance override rather than a subclass: Gradio writes a ``.pyi`` stub next to the
    module of every Component subclass.)
    """
    image = gr.Image(type="filepath", **kwargs)
    decode = image.preprocess

    def preprocess(payload: Any) -> str | None:
        if payload is None:
            return None
        if payload.path and not str(payload.url or "").startswith("data:"):
            return str(payload.path)
        try:
            return decode(payload)
        except Exception:  # noqa: BLE001 - a broken data URL from the browser
            raise gr.Error("cannot read the image sent by the browser", print_exception=False) from None

    image.preprocess = preprocess
    return image


def find_examples(folder: str | Path | None = None, limit: int = MAX_EXAMPLES) -> list[Path]:
    """Example portraits: the first ``limit`` images in ``folder``, or in the project's sample
    faces (``../shared/data/faces/scut``) when that exists; empty when there are none."""
    folders = [Path(folder)] if folder else list(EXAMPLE_DIRS)
    for d in folders:
        if d.is_dir():
            return [p.resolve() for p in list_images(d)[:limit]]
    return []


def _fail(exc: BaseException) -> Exception:
    """The gr.Error to show for an exception raised while handling a request."""
    if isinstance(exc, ToonforgeError):
        return gr.Error(str(exc), duration=ERROR_SECONDS, print_exception=False)
    if isinstance(exc, MemoryError):
        return gr.Error("out of memory (try a smaller image)", duration=ERROR_SECONDS, print_exception=False)
    log.exception("internal failure while handling a request")
    line = (str(exc).strip().splitlines() or [""])[0]
    return gr.Error(f"internal failure ({type(exc).__name__}: {line})", duration=ERROR_SECONDS,
                    print_exception=False)


def _status(notices: Sequence[str], done: str) -> str:
    return "\n".join([f"**{done}**", *[f"- {n}" for n in notices]])


def build_demo(*, styles: Sequence[str] | None = None, examples: Sequence[str | Path] | None = None,
               max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB, concurrency: int = DEFAULT_CONCURRENCY,
               queue_size: int = 32, default_style: str = "classic",
               handlers: AppHandlers | None = None) -> Any:
    """Build the app's page (not launched).

    Args:
        styles: names for the style menu (default: every style the registry finds).
        examples: example image files (default: :func:`find_examples`).
        max_upload_mb: uploads above this are refused by the server (applied by :func:`launch_demo`).
        concurrency: how many requests run at once; the rest wait in the queue.
        queue_size: how many may wait; more are turned away with a message.
        default_style: the style selected at first (falls back to the first one).
        handlers: the request logic (default: :class:`AppHandlers` with the torch backend).

    Returns:
        A queued ``gr.Blocks``.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    handlers = handlers or AppHandlers()
    names = list(styles) if styles is not None else handlers.style_names()
    default = default_style if default_style in names else (names[0] if names else None)
    example_files = [str(p) for p in (find_examples() if examples is None else examples)]
    pair = handlers.mix_pair()  # a multi-style model: a slider between its first two styles

    def mix_of(style: str, t: float | None) -> str | None:
        return None if pair is None or t is None or style != pair[0] else f"{pair[1]}={1 - t:g},{pair[2]}={t:g}"

    def run_image(image: str | None, style: str, strength: float, head_only: bool,
                  t: float | None = None) -> tuple[Any, str]:
        try:
            out: ImageOutcome = handlers.stylize_image(image, style, strength, head_only, mix=mix_of(style, t))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message on the page
            raise _fail(exc) from None
        for notice in out.notices:
            gr.Info(notice)
        h, w = out.image.shape[:2]
        return out.image, _status(out.notices, f"Done: {w}×{h}, style {style}, strength {strength:g}.")

    def run_video(video: str | None, style: str, strength: float, head_only: bool, t: float | None = None,
                  progress: Any = gr.Progress()) -> tuple[str, str]:  # noqa: B008 - Gradio's idiom
        def report(done: int, total: int | None) -> None:
            progress((done, total), desc="stylizing frames", unit="frames")

        try:
            out = handlers.stylize_video(video, style, strength, head_only, progress=report, mix=mix_of(style, t))
        except Exception as exc:  # noqa: BLE001
            raise _fail(exc) from None
        for notice in out.notices:
            gr.Info(notice)
        count = f", {out.frames} frames" if out.frames is not None else ""
        return str(out.path), _status(out.notices, f"Done: {out.path.name}{count}.")

    limit = f"{max_upload_mb:g} MB"
    with gr.Blocks(title="toonforge", analytics_enabled=False) as demo:
        gr.Markdown("# toonforge\nTurn a portrait into a stylized portrait. Upload a photo or use "
                    f"the webcam, pick a style, press **Stylize**. Files up to {limit}.")
        with gr.Row():
            style_in = gr.Dropdown(names, value=default, label="Style", elem_id="style",
                                   info="shipped styles and yours ($TOONFORGE_STYLES, ~/.toonforge/styles)")
            strength_in = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Strength", elem_id="strength",
                                    info="0 = the photo unchanged, 1 = full style")
            head_in = gr.Checkbox(False, label="Head only", elem_id="head-only",
                                  info="show only the aligned, stylized face")
        mix_in = None
        if pair is not None:
            mix_in = gr.Slider(0.0, 1.0, value=0.0, step=0.05, label=f"Style mix: {pair[1]} ↔ {pair[2]}",
                               elem_id="mix", info=f"with style {pair[0]}: 0 = {pair[1]}, 1 = {pair[2]}")
        with gr.Tabs():
            with gr.Tab("Photo", id="photo"):
                with gr.Row():
                    image_in = path_image(sources=["upload", "webcam"], label="Portrait", elem_id="input-image")
                    image_out = gr.Image(label="Stylized", type="numpy", format="png", interactive=False,
                                         elem_id="output-image", buttons=["download", "fullscreen"])
                image_btn = gr.Button("Stylize", variant="primary", elem_id="run-image")
                if example_files:
                    gr.Examples([[f] for f in example_files], inputs=[image_in], label="Example portraits",
                                examples_per_page=MAX_EXAMPLES)
            with gr.Tab("Video", id="video"):
                with gr.Row():
                    video_in = gr.Video(sources=["upload"], label="Video", elem_id="input-video")
                    video_out = gr.Video(label="Stylized video", interactive=False, elem_id="output-video")
                video_btn = gr.Button("Stylize video", variant="primary", elem_id="run-video")
        status = gr.Markdown("", elem_id="status")

        controls = [style_in, strength_in, head_in, *([mix_in] if mix_in is not None else [])]
        # On failure the error shows as a message; the status line is cleared so it never shows
        # the previous request's "Done".
        image_btn.click(run_image, [image_in, *controls], [image_out, status], api_name="stylize_image") \
            .failure(lambda: "", None, status, queue=False, api_visibility="private")
        video_btn.click(run_video, [video_in, *controls], [video_out, status], api_name="stylize_video") \
            .failure(lambda: "", None, status, queue=False, api_visibility="private")

    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    demo.toonforge_max_upload_mb = max_upload_mb
    demo.toonforge_examples = example_files
    return demo


def launch_demo(demo: Any, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
                max_upload_mb: float | None = None, block: bool = True) -> Any:
    """Serve ``demo`` on ``host:port`` (a public share link only when ``share``).

    ``block=False`` returns right away with the server running in a background thread.
    """
    mb = max_upload_mb if max_upload_mb is not None else getattr(demo, "toonforge_max_upload_mb",
                                                                 DEFAULT_MAX_UPLOAD_MB)
    folders = sorted({str(Path(f).parent) for f in getattr(demo, "toonforge_examples", [])})
    return demo.launch(server_name=host, server_port=port, share=bool(share), inbrowser=False,
                       max_file_size=int(mb * 1024 * 1024), show_error=False, ssr_mode=False,
                       allowed_paths=folders or None, prevent_thread_lock=not block)
