"""A pinhole camera over PyBullet's renderer: RGB, metric depth, segmentation, K and extrinsics.

Conventions: intrinsics ``K`` and extrinsics follow OpenCV (x right, y down, z forward);
``extrinsics`` is the 4x4 world-to-camera transform; pixel (u, v) = (column, row) with the
origin at the top-left corner of the top-left pixel. A camera is fixed in the world or
mounted on a link of a body (its pose is then given in the link frame and follows the link).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from envs.camera_mount import mount_link
from envs.projection import PIXEL_OFFSET, pinhole_projection, window_projection
from envs.sim import quiet_stdout

_GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class CameraConfig:
    """Where the camera is and what it sees.

    ``fov`` is the vertical field of view in degrees. ``fx``, ``fy``, ``cx``, ``cy`` (pixels,
    OpenCV ``K``) give full intrinsics instead: a missing focal length equals the other one,
    a missing principal point coordinate is the image centre, and ``fov`` is then set from
    ``fy``. ``mount`` names a robot link: ``eye``, ``target`` and ``up`` are then in that
    link's frame and the camera follows the link. :meth:`from_calibration` builds one from a
    real calibration (``K`` and the camera pose).
    """

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
    fx: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    mount: str | None = None

    def __post_init__(self) -> None:
        for key in ("width", "height"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"CameraConfig.{key} must be an int, got {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"CameraConfig.{key} must be > 0, got {value}")
        for key in ("fx", "fy", "cx", "cy"):
            v = getattr(self, key)
            if v is None:
                continue
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float, np.number))
                or not (math.isfinite(v))
            ):
                raise ValueError(f"CameraConfig.{key} must be a finite number of pixels, got {v!r}")
            if key in ("fx", "fy") and v <= 0:
                raise ValueError(f"CameraConfig.{key} must be > 0 pixels, got {v!r}")
            object.__setattr__(self, key, float(v))
        if self.fx is not None or self.fy is not None:
            fy = self.fy if self.fy is not None else self.fx
            assert fy is not None
            object.__setattr__(self, "fov", math.degrees(2.0 * math.atan(self.height / (2 * fy))))
        if self.mount is not None and (not isinstance(self.mount, str) or not self.mount):
            raise ValueError(f"CameraConfig.mount must be a link name, got {self.mount!r}")
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

    @property
    def has_intrinsics(self) -> bool:
        """Whether focal lengths or a principal point were given (not only ``fov``)."""
        return any(v is not None for v in (self.fx, self.fy, self.cx, self.cy))

    def intrinsics(self) -> tuple[float, float, float, float]:
        """(fx, fy, cx, cy) in pixels, defaults filled in."""
        fy = self.fy if self.fy is not None else self.fx
        if fy is None:  # NumPy as before full intrinsics existed: the same K, bit for bit
            fy = float(self.height / (2.0 * np.tan(np.deg2rad(self.fov) / 2.0)))
        fx = self.fx if self.fx is not None else fy
        cx = self.cx if self.cx is not None else self.width / 2.0
        cy = self.cy if self.cy is not None else self.height / 2.0
        return fx, fy, cx, cy

    def resized(self, width: int, height: int) -> CameraConfig:
        """The same camera with another image size (given intrinsics scale with it)."""
        if (width, height) == (self.width, self.height):
            return self  # frozen: sharing it is safe, and a randomized camera saves a copy
        if not self.has_intrinsics:
            return replace(self, width=width, height=height)
        sx, sy = width / self.width, height / self.height

        def scaled(v: float | None, s: float) -> float | None:
            return None if v is None else v * s

        return replace(self, width=width, height=height, fx=scaled(self.fx, sx),
                       fy=scaled(self.fy, sy), cx=scaled(self.cx, sx),
                       cy=scaled(self.cy, sy))  # fmt: skip

    def with_fov(self, fov: float) -> CameraConfig:
        """The same camera with vertical field of view ``fov`` (degrees): given focal
        lengths scale together, the principal point stays."""
        if self.fx is None and self.fy is None:
            return replace(self, fov=fov)
        k = math.tan(math.radians(self.fov) / 2.0) / math.tan(math.radians(fov) / 2.0)
        fx, fy, _, _ = self.intrinsics()
        return replace(self, fx=fx * k, fy=fy * k)

    @classmethod
    def from_calibration(
        cls,
        K: Any,
        T_world_camera: Any,
        width: int,
        height: int,
        *,
        mount: str | None = None,
        near: float = 0.05,
        far: float = 4.0,
    ) -> CameraConfig:
        """A camera that renders like a calibrated one: ``K`` the 3x3 OpenCV intrinsic matrix
        (pixels, no skew), ``T_world_camera`` the 4x4 camera pose (OpenCV axes: z forward, y
        down) in the world, or in the frame of link ``mount`` when one is given."""
        K = np.asarray(K, dtype=np.float64)
        T = np.asarray(T_world_camera, dtype=np.float64)
        if K.shape != (3, 3) or not np.isfinite(K).all():
            raise ValueError(f"K must be a finite 3x3 matrix, got shape {K.shape}")
        if (
            abs(K[0, 1]) > 1e-9 * abs(K[0, 0])
            or not np.allclose(K[2], [0.0, 0.0, 1.0])
            or (K[1, 0] != 0.0)
        ):
            raise ValueError(
                f"K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (no skew), got {K.tolist()}"
            )
        if T.shape != (4, 4) or not np.isfinite(T).all():
            raise ValueError(f"T_world_camera must be a finite 4x4 matrix, got shape {T.shape}")
        R = T[:3, :3]
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise ValueError(
                f"T_world_camera[:3, :3] must be a rotation (orthonormal, det +1), got {R.tolist()}"
            )
        eye = T[:3, 3]
        return cls(
            width=width, height=height, eye=_floats(eye), target=_floats(eye + R[:, 2]),
            up=_floats(-R[:, 1]), near=near, far=far, fx=float(K[0, 0]), fy=float(K[1, 1]),
            cx=float(K[0, 2]), cy=float(K[1, 2]), mount=mount,
        )  # fmt: skip


def _floats(v: np.ndarray) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


@dataclass
class CameraFrame:
    """One rendered frame. Arrays are ``None`` when not requested."""

    rgb: np.ndarray | None  # (H, W, 3) uint8
    depth: np.ndarray | None  # (H, W) float32 metres along the optical axis
    segmentation: np.ndarray | None  # (H, W) int32 body unique id, -1 = background


class Camera:
    """Renders the scene of one PyBullet client; matrices are cached until the pose changes
    (a mounted camera recomputes its view from the link pose at every use).

    Args:
        client: the ``BulletClient`` to render.
        config: pose, intrinsics and image size.
        light: lighting kwargs for ``getCameraImage`` (shared with the scene).
        renderer: ``"tiny"`` or ``"egl"`` (the EGL plugin must already be loaded).
        body: the body whose link ``config.mount`` names (the robot).
    """

    def __init__(
        self,
        client: Any,
        config: CameraConfig | None = None,
        *,
        light: dict[str, Any] | None = None,
        renderer: str = "tiny",
        body: int | None = None,
    ) -> None:
        self.client = client
        self._renderer_name = renderer
        self._renderer = (
            client.ER_BULLET_HARDWARE_OPENGL if renderer == "egl" else client.ER_TINY_RENDERER
        )
        # shared with the scene, so a lighting randomizer reaches every camera
        self.light = light if light is not None else {}
        self._body = body
        self._link: int | None = None
        self.configure(config or CameraConfig())

    def configure(self, config: CameraConfig) -> None:
        """Adopt a new configuration and recompute the cached matrices."""
        c = config
        self._link = None if c.mount is None else mount_link(self.client, self._body, c.mount)
        self.config = config
        if c.has_intrinsics:
            offset = PIXEL_OFFSET.get(self._renderer_name, (0.0, 0.0))
            self._proj = pinhole_projection(c.intrinsics(), c.width, c.height, c.near, c.far,
                                            offset)  # fmt: skip
        else:
            self._proj = self.client.computeProjectionMatrixFOV(
                c.fov, c.width / c.height, c.near, c.far
            )
        fx, fy, cx, cy = c.intrinsics()
        self._K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        self._set_view(c.eye, c.target, c.up)

    def _set_view(self, eye: Sequence[float], target: Sequence[float], up: Sequence[float]) -> None:
        view = self.client.computeViewMatrix(list(eye), list(target), list(up))
        if self.config.roll:
            view_m = np.asarray(view, dtype=np.float64).reshape(4, 4).T
            r = np.deg2rad(self.config.roll)
            rot = np.eye(4)
            rot[:2, :2] = [[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]]
            self._view = (rot @ view_m).T.reshape(-1).tolist()
        else:
            self._view = list(view)  # the same floats the NumPy round trip gave
        self._extrinsics_cache: np.ndarray | None = None  # built when first asked for

    @property
    def _extrinsics(self) -> np.ndarray:
        """World-to-camera transform of the current view, built once per view."""
        if self._extrinsics_cache is None:
            self._extrinsics_cache = _GL_TO_CV @ np.asarray(self._view).reshape(4, 4).T
        return self._extrinsics_cache

    def _follow(self) -> None:
        """A mounted camera: eye, target and up from the link frame to the world."""
        assert self._body is not None and self._link is not None
        cl, c = self.client, self.config
        if self._link == -1:
            pos, orn = cl.getBasePositionAndOrientation(self._body)
            inertial = cl.getDynamicsInfo(self._body, -1)[3:5]
            inv = cl.invertTransform(*inertial)
            pos, orn = cl.multiplyTransforms(pos, orn, *inv)  # centre of mass -> link frame
        else:
            pos, orn = cl.getLinkState(self._body, self._link, computeForwardKinematics=True)[4:6]
        R = np.asarray(cl.getMatrixFromQuaternion(orn)).reshape(3, 3)
        p = np.asarray(pos)
        self._set_view(R @ np.asarray(c.eye) + p, R @ np.asarray(c.target) + p,
                       R @ np.asarray(c.up))  # fmt: skip

    @property
    def mounted(self) -> bool:
        """Whether the camera follows a link."""
        return self._link is not None

    # -- geometry -----------------------------------------------------------------
    @property
    def K(self) -> np.ndarray:
        """3x3 intrinsic matrix (pixels)."""
        return self._K.copy()

    @property
    def extrinsics(self) -> np.ndarray:
        """4x4 world-to-camera transform (OpenCV axes)."""
        if self._link is not None:
            self._follow()
        return self._extrinsics.copy()

    @property
    def view_matrix(self) -> list[float]:
        """PyBullet (OpenGL, column-major) view matrix."""
        if self._link is not None:
            self._follow()
        return list(self._view)

    @property
    def projection_matrix(self) -> list[float]:
        """PyBullet (OpenGL, column-major) projection matrix."""
        return list(self._proj)

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 3) camera-frame points (OpenCV axes, metres)."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        T = self.extrinsics if self._link is not None else self._extrinsics
        return p @ T[:3, :3].T + T[:3, 3]

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
        out = {
            "width": c.width,
            "height": c.height,
            "K": self._K.tolist(),
            "extrinsics": self.extrinsics.tolist(),
            "fov": c.fov,
            "near": c.near,
            "far": c.far,
        }
        if c.mount is not None:
            out["mount"] = c.mount
        return out

    # -- rendering ----------------------------------------------------------------
    def render(
        self,
        *,
        rgb: bool = True,
        depth: bool = False,
        segmentation: bool = False,
        window: tuple[int, int, int, int] | None = None,
    ) -> CameraFrame:
        """Render once; only the requested outputs are converted (segmentation is skipped
        by the renderer when not requested). ``window`` = (u0, v0, u1, v1) renders only
        the pixels ``[v0:v1, u0:u1]`` of the full image, at a fraction of a full frame's
        cost: the same segmentation and depth; colours can differ by a few levels where
        texture lookups round differently (about 0.1 % of the pixels)."""
        c = self.config
        cl = self.client
        if self._link is not None:
            self._follow()
        width, height, proj = c.width, c.height, self._proj
        if window is not None:
            proj = window_projection(self._proj, c.width, c.height, window)
            width, height = window[2] - window[0], window[3] - window[1]
        flags = 0 if segmentation else cl.ER_NO_SEGMENTATION_MASK
        # the EGL plugin prints its driver ("ven = ...") to stdout on every render
        quiet = quiet_stdout() if self._renderer_name == "egl" else contextlib.nullcontext()
        with quiet:
            _, _, rgba, zbuf, seg = cl.getCameraImage(
                width,
                height,
                self._view,
                proj,
                renderer=self._renderer,
                flags=flags,
                **{**self.config.light, **self.light},  # the scene's (randomized) light wins
            )
        out_rgb = out_depth = out_seg = None
        if rgb:
            out_rgb = np.ascontiguousarray(
                np.reshape(rgba, (height, width, 4))[:, :, :3], dtype=np.uint8
            )
        if depth:
            zb = np.reshape(zbuf, (height, width)).astype(np.float64)
            out_depth = (c.far * c.near / (c.far - (c.far - c.near) * zb)).astype(np.float32)
        if segmentation:
            out_seg = np.reshape(seg, (height, width)).astype(np.int32)
        return CameraFrame(out_rgb, out_depth, out_seg)


def look_at_config(eye: Sequence[float], target: Sequence[float], **kwargs: Any) -> CameraConfig:
    """Convenience constructor: a camera at ``eye`` looking at ``target``."""
    return CameraConfig(eye=tuple(eye), target=tuple(target), **kwargs)  # type: ignore[arg-type]
