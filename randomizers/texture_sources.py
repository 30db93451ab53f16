"""Texture generators: flat colour, checker, gradient, stripes, value noise, dead leaves,
photo crops.

Every generator is a pure function of its arguments, so a texture is reproduced exactly
from the params that describe it.

A photo folder is checked when a preset loads (:func:`check_images`): every file with an
image extension must be a readable image file of at most 50 megapixels whose data is
intact (PNG chunks checksummed, a JPEG complete up to its end marker, other formats
decoded); broken links and symlink loops are named too. Other files and hidden files
(``.DS_Store``, ``._photo.jpg``) are ignored, and so are subfolders.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

PROCEDURAL = ("flat", "checker", "gradient", "stripes", "noise", "leaves")
SOURCES = (*PROCEDURAL, "image", "gan")  # gan: randomizers.gan_source (needs torch)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MAX_IMAGE_PIXELS = 50_000_000  # a 50 MP photo decodes to 150 MB; larger ones are refused
_CHECKED: dict[tuple[str, int, int], tuple[int, int]] = {}  # (path, mtime, bytes) -> size


class ImageFileError(ValueError):
    """A file in a photo folder is not a usable image; the message names the file."""


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


def dead_leaves(
    size: int, color_a: Sequence[float], color_b: Sequence[float], scale: float, seed: int
) -> np.ndarray:
    """Dead leaves (Lee et al. 2001): opaque discs and squares, each channel of each colour
    drawn between ``color_a`` and ``color_b``, radii from a power law (density ~ r^-3,
    1.5 px to ``size / scale``), painted on top of each other until they cover the texture.
    Their statistics are those of natural images, and every scale holds object-sized blobs:
    look-alikes that a localizer must learn to reject."""
    rng = np.random.default_rng(seed)
    r_min, r_max = 1.5, max(2.0, size / max(scale, 1.0))
    mean_area = 2 * np.pi * r_min**2 * np.log(r_max / r_min) + 1.0
    count = int(6 * size * size / mean_area)  # about six layers: the first colour rarely shows
    u = rng.random(count)
    radii = 1.0 / np.sqrt(r_min**-2 - u * (r_min**-2 - r_max**-2))  # inverse CDF of r^-3
    centres = rng.uniform(0, size, (count, 2))
    squares = rng.random(count) < 0.5
    a, b = np.asarray(color_a, np.float32), np.asarray(color_b, np.float32)
    colours = (a + (b - a) * rng.random((count, 3), dtype=np.float32)) * 255.0
    img = np.empty((size, size, 3), np.float32)
    img[:] = colours[0]
    for (cx, cy), r, square, colour in zip(centres, radii, squares, colours, strict=True):
        x0, x1 = max(0, int(cx - r)), min(size, int(cx + r) + 1)
        y0, y1 = max(0, int(cy - r)), min(size, int(cy + r) + 1)
        dx = np.abs(np.arange(x0, x1, dtype=np.float32) + 0.5 - cx)
        dy = np.abs(np.arange(y0, y1, dtype=np.float32) + 0.5 - cy)
        inside = (np.maximum(dy[:, None], dx[None, :]) <= r) if square else (
            dy[:, None] ** 2 + dx[None, :] ** 2 <= r * r)  # fmt: skip
        img[y0:y1, x0:x1][inside] = colour
    return img


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
    elif source == "leaves":
        img = dead_leaves(size, color_a, color_b, scale, seed)
    else:
        raise ValueError(f"unknown texture source {source!r}; allowed: {', '.join(SOURCES)}")
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def list_images(folder: str | Path) -> list[Path]:
    """Image files in ``folder`` (sorted, hidden files skipped); raises
    ``FileNotFoundError`` naming the folder and the extensions looked for."""
    path = Path(folder).expanduser()
    try:
        is_dir = stat.S_ISDIR(path.stat().st_mode)
    except OSError as exc:
        loop = " (a symlink loop)" if exc.errno == errno.ELOOP else ""
        raise FileNotFoundError(
            f"image folder {str(path)!r} does not exist or is not a folder{loop}"
        ) from None
    if not is_dir:
        raise FileNotFoundError(f"image folder {str(path)!r} does not exist or is not a folder")
    try:
        entries = list(path.iterdir())
    except OSError as exc:
        raise FileNotFoundError(f"cannot list image folder {str(path)!r}: {exc.strerror}") from None
    files = sorted(
        p for p in entries if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )
    if not files:
        raise FileNotFoundError(
            f"no images in {str(path)!r}; looked for files ending in {', '.join(IMAGE_EXTENSIONS)}"
        )
    return files


def check_image(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an intact image file of at most :data:`MAX_IMAGE_PIXELS`,
    without decoding PNG or complete JPEG files; raises :class:`ImageFileError` naming it."""
    name = str(path)
    try:
        st = os.stat(path)  # follows links: a loop or a dangling link fails here
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            what = "a symlink loop"
        else:
            what = "a broken link" if path.is_symlink() else str(exc.strerror)
        raise ImageFileError(f"cannot read image {name!r}: {what}; fix or remove it") from None
    if not stat.S_ISREG(st.st_mode):
        raise ImageFileError(
            f"{name!r} has an image extension but is not a file; rename or remove it"
        )
    key = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
    if key in _CHECKED:
        return _CHECKED[key]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                size = im.size
                fmt = im.format
                if size[0] * size[1] > MAX_IMAGE_PIXELS:
                    raise ImageFileError(
                        f"image {name!r} is {size[0]} x {size[1]} pixels "
                        f"({size[0] * size[1] / 1e6:.0f} megapixels); at most "
                        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels: downscale it"
                    )
                im.verify()  # PNG: every chunk's checksum; JPEG: headers only
            if fmt != "PNG" and not (fmt == "JPEG" and _ends_with_jpeg_eoi(path)):
                with Image.open(path) as im:  # decode (a JPEG at 1/8 scale: cheap)
                    im.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
                    im.load()
    except ImageFileError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageFileError(f"image {name!r} is too large to decode safely: {exc}") from None
    except Exception as exc:  # any decoder failure means "not an intact image"
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ImageFileError(
            f"cannot read image {name!r} (not an image, corrupt or truncated: {detail}); "
            "fix or remove it"
        ) from None
    _CHECKED[key] = size
    return size


def _ends_with_jpeg_eoi(path: Path) -> bool:
    """Whether a JPEG file ends with its end-of-image marker (a truncated one does not)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 2))
        return f.read() == b"\xff\xd9"


def check_images(folder: str | Path) -> list[Path]:
    """:func:`list_images`, each file checked with :func:`check_image`."""
    files = list_images(folder)
    for path in files:
        check_image(path)
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
