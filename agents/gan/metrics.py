"""How close generated textures are to real ones: an honest figure with baselines.

Every set of textures is compared with a *held-out* set of real crops (pixels the GAN
never trained on, ``agents.gan.data``) by three numbers:

* **KID** (kernel inception distance, Binkowski et al. 2018: unbiased MMD^2 with a cubic
  polynomial kernel, averaged over random subsets) on the features of a fixed, seeded
  random-weight CNN (per-channel means and standard deviations of four conv layers: a
  texture descriptor that needs no pretrained download). Reported x 1000; 0 = same
  distribution.
* **colour W1**: 1-D Wasserstein distance between pixel values, averaged over R, G, B (grey
  levels, 0-255).
* **gradient W1**: the same between per-pixel gradient magnitudes of the grey image (edge
  strength and sharpness).
* **C2ST accuracy** (classifier two-sample test, Lopez-Paz & Oquab 2017): a small CNN is
  trained to tell the set from held-out crops on half of each and scored on the other half;
  0.5 = indistinguishable, 1.0 = always told apart.

Two baselines frame the GAN's figure: the procedural textures of the randomizers (flat,
checker, gradient, stripes, noise: what DR uses without photos) and real crops from the
train split (the floor a perfect generator would reach: same photos, different pixels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agents.gan.data import CropConfig, ImageCrops
from agents.training import FitConfig, fit
from randomizers.gan_generator import (
    load_generator,
    read_checkpoint,
    sample_textures,
    single_thread,
)
from randomizers.texture_sources import PROCEDURAL, procedural

MIN_NUM = 20
"""fewest textures per set that :func:`quality_report` scores"""


@dataclass(frozen=True)
class Distances:
    """One set of textures against the held-out real crops."""

    name: str
    kid: float  # x 1000
    kid_std: float  # x 1000, over subsets
    color_w1: float
    gradient_w1: float
    c2st: float  # held-out accuracy of a classifier telling the set from real crops


class RandomFeatures(nn.Module):
    """A fixed random-weight CNN (seeded); features are per-channel mean and std of every
    layer's activations."""

    def __init__(self, seed: int = 0, widths: tuple[int, ...] = (32, 64, 128, 256)) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        layers, c = [], 3
        for k, w in enumerate(widths):
            with torch.random.fork_rng(devices=[]):  # the default init, overwritten below
                conv = nn.Conv2d(c, w, 3 if k == 0 else 4, 1 if k == 0 else 2, 1, bias=False)
            with torch.no_grad():  # He initialization
                conv.weight.normal_(0.0, (2.0 / (c * conv.kernel_size[0] ** 2)) ** 0.5, generator=g)
            layers.append(conv)
            c = w
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for conv in self.layers:
            x = torch.relu(conv(x))
            out += [x.mean(dim=(2, 3)), x.std(dim=(2, 3))]
        return torch.cat(out, dim=1)


def feature_blocks(widths: tuple[int, ...] = (32, 64, 128, 256)) -> list[int]:
    """Sizes of the feature blocks (means, then stds, of each layer)."""
    return [w for w in widths for _ in range(2)]


