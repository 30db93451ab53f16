"""The appearance GAN's training side: a spectrally normalized discriminator for square
RGB textures (32, 64 or 128 px) and the seeded initialization of both networks.

The generator and its :class:`GANConfig` live in :mod:`randomizers.gan_generator` (the
texture randomizer samples them); the discriminator returns one unnormalized score per
image (hinge loss).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from randomizers.gan_generator import GANConfig, Generator


class Discriminator(nn.Module):
    """Image (B, 3, size, size) -> score (B,): strided 4x4 convolutions with spectral
    normalization and leaky ReLU, no batch norm (SNGAN's DCGAN variant)."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        c = config.d_channels
        layers: list[nn.Module] = [
            spectral_norm(nn.Conv2d(3, c, 4, 2, 1)),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for _ in range(config.stages - 1):
            if config.d_depth == 2:
                layers += [spectral_norm(nn.Conv2d(c, c, 3, 1, 1)), nn.LeakyReLU(0.2, True)]
            nxt = min(c * 2, 512)
            layers += [spectral_norm(nn.Conv2d(c, nxt, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            c = nxt
        layers.append(spectral_norm(nn.Conv2d(c, 1, 4, 1, 0)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


def init_weights(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """DCGAN initialization: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales, zero
    biases; draws from ``generator`` (``None``: torch's default one)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        weight = getattr(module, "parametrizations", None)
        target = weight.weight.original if weight is not None else module.weight
        nn.init.normal_(target, 0.0, 0.02, generator=generator)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02, generator=generator)
        nn.init.zeros_(module.bias)


def _spectral_vectors(module: nn.Module, generator: torch.Generator) -> None:
    """Redraw the power-iteration vectors (``_u``, ``_v``) of every spectral norm."""
    with torch.no_grad():
        for name, buffer in module.named_buffers():
            if name.endswith(("._u", "._v")):
                drawn = torch.randn(buffer.shape, generator=generator, dtype=buffer.dtype)
                buffer.copy_(F.normalize(drawn, dim=0, eps=1e-12))


def build(config: GANConfig, seed: int = 0) -> tuple[Generator, Discriminator]:
    """A freshly initialized generator and discriminator, deterministic given ``seed``:
    every draw comes from a ``torch.Generator`` seeded with it, and torch's global random
    state is neither read nor advanced."""
    rng = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # layer constructors draw defaults, overwritten below
        g, d = Generator(config), Discriminator(config)
    for net in (g, d):
        for module in net.modules():
            init_weights(module, rng)
    _spectral_vectors(d, rng)
    return g, d


__all__ = ["Discriminator", "build", "init_weights"]
