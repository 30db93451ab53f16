"""PyBullet (OpenGL, column-major) projection matrices: of pinhole intrinsics, and of a
window of an image (to render only part of a frame)."""

from __future__ import annotations

import numpy as np

# TinyRenderer samples pixel (column i, row j) at projected (u, v) = (i, j + 1) rather than
# at its centre (i + 0.5, j + 0.5) (measured: centroids of small spheres, 0.50 and -0.50 px
# off); cameras with given intrinsics shift the principal point to render like K says.
# Cameras given by ``fov`` alone keep PyBullet's own matrix (their images stay as they were).
PIXEL_OFFSET = {"tiny": (-0.5, 0.5), "egl": (0.0, 0.0)}


def pinhole_projection(
    intrinsics: tuple[float, float, float, float],
    width: int,
    height: int,
    near: float,
    far: float,
    offset: tuple[float, float],
) -> list[float]:
    """The projection matrix of pinhole ``intrinsics`` (fx, fy, cx, cy): pixel (u, v) =
    (fx x / z + cx, fy y / z + cy) in OpenCV camera axes, v counted from the top; ``offset``
    corrects the renderer's pixel sampling (see :data:`PIXEL_OFFSET`)."""
    fx, fy, cx, cy = intrinsics
    cx, cy = cx + offset[0], cy + offset[1]
    w, h, n, f = width, height, near, far
    P = np.array([
        [2 * fx / w, 0.0, 1 - 2 * cx / w, 0.0],
        [0.0, 2 * fy / h, 2 * cy / h - 1, 0.0],
        [0.0, 0.0, -(f + n) / (f - n), -2 * f * n / (f - n)],
        [0.0, 0.0, -1.0, 0.0],
    ])  # fmt: skip
    return P.T.reshape(-1).tolist()


def window_projection(
    projection: list[float], width: int, height: int, window: tuple[int, int, int, int]
) -> list[float]:
    """The matrix that maps pixels ``[v0:v1, u0:u1]`` of a ``width`` x ``height`` image
    drawn with ``projection`` onto a (v1 - v0, u1 - u0) image: clip-space x and y rescaled
    and shifted, so the window's pixels are sampled where the full frame samples them."""
    u0, v0, u1, v1 = window
    if not (0 <= u0 < u1 <= width and 0 <= v0 < v1 <= height):
        raise ValueError(
            f"window {window} is not a non-empty part of the {width}x{height} image"
        )
    P = np.asarray(projection, dtype=np.float64).reshape(4, 4).T  # row-major
    w, h = u1 - u0, v1 - v0
    out = P.copy()
    out[0] = width / w * P[0] + ((width - 2 * u0) / w - 1) * P[3]
    out[1] = height / h * P[1] + (1 - height / h + 2 * v0 / h) * P[3]  # v counts from the top
    return out.T.reshape(-1).tolist()
