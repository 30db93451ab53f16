"""The appearance GAN's generator as the texture randomizer uses it: the network, its
config, checkpoint reading and seeded sampling (training is in the learning packages).

A checkpoint is a plain dict (``format: domrand-gan``) of the model config, the crop and
training settings, the loss history and the state dicts of the generator (the moving
average of its weights, which samples better) and the discriminator; it loads with
``torch.load(..., weights_only=True)``. Sampling runs on one thread in fixed batches, so
the same checkpoint and seed give the same bytes in every process.

Needs torch (``pip install 'domrand[learn]'``); imported only when a preset uses the
``gan`` texture source.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

try:
    import torch
    from torch import nn
except ImportError as exc:  # the base install has no torch
    raise ImportError(
        "the 'gan' texture source needs torch; install it with: pip install 'domrand[learn]'"
    ) from exc

SIZES = (32, 64, 128)
UPSAMPLING = ("transposed", "nearest")
FORMAT = "domrand-gan"
VERSION = 1
BATCH = 32  # sampling batch: fixed, so a texture does not depend on how many are drawn
TRAIN_HINT = "train one with: python scripts/train_gan.py --images DIR --out {path}"
NEW_PATH_HINT = (
    "train one into a new file with: python scripts/train_gan.py --images DIR --out NEW.pt "
    "(train_gan.py does not overwrite a file that is not a GAN checkpoint)"
)


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


class GanCheckpointError(ValueError):
    """A file is not a readable appearance-GAN checkpoint, or does not match its config."""


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (reproducible bytes whatever the process)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, checked for the format and the config; raises
    ``FileNotFoundError`` or :class:`GanCheckpointError` naming the file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(
            f"GAN checkpoint {str(p)!r} does not exist; " + TRAIN_HINT.format(path=p)
        )
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle errors, unsafe types: all unreadable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.split(". ")[0][:300]
        raise GanCheckpointError(
            f"cannot read GAN checkpoint {str(p)!r} (truncated, corrupt or not a torch "
            f"checkpoint: {first}); " + NEW_PATH_HINT
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GanCheckpointError(
            f"{str(p)!r} is not a domrand GAN checkpoint (no 'format': {FORMAT!r} entry); "
            + NEW_PATH_HINT
        )
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise GanCheckpointError(
            f"{str(p)!r}: checkpoint version {data.get('version')!r} is newer than this code "
            f"reads ({VERSION}); update domrand or retrain"
        )
    missing = [k for k in ("model", "generator") if k not in data]
    if missing:
        raise GanCheckpointError(f"{str(p)!r}: GAN checkpoint lacks {missing}")
    try:
        data["model"] = GANConfig.from_dict(data["model"])
    except (TypeError, ValueError) as exc:
        raise GanCheckpointError(f"{str(p)!r}: bad model config: {exc}") from None
    return data


def load_generator(path: str | Path) -> Generator:
    """The trained generator of a checkpoint, in eval mode; raises naming the file when the
    weights do not fit the config (wrong keys or shapes)."""
    data = read_checkpoint(path)
    generator = Generator(data["model"])
    try:
        generator.load_state_dict(data["generator"], strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        detail = " ".join(str(exc).split())[:400]
        raise GanCheckpointError(
            f"{str(Path(path).expanduser())!r}: generator weights do not match its config "
            f"{data['model']}: {detail}"
        ) from None
    return generator.eval()


def latents(seed: int | list[int], n: int, z_dim: int) -> np.ndarray:
    """``n`` latent vectors (float32) drawn from ``np.random.default_rng(seed)``."""
    return np.random.default_rng(seed).standard_normal((n, z_dim), dtype=np.float32)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    x = ((images.detach().float().clamp(-1, 1) + 1.0) * 127.5).round()
    return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def generate(generator: Generator, z: np.ndarray, size: int | None = None) -> np.ndarray:
    """Images for latents ``z`` (n, z_dim) as (n, size, size, 3) uint8, optionally resized."""
    out = []
    with single_thread(), torch.no_grad():
        for start in range(0, len(z), BATCH):
            chunk = torch.from_numpy(np.ascontiguousarray(z[start : start + BATCH]))
            out.append(to_uint8(generator(chunk)))
    images = np.concatenate(out) if out else np.zeros((0, 1, 1, 3), np.uint8)
    if size is not None and size != generator.config.size:
        images = np.stack([resize(im, size) for im in images])
    return images


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """A uint8 RGB image resized to ``size`` x ``size`` (bilinear, antialiased)."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))


def sample_textures(generator: Generator, n: int, seed: int = 0) -> np.ndarray:
    """``n`` textures (n, size, size, 3) uint8; the same seed gives the same bytes."""
    return generate(generator, latents(seed, n, generator.config.z_dim))


__all__ = [
    "FORMAT",
    "SIZES",
    "UPSAMPLING",
    "VERSION",
    "GANConfig",
    "GanCheckpointError",
    "Generator",
    "generate",
    "latents",
    "load_generator",
    "read_checkpoint",
    "resize",
    "sample_textures",
    "single_thread",
    "to_uint8",
]
