"""Training latent generators against a classifier (customised faces, method one of the reference).

1. An :class:`~toonforge.models.attributes.AttributeClassifier` is trained on labelled photos (a label file
   ``name,class``; images centre-cropped to squares at the generator's size, mirrored at random), with a
   seeded hold-out split for its validation accuracy.
2. For each class, with the StyleGAN2 generator and the classifier frozen, a small
   :class:`~toonforge.models.attributes.LatentGenerator` maps noise to z so that the images score high:
   ``loss = CE(classifier(G(mapping(f(noise)))), class) + lambda_diversity * D + lambda_prior * P``, where
   ``D = -mean_i log min_j |z_i - z_j|`` (a nearest-neighbour entropy estimate: the reference asks for z
   of high entropy, so one face is not all it finds) and ``P`` pulls the batch's per-entry mean to 0 and
   variance to 1 (z stays where the mapping network was trained).

The score of a class is the classifier's softmax probability of it; the numbers recorded compare the
class's own samples with random z samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..models.attributes import AttributeClassifier, LatentGenerator
from ..models.stylegan2 import Generator
from ..stylegan.editing import label_rows
from ..stylegan.inversion import frozen
from ..stylegan.latent_classes import LatentBundle

Say = Callable[[str], None]


@dataclass
class LatentTrainConfig:
    """classifier_steps, classifier_lr, classifier_width: the classifier; steps, lr, noise_dim, hidden: each
    class's latent generator; batch_size: both; lambda_diversity, lambda_prior: see the module notes;
    val_fraction: share of the labelled images held out; eval_samples: images per score measurement."""

    classifier_steps: int = 300
    classifier_lr: float = 2e-3
    classifier_width: int = 16
    steps: int = 200
    lr: float = 1e-3
    noise_dim: int = 64
    hidden: int = 128
    batch_size: int = 16
    lambda_diversity: float = 0.1
    lambda_prior: float = 1.0
    val_fraction: float = 0.2
    eval_samples: int = 128
    seed: int = 0

    def validate(self) -> None:
        ok = (self.classifier_steps >= 1 and self.steps >= 1 and self.batch_size >= 2 and self.noise_dim >= 1
              and self.hidden >= 1 and self.lr > 0 and self.classifier_lr > 0 and self.lambda_diversity >= 0
              and self.lambda_prior >= 0 and 0 <= self.val_fraction < 1 and self.eval_samples >= 1)
        if not ok:
            raise InputError(f"unusable latent-generator training settings: {asdict(self)}")


def read_class_labels(path: str | Path) -> dict[str, str]:
    """A label file: CSV rows ``name,class`` (name = image file stem; a header row ``name,...`` is skipped)."""
    out = {name: value for i, name, value in label_rows(path)
           if not (i == 1 and name.lower() in ("name", "file", "image"))}
    if not out:
        raise InputError(f"{Path(path).name} holds no labels")
    return out


def labelled_images(folder: str | Path, labels: dict[str, str], size: int
                    ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(images (N, 3, size, size) in [-1, 1], class indices (N,), class names sorted) of the labelled files."""
    from .paired_data import to_tensor
    from .unpaired_data import DomainFolder

    data = DomainFolder(folder, size, names=list(labels), label="labelled")
    classes = sorted({labels[s] for s in data.stems})
    if len(classes) < 2:
        raise InputError(f"the labelled images in {folder} have {len(classes)} class(es); need at least 2")
    counts = {c: sum(labels[s] == c for s in data.stems) for c in classes}
    if min(counts.values()) < 2:
        raise InputError(f"every class needs at least 2 images, got {counts}")
    x = torch.stack([to_tensor(data.image(i)) for i in range(len(data))])
    y = torch.tensor([classes.index(labels[s]) for s in data.stems])
    return x, y, classes


