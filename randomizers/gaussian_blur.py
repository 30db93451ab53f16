"""Separable Gaussian blur of float32 images in NumPy: the image-noise randomizer's blur.

Elementwise float32 NumPy arithmetic gives the same bytes on every platform (a BLAS
matrix product would not), and at 64-128 px it is about twice as fast as PIL's
``GaussianBlur`` plus the uint8 round trip that one needs.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

TRUNCATE = 3.0  # kernel radius in standard deviations (rounded up; at least 1 pixel)


@cache
def gaussian_kernel(sigma: float) -> tuple[float, ...]:
    """Normalized weights of taps 0, 1, ..., r of a Gaussian of std ``sigma`` pixels, as
    float32 values (the kernel is symmetric: tap -k weighs what tap k does)."""
    if not sigma > 0:
        raise ValueError(f"blur sigma must be > 0 pixels, got {sigma!r}")
    r = max(1, math.ceil(TRUNCATE * sigma))
    w = np.exp(-(np.arange(r + 1, dtype=np.float64) ** 2) / (2.0 * sigma * sigma))
    w /= w[0] + 2.0 * w[1:].sum()
    return tuple(float(v) for v in w.astype(np.float32))


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Blur an (H, W) or (H, W, C) float32 image along H and W with edge pixels repeated
    beyond the border; returns a new float32 array of the same shape."""
    w = gaussian_kernel(float(sigma))
    r = len(w) - 1
    h, wd = x.shape[:2]
    # pad by replicating edges (np.pad costs several times these slice copies)
    p = np.empty((h + 2 * r, wd + 2 * r, *x.shape[2:]), np.float32)
    p[r : r + h, r : r + wd] = x
    p[:r, r : r + wd] = x[:1]
    p[r + h :, r : r + wd] = x[-1:]
    p[:, :r] = p[:, r : r + 1]
    p[:, r + wd :] = p[:, r + wd - 1 : r + wd]
    vert = np.multiply(p[r : r + h], np.float32(w[0]))
    tmp = np.empty_like(vert)
    for k in range(1, r + 1):
        np.add(p[r - k : r - k + h], p[r + k : r + k + h], out=tmp)
        tmp *= np.float32(w[k])
        vert += tmp
    out = np.multiply(vert[:, r : r + wd], np.float32(w[0]))
    tmp = np.empty_like(out)
    for k in range(1, r + 1):
        np.add(vert[:, r - k : r - k + wd], vert[:, r + k : r + k + wd], out=tmp)
        tmp *= np.float32(w[k])
        out += tmp
    return out


__all__ = ["TRUNCATE", "gaussian_blur", "gaussian_kernel"]
