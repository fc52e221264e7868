"""SLIC superpixels, flattening and the flat-fill target of the structure term."""

from __future__ import annotations

import pytest
import torch

from toonforge.errors import InputError
from toonforge.losses.structure import flat_fill_target, slic_labels, superpixel_flatten


def two_colours(h: int, w: int, edge: int) -> torch.Tensor:
    """(1, 3, h, w): red left of column ``edge``, blue from it on, in [-1, 1]."""
    x = torch.empty(1, 3, h, w)
    x[:, :, :, :edge] = torch.tensor([0.8, -0.6, -0.6]).view(1, 3, 1, 1)
    x[:, :, :, edge:] = torch.tensor([-0.7, -0.2, 0.9]).view(1, 3, 1, 1)
    return x


def test_labels_cover_the_grid_and_are_deterministic():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 48) * 2 - 1
    labels = slic_labels(x, cell=16)
    assert labels.shape == (2, 64, 48) and labels.dtype == torch.int64
    assert int(labels.min()) >= 0 and int(labels.max()) < 4 * 3
    assert torch.equal(labels, slic_labels(x.clone(), cell=16))


def test_flatten_keeps_edges_off_the_block_grid():
    # The edge at column 21 is not on the 16-px block grid: plain block means would smear it,
    # SLIC moves the segment boundary onto it and returns the picture exactly.
    x = two_colours(32, 48, edge=21)
    assert torch.allclose(superpixel_flatten(x, cell=16, compactness=0.05), x, atol=1e-6)
    blocky = torch.nn.functional.avg_pool2d(x, 16).repeat_interleave(16, 2).repeat_interleave(16, 3)
    assert (blocky - x).abs().max() > 0.5


def test_flatten_paints_segments_flat_and_keeps_each_images_mean():
    torch.manual_seed(1)
    x = (torch.rand(2, 3, 40, 40) * 2 - 1).double()  # 40 is not a multiple of the cell: padded grid
    y = superpixel_flatten(x, cell=8)
    assert y.shape == x.shape and y.dtype == x.dtype and not y.requires_grad
    labels = slic_labels(x, cell=8)
    for i in range(2):
        for k in labels[i].unique():
            seg = y[i][:, labels[i] == k]
            assert torch.allclose(seg, seg[:, :1].expand_as(seg))
    assert torch.allclose(y.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=1e-9)
    assert len(torch.unique(y[0].reshape(3, -1), dim=1).T) <= 25


def test_flatten_of_a_constant_image_is_itself_and_cuts_detail():
    flat = torch.full((1, 3, 32, 32), 0.3)
    assert torch.allclose(superpixel_flatten(flat, cell=8), flat)
    torch.manual_seed(2)
    grainy = flat + 0.05 * torch.randn(1, 3, 32, 32)
    assert superpixel_flatten(grainy, cell=8).std() < 0.3 * grainy.std()  # measured 0.15x


def test_flat_fill_target_keeps_pixels_darker_than_their_fill_and_flattens_the_rest():
    torch.manual_seed(4)
    x = (torch.full((1, 3, 32, 32), 0.4) + 0.3 * torch.randn(1, 3, 32, 32)).clamp(-1, 1)  # grainy, dark specks
    flat = superpixel_flatten(x, cell=16)
    drop = ((flat - x) * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(dim=1)  # (1, H, W)
    ink = drop > 0.2
    assert 0 < int(ink.sum()) < ink.numel() // 4
    target = flat_fill_target(x, cell=16, ink=0.2)
    assert torch.equal(target[0][:, ink[0]], x[0][:, ink[0]])
    assert torch.equal(target[0][:, ~ink[0]], flat[0][:, ~ink[0]])
    assert torch.equal(flat_fill_target(x, cell=16, ink=None), flat)
    with pytest.raises(InputError, match="ink"):
        flat_fill_target(x, ink=0.0)


def test_slic_gives_a_thin_strong_line_its_own_segment():
    torch.manual_seed(5)
    x = torch.full((1, 3, 32, 32), 0.6) + 0.03 * torch.randn(1, 3, 32, 32)
    x[:, :, 10, 4:28] = -0.8  # a 1-px outline through the middle of a block
    flat = superpixel_flatten(x, cell=16)
    assert (flat[:, :, 10, 4:28] - x[:, :, 10, 4:28]).abs().max() < 0.1


@pytest.mark.parametrize("kw, msg", [(dict(cell=1), "cell"), (dict(iters=0), "iterations"),
                                     (dict(compactness=-1.0), "compactness")])
def test_bad_settings_are_refused(kw, msg):
    with pytest.raises(InputError, match=msg):
        superpixel_flatten(torch.zeros(1, 3, 16, 16), **kw)


def test_grey_or_unbatched_input_is_refused():
    with pytest.raises(InputError, match=r"\(N, 3, H, W\)"):
        slic_labels(torch.zeros(1, 1, 16, 16))
    with pytest.raises(InputError, match=r"\(N, 3, H, W\)"):
        slic_labels(torch.zeros(3, 16, 16))