def normalizer(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) standardizing features by the reference: per-dimension mean, one scale
    per block (its RMS standard deviation), so a dimension that barely varies in the
    reference cannot blow up the distances."""
    mean = reference.mean(axis=0)
    scales, start = [], 0
    for size in feature_blocks():
        block = reference[:, start : start + size]
        rms = float(np.sqrt(np.mean(block.var(axis=0)))) + 1e-8
        scales.append(np.full(size, rms))
        start += size
    return mean, np.concatenate(scales)


def features(images: np.ndarray, seed: int = 0, batch: int = 128) -> np.ndarray:
    """(n, h, w, 3) uint8 -> (n, d) float64 random-CNN features."""
    net = RandomFeatures(seed).eval()
    out = []
    with single_thread(), torch.no_grad():
        for s in range(0, len(images), batch):
            x = torch.from_numpy(np.ascontiguousarray(images[s : s + batch])).permute(0, 3, 1, 2)
            out.append(net(x.float() / 127.5 - 1.0).double().numpy())
    return np.concatenate(out)


def kid(
    x: np.ndarray, y: np.ndarray, subsets: int = 50, subset_size: int = 500, seed: int = 0
) -> tuple[float, float]:
    """Unbiased MMD^2 with kernel (x.y / d + 1)^3, mean and std over random subsets."""
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(x), len(y))
    d = x.shape[1]
    values = []
    for _ in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        kxx, kyy, kxy = ((a @ a.T) / d + 1) ** 3, ((b @ b.T) / d + 1) ** 3, ((a @ b.T) / d + 1) ** 3
        off = m * (m - 1)
        values.append(
            (kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off
            - 2 * kxy.mean()
        )  # fmt: skip
    return float(np.mean(values)), float(np.std(values))


def w1(a: np.ndarray, b: np.ndarray, quantiles: int = 2000) -> float:
    """1-D Wasserstein distance between two samples (via matched quantiles)."""
    q = (np.arange(quantiles) + 0.5) / quantiles
    return float(np.mean(np.abs(np.quantile(a, q) - np.quantile(b, q))))


def gradient_magnitude(images: np.ndarray) -> np.ndarray:
    """Per-pixel gradient magnitude of the grey images (central differences), flattened."""
    grey = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    gy, gx = np.gradient(grey, axis=(1, 2))
    return np.hypot(gx, gy).ravel()


def reset_parameters(net: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialization of every convolution and linear layer (Kaiming
    uniform weights, uniform biases in +-1/sqrt(fan_in)), drawn from ``generator``."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    bound = 1.0 / math.sqrt(m.weight[0].numel())
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)


def c2st_accuracy(a: np.ndarray, b: np.ndarray, seed: int = 0, epochs: int = 10) -> float:
    """Accuracy, on held-out halves, of a small CNN trained to tell images ``a`` from ``b``
    ((n, h, w, 3) uint8 each); 0.5 means the two sets cannot be told apart."""
    n = min(len(a), len(b))
    rng = np.random.default_rng([seed, 7])
    pa, pb = rng.permutation(len(a))[:n], rng.permutation(len(b))[:n]
    half = n // 2
    x = torch.from_numpy(np.concatenate([a[pa], b[pb]])).permute(0, 3, 1, 2).float() / 127.5 - 1
    y = torch.cat([torch.zeros(n), torch.ones(n)])
    train = torch.from_numpy(np.concatenate([np.arange(half), n + np.arange(half)]))
    test = torch.from_numpy(np.concatenate([np.arange(half, n), n + np.arange(half, n)]))
    with torch.random.fork_rng(devices=[]):  # the default init, redrawn below
        net = nn.Sequential(
            nn.Conv2d(3, 16, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(16, 32, 4, 2, 1),
            nn.LeakyReLU(0.2), nn.Conv2d(32, 64, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 1),
        )  # fmt: skip
    reset_parameters(net, torch.Generator().manual_seed(seed))
    with single_thread():
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        fit(
            net,
            lambda idx, _: nn.functional.binary_cross_entropy_with_logits(
                net(x[train[idx]]).flatten(), y[train[idx]]
            ),
            len(train),
            FitConfig(batch_size=64, epochs=epochs, desc="c2st"),
            gen=torch.Generator().manual_seed(seed),
            optimizer=opt,
            progress=False,
        )
        with torch.no_grad():
            predicted = net(x[test]).flatten() > 0
    return float((predicted == y[test].bool()).float().mean())


def distances(
    name: str, images: np.ndarray, reference: np.ndarray, ref_features: np.ndarray,
    mean: np.ndarray, std: np.ndarray, seed: int = 0,
) -> Distances:  # fmt: skip
    """KID (random-CNN features standardized by ``mean`` and ``std``), colour W1 and
    gradient W1 to the reference."""
    f = (features(images, seed) - mean) / std
    k, k_std = kid(f, ref_features, seed=seed)
    colour = np.mean([w1(images[..., c].ravel(), reference[..., c].ravel()) for c in range(3)])
    grad = w1(gradient_magnitude(images), gradient_magnitude(reference))
    c2st = c2st_accuracy(images, reference, seed)
    return Distances(name, 1000 * k, 1000 * k_std, float(colour), grad, c2st)


def procedural_textures(n: int, size: int, seed: int = 0) -> np.ndarray:
    """``n`` textures from the procedural sources, in equal shares, drawn the way a texture
    bank with default options draws them (colours in [0, 1], scale in [2, 10])."""
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        out[i] = procedural(
            PROCEDURAL[i % len(PROCEDURAL)], size, rng.uniform(0, 1, 3).tolist(),
            rng.uniform(0, 1, 3).tolist(), float(rng.uniform(2, 10)), float(rng.uniform(0, 180)),
            int(rng.integers(2**31 - 1)),
        )  # fmt: skip
    return out


def quality_report(
    checkpoint: str | Path, images: str | Path, num: int = 1000, seed: int = 0
) -> list[Distances]:
    """The GAN, the procedural textures and the train-split crops, each against held-out
    crops of ``images`` drawn with the crop settings the GAN was trained with."""
    if isinstance(num, bool) or not isinstance(num, int) or num < MIN_NUM:
        raise ValueError(
            f"num must be at least {MIN_NUM} textures per set (KID averages pairs within "
            f"subsets and C2ST trains on one half and scores the other; fewer give nan or "
            f"noise), got {num!r}; the default is 1000"
        )
    data = read_checkpoint(checkpoint)
    crop = data.get("crops", {})
    crops = CropConfig(size=int(crop.get("size", data["model"].size)),
                       scale=tuple(crop.get("scale", (0.08, 0.25))),  # type: ignore[arg-type]
                       holdout=float(crop.get("holdout", 0.0)))  # fmt: skip
    if crops.holdout <= 0:
        raise ValueError(
            f"{str(checkpoint)!r} was trained on every pixel (holdout 0), so no held-out crops "
            "exist; retrain with scripts/train_gan.py --holdout 0.25"
        )
    rng = np.random.default_rng([seed, 10])
    reference = ImageCrops(images, crops, "heldout").sample_uint8(num, rng)
    ref_raw = features(reference, seed)
    mean, std = normalizer(ref_raw)
    ref = (ref_raw - mean) / std
    sets = {
        "GAN": sample_textures(load_generator(checkpoint), num, seed=seed + 1),
        "procedural (flat/checker/gradient/stripes/noise)": procedural_textures(
            num, crops.size, seed
        ),
        "real crops, train split (floor)": ImageCrops(images, crops, "train").sample_uint8(
            num, np.random.default_rng([seed, 11])
        ),
    }
    return [distances(name, x, reference, ref, mean, std, seed) for name, x in sets.items()]


def format_report(rows: list[Distances]) -> str:
    """A plain-text table."""
    lines = [f"{'textures vs held-out real crops':<50} {'KID x1000':>16} {'colour W1':>10} "
             f"{'gradient W1':>12} {'C2ST acc':>9}"]  # fmt: skip
    for r in rows:
        kid_text = f"{r.kid:.1f} +- {r.kid_std:.1f}"
        lines.append(f"{r.name:<50} {kid_text:>16} {r.color_w1:>10.2f} {r.gradient_w1:>12.2f} "
                     f"{r.c2st:>9.3f}")  # fmt: skip
    return "\n".join(lines)


__all__ = [
    "MIN_NUM",
    "Distances",
    "RandomFeatures",
    "c2st_accuracy",
    "distances",
    "feature_blocks",
    "features",
    "format_report",
    "gradient_magnitude",
    "kid",
    "normalizer",
    "procedural_textures",
    "quality_report",
    "reset_parameters",
    "w1",
]
