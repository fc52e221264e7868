"""Per-class latent generators ("customised faces", method one of the reference): the file and sampling.

One safetensors file holds the frozen attribute classifier and one :class:`LatentGenerator` per class
(tensors ``classifier.*`` and ``class{i}.*``); the metadata names the classes, the networks' configs,
the StyleGAN2 generator they were trained for (its weight digest) and the training numbers. Sampling a
class: image ``i`` draws its noise (1, noise_dim) from ``torch.Generator().manual_seed(seed + i)`` on the
CPU, the class's network maps it to z, and the StyleGAN2 mapping network maps z to w.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, InputError, first_line
from ..io.checkpoints import read_formatted_safetensors
from ..io.files import atomic_output
from ..models.attributes import AttributeClassifier, LatentGenerator

FORMAT = "toonforge-latent-generator-1"


@dataclass
class LatentBundle:
    """A classifier and one latent generator per class (in ``classes`` order), in eval mode."""

    classifier: AttributeClassifier
    generators: dict[str, LatentGenerator]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return list(self.generators)

    def index(self, name: str) -> int:
        if name not in self.generators:
            raise InputError(f"class {name!r} is not in this latent generator (it has: {', '.join(self.classes)})")
        return self.classes.index(name)


def save_bundle(path: str | Path, bundle: LatentBundle) -> Path:
    """Write the bundle atomically as one ``.safetensors`` file."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise InputError(f"save the latent generator as a .safetensors file, got {path.name}")
    tensors = {f"classifier.{k}": v for k, v in bundle.classifier.state_dict().items()}
    for i, net in enumerate(bundle.generators.values()):
        tensors.update({f"class{i}.{k}": v for k, v in net.state_dict().items()})
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    first = next(iter(bundle.generators.values()))
    meta = {"format": FORMAT, "classes": json.dumps(bundle.classes), "classifier": json.dumps(bundle.classifier.config),
            "latent_generator": json.dumps(first.config), "info": json.dumps(bundle.info)}
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def load_bundle(path: str | Path) -> LatentBundle:
    """Read a file written by :func:`save_bundle` (one-line CheckpointError otherwise)."""
    path = Path(path)
    tensors, meta = read_formatted_safetensors(path, FORMAT, "latent generator")
    try:
        classes = list(json.loads(meta["classes"]))
        classifier = AttributeClassifier(**json.loads(meta["classifier"]))
        classifier.load_state_dict({k[len("classifier."):]: v for k, v in tensors.items()
                                    if k.startswith("classifier.")})
        gens = {}
        for i, name in enumerate(classes):
            net = LatentGenerator(**json.loads(meta["latent_generator"]))
            prefix = f"class{i}."
            net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
            gens[str(name)] = net.eval()
        info = json.loads(meta.get("info", "{}"))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path.name}: damaged latent generator ({first_line(exc)})") from None
    return LatentBundle(classifier.eval(), gens, info)


def class_noise(bundle: LatentBundle, n: int, seed: int) -> torch.Tensor:
    """(n, noise_dim) float32 on the CPU; row i from seed ``seed + i``."""
    dim = next(iter(bundle.generators.values())).noise_dim
    return torch.cat([torch.randn(1, dim, generator=torch.Generator().manual_seed(seed + i)) for i in range(n)]) \
        if n else torch.zeros(0, dim)


@torch.no_grad()
def class_codes(G, bundle: LatentBundle, name: str, n: int, seed: int = 0) -> torch.Tensor:
    """W+ codes (n, num_ws, D) of class ``name``: noise -> the class's z -> G's mapping network."""
    net = bundle.generators[bundle.classes[bundle.index(name)]]
    if net.style_dim != G.style_dim:
        raise InputError(f"this latent generator makes {net.style_dim}-d codes; the generator needs {G.style_dim}")
    device = next(G.parameters()).device
    z = net.to(device)(class_noise(bundle, n, seed).to(device))
    return G.to_wplus(G.style(z)).clone()