def train_classifier(x: torch.Tensor, y: torch.Tensor, num_classes: int, cfg: LatentTrainConfig,
                     say: Say = lambda m: None) -> tuple[AttributeClassifier, float]:
    """Fit the classifier on (x, y) minus a seeded hold-out split; returns (net in eval mode, val accuracy
    (NaN without a hold-out)). Class-balanced sampling, random mirroring."""
    gen = torch.Generator().manual_seed(cfg.seed)
    perm = torch.randperm(x.shape[0], generator=gen)
    n_val = int(round(cfg.val_fraction * x.shape[0]))
    val, tr = perm[:n_val], perm[n_val:]
    torch.manual_seed(cfg.seed)
    net = AttributeClassifier(x.shape[-1], num_classes, cfg.classifier_width)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.classifier_lr)
    weights = torch.bincount(y[tr], minlength=num_classes).float().clamp_min(1).reciprocal()[y[tr]]
    net.train()
    for step in range(cfg.classifier_steps):
        idx = tr[torch.multinomial(weights, cfg.batch_size, replacement=True, generator=gen)]
        xb = x[idx]
        flip = torch.rand(xb.shape[0], generator=gen) < 0.5
        xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
        loss = F.cross_entropy(net(xb), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            say(f"classifier step {step + 1}/{cfg.classifier_steps}: loss {float(loss):.3f}")
    net.eval()
    acc = float("nan")
    if n_val:
        with torch.no_grad():
            acc = float((net(x[val]).argmax(1) == y[val]).float().mean())
    return net, acc


def diversity_loss(z: torch.Tensor) -> torch.Tensor:
    """``-mean_i log min_{j != i} |z_i - z_j|`` for z (B, D), B >= 2: lower when the codes spread out."""
    d = torch.cdist(z, z) + torch.eye(z.shape[0], device=z.device) * 1e6
    return -torch.log(d.min(dim=1).values.clamp_min(1e-6)).mean()


def prior_loss(z: torch.Tensor) -> torch.Tensor:
    """Squared distance of the batch's per-entry mean from 0 and variance from 1, averaged over entries."""
    return (z.mean(0).pow(2) + (z.var(0) - 1).pow(2)).mean()


@torch.no_grad()
def class_score(G: Generator, classifier: AttributeClassifier, z: torch.Tensor, cls: int, batch: int = 32) -> float:
    """Mean softmax probability of class ``cls`` over G's images of z (N, style_dim), with fixed noise."""
    noise = G.make_noise(0)
    probs = [F.softmax(classifier(G.synthesis(G.style(z[i:i + batch]), noise=noise)), 1)[:, cls]
             for i in range(0, z.shape[0], batch)]
    return float(torch.cat(probs).mean())


def train_class_generator(G: Generator, classifier: AttributeClassifier, cls: int, cfg: LatentTrainConfig,
                          say: Say = lambda m: None) -> LatentGenerator:
    """One class's latent generator, trained with G and the classifier frozen (see the module notes)."""
    torch.manual_seed(cfg.seed + 1000 * (cls + 1))
    net = LatentGenerator(cfg.noise_dim, G.style_dim, cfg.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    noise = G.make_noise(cfg.seed)
    target = torch.full((cfg.batch_size,), cls, dtype=torch.long)
    with frozen(G), frozen(classifier):
        for step in range(cfg.steps):
            z = net(torch.randn(cfg.batch_size, cfg.noise_dim))
            logits = classifier(G.synthesis(G.style(z), noise=noise))
            ce = F.cross_entropy(logits, target)
            loss = ce + cfg.lambda_diversity * diversity_loss(z) + cfg.lambda_prior * prior_loss(z)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if (step + 1) % 50 == 0:
                say(f"class {cls} step {step + 1}/{cfg.steps}: cross-entropy {float(ce):.3f}, loss {float(loss):.3f}")
    return net.eval()


def train_latent_generators(G: Generator, images: str | Path, labels: str | Path, cfg: LatentTrainConfig,
                            say: Say = lambda m: None) -> LatentBundle:
    """Classifier, then one latent generator per class; ``bundle.info`` records the settings and, per class,
    the mean score of its samples and of random samples (``eval_samples`` each, seeds fixed)."""
    from ..stylegan.latent_classes import class_noise

    cfg.validate()
    G = G.eval()
    x, y, classes = labelled_images(images, read_class_labels(labels), G.size)
    say(f"{x.shape[0]} labelled images, classes {classes}")
    classifier, val_acc = train_classifier(x, y, len(classes), cfg, say)
    say(f"classifier validation accuracy {val_acc:.3f}")
    gens: dict[str, LatentGenerator] = {}
    scores: dict[str, dict[str, float]] = {}
    z_random = G.sample_z(cfg.eval_samples, seed=cfg.seed + 7)
    for i, name in enumerate(classes):
        net = train_class_generator(G, classifier, i, cfg, say)
        gens[name] = net
        bundle = LatentBundle(classifier, {name: net})
        with torch.no_grad():
            z = net(class_noise(bundle, cfg.eval_samples, cfg.seed + 99))
        scores[name] = {"own": class_score(G, classifier, z, i), "random": class_score(G, classifier, z_random, i)}
        say(f"class {name!r}: score of its samples {scores[name]['own']:.3f}, of random samples "
            f"{scores[name]['random']:.3f}")
    info = {"config": asdict(cfg), "classifier_val_accuracy": val_acc, "scores": scores,
            "counts": {c: int((y == k).sum()) for k, c in enumerate(classes)}, "space": "z"}
    return LatentBundle(classifier, gens, info)
