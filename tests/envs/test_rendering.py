"""Visual detail and renderer choice: labels agree, EGL renders or falls back."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pybullet_data
import pytest

from envs.visuals import low_poly_urdf, panda_urdf


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(mask)
    return cols.min(), rows.min(), cols.max(), rows.max()


@pytest.mark.parametrize("env_id", ["domrand/Push-v0", "domrand/Lift-v0", "domrand/Reach-v0"])
def test_low_and_full_detail_give_the_same_object_labels(env_id: str) -> None:
    boxes = {}
    for detail in ("low", "full"):
        env = gym.make(env_id, obs_mode="rgb", image_size=96, visual_detail=detail).unwrapped
        env.reset(seed=4)
        seg = env.render_labels()["segmentation"]
        boxes[detail] = _box(seg == env.scene.sim.body(env.task.target_body()))
        robot_pixels = (seg == env.robot.id).sum()
        assert robot_pixels > 50
        env.close()
    assert np.abs(np.subtract(boxes["low"], boxes["full"])).max() <= 2


def test_low_poly_urdf_points_visuals_at_collision_meshes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DOMRAND_CACHE", str(tmp_path))
    path = Path(panda_urdf("low"))
    assert path.parent == tmp_path and path.exists()
    text = path.read_text()
    assert "meshes/visual" not in text and "package://" not in text
    assert str(Path(pybullet_data.getDataPath())) in text
    assert panda_urdf("low") == str(path)  # cached
    assert panda_urdf("full").endswith("franka_panda/panda.urdf")
    assert "collision/hand.obj" in low_poly_urdf(
        '<mesh filename="package://meshes/visual/hand.obj"/>'
    )
    with pytest.raises(ValueError, match="allowed: low, full"):
        panda_urdf("medium")


def test_full_detail_still_works(make_env) -> None:
    env = make_env("domrand/Lift-v0", obs_mode="rgb", image_size=32, visual_detail="full")
    obs, _ = env.reset(seed=0)
    assert obs.std() > 5


def test_egl_renders_or_falls_back_with_a_warning(capfd) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make("domrand/Push-v0", obs_mode="rgb", image_size=48, renderer="egl")
        obs, _ = env.reset(seed=0)
        env.step(env.action_space.sample())
    assert capfd.readouterr().out == ""  # the driver's "ven = ..." lines stay off stdout
    sim = env.unwrapped.scene.sim
    if sim.renderer == "egl":
        assert obs.std() > 5  # not a blank frame
        seg = env.unwrapped.render_labels()["segmentation"]
        assert (seg == sim.body("cube")).sum() > 0
    else:
        assert any("falling back to renderer='tiny'" in str(w.message) for w in caught)
        assert obs.std() > 5
    env.close()


def test_unknown_renderer() -> None:
    with pytest.raises(ValueError, match="allowed: tiny, egl"):
        gym.make("domrand/Push-v0", renderer="vulkan")
