"""The camera randomizer moves the cameras it names and leaves the others alone."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from envs.camera import CameraConfig
from randomizers.camera import CameraPose
from randomizers.compose import Compose
from randomizers.distributions import Distribution
from randomizers.errors import PresetError
from randomizers.presets import load_preset

FRONT = CameraConfig(width=32, height=32)
SIDE = CameraConfig(width=32, height=24, eye=(0.5, 0.9, 1.0), target=(0.5, 0.0, 0.65))
WRIST = CameraConfig(width=24, height=24, mount="panda_hand", eye=(0.06, 0.0, 0.0),
                     target=(0.06, 0.0, 0.2), up=(1.0, 0.0, 0.0))  # fmt: skip
JITTER: dict[str, Any] = {"eye_offset": [-0.1, 0.1], "target_offset": [-0.05, 0.05],
                          "roll": [-10, 10], "fov_scale": [0.8, 1.2]}  # fmt: skip


def _cameras(**extra: CameraConfig) -> dict[str, CameraConfig]:
    return {"front": FRONT, "side": SIDE, **extra}


def test_default_target_is_the_main_camera_and_others_stay(make_env) -> None:
    """Before named cameras, every camera was moved onto the main camera's random pose."""
    env = make_env("domrand/Reach-v0", cameras=_cameras(), randomization={"camera": JITTER})
    nominal = make_env("domrand/Reach-v0", cameras=_cameras())
    nominal.reset(seed=0)
    for seed in range(3):
        env.reset(seed=seed)
        assert env.cameras["side"].config == SIDE
        np.testing.assert_array_equal(env.cameras["side"].extrinsics,
                                      nominal.cameras["side"].extrinsics)  # fmt: skip
        assert not np.allclose(env.camera.extrinsics, nominal.camera.extrinsics, atol=1e-4)
        assert not np.allclose(env.camera.extrinsics, env.cameras["side"].extrinsics, atol=0.1)


def test_named_camera_moves_alone(make_env) -> None:
    preset = {"camera": {**JITTER, "cameras": ["side"]}}
    env = make_env("domrand/Reach-v0", cameras=_cameras(), randomization=preset)
    _, info = env.reset(seed=1)
    params = info["randomization"]["camera"]
    assert env.camera.config == FRONT  # the main camera is not named: untouched
    side = env.cameras["side"].config
    expected = np.add(SIDE.eye, params["eye_offset"])
    np.testing.assert_allclose(side.eye, expected)
    assert side.roll == pytest.approx(params["roll"])
    assert side.fov == pytest.approx(SIDE.fov * params["fov_scale"])
    assert (side.width, side.height) == (32, 24)


def test_named_cameras_replay_exactly(make_env) -> None:
    preset = {"camera": {**JITTER, "cameras": ["front", "wrist"]}}
    env = make_env("domrand/Reach-v0", cameras=_cameras(wrist=WRIST), randomization=preset,
                   obs_mode="rgb")  # fmt: skip
    obs, info = env.reset(seed=4)
    again, _ = env.reset(seed=99, options={"randomization": info["randomization"]})
    for name in ("front", "side", "wrist"):
        np.testing.assert_array_equal(obs[name], again[name])
    offsets = info["randomization"]["camera"]["eye_offset"]
    np.testing.assert_allclose(env.cameras["wrist"].config.eye, np.add(WRIST.eye, offsets))
    assert env.cameras["side"].config == SIDE


def test_two_randomizers_give_cameras_independent_draws(make_env) -> None:
    jitter = {"eye_offset": [Distribution("uniform", low=-0.1, high=0.1)] * 3}
    both = Compose([CameraPose(cameras=["front"], name="cam_front", **jitter),
                    CameraPose(cameras=["side"], name="cam_side", **jitter)])  # fmt: skip
    env = make_env("domrand/Reach-v0", cameras=_cameras(), randomization=both)
    _, info = env.reset(seed=0)
    p = info["randomization"]
    assert p["cam_front"]["eye_offset"] != p["cam_side"]["eye_offset"]
    np.testing.assert_allclose(
        env.camera.config.eye, np.add(FRONT.eye, p["cam_front"]["eye_offset"])
    )
    np.testing.assert_allclose(env.cameras["side"].config.eye,
                               np.add(SIDE.eye, p["cam_side"]["eye_offset"]))  # fmt: skip


def test_fov_scale_keeps_a_calibrated_principal_point(make_env) -> None:
    K = [[40.0, 0.0, 13.0], [0.0, 44.0, 10.5], [0.0, 0.0, 1.0]]
    T = np.eye(4)
    T[:3, :3] = np.diag([1.0, -1.0, -1.0])  # looking straight down
    T[:3, 3] = (0.5, 0.0, 1.4)
    calibrated = CameraConfig.from_calibration(K, T, 32, 24)
    preset = {"camera": {"fov_scale": [0.7, 0.9], "cameras": ["top"]}}
    env = make_env("domrand/Reach-v0", cameras={"front": FRONT, "top": calibrated},
                   randomization=preset)  # fmt: skip
    _, info = env.reset(seed=0)
    K_now = env.cameras["top"].K
    assert (K_now[0, 2], K_now[1, 2]) == (13.0, 10.5)
    assert K_now[0, 0] / K_now[1, 1] == pytest.approx(40.0 / 44.0)
    s = info["randomization"]["camera"]["fov_scale"]
    assert env.cameras["top"].config.fov == pytest.approx(calibrated.fov * s)


def test_unknown_camera_name_fails_at_construction_listing_the_cameras() -> None:
    preset = {"camera": {"cameras": ["wrist"]}}
    with pytest.raises(PresetError, match=r"unknown camera\(s\) \['wrist'\]; this env's "
                       r"cameras: front, side"):  # fmt: skip
        gym.make("domrand/Reach-v0", cameras=_cameras(), randomization=preset)


@pytest.mark.parametrize("value", [[], [1], ["front", "front"], {"front": 1}])
def test_bad_cameras_option(value: Any) -> None:
    with pytest.raises(PresetError, match=r"camera\.cameras: expected a non-empty list"):
        load_preset({"camera": {"cameras": value}})


def test_default_params_are_unchanged() -> None:
    """The ``cameras`` option adds no param: presets without it sample as before."""
    r = load_preset({"camera": JITTER})
    assert sorted(r.sample(np.random.default_rng(0))["camera"]) == [
        "eye_offset", "fov_scale", "roll", "target_offset"]  # fmt: skip
