"""The image stylization pipeline: ``Stylizer(style)(image) -> StylizeResult``.

Full-image mode (DCT-Net style): the whole frame goes through the style's full-image network
at its working resolution; every detected face is aligned FFHQ-style, stylized by the head
network at the head resolution, cleaned of ink strokes on the skin and reshaped if the style
says so (``face.skin``; ``face.reshape``: larger eyes, a narrower jaw), and pasted back through
a feathered mask with the inverse warp. Head-only mode returns the stylized aligned crops.
``strength`` blends toward the input and scales the reshape. A multi-style model runs a mix of
its styles (``mix``; :mod:`..styles.multi`) through the head and full-image networks alike.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..export.runtime import Runner
from ..face.align import AlignedFace, align_face, alignment_matrix
from ..face.detector import FaceDetector, create_detector
from ..face.frontend import DEFAULT_DETECTOR, detection_notices
from ..face.padding import crop_alpha
from ..face.paste import feather_mask, paste_back
from ..face.reshape import reshape_maps, warp_crop
from ..face.skin import clean_drawn_face
from ..face.types import Face
from ..io.images import LoadedImage, resize_rgb, scaled_size
from ..styles.multi import mix_vector, style_mix
from ..styles.post import PostSettings
from ..styles.registry import load_style
from ..styles.style import Style
from .backends import BACKENDS, make_runner, pick_backend
from .colour import face_weight, keep_colours
from .compose import compose, frame_layer, head_layer
from .tensors import blend, from_network, pad_to_multiple, to_network
from .upsample import MIN_SCALE, is_guided_head

__all__ = ["BACKENDS", "Stylizer", "StylizeResult"]
HEAD_CHUNK = 16  # most head crops per network call


@dataclass
class StylizeResult:
    """What one call returns.

    image: (H, W, 3) uint8, the stylized full frame (full-image mode), else None.
    alpha: (H, W) uint8 alpha of the input, carried through, or None.
    heads: stylized aligned face crops, each (S, S, 3) uint8 (both modes).
    faces: the detected faces, largest first.
    notices: human-readable remarks (e.g. no face found).
    head_alphas: head-only mode with an input alpha: each head's (S, S) uint8 alpha (the
        input's alpha under the crop, 0 where the crop runs past the photo), else empty.
    """

    image: np.ndarray | None
    alpha: np.ndarray | None
    heads: list[np.ndarray]
    faces: list[Face]
    notices: list[str] = field(default_factory=list)
    head_alphas: list[np.ndarray] = field(default_factory=list)


class Stylizer:
    """Stylize photos with a style from the registry (or a style folder path).

    Args:
        style: style name, folder path, or a loaded :class:`Style`.
        backend: "auto" (ONNX Runtime for a network style on the CPU, else PyTorch; see
            :mod:`.backends`), "torch" or "onnx". Pre- and post-processing are the same.
            ``self.backend`` is the engine in use; if ``auto`` could not use ONNX Runtime
            (e.g. a broken ONNX file) it falls back to PyTorch and says why in
            ``self.setup_notices``.
        device: "cpu" or "cuda".
        detector: detector name, a detector object, or None to skip face handling.
        threads: intra-op threads for ONNX Runtime (None: its default).
        mix: a multi-style model's mix, ``{"anime": 0.7, "cartoon": 0.3}`` or ``"anime=0.7,cartoon=0.3"``
            (default: the style it was loaded as, or its first); InputError for a single-style model.
            :meth:`mixed` gives the same networks with another mix.

    Attribute ``upsample``: "guided" (default; frames and heads at least 1.5x their working
    resolution are upsampled guided by the photo, :mod:`.upsample`) or "bilinear" (plain
    interpolation, the earlier output). Attribute ``keep_colours``: in [0, 1], the share of
    the photo's coarse colours kept on each face (:mod:`.colour`; hair, background and the
    frame keep the style's colours), with
    ``keep_colours_lift`` L* added to the kept lightness and ``keep_colours_chroma`` of it
    applied to chroma; defaults from the style's config. ``reshape`` and ``clean_skin``: the face
    reshape and ink-stroke cleanup applied, from the config too. For a multi-style model all five
    come from its styles' own settings blended by ``mix`` (the checked mix, name -> weight; the
    networks get it as ``style_vector``, (S,) float32).
    """

    upsample = "guided"

    def __init__(self, style: str | Path | Style = "classic", *, backend: str = "auto",
                 device: str = "cpu", detector: str | FaceDetector | None = DEFAULT_DETECTOR,
                 threads: int | None = None, mix: dict[str, float] | str | None = None) -> None:
        if backend not in BACKENDS:
            raise InputError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.style = style if isinstance(style, Style) else load_style(style)
        self.requested = backend
        self.backend = pick_backend(backend, self.style, device)
        self.device, self.threads = device, threads
        self.setup_notices: list[str] = []
        self.detector = create_detector(detector) if isinstance(detector, str) else detector
        self._runners: dict[str, Runner] = {}
        self._masks: dict[int, np.ndarray] = {}
        self._set_mix(mix)
        if self.style.config.kind in ("network", "onnx"):  # fail early on a broken style
            self._runner("head")

    def _set_mix(self, mix: dict[str, float] | str | None) -> None:
        """The mix and, from it (or the single style's config), the post-processing settings."""
        self.mix, post = style_mix(self.style, mix)
        names = [e.name for e in self.style.config.styles or []]
        self.style_vector = mix_vector(self.mix, names) if self.mix is not None else None
        post.apply_to(self)

    def mixed(self, mix: dict[str, float] | str | None) -> Stylizer:
        """This stylizer (the same networks, detector and backend) with another mix of a multi-style
        model's styles, and the settings blended for it (cheap: for a request, or a slider)."""
        other = copy.copy(self)
        other._set_mix(mix)
        return other

    def with_post(self, post: PostSettings) -> Stylizer:
        """This stylizer (the same networks) with other post-processing settings (a video
        student running its teacher's: :func:`.video.video_style`)."""
        other = copy.copy(self)
        post.apply_to(other)
        return other

    # ---- networks ------------------------------------------------------------------------
    def _runner(self, role: str) -> Runner:
        if self.style.config.kind == "onnx":  # an imported graph: its own runner, no PyTorch
            if role not in self._runners:
                from .onnx_graph import graph_runner

                self._runners[role] = graph_runner(self.style, role, self.device, self.threads)
            return self._runners[role]
        key = "full" if role == "full" and self.style.config.full else "head"
        if key not in self._runners:
            self._runners[key], self.backend = make_runner(self.style, key, self.backend, self.requested,
                                                           self.device, self.threads, self.setup_notices)
        return self._runners[key]

    def wrap_runners(self, wrap: Callable[[str, Runner], Runner]) -> None:
        """Build each network's runner now and replace it by ``wrap(role, runner)``.

        The server uses this to batch network calls across concurrent requests; pre- and
        post-processing stay the pipeline's own. A filter style has no network (nothing to wrap).
        """
        if self.style.config.kind != "network":
            return
        for role in ("head", "full") if self.style.config.full else ("head",):
            self._runners[role] = wrap(role, self._runner(role))

    def _translate(self, role: str, images: list[np.ndarray]) -> list[np.ndarray]:
        """Run same-size uint8 (H, W, 3) images through the ``role`` network (or the filter)."""
        if self.style.config.kind == "filter":
            from ..filters.cartoon import cartoonize

            return [cartoonize(im) for im in images]
        runner = self._runner(role)
        padded = [pad_to_multiple(im, runner.stride)[0] for im in images]
        h, w = images[0].shape[:2]
        vr = self.style.config.value_range  # the network's input and output range
        x = to_network(padded, vr)
        y = runner(x) if self.style_vector is None else runner(x, self.style_vector)
        return [o[:h, :w] for o in from_network(y, vr)]

    def _translate_chunked(self, role: str, images: list[np.ndarray]) -> list[np.ndarray]:
        """:meth:`_translate` in chunks of at most ``HEAD_CHUNK`` images (bounded memory)."""
        out: list[np.ndarray] = []
        for i in range(0, len(images), HEAD_CHUNK):
            out += self._translate(role, images[i:i + HEAD_CHUNK])
        return out

    def _mask(self, size: int) -> np.ndarray:
        if size not in self._masks:
            self._masks[size] = feather_mask(size)
        return self._masks[size]

    @property
    def head_resolution(self) -> int:
        return self.style.spec("head").resolution if self.style.config.kind != "filter" else 512

    # ---- the pipeline --------------------------------------------------------------------
    def __call__(self, image: np.ndarray | LoadedImage, *, strength: float = 1.0,
                 head_only: bool = False, size: int | None = None,
                 faces: list[Face] | None = None) -> StylizeResult:
        """Stylize one image.

        Args:
            image: (H, W, 3) uint8 RGB, or a LoadedImage (its alpha is carried through).
            strength: in [0, 1]; 1 = full style, 0 = the input unchanged.
            head_only: return only the stylized aligned faces (``result.image`` is None).
            size: full-image mode: long side of the output (default: the input's size);
                head-only: side of the square face crops (default: the head resolution).
            faces: faces to use instead of running the detector (e.g. tracked and smoothed
                faces of a video frame), in pixels of ``image``.
        """
        alpha = image.alpha if isinstance(image, LoadedImage) else None
        rgb = image.rgb if isinstance(image, LoadedImage) else image
        self._check(rgb, strength)
        if size is not None and not 16 <= size <= 8192:
            raise InputError(f"size must be in 16..8192, got {size}")
        result = self._stylize([rgb], [self._faces(rgb, faces)], strength, head_only)[0]
        if faces is None:  # what the detector saw but did not return (e.g. faces under its minimum)
            result.notices += detection_notices(self.detector)
        if head_only:
            res = self.head_resolution
            if alpha is not None:
                result.head_alphas = [crop_alpha(alpha, alignment_matrix(f.landmarks, size or res), size or res)
                                      for f in result.faces]
            if size and size != res:
                result.heads = [resize_rgb(h, (size, size)) for h in result.heads]
            return result
        result.alpha = alpha
        if size:
            h0, w0 = rgb.shape[:2]
            new = scaled_size(w0, h0, size)
            result.image = resize_rgb(result.image, new)
            result.alpha = resize_rgb(alpha, new) if alpha is not None else None
        return result

    def stylize_batch(self, frames: list[np.ndarray], faces: list[list[Face]], *, strength: float = 1.0,
                      head_only: bool = False) -> list[StylizeResult]:
        """Stylize several same-size frames (e.g. of a video) with given faces, batched.

        The full-image network runs once on the stacked frames and the head network on every
        face crop of every frame together (in chunks of at most ``HEAD_CHUNK``); the results
        equal per-frame calls ``self(frame, faces=f, ...)`` up to float rounding.

        Args:
            frames: (H, W, 3) uint8 RGB images, all of the same size.
            faces: for each frame, the faces to use (no detection runs here).
            strength, head_only: as in :meth:`__call__`.
        """
        if len(frames) != len(faces):
            raise ValueError(f"got {len(frames)} frames but {len(faces)} face lists")
        for rgb in frames:
            self._check(rgb, strength)
        if frames and any(f.shape != frames[0].shape for f in frames):
            raise InputError("stylize_batch needs frames of one size")
        return self._stylize(list(frames), [list(f) for f in faces], strength, head_only)

    def stylize_crops(self, crops: list[np.ndarray], *, strength: float = 1.0, role: str = "head") -> list[np.ndarray]:
        """Run square (S, S, 3) uint8 crops (any S, all alike) through the head network (``role="full"``:
        the full-image network, as the frame would go).

        Returns (S, S, 3) uint8 crops blended toward the input by ``strength``; used by the
        video pipeline's head-only mode for frames without a face, and by ``distill`` for a teacher.
        """
        if not crops:
            return []
        for c in crops:
            self._check(c, strength)
        return [blend(c, h, strength) for c, h in zip(crops, self._translate_chunked(role, crops))]

    @staticmethod
    def _check(rgb: np.ndarray, strength: float) -> None:
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise InputError(f"expected an (H, W, 3) uint8 image, got {getattr(rgb, 'dtype', type(rgb))} "
                             f"{getattr(rgb, 'shape', '')}")
        if not 0.0 <= strength <= 1.0:
            raise InputError(f"strength must be in [0, 1], got {strength}")

    def _faces(self, rgb: np.ndarray, faces: list[Face] | None) -> list[Face]:
        if faces is not None:
            return list(faces)
        return self.detector(rgb) if self.detector is not None else []

    def _stylize(self, frames: list[np.ndarray], faces: list[list[Face]], strength: float,
                 head_only: bool) -> list[StylizeResult]:
        """The shared body of ``__call__`` and ``stylize_batch`` (inputs already checked)."""
        res = self.head_resolution
        aligned = [[align_face(rgb, f.landmarks, res) for f in fs] for rgb, fs in zip(frames, faces)]
        flat = [a.crop for per_frame in aligned for a in per_frame]
        flat_heads = iter(self._translate_chunked("head", flat) if flat else [])
        heads = [[next(flat_heads) for _ in per_frame] for per_frame in aligned]
        width = self.clean_skin
        if width and strength > 0:  # the style's own post-process: ink strokes off the skin
            heads = [[clean_drawn_face(h, a.crop, a.landmarks_in_crop, width) for h, a in zip(hs, al)]
                     for hs, al in zip(heads, aligned)]
        if self.keep_colours > 0 and strength > 0:  # the photo's skin tone and coarse colours
            k, w = self.keep_colours, face_weight(res)
            opts = dict(lift=self.keep_colours_lift, chroma=self.keep_colours_chroma, weight=w)
            heads = [[keep_colours(h, a.crop, k, **opts) for h, a in zip(hs, al)]
                     for hs, al in zip(heads, aligned)]
        # The style's reshape (at the given strength) moves the stylized face and, so that a
        # partial strength does not show the photo's own eyes through, the photo under it.
        reshape = self.reshape
        spec = reshape.scaled(strength) if reshape is not None and strength > 0 else None
        bases = [[a.crop for a in al] for al in aligned]  # what each stylized face is blended with
        reshaping = spec is not None and not spec.is_identity
        warped_base = reshaping and strength < 1
        if reshaping:
            maps = [[reshape_maps(a.landmarks_in_crop, res, spec) for a in al] for al in aligned]
            heads = [[warp_crop(h, m) for h, m in zip(hs, ms)] for hs, ms in zip(heads, maps)]
            if warped_base:
                bases = [[warp_crop(b, m) for b, m in zip(bs, ms)] for bs, ms in zip(bases, maps)]
        no_face = "no face found" + ("" if head_only else "; stylized the full image only")
        notices = [[] if fs or self.detector is None else [no_face] for fs in faces]
        if head_only:
            return [StylizeResult(None, None, [blend(b, h, strength) for b, h in zip(bs, hs)], fs, ns)
                    for bs, hs, fs, ns in zip(bases, heads, faces, notices)]
        lows = self._full_frames(frames) if strength > 0 else [None] * len(frames)
        maps = maps if reshaping else [[None] * len(al) for al in aligned]
        results = []
        for rgb, low, al, bs, hs, ms, fs, ns in zip(frames, lows, aligned, bases, heads, maps, faces, notices):
            base = rgb
            out = self._compose(rgb, low, al, hs, ms) if low is not None else rgb
            if warped_base:
                for b, a in zip(bs, al):
                    base = paste_back(base, b, a.inverse, self._mask(res))
            # Blending the finished frame (not each part) keeps strength 0 an exact identity.
            out = blend(base, out, strength)
            results.append(StylizeResult(out, None, [blend(b, h, strength) for b, h in zip(bs, hs)], fs, ns))
        return results

    def _compose(self, rgb: np.ndarray, low: tuple[np.ndarray, np.ndarray | None], aligned: list[AlignedFace],
                 heads: list[np.ndarray], maps: list) -> np.ndarray:
        """The frame (its stylization ``low`` = (output, guide or None) at the working resolution)
        with every stylized head pasted, at the photo's size, in one pass (:mod:`.compose`).

        A head is guided when its footprint is at least ``MIN_SCALE`` times its crop (else plain
        bilinear); ``maps`` are the heads' reshape maps (None: not reshaped), which move the
        guide with the reshaped features."""
        h, w = rgb.shape[:2]
        mask = self._mask(self.head_resolution)
        layers = []
        for a, head, m in zip(aligned, heads, maps):
            if self.upsample == "guided" and is_guided_head(a):
                guide = a.crop if m is None else warp_crop(a.crop, m)
                layers.append(head_layer(head, guide, a.inverse, mask, m))
            else:
                layers.append(head_layer(head, None, a.inverse, mask))
        return compose(rgb, frame_layer(low[0], low[1], (w, h)), layers)

    def _full_frames(self, frames: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Same-size frames through the full-image network at its working resolution, together.

        Returns, per frame, the stylization at that resolution and the photo it saw when the
        upscale to the frame is guided (else None: plain bilinear, or no upscale at all)."""
        h, w = frames[0].shape[:2]
        work = self.style.config.full_resolution
        small_size = scaled_size(w, h, work)
        smalls = [resize_rgb(rgb, small_size) for rgb in frames] if work < max(h, w) else frames
        styl = self._translate("full", smalls)
        guided = styl[0].shape[:2] != (h, w) and self.upsample == "guided" and max(h, w) >= MIN_SCALE * work
        return [(s, small if guided else None) for s, small in zip(styl, smalls)]
