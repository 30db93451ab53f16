"""Back-projection through a known camera, and the error floor of the held-out domains."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents.perception.camera_geometry import back_project, calibration_floor
from scripts import calibration_floor as floor_script


def test_back_projection_inverts_projection_on_the_table_plane() -> None:
    env = gym.make("domrand/Lift-v0", randomization="tobin", image_size=(48, 64))
    cam = env.unwrapped.camera
    rng = np.random.default_rng(0)
    for seed in range(3):
        env.reset(seed=seed)  # a randomized camera: pose, aim and field of view
        points = np.column_stack([rng.uniform(0.3, 0.7, 20), rng.uniform(-0.25, 0.25, 20),
                                  np.full(20, 0.645)])  # fmt: skip
        uv = cam.project(points)
        found = back_project(uv, cam.K, cam.extrinsics, 0.645)
        np.testing.assert_allclose(found, points, atol=1e-6)  # float32 view matrices
    up = back_project([[32.0, -500.0]], cam.K, cam.extrinsics, 0.645)  # far above the horizon
    assert np.isnan(up).all()
    env.close()


def test_floors_of_the_held_out_domains() -> None:
    none = calibration_floor(preset="none", n=10)
    assert none.mean_cm < 1e-4  # the nominal camera itself: a perfect detector is exact
    target = calibration_floor(preset="target", n=100)
    shift = calibration_floor(preset="target_camera_shift", n=100)
    assert 0.4 < target.mean_cm < 1.2  # 5 mm and 0.01 rad of calibration error
    assert shift.mean_cm > 5.0  # a camera moved outside the training range
    assert target.p90_cm < shift.median_cm


def test_floor_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert floor_script.main(["--presets", "target", "--n", "20", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"preset": "target"' in out and '"n": 20' in out
    assert floor_script.main(["--presets", "nonexistent", "--n", "5"]) == 2
    assert "unknown preset 'nonexistent'" in capsys.readouterr().err
    assert floor_script.main(["--n", "0"]) == 2
    assert "--n must be >= 1" in capsys.readouterr().err


def test_project_inverts_back_project() -> None:
    from agents.perception.camera_geometry import back_project, project

    K = np.array([[60.0, 0, 32], [0, 60.0, 32], [0, 0, 1]])
    c, s = np.cos(0.8), np.sin(0.8)  # a camera looking down at the table, rows orthonormal
    E = np.array([[0.0, 1, 0, 0], [c, 0, -s, 0.19], [-s, 0, -c, 1.52], [0, 0, 0, 1]])
    uv = np.array([[10.0, 20.0], [31.5, 40.25], [60.0, 5.0]])
    np.testing.assert_allclose(project(back_project(uv, K, E, 0.645), K, E), uv, atol=1e-9)
