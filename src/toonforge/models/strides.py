"""The size multiple each image-to-image network family needs, known without PyTorch.

The runtime pads an image to this multiple before an ONNX graph of the family and crops the
result back. Each family's class records the same number as its ``stride`` attribute (a test
keeps the two equal).
"""

from __future__ import annotations

MODEL_STRIDES: dict[str, int] = {
    "translator": 16,
    "translator-multi": 16,
    "ugatit_generator": 4,
    "texture_unet": 4,
    "resnet_generator": 4,
    "animeganv2": 4,
}


def model_stride(model: str) -> int:
    """The input multiple of registered family ``model`` (1 for a family that needs none)."""
    return MODEL_STRIDES.get(model, 1)
