"""The appearance GAN's networks: a DCGAN-style generator and a spectrally normalized
discriminator for square RGB textures (32, 64 or 128 px).

The generator maps a latent vector to an image in [-1, 1]; the discriminator returns one
unnormalized score per image (hinge loss). Both are built from a :class:`GANConfig`, which
a checkpoint stores as a plain dict so it can be rebuilt and loaded with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

SIZES = (32, 64, 128)
UPSAMPLING = ("transposed", "nearest")


@dataclass(frozen=True)
class GANConfig:
    """Network shapes.

    Args:
        size: output side in pixels (32, 64 or 128).
        z_dim: latent vector length.
        g_channels: generator channels at 4 x 4, halved at every upsampling (min 16).
        d_channels: discriminator channels after the first layer, doubled at every
            downsampling (max 512).
        d_depth: convolutions per discriminator resolution: 1 is DCGAN's discriminator, 2
            adds a 3x3 one before each downsampling (SNGAN's "standard CNN").
        upsample: ``transposed`` (DCGAN's 4x4 transposed convolutions) or ``nearest``
            (nearest-neighbour upsampling then a 3x3 convolution: no checkerboard artifacts).
    """

    size: int = 64
    z_dim: int = 64
    g_channels: int = 128
    d_channels: int = 32
    d_depth: int = 1
    upsample: str = "transposed"

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ValueError(f"GAN size must be one of {SIZES}, got {self.size!r}")
        for name in ("z_dim", "g_channels", "d_channels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2048:
                raise ValueError(f"GAN {name} must be an int in [1, 2048], got {value!r}")
        if self.d_depth not in (1, 2):
            raise ValueError(f"GAN d_depth must be 1 or 2, got {self.d_depth!r}")
        if self.upsample not in UPSAMPLING:
            raise ValueError(f"GAN upsample must be one of {UPSAMPLING}, got {self.upsample!r}")

    @property
    def stages(self) -> int:
        """Upsamplings from 4 x 4 to ``size``."""
        return {32: 3, 64: 4, 128: 5}[self.size]

    def to_dict(self) -> dict[str, int | str]:
        """Plain dict for a checkpoint."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> GANConfig:
        """Rebuild from :meth:`to_dict` output; raises ``ValueError`` naming bad keys."""
        if not isinstance(data, dict):
            raise ValueError(f"model config must be a dict, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config key(s) {unknown}; allowed: {sorted(known)}")
        return cls(**data)


def _up(c_in: int, c_out: int, mode: str, bias: bool) -> list[nn.Module]:
    """Double the resolution: a 4x4 transposed convolution, or nearest upsampling + 3x3."""
    if mode == "transposed":
        return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias)]


class Generator(nn.Module):
    """Latent (B, z_dim) -> image (B, 3, size, size) in [-1, 1]: upsampling convolutions,
    batch norm and ReLU (DCGAN), tanh output."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        c = config.g_channels
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(config.z_dim, c, 4, 1, 0, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
        ]
        for _ in range(config.stages - 1):
            nxt = max(c // 2, 16)
            layers += [*_up(c, nxt, config.upsample, False), nn.BatchNorm2d(nxt), nn.ReLU(True)]
            c = nxt
        layers += [*_up(c, 3, config.upsample, True), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


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


def init_weights(module: nn.Module) -> None:
    """DCGAN initialization: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        weight = getattr(module, "parametrizations", None)
        target = weight.weight.original if weight is not None else module.weight
        nn.init.normal_(target, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build(config: GANConfig, seed: int = 0) -> tuple[Generator, Discriminator]:
    """A freshly initialized generator and discriminator (deterministic given ``seed``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g, d = Generator(config), Discriminator(config)
        g.apply(init_weights)
        d.apply(init_weights)
    return g, d


__all__ = ["SIZES", "UPSAMPLING", "Discriminator", "GANConfig", "Generator", "build", "init_weights"]
