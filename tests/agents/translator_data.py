"""Small exports and settings shared by the translator tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from agents.gan.translator import TranslatorConfig
from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset

ENV = "domrand/Lift-v0"
TINY = TranslatorConfig(size=16, ngf=4, blocks=1, ndf=4, nce_layers=(0, 1, 3), patches=16)


def tiny_export(out: Path, n: int, size: int, seed: int, formats: tuple[str, ...] = ()) -> Path:
    """An ``n``-image Lift export with ``tobin`` (no visible fractions: fast)."""
    return export_dataset(
        ExportConfig(env_id=ENV, preset="tobin", num_images=n, size=size, out=str(out),
                     seed=seed, visibility=False, formats=formats),
        progress=False,
    )  # fmt: skip


def export_rgb(export: Path) -> np.ndarray:
    """Every ``rgb/*.png`` of an export, in name order, as (N, H, W, 3) uint8."""
    return np.stack([np.asarray(Image.open(p).convert("RGB"))
                     for p in sorted((export / "rgb").glob("*.png"))])  # fmt: skip
