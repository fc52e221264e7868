"""Image loading and saving: colour modes, alpha, orientation, limits, bad files."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import PIL
import pytest
from PIL import Image, ImageFile

from toonforge.errors import InputError
from toonforge.io.images import (
    IMAGE_EXTENSIONS,
    LoadedImage,
    halve,
    list_images,
    load_image,
    load_image_bytes,
    resize_rgb,
    save_image,
)


def _encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("mode", "value", "fmt", "expected"),
    [
        ("1", 1, "PNG", (255, 255, 255)),
        ("L", 128, "PNG", (128, 128, 128)),
        ("RGB", (10, 20, 30), "PNG", (10, 20, 30)),
        ("CMYK", (0, 255, 0, 0), "TIFF", (255, 0, 255)),
        ("CMYK", (0, 0, 0, 0), "JPEG", (255, 255, 255)),
        ("YCbCr", (128, 128, 128), "TIFF", (128, 128, 128)),
        ("I;16", 65535, "PNG", (255, 255, 255)),
        ("I;16", 32768, "TIFF", (128, 128, 128)),
        ("I;16B", 65535, "TIFF", (255, 255, 255)),
        ("I", 65535, "TIFF", (255, 255, 255)),
        ("I", 257 * 100, "TIFF", (100, 100, 100)),
        ("F", 0.5, "TIFF", (128, 128, 128)),
        ("F", 200.0, "TIFF", (200, 200, 200)),
        ("LAB", (255, 128, 128), "TIFF", (255, 255, 255)),
    ],
)
def test_modes_become_rgb(tmp_path: Path, mode: str, value: object, fmt: str,
                          expected: tuple[int, int, int]) -> None:
    path = _write(tmp_path, f"img.{fmt.lower()}", _encode(Image.new(mode, (5, 4), value), fmt))
    try:  # some Pillow releases write files they cannot read back (12.3: YCbCr TIFF)
        Image.open(path).load()
    except OSError as exc:
        pytest.skip(f"Pillow {PIL.__version__} cannot round-trip a {mode} {fmt}: {exc}")
    out = load_image(path)
    assert isinstance(out, LoadedImage)
    assert out.rgb.shape == (4, 5, 3) and out.rgb.dtype == np.uint8
    assert out.alpha is None
    assert out.path == path
    np.testing.assert_allclose(out.rgb[0, 0], expected, atol=1)


def test_palette_without_transparency() -> None:
    im = Image.new("P", (3, 2), 7)
    im.putpalette([0, 0, 0] * 7 + [200, 100, 50] + [0, 0, 0] * 248)
    out = load_image_bytes(_encode(im, "PNG"))
    assert out.alpha is None
    assert out.rgb[1, 2].tolist() == [200, 100, 50]


@pytest.mark.parametrize("kind", ["RGBA", "LA", "P-transparency", "PA"])
def test_alpha_is_kept(kind: str) -> None:
    if kind == "RGBA":
        im, rgb, alpha, fmt = Image.new("RGBA", (4, 3), (10, 20, 30, 77)), (10, 20, 30), 77, "PNG"
    elif kind == "LA":
        im, rgb, alpha, fmt = Image.new("LA", (4, 3), (90, 200)), (90, 90, 90), 200, "PNG"
    elif kind == "PA":
        im, rgb, alpha, fmt = Image.new("PA", (4, 3), (1, 50)), None, 50, "TIFF"
    else:
        im = Image.new("P", (4, 3), 1)
        im.putpalette([0, 0, 0, 250, 10, 10] + [0, 0, 0] * 254)
        im.putpixel((0, 0), 0)
        im.info["transparency"] = 0
        rgb, alpha, fmt = (250, 10, 10), None, "PNG"
    out = load_image_bytes(_encode(im, fmt))
    assert out.rgb.shape == (3, 4, 3)
    assert out.alpha is not None and out.alpha.shape == (3, 4) and out.alpha.dtype == np.uint8
    if kind == "P-transparency":
        assert out.alpha[0, 0] == 0 and out.alpha[1, 1] == 255
        assert out.rgb[1, 1].tolist() == [250, 10, 10]
    else:
        assert np.all(out.alpha == alpha)
        if rgb is not None:
            assert out.rgb[2, 3].tolist() == list(rgb)


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (6, 6), c) for c in [(255, 0, 0), (0, 0, 255)]]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = load_image_bytes(data, name="anim.gif")
    assert out.rgb.shape == (6, 6, 3)
    assert out.rgb[3, 3].tolist() == [255, 0, 0]


def test_exif_orientation_6_rotates(tmp_path: Path) -> None:
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    arr[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree clockwise turn
    path = _write(tmp_path, "rot.png", _encode(Image.fromarray(arr), "PNG", exif=exif))
    out = load_image(path).rgb
    assert out.shape == (40, 20, 3)
    # Turning clockwise brings the left half to the top.
    assert out[5, 10].tolist() == [255, 0, 0]
    assert out[35, 10].tolist() == [0, 0, 255]


def test_pixel_limit_checked_before_decoding(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.png", _encode(Image.new("RGB", (100, 60)), "PNG"))
    with pytest.raises(InputError, match=r"big\.png.*100×60 = 6,000 pixels.*5,000"):
        load_image(path, max_pixels=5000)
    assert load_image(path, max_pixels=6000).rgb.shape == (60, 100, 3)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header announces a size but which holds no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_huge_header_refused_by_our_limit(tmp_path: Path) -> None:
    path = _write(tmp_path, "bomb.png", _png_header_only(9000, 9000))
    with pytest.raises(InputError, match=r"bomb\.png.*9000×9000.*--max-pixels"):
        load_image(path)


def test_decompression_bomb_beyond_pillow_limit(tmp_path: Path) -> None:
    path = _write(tmp_path, "bomb2.png", _png_header_only(30000, 30000))
    with pytest.raises(InputError, match=r"bomb2\.png"):
        load_image(path, max_pixels=None)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files(tmp_path: Path, fmt: str) -> None:
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = _encode(noise, fmt)
    path = _write(tmp_path, f"cut.{fmt.lower()}", data[: len(data) // 2])
    with pytest.raises(InputError, match=rf"cannot read .*cut\.{fmt.lower()}: .*truncated"):
        load_image(path)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.jpg", b"", "empty"),
        ("notes.txt", b"hello, this is not a picture\n", "not an image"),
        ("fake.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "cannot read"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = _write(tmp_path, name, content)
    with pytest.raises(InputError) as info:
        load_image(path)
    message = str(info.value)
    assert name in message and reason in message and "\n" not in message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nothere\.jpg: no such file"):
        load_image(tmp_path / "nothere.jpg")
    folder = tmp_path / "folder.png"
    folder.mkdir()
    with pytest.raises(InputError, match=r"folder\.png: is a directory"):
        load_image(folder)


def test_bytes_errors_use_given_name() -> None:
    with pytest.raises(InputError, match="upload.jpg"):
        load_image_bytes(b"garbage", name="upload.jpg")
    with pytest.raises(InputError, match="empty"):
        load_image_bytes(b"")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".jpeg", ".webp", ".bmp", ".PNG"])
def test_save_and_reload(tmp_path: Path, ext: str) -> None:
    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[:, :12] = (200, 30, 60)
    alpha = np.full((16, 24), 128, np.uint8)
    path = save_image(tmp_path / "sub" / "dir" / f"out{ext}", rgb, alpha)
    assert path.is_file()
    back = load_image(path)
    lossless = ext.lower() in {".png", ".bmp"}
    if lossless:
        np.testing.assert_array_equal(back.rgb, rgb)
    else:  # away from the colour edge, where lossy codecs smear
        np.testing.assert_allclose(back.rgb[:, :8].astype(int), rgb[:, :8], atol=12)
        np.testing.assert_allclose(back.rgb[:, 16:].astype(int), rgb[:, 16:], atol=12)
    if ext.lower() in {".png", ".webp"}:
        assert back.alpha is not None and abs(int(back.alpha.mean()) - 128) <= 2
    else:
        assert back.alpha is None
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp files


def test_save_refuses_overwrite_and_unknown_extension(tmp_path: Path) -> None:
    rgb = np.full((4, 4, 3), 9, np.uint8)
    path = save_image(tmp_path / "a.png", rgb)
    with pytest.raises(InputError, match=r"a\.png already exists"):
        save_image(path, rgb + 1)
    assert load_image(path).rgb[0, 0, 0] == 9
    save_image(path, rgb + 1, overwrite=True)
    assert load_image(path).rgb[0, 0, 0] == 10
    with pytest.raises(InputError, match=r"unknown image extension '\.gifx'"):
        save_image(tmp_path / "b.gifx", rgb)
    with pytest.raises(ValueError):
        save_image(tmp_path / "c.png", rgb.astype(np.float32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_failed_save_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_save(self: Image.Image, fp: object, format: str | None = None,
                    **kw: object) -> None:
        fp.write(b"partial")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(InputError, match=r"cannot write .*x\.png: No space left"):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_list_images(tmp_path: Path) -> None:
    for name in ["b.JPG", "a.png", "c.txt", ".hidden.png", "sub/d.webp"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.JPG"]
    assert [p.name for p in list_images(tmp_path, recursive=True)] == ["a.png", "b.JPG", "d.webp"]
    assert ".png" in IMAGE_EXTENSIONS
    with pytest.raises(InputError, match="not a directory"):
        list_images(tmp_path / "a.png")


def test_resize_rgb() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    assert resize_rgb(rgb, (30, 20)).shape == (20, 30, 3)
    assert resize_rgb(rgb, (120, 80)).shape == (80, 120, 3)
    flat = np.full((10, 10, 3), 77, np.uint8)
    assert np.all(resize_rgb(flat, (3, 3)) == 77) and np.all(resize_rgb(flat, (31, 17)) == 77)


def test_halve_averages_2x2_blocks_and_replicates_odd_edges() -> None:
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (7, 10, 3), dtype=np.uint8)
    out = halve(img, 1)
    assert out.shape == (4, 5, 3)
    blocks = img[:6].reshape(3, 2, 5, 2, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(out[:3].astype(np.float64) - blocks).max() <= 0.5  # rounded means
    last = img[6].reshape(5, 2, 3).astype(np.float64).mean(axis=1)  # the odd row, doubled
    assert np.abs(out[3].astype(np.float64) - last).max() <= 0.5
    # twice = a quarter, sides rounded up; zero times = the image itself
    assert halve(img, 2).shape == (2, 3, 3) and halve(img, 0) is img
    # the pixel-centre map x_out = (x_in + 0.5) / 4 - 0.5: a bright 4x4 block at (8, 12) lands on (2, 3)
    spot = np.zeros((32, 32), np.uint8)
    spot[8:12, 12:16] = 200
    q = halve(spot, 2)
    assert q.shape == (8, 8) and q[2, 3] == 200 and q.sum() == 200
