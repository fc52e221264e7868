"""Shared fixtures: tiny seeded styles, synthetic faces, the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

# One OpenMP thread for torch here and in every CLI subprocess a test starts: the tests run tiny
# models, where a second thread gains little on 2 cores and, on a loaded machine, spins against
# the other processes (one trainer test took 147 s instead of 11.5 s). Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _private_onnx_cache(tmp_path_factory):
    """Styles exported to ONNX on first use (backend auto/onnx) go to a temp folder, not ~/.cache."""
    import os

    old = os.environ.get("TOONFORGE_CACHE")
    os.environ["TOONFORGE_CACHE"] = str(tmp_path_factory.mktemp("toonforge-cache"))
    yield
    if old is None:
        os.environ.pop("TOONFORGE_CACHE", None)
    else:
        os.environ["TOONFORGE_CACHE"] = old


def load_repo_file(relative: str):
    """Import a file of the repository that is not in the package (``scripts/``, ``examples/``)
    as a module, by its path relative to the repository root."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_data(sub: str) -> Path:
    """A folder under ../shared/data, or skip the test with the reason."""
    p = SHARED_DATA / sub
    if not p.is_dir():
        pytest.skip(f"needs the real data in {p} (absent on this machine)")
    return p


@pytest.fixture
def tiny_style(tmp_path: Path) -> Path:
    """A style folder with a seeded, untrained tiny translator (64 px heads). For tests only."""
    from toonforge.models.factory import create_model
    from toonforge.styles.style import NetSpec, StyleConfig, save_style

    torch.manual_seed(0)
    net = create_model("translator", tier="tiny")
    cfg = StyleConfig(name="tiny-test", head=NetSpec("translator", dict(net.config), 64), full_resolution=128)
    return save_style(tmp_path / "tiny-test", cfg, {"head": net}, "# tiny-test\n\nUntrained test style.\n")


def shipped_tiny_style(folder: Path, name: str) -> Path:
    """A seeded tiny-translator style folder (64 px heads) that ships its stamped ``head.onnx``, as a
    trained style does, so the runtime needs no PyTorch for it. For tests only (untrained)."""
    from toonforge.export.onnx_export import export_onnx
    from toonforge.models.factory import create_model
    from toonforge.styles.style import NetSpec, StyleConfig, save_style

    torch.manual_seed(0)
    net = create_model("translator", tier="tiny")
    cfg = StyleConfig(name=name, head=NetSpec("translator", dict(net.config), 64), full_resolution=128)
    style = save_style(folder / name, cfg, {"head": net}, f"# {name}\n\nUntrained test style.\n")
    export_onnx(net, style / "head.onnx")
    return style


@pytest.fixture
def small_model_cpu():
    """One torch thread and no oneDNN for tests of many tiny models (restored afterwards).

    oneDNN spends ~0.1 s preparing each new conv shape, and a second thread only adds contention
    on 2-core machines.
    """
    threads, onednn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = onednn


class FixedDetector:
    """A detector that always reports the given faces (so pipeline tests need no dlib)."""

    def __init__(self, faces):
        self.faces = faces

    def __call__(self, rgb):
        return list(self.faces)


class FacesOnlyOn(FixedDetector):
    """Reports its faces on one exact image and none on any other (a 'no face' input for tests)."""

    def __init__(self, faces, img):
        super().__init__(faces)
        self.img = img

    def __call__(self, rgb):
        return list(self.faces) if np.array_equal(rgb, self.img) else []


def synthetic_face(size: int = 200, seed: int = 0):
    """A smooth random image and a plausible 5-point landmark set for a face in its middle."""
    from toonforge.face.types import Face

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
    import cv2

    img = cv2.resize(base, (size, size), interpolation=cv2.INTER_CUBIC)
    s = size / 200
    lm = np.array([[80, 90], [120, 90], [100, 110], [85, 130], [115, 130]], np.float32) * s
    face = Face(box=np.array([60, 60, 140, 150], np.float32) * s, landmarks=lm, score=1.0)
    return img, face


@pytest.fixture
def face_image():
    """A 200 px synthetic face image and its Face (see :func:`synthetic_face`)."""
    return synthetic_face(200)
