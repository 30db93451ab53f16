"""Camera geometry for localization: back-projecting pixels onto a plane, and the error
floor that a calibration error alone sets for any pixel-based localizer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def back_project(
    uv: np.ndarray, K: np.ndarray, extrinsics: np.ndarray, plane_z: float | np.ndarray
) -> np.ndarray:
    """World points (N, 3) where the rays through pixels ``uv`` (N, 2), (column, row) with
    the origin at the top-left corner, meet the horizontal plane ``z = plane_z``.

    ``K`` is the 3x3 intrinsic matrix and ``extrinsics`` the 4x4 world-to-camera transform
    (OpenCV axes), as in :meth:`envs.camera.Camera.info`. Rays parallel to the plane or
    meeting it behind the camera give NaN.
    """
    uv = np.atleast_2d(np.asarray(uv, dtype=np.float64))
    R, t = np.asarray(extrinsics, dtype=np.float64)[:3, :3], np.asarray(extrinsics)[:3, 3]
    origin = -R.T @ t
    pix = np.concatenate([uv, np.ones((len(uv), 1))], axis=1)
    rays = np.linalg.solve(np.asarray(K, dtype=np.float64), pix.T).T @ R  # rows: R.T @ d
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = (np.asarray(plane_z, dtype=np.float64) - origin[2]) / rays[:, 2]
    points = origin + lam[:, None] * rays
    points[~(lam > 0)] = np.nan
    return points


def project(points: np.ndarray, K: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """Pixels (N, 2), (column, row), of world points (N, 3): the inverse of
    :func:`back_project` for points on its plane."""
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    E = np.asarray(extrinsics, dtype=np.float64)
    cam = pts @ E[:3, :3].T + E[:3, 3]
    pix = cam @ np.asarray(K, dtype=np.float64).T
    return pix[:, :2] / pix[:, 2:3]


@dataclass(frozen=True)
class FloorReport:
    """Error (cm) of a perfect pixel detector back-projected through the nominal camera."""

    preset: str
    n: int
    mean_cm: float
    median_cm: float
    p90_cm: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dict(self.__dict__)


def calibration_floor(
    env_id: str = "domrand/Lift-v0",
    preset: str = "target",
    *,
    n: int = 500,
    image_size: int = 64,
    seed: int = 0,
) -> FloorReport:
    """The localization error that the preset's camera error alone sets.

    For ``n`` seeded episodes, the target object's true centre is projected through the
    episode's (randomized) camera, which is what a perfect detector would find in the image,
    then back-projected through the env's nominal camera onto the horizontal plane at the
    object's true height. No image is rendered.
    """
    import gymnasium as gym

    from envs.camera import Camera
    from envs.seeding import episode_seed

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    env = gym.make(env_id, randomization=preset, image_size=image_size)
    try:
        u: Any = env.unwrapped
        nominal = Camera(u.scene.client, u.scene.camera_config.resized(image_size, image_size))
        errors = []
        for i in range(n):
            env.reset(seed=episode_seed(seed, i))
            pos = np.asarray(u.privileged_state()["object_pos"], dtype=np.float64)
            uv = u.camera.project(pos[None])
            found = back_project(uv, nominal.K, nominal.extrinsics, pos[2])[0]
            errors.append(float(np.linalg.norm(found - pos)))
    finally:
        env.close()
    cm = np.asarray(errors) * 100.0
    return FloorReport(preset, n, float(cm.mean()), float(np.median(cm)),
                       float(np.percentile(cm, 90)))  # fmt: skip
