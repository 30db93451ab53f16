"""An unpaired image translator in the style of CUT (Park et al. 2020, contrastive
unpaired translation): renders in, the same scene with a target domain's look out.

One generator (a small ResNet encoder-decoder with instance norm) and one PatchGAN
discriminator. Geometry is kept by PatchNCE: features of a patch of the output must match
the features of the same patch of the input, against the other patches of that image, so
the cube stays where it was while its colours, the table and the lighting take the
target's look. The checkpoint (``format: domrand-translator``) holds the generator only and
loads with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.checkpoints import read_checkpoint, save_checkpoint
from agents.perception.localizer import to_input
from randomizers.gan_generator import to_uint8

FORMAT, VERSION = "domrand-translator", 1
TRAIN_HINT = "scripts/train_translator.py --source EXPORT --frames FOLDER --out CKPT"


@dataclass(frozen=True)
class TranslatorConfig:
    """Network sizes and the PatchNCE settings.

    Args:
        size: image side the translator is trained at (px).
        ngf: generator width of the first layer (x2, x4 after two downsamplings).
        blocks: residual blocks at 1/4 resolution.
        ndf: discriminator width of the first layer.
        nce_layers: generator encoder layers whose features PatchNCE compares.
        patches: patches sampled per image and layer.
        nce_t: softmax temperature of PatchNCE.
    """

    size: int = 64
    ngf: int = 32
    blocks: int = 4
    ndf: int = 32
    nce_layers: tuple[int, ...] = (0, 1, 2, 4)
    patches: int = 128
    nce_t: float = 0.07

    def __post_init__(self) -> None:
        if self.size % 4 or self.size < 16:
            raise ValueError(f"size must be a multiple of 4 and >= 16, got {self.size}")
        for name in ("ngf", "blocks", "ndf", "patches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if any(not 0 <= i < 3 + self.blocks for i in self.nce_layers) or not self.nce_layers:
            raise ValueError(f"nce_layers must index the {3 + self.blocks} encoder layers, got "
                             f"{self.nce_layers}")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint."""
        return {**asdict(self), "nce_layers": list(self.nce_layers)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TranslatorConfig:
        """The config a checkpoint stored."""
        return cls(**{**data, "nce_layers": tuple(data["nce_layers"])})


def to_net(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, S, S, 3) -> what the networks read: (N, 3, S, S) floats in [-1, 1]."""
    return to_input(images.permute(0, 3, 1, 2))


def _conv(i: int, o: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, k, stride, k // 2, padding_mode="reflect"),
                         nn.InstanceNorm2d(o), nn.ReLU(True))  # fmt: skip


class _Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(c, c, 3), nn.Conv2d(c, c, 3, 1, 1, padding_mode="reflect"),
                                  nn.InstanceNorm2d(c))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TranslatorNet(nn.Module):
    """Image in [-1, 1] (B, 3, S, S) -> translated image, same shape; ``features`` returns
    the encoder activations PatchNCE compares."""

    def __init__(self, config: TranslatorConfig) -> None:
        super().__init__()
        c = config.ngf
        self.encoder = nn.ModuleList(
            [_conv(3, c, 7), _conv(c, 2 * c, 3, 2), _conv(2 * c, 4 * c, 3, 2)]
            + [_Residual(4 * c) for _ in range(config.blocks)]
        )
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(4 * c, 2 * c, 3),
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(2 * c, c, 3),
            nn.Conv2d(c, 3, 7, 1, 3, padding_mode="reflect"), nn.Tanh(),
        )  # fmt: skip
        self.channels = [c, 2 * c] + [4 * c] * (1 + config.blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.encoder:
            x = layer(x)
        return self.decoder(x)

    def features(self, x: torch.Tensor, layers: tuple[int, ...]) -> list[torch.Tensor]:
        """Encoder activations after each of ``layers``."""
        out = []
        for i, layer in enumerate(self.encoder):
            x = layer(x)
            if i in layers:
                out.append(x)
            if i >= max(layers):
                break
        return out


class PatchDiscriminator(nn.Module):
    """PatchGAN: one real/fake score per overlapping patch (about 22 px at 64 px)."""

    def __init__(self, config: TranslatorConfig) -> None:
        super().__init__()
        c = config.ndf
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.InstanceNorm2d(2 * c), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * c, 4 * c, 4, 1, 1), nn.InstanceNorm2d(4 * c), nn.LeakyReLU(0.2, True),
            nn.Conv2d(4 * c, 1, 4, 1, 1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchProjector(nn.Module):
    """One two-layer MLP per compared layer, mapping sampled patch features to unit vectors."""

    def __init__(self, channels: list[int], dim: int = 128) -> None:
        super().__init__()
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(c, dim), nn.ReLU(True), nn.Linear(dim, dim)) for c in channels
        )

    def forward(self, feats: list[torch.Tensor], ids: list[torch.Tensor]) -> list[torch.Tensor]:
        """(B, C, H, W) features and flat patch indices -> (B, P, dim) normalized vectors."""
        out = []
        for head, f, idx in zip(self.heads, feats, ids, strict=True):
            flat = f.flatten(2).transpose(1, 2)[:, idx]  # B, P, C
            out.append(F.normalize(head(flat), dim=-1))
        return out


def patch_nce(q: torch.Tensor, k: torch.Tensor, t: float) -> torch.Tensor:
    """InfoNCE of output patches ``q`` (B, P, D) against input patches ``k``: each query's
    positive is the key at the same place, its negatives the other places of that image."""
    logits = torch.bmm(q, k.detach().transpose(1, 2)) / t  # B, P, P
    target = torch.arange(q.shape[1]).expand(q.shape[0], -1)
    return F.cross_entropy(logits.flatten(0, 1), target.flatten())


@dataclass
class Translator:
    """A trained generator and what it was trained on."""

    net: TranslatorNet
    config: TranslatorConfig
    meta: dict[str, Any] = field(default_factory=dict)

    @torch.no_grad()
    def __call__(self, images: np.ndarray, batch: int = 64) -> np.ndarray:
        """uint8 (N, S, S, 3) renders -> uint8 translated images of the same shape."""
        images = np.asarray(images)
        size = self.config.size
        if images.ndim != 4 or images.shape[1:] != (size, size, 3) or images.dtype != np.uint8:
            raise ValueError(f"this translator reads uint8 images of shape (N, {size}, {size}, 3), "
                             f"got {images.dtype} {images.shape}")  # fmt: skip
        self.net.eval()
        if not len(images):
            return images.copy()
        out = []
        for i in range(0, len(images), batch):
            x = to_net(torch.from_numpy(np.ascontiguousarray(images[i : i + batch])))
            out.append(to_uint8(self.net(x)))
        return np.concatenate(out)


def save_translator(path: str | Path, net: TranslatorNet, config: TranslatorConfig,
                    meta: dict[str, Any]) -> Path:  # fmt: skip
    """Write the generator, its config and ``meta`` (plain data) atomically."""
    return save_checkpoint(path, {
        "format": FORMAT, "version": VERSION, "config": config.to_dict(), "meta": meta,
        "generator": {k: v.detach().cpu() for k, v in net.state_dict().items()},
    })  # fmt: skip


def load_translator(path: str | Path) -> Translator:
    """A translator checkpoint; a missing, corrupt or foreign file fails naming it."""
    payload = read_checkpoint(path, fmt=FORMAT, version=VERSION, what="translator",
                              train_hint=TRAIN_HINT)  # fmt: skip
    config = TranslatorConfig.from_dict(payload["config"])
    net = TranslatorNet(config)
    try:
        net.load_state_dict(payload["generator"])
    except RuntimeError as exc:
        raise ValueError(f"{str(path)!r}: weights do not match the stored config "
                         f"({str(exc).splitlines()[0]})") from None  # fmt: skip
    return Translator(net.eval(), config, dict(payload.get("meta", {})))


__all__ = [
    "PatchDiscriminator", "PatchProjector", "Translator", "TranslatorConfig", "TranslatorNet",
    "load_translator", "patch_nce", "save_translator", "to_net",
]
