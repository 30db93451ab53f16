"""The appearance GAN's checkpoints and sampling: what the texture randomizer and the
scripts use once a generator is trained (training itself is in ``agents.gan.train``).

A checkpoint is a plain dict (``format: domrand-gan``) of the model config, the crop and
training settings, the loss history and the state dicts of the generator (the moving
average of its weights, which samples better) and the discriminator; it loads with
``torch.load(..., weights_only=True)``. Sampling runs on one thread in fixed batches, so
the same checkpoint and seed give the same bytes in every process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from agents.gan.data import to_uint8
from agents.gan.model import Discriminator, GANConfig, Generator
from envs.files import atomic_path

FORMAT = "domrand-gan"
VERSION = 1
BATCH = 32  # sampling batch: fixed, so a texture does not depend on how many are drawn
TRAIN_HINT = "train one with: python scripts/train_gan.py --images DIR --out {path}"
NEW_PATH_HINT = (
    "train one into a new file with: python scripts/train_gan.py --images DIR --out NEW.pt "
    "(train_gan.py does not overwrite a file that is not a GAN checkpoint)"
)


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


def save_checkpoint(
    path: str | Path, generator: Generator, discriminator: Discriminator, meta: dict[str, Any]
) -> Path:
    """Write a checkpoint atomically (temporary file, then rename); ``meta`` holds plain data."""
    out = Path(path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {
        **meta,
        "format": FORMAT,
        "version": VERSION,
        "model": generator.config.to_dict(),
        "generator": {k: v.detach().cpu() for k, v in generator.state_dict().items()},
        "discriminator": {k: v.detach().cpu() for k, v in discriminator.state_dict().items()},
    }
    with atomic_path(out) as tmp:
        torch.save(data, tmp)
    return out


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
    "VERSION",
    "GanCheckpointError",
    "generate",
    "latents",
    "load_generator",
    "read_checkpoint",
    "resize",
    "sample_textures",
    "save_checkpoint",
    "single_thread",
]
