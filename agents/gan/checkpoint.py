"""Writing appearance-GAN checkpoints during training.

The format (a plain dict, ``format: domrand-gan``) and everything that reads a checkpoint
(``read_checkpoint``, ``load_generator``, sampling) live in
:mod:`randomizers.gan_generator`, where the texture randomizer uses them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from agents.gan.model import Discriminator
from envs.files import atomic_path
from randomizers.gan_generator import FORMAT, VERSION, Generator


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
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        torch.save(data, f)  # a file object: the archive's inner name is not the temp name
    return out


__all__ = ["save_checkpoint"]
