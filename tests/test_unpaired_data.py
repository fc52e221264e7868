"""Unpaired two-domain data: lengths, value ranges, masks that follow their photo, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.errors import InputError
from toonforge.training.augment import AugmentConfig
from toonforge.training.unpaired_data import UnpairedFolders


def _folders(root, n_photos=3, n_styles=5, size=32):
    photos, styles, masks = root / "photos", root / "styles", root / "masks"
    for d in (photos, styles, masks):
        d.mkdir()
    for i in range(n_photos):
        img = np.zeros((size, size, 3), np.uint8)
        img[: size // 2] = 255  # white top half, black bottom half
        Image.fromarray(img).save(photos / f"p{i}.png")
        Image.fromarray(img[..., 0]).save(masks / f"p{i}.png")  # mask = the photo's white half
    for i in range(n_styles):
        Image.fromarray(np.full((size, size, 3), 40 * i, np.uint8)).save(styles / f"s{i}.png")
    return photos, styles, masks


def test_items_walk_the_larger_domain_with_masks_in_range(tmp_path):
    photos, styles, masks = _folders(tmp_path)
    data = UnpairedFolders(photos, styles, 16, mask_dir=masks)
    assert len(data) == 5
    item = data[4]
    assert item["photo"].shape == item["style"].shape == (3, 16, 16) and item["mask"].shape == (1, 16, 16)
    assert item["photo"].min() >= -1 and item["photo"].max() <= 1
    assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(IndexError):
        data[5]


def test_mask_gets_the_photo_geometry(tmp_path):
    photos, styles, masks = _folders(tmp_path)
    aug = AugmentConfig(flip=True, scale=(0.8, 1.2), rotate_deg=30.0, translate=0.1, color_jitter=0.0)
    data = UnpairedFolders(photos, styles, 32, aug, seed=3, mask_dir=masks)
    torch.manual_seed(0)
    for i in range(len(data)):
        item = data[i]
        white = (item["photo"][0] + 1) / 2  # photo red channel in [0, 1]
        assert torch.allclose(white, item["mask"][0], atol=2 / 255)


def test_missing_masks_and_folders_are_input_errors(tmp_path):
    photos, styles, masks = _folders(tmp_path)
    (masks / "p1.png").unlink()
    with pytest.raises(InputError, match="1 photos have no mask"):
        UnpairedFolders(photos, styles, 16, mask_dir=masks)
    with pytest.raises(InputError, match="style folder not found"):
        UnpairedFolders(photos, tmp_path / "nope", 16)
