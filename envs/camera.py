"""A pinhole camera over PyBullet's renderer: RGB, metric depth, segmentation, K and extrinsics.

Conventions: intrinsics ``K`` and extrinsics follow OpenCV (x right, y down, z forward);
``extrinsics`` is the 4x4 world-to-camera transform; pixel (u, v) = (column, row) with the
origin at the top-left corner of the top-left pixel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

_GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class CameraConfig:
    """Where the camera is and what it sees. ``fov`` is the vertical field of view in degrees."""

    width: int = 128
    height: int = 128
    eye: tuple[float, float, float] = (0.95, 0.0, 1.2)
    target: tuple[float, float, float] = (0.42, 0.0, 0.68)
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    roll: float = 0.0
    fov: float = 55.0
    near: float = 0.05
    far: float = 4.0
    light: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("width", "height"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"CameraConfig.{key} must be an int, got {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"CameraConfig.{key} must be > 0, got {value}")
        if not 0 < self.fov < 180:
            raise ValueError(f"CameraConfig.fov must be in (0, 180) degrees, got {self.fov}")
        if not 0 < self.near < self.far:
            raise ValueError(
                f"CameraConfig needs 0 < near < far, got near={self.near}, far={self.far}"
            )
        # plain floats: a randomized camera builds two configs per reset, NumPy costs ~0.2 ms
        for key in ("eye", "target", "up"):
            v = getattr(self, key)
            if len(v) != 3 or not all(
                isinstance(x, (int, float, np.number)) and math.isfinite(x) for x in v
            ):
                raise ValueError(f"CameraConfig.{key} needs 3 finite numbers, got {v!r}")
        if tuple(self.eye) == tuple(self.target):
            raise ValueError("CameraConfig.eye and CameraConfig.target must differ")
        vx, vy, vz = (float(t) - float(e) for t, e in zip(self.target, self.eye, strict=True))
        ux, uy, uz = (float(u) for u in self.up)
        cross = math.hypot(vy * uz - vz * uy, vz * ux - vx * uz, vx * uy - vy * ux)
        if cross <= 1e-6 * math.hypot(vx, vy, vz) * max(math.hypot(ux, uy, uz), 1e-12):
            raise ValueError(
                f"CameraConfig.up {tuple(self.up)} must not be zero or parallel to the viewing "
                f"direction {(round(vx, 3), round(vy, 3), round(vz, 3))}; the image "
                "orientation would be undefined"
            )

    def resized(self, width: int, height: int) -> CameraConfig:
        """The same camera with another image size."""
        return replace(self, width=width, height=height)


@dataclass
class CameraFrame:
    """One rendered frame. Arrays are ``None`` when not requested."""

    rgb: np.ndarray | None  # (H, W, 3) uint8
    depth: np.ndarray | None  # (H, W) float32 metres along the optical axis
    segmentation: np.ndarray | None  # (H, W) int32 body unique id, -1 = background


class Camera:
    """Renders the scene of one PyBullet client; matrices are cached until the pose changes.

    Args:
        client: the ``BulletClient`` to render.
        config: pose, intrinsics and image size.
        light: lighting kwargs for ``getCameraImage`` (shared with the scene).
        renderer: ``"tiny"`` or ``"egl"`` (the EGL plugin must already be loaded).
    """

    def __init__(
        self,
        client: Any,
        config: CameraConfig | None = None,
        *,
        light: dict[str, Any] | None = None,
        renderer: str = "tiny",
    ) -> None:
        self.client = client
        self._renderer = (
            client.ER_BULLET_HARDWARE_OPENGL if renderer == "egl" else client.ER_TINY_RENDERER
        )
        # shared with the scene, so a lighting randomizer reaches every camera
        self.light = light if light is not None else {}
        self.configure(config or CameraConfig())

    def configure(self, config: CameraConfig) -> None:
        """Adopt a new configuration and recompute the cached matrices."""
        self.config = config
        c = config
        view = self.client.computeViewMatrix(list(c.eye), list(c.target), list(c.up))
        view_m = np.asarray(view, dtype=np.float64).reshape(4, 4).T
        if c.roll:
            r = np.deg2rad(c.roll)
            rot = np.eye(4)
            rot[:2, :2] = [[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]]
            view_m = rot @ view_m
        self._view = view_m.T.reshape(-1).tolist()
        self._proj = self.client.computeProjectionMatrixFOV(
            c.fov, c.width / c.height, c.near, c.far
        )
        self._extrinsics = _GL_TO_CV @ view_m
        fy = c.height / (2.0 * np.tan(np.deg2rad(c.fov) / 2.0))
        self._K = np.array([[fy, 0.0, c.width / 2.0], [0.0, fy, c.height / 2.0], [0.0, 0.0, 1.0]])

    # -- geometry -----------------------------------------------------------------
    @property
    def K(self) -> np.ndarray:
        """3x3 intrinsic matrix (pixels)."""
        return self._K.copy()

    @property
    def extrinsics(self) -> np.ndarray:
        """4x4 world-to-camera transform (OpenCV axes)."""
        return self._extrinsics.copy()

    @property
    def view_matrix(self) -> list[float]:
        """PyBullet (OpenGL, column-major) view matrix."""
        return list(self._view)

    @property
    def projection_matrix(self) -> list[float]:
        """PyBullet (OpenGL, column-major) projection matrix."""
        return list(self._proj)

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 3) camera-frame points (OpenCV axes, metres)."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        return p @ self._extrinsics[:3, :3].T + self._extrinsics[:3, 3]

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 2) pixel coordinates (u, v); NaN behind the camera."""
        pc = self.world_to_camera(points)
        z = pc[:, 2:3]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = (pc @ self._K.T)[:, :2] / z
        uv[z[:, 0] <= 0] = np.nan
        return uv

    def info(self) -> dict[str, Any]:
        """JSON-serializable intrinsics and extrinsics (for ``info`` and dataset labels)."""
        c = self.config
        return {
            "width": c.width,
            "height": c.height,
            "K": self._K.tolist(),
            "extrinsics": self._extrinsics.tolist(),
            "fov": c.fov,
            "near": c.near,
            "far": c.far,
        }

    # -- rendering ----------------------------------------------------------------
    def render(
        self, *, rgb: bool = True, depth: bool = False, segmentation: bool = False
    ) -> CameraFrame:
        """Render once; only the requested outputs are converted (segmentation is skipped
        by the renderer when not requested)."""
        c = self.config
        cl = self.client
        flags = 0 if segmentation else cl.ER_NO_SEGMENTATION_MASK
        _, _, rgba, zbuf, seg = cl.getCameraImage(
            c.width,
            c.height,
            self._view,
            self._proj,
            renderer=self._renderer,
            flags=flags,
            **{**self.config.light, **self.light},  # the scene's (randomized) light wins
        )
        out_rgb = out_depth = out_seg = None
        if rgb:
            out_rgb = np.ascontiguousarray(
                np.reshape(rgba, (c.height, c.width, 4))[:, :, :3], dtype=np.uint8
            )
        if depth:
            zb = np.reshape(zbuf, (c.height, c.width)).astype(np.float64)
            out_depth = (c.far * c.near / (c.far - (c.far - c.near) * zb)).astype(np.float32)
        if segmentation:
            out_seg = np.reshape(seg, (c.height, c.width)).astype(np.int32)
        return CameraFrame(out_rgb, out_depth, out_seg)


def look_at_config(eye: Sequence[float], target: Sequence[float], **kwargs: Any) -> CameraConfig:
    """Convenience constructor: a camera at ``eye`` looking at ``target``."""
    return CameraConfig(eye=tuple(eye), target=tuple(target), **kwargs)  # type: ignore[arg-type]
