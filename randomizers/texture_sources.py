"""Texture generators: flat colour, checker, gradient, stripes, value noise, photo crops.

Every generator is a pure function of its arguments, so a texture is reproduced exactly
from the params that describe it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

PROCEDURAL = ("flat", "checker", "gradient", "stripes", "noise")
SOURCES = (*PROCEDURAL, "image", "gan")  # gan: randomizers.gan_source (needs torch)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _mix(a: Sequence[float], b: Sequence[float], t: np.ndarray) -> np.ndarray:
    a_, b_ = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return (a_ + (b_ - a_) * t[..., None]) * 255.0


def _coords(size: int, angle_deg: float) -> np.ndarray:
    """Position along the direction ``angle_deg`` for every pixel, in [0, 1]."""
    g = (np.arange(size, dtype=np.float32) + 0.5) / size
    yy, xx = np.meshgrid(g, g, indexing="ij")
    a = np.deg2rad(angle_deg)
    t = xx * np.cos(a) + yy * np.sin(a)
    lo, hi = min(0, np.cos(a)) + min(0, np.sin(a)), max(0, np.cos(a)) + max(0, np.sin(a))
    return (t - lo) / max(hi - lo, 1e-6)


def value_noise(size: int, cells: float, seed: int, octaves: int = 3) -> np.ndarray:
    """Smooth value noise in [0, 1] (bilinear-interpolated random lattices, summed octaves)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((size, size), np.float32)
    total = 0.0
    for o in range(octaves):
        n = max(2, round(cells * 2**o)) + 1
        lattice = rng.random((n, n), dtype=np.float32)
        x = np.linspace(0, n - 1, size, dtype=np.float32)
        i = np.minimum(x.astype(int), n - 2)
        f = x - i
        f = f * f * (3 - 2 * f)  # smoothstep
        rows = lattice[i] * (1 - f)[:, None] + lattice[i + 1] * f[:, None]
        layer = rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]
        w = 0.5**o
        out += w * layer
        total += w
    return out / total


def procedural(
    source: str,
    size: int,
    color_a: Sequence[float],
    color_b: Sequence[float],
    scale: float,
    angle: float,
    seed: int,
) -> np.ndarray:
    """An (size, size, 3) uint8 texture from a procedural source."""
    if source == "flat":
        img = np.broadcast_to(np.asarray(color_a, np.float32) * 255.0, (size, size, 3))
    elif source == "checker":
        n = max(1, round(scale))
        idx = (np.arange(size) * n) // size
        t = ((idx[:, None] + idx[None, :]) % 2).astype(np.float32)
        img = _mix(color_a, color_b, t)
    elif source == "gradient":
        img = _mix(color_a, color_b, _coords(size, angle))
    elif source == "stripes":
        t = ((_coords(size, angle) * max(1.0, scale)) % 1.0 < 0.5).astype(np.float32)
        img = _mix(color_a, color_b, t)
    elif source == "noise":
        img = _mix(color_a, color_b, value_noise(size, scale, seed))
    else:
        raise ValueError(f"unknown texture source {source!r}; allowed: {', '.join(SOURCES)}")
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def list_images(folder: str | Path) -> list[Path]:
    """Image files in ``folder`` (sorted); raises with the folder and extensions looked for."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"image folder {str(path)!r} does not exist or is not a folder")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise FileNotFoundError(
            f"no images in {str(path)!r}; looked for files ending in {', '.join(IMAGE_EXTENSIONS)}"
        )
    return files


def load_image(path: Path) -> np.ndarray:
    """An RGB uint8 array; raises a clear error for unreadable files."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError as exc:
        raise OSError(f"cannot read image {str(path)!r}: {exc}") from exc


def photo_crop(image: np.ndarray, size: int, seed: int, min_fraction: float = 0.25) -> np.ndarray:
    """A random square crop (side >= ``min_fraction`` of the short edge) resized to ``size``."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    side = int(min(h, w) * rng.uniform(min_fraction, 1.0))
    side = max(side, 1)
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    crop = Image.fromarray(image[y : y + side, x : x + side])
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR))
