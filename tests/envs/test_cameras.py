"""Full intrinsics and calibrated cameras: a render matches K [R|t] to < 0.5 px."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from envs.camera import Camera, CameraConfig
from envs.sim import Simulation

W, H = 640, 480
K = np.array([[600.0, 0.0, 283.4], [0.0, 680.0, 262.6], [0.0, 0.0, 1.0]])  # off-centre


def _pose(eye: np.ndarray, look: np.ndarray) -> np.ndarray:
    """T_world_camera (OpenCV axes) of a camera at ``eye`` looking at ``look``."""
    z = (look - eye) / np.linalg.norm(look - eye)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    T[:3, 3] = eye
    return T


def _renderers() -> list[str]:
    found = importlib.util.find_spec("eglRenderer") is not None
    return ["tiny", pytest.param("egl", marks=pytest.mark.skipif(not found, reason="no EGL"))]


@pytest.mark.parametrize("renderer", _renderers())
def test_calibrated_render_matches_the_calibration(renderer: str) -> None:
    """Small spheres at known world points (a grid and the corners of a box, so depths
    vary): their segmentation centroids lie where K [R|t] projects them (< 0.5 px), and
    Camera.project agrees."""
    sim = Simulation(renderer=renderer)
    try:
        c = sim.client
        T = _pose(np.array([1.1, 0.45, 0.85]), np.array([0.0, 0.05, 0.1]))
        cam = Camera(c, CameraConfig.from_calibration(K, T, W, H), renderer=sim.renderer)
        points = np.array([(-0.24 + 0.12 * i, -0.3 + 0.15 * j, 0.05 + 0.04 * ((i + j) % 3))
                           for i in range(5) for j in range(5)])  # fmt: skip
        half = np.array([0.15, 0.12, 0.1])
        box_at = np.array([-0.1, 0.5, 0.35])
        corners = box_at + half * np.array([(sx, sy, sz) for sx in (-1, 1) for sy in (-1, 1)
                                            for sz in (-1, 1)])  # fmt: skip
        sphere = c.createVisualShape(c.GEOM_SPHERE, radius=0.009)
        wanted = np.concatenate([points, corners])
        bodies = [c.createMultiBody(0, -1, sphere, basePosition=p.tolist()) for p in wanted]
        seg = cam.render(rgb=False, segmentation=True).segmentation
        T_cw = np.linalg.inv(T)
        pc = wanted @ T_cw[:3, :3].T + T_cw[:3, 3]
        expected = (pc @ K.T)[:, :2] / pc[:, 2:]
        gaps = np.linalg.norm(expected[:, None] - expected[None], axis=-1) + 99 * np.eye(len(pc))
        assert gaps.min() > 10.0, "spheres overlap in the image: the test is ill-posed"
        np.testing.assert_allclose(cam.project(wanted), expected, atol=1e-3)
        np.testing.assert_allclose(cam.K, K)
        np.testing.assert_allclose(cam.extrinsics, T_cw, atol=1e-6)
        errors = []
        for body, uv in zip(bodies, expected, strict=True):
            rows, cols = np.nonzero(seg == body)
            assert rows.size >= 25, f"sphere at {uv} barely visible ({rows.size} px)"
            errors.append([cols.mean() + 0.5 - uv[0], rows.mean() + 0.5 - uv[1]])
        err = np.abs(np.array(errors))
        assert err.max() < 0.5, f"largest centroid error {err.max():.3f} px"
        assert err.mean() < 0.15, f"mean centroid error {err.mean():.3f} px"
    finally:
        sim.close()


def test_fov_only_camera_keeps_pybullets_projection() -> None:
    """A camera given by ``fov`` alone renders and reports K exactly as before."""
    sim = Simulation()
    try:
        cfg = CameraConfig(width=80, height=60, fov=50.0)
        cam = Camera(sim.client, cfg)
        assert not cfg.has_intrinsics
        assert cam.projection_matrix == list(
            sim.client.computeProjectionMatrixFOV(50.0, 80 / 60, cfg.near, cfg.far)
        )
        fy = 60 / (2.0 * np.tan(np.deg2rad(50.0) / 2.0))
        assert cam.K.tolist() == [[fy, 0.0, 40.0], [0.0, fy, 30.0], [0.0, 0.0, 1.0]]
    finally:
        sim.close()


def test_intrinsics_defaults_resize_and_zoom() -> None:
    cfg = CameraConfig(width=200, height=100, fx=150.0, cy=40.0)
    assert cfg.intrinsics() == (150.0, 150.0, 100.0, 40.0)  # fy = fx, cx at the centre
    assert cfg.fov == pytest.approx(math.degrees(2 * math.atan(100 / 300)))
    half = cfg.resized(100, 50)
    assert half.intrinsics() == (75.0, 75.0, 50.0, 20.0)
    assert half.fov == pytest.approx(cfg.fov)
    wide = cfg.with_fov(2 * cfg.fov)
    fx, fy, cx, cy = wide.intrinsics()
    assert (cx, cy) == (100.0, 40.0) and fx == pytest.approx(fy)
    assert wide.fov == pytest.approx(2 * cfg.fov)
    assert CameraConfig(fov=40.0).with_fov(50.0) == CameraConfig(fov=50.0)


@pytest.mark.parametrize(
    ("K_bad", "T_bad", "match"),
    [
        ([[300, 2, 100], [0, 300, 80], [0, 0, 1]], np.eye(4), "no skew"),
        (np.eye(2), np.eye(4), "3x3"),
        (K, np.diag([1.0, 1.0, 2.0, 1.0]), "must be a rotation"),
        (K, np.diag([1.0, 1.0, -1.0, 1.0]), "must be a rotation"),
        (K, np.eye(3), "4x4"),
    ],
)
def test_bad_calibration(K_bad, T_bad, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CameraConfig.from_calibration(K_bad, T_bad, W, H)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"fx": 0.0}, "fx must be > 0"), ({"cy": float("nan")}, "cy must be a finite"),
     ({"mount": ""}, "mount must be a link name")],
)  # fmt: skip
def test_bad_intrinsics(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CameraConfig(**kwargs)
