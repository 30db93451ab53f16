"""Bad constructor arguments and actions fail at once, naming the argument and what fits."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from envs.camera import CameraConfig
from envs.robot import ControlConfig
from envs.scene import Workspace

BAD_KWARGS = {  # (kwargs, exception, words of the message)
    "camera-dict": ({"camera": {"fov": 40}}, TypeError, "camera must be None or an envs.CameraConfig"),
    "physics-dict": ({"physics": {"timestep": 0.01}}, TypeError, "physics must be None or an envs.PhysicsConfig"),
    "control-int": ({"control": 3}, TypeError, "control must be None or an envs.ControlConfig"),
    "workspace-str": ({"workspace": "big"}, TypeError, "workspace must be None or an envs.Workspace"),
    "task-kwargs-unknown": ({"task_kwargs": {"height": 1}}, TypeError, "allowed: lift_height, max_yaw"),
    "task-kwargs-list": ({"task_kwargs": [1, 2]}, TypeError, "task_kwargs must be a dict, got list"),
    "image-size-huge": ({"image_size": 10_000}, ValueError, "at most 2048 pixels per side"),
    "render-size-huge": ({"render_size": (64, 4096), "render_mode": "rgb_array"}, ValueError, "render_size must be at most 2048"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_KWARGS))
def test_bad_constructor_arguments_fail_at_construction(case: str) -> None:
    kwargs, exc, words = BAD_KWARGS[case]
    with pytest.raises(exc, match=words):
        gym.make("domrand/Lift-v0", **kwargs)


BAD_CONFIGS = {
    "camera-eye-nan": (lambda: CameraConfig(eye=(float("nan"), 0.0, 1.0)), "CameraConfig.eye needs 3 finite"),
    "camera-up-parallel": (lambda: CameraConfig(eye=(0.5, 0.0, 2.0), target=(0.5, 0.0, 0.6)), "parallel to the viewing"),
    "camera-up-zero": (lambda: CameraConfig(up=(0.0, 0.0, 0.0)), "must not be zero or parallel"),
    "camera-target-short": (lambda: CameraConfig(target=(0.4, 0.0)), "CameraConfig.target needs 3"),  # type: ignore[arg-type]
    "workspace-low-above-high": (lambda: Workspace(object_low=(0.7, 0.0), object_high=(0.3, 0.1)), "object_low <= object_high"),
    "workspace-off-table": (lambda: Workspace(object_low=(-2.0, -2.0), object_high=(2.0, 2.0)), "must lie on the table top"),
    "workspace-ee-inverted": (lambda: Workspace(ee_low=(0.8, 0.4, 1.0), ee_high=(0.2, -0.4, 0.7)), "ee_low <= ee_high"),
    "control-arm-force-int": (lambda: ControlConfig(arm_force=0), "arm_force needs 7 values"),  # type: ignore[arg-type]
    "control-arm-force-negative": (lambda: ControlConfig(arm_force=(-1.0,) * 7), "arm_force values must be > 0"),
    "control-finger-force-zero": (lambda: ControlConfig(finger_force=0.0), "finger_force must be a number > 0"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_configs_fail_when_built(case: str) -> None:
    build, words = BAD_CONFIGS[case]
    with pytest.raises(ValueError, match=words):
        build()


@pytest.mark.parametrize(
    "action", ["left", [0.0, "up", 0.0, 0.0], None], ids=["str", "mixed", "none"]
)
def test_non_numeric_actions_name_the_expected_action(action) -> None:
    env = gym.make("domrand/Lift-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"expected an action of shape \(4,\) with numbers"):
        env.unwrapped.step(action)
    obs, *_ = env.step(np.zeros(4))  # the env is still usable
    assert np.isfinite(obs).all()
    env.close()


def test_a_failed_construction_closes_its_physics_client() -> None:
    from randomizers.physics import Physics

    seen = []

    class Broken(Physics):
        def setup(self, scene) -> None:
            seen.append(scene.client)
            raise RuntimeError("setup failed")

    with pytest.raises(RuntimeError, match="setup failed"):
        gym.make("domrand/Lift-v0", randomization=Broken())
    assert seen and seen[0].getConnectionInfo()["isConnected"] == 0


@pytest.mark.parametrize("value", [0, -2, 1.5, "often", True])
def test_every_n_steps_errors_name_the_preset_key(value) -> None:
    from randomizers.errors import PresetError
    from randomizers.presets import load_preset

    with pytest.raises(PresetError, match=r"^preset: camera\.every_n_steps: expected an int >= 1"):
        load_preset({"camera": {"every_n_steps": value}})
