"""Several named cameras per env: observation dicts, mounted cameras, bad names."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs.camera import CameraConfig

FRONT = CameraConfig(width=48, height=40)
WRIST = CameraConfig(width=32, height=24, mount="panda_hand", eye=(0.06, 0.0, 0.0),
                     target=(0.06, 0.0, 0.2), up=(1.0, 0.0, 0.0), fov=80.0)  # fmt: skip
SIDE = CameraConfig(width=32, height=32, eye=(0.5, 0.9, 1.0), target=(0.5, 0.0, 0.65))


def test_single_named_camera_keeps_todays_observations(make_env) -> None:
    a = make_env("domrand/Push-v0", obs_mode="state+rgb", image_size=40, camera=FRONT)
    b = make_env("domrand/Push-v0", obs_mode="state+rgb", image_size=40,
                 cameras={"front": FRONT})  # fmt: skip
    assert a.observation_space == b.observation_space
    assert b.observation_space["rgb"].shape == (40, 40, 3)
    oa, ia = a.reset(seed=3)
    ob, ib = b.reset(seed=3)
    np.testing.assert_array_equal(oa["rgb"], ob["rgb"])
    assert ia["camera"] == ib["camera"] and "cameras" not in ib


@pytest.mark.parametrize("obs_mode", ["rgb", "rgbd", "state+rgb"])
def test_several_cameras_give_dicts_by_camera_name(make_env, obs_mode: str) -> None:
    env = make_env("domrand/Lift-v0", obs_mode=obs_mode, cameras={"front": FRONT, "wrist": WRIST})
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    rgb = obs if obs_mode == "rgb" else obs["rgb"]
    assert {n: v.shape for n, v in rgb.items()} == {"front": (40, 48, 3), "wrist": (24, 32, 3)}
    if obs_mode == "rgbd":
        assert obs["depth"]["wrist"].shape == (24, 32, 1)
    assert set(info["cameras"]) == {"front", "wrist"}
    assert info["cameras"]["wrist"]["mount"] == "panda_hand"
    np.testing.assert_array_equal(env.render_labels("wrist")["rgb"], rgb["wrist"])


def test_image_size_resizes_every_camera(make_env) -> None:
    env = make_env("domrand/Reach-v0", obs_mode="rgb", image_size=(20, 30),
                   cameras={"front": FRONT, "side": SIDE})  # fmt: skip
    assert {n: s.shape for n, s in env.observation_space.items()} == {
        "front": (20, 30, 3), "side": (20, 30, 3)}  # fmt: skip


def test_multi_camera_env_passes_gymnasiums_checker() -> None:
    env = gym.make("domrand/Reach-v0", obs_mode="rgb", cameras={"front": FRONT, "wrist": WRIST})
    try:
        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


def test_wrist_camera_follows_the_hand(make_env) -> None:
    env = make_env("domrand/Reach-v0", obs_mode="rgb", cameras={"front": FRONT, "wrist": WRIST})
    env.reset(seed=0)
    c, robot = env.scene.client, env.robot.id
    hand = [
        j for j in range(c.getNumJoints(robot)) if c.getJointInfo(robot, j)[12] == b"panda_hand"
    ]
    wrist = env.cameras["wrist"]
    seen = []
    for _ in range(3):
        pos, orn = c.getLinkState(robot, hand[0], computeForwardKinematics=True)[4:6]
        R = np.asarray(c.getMatrixFromQuaternion(orn)).reshape(3, 3)
        eye = R @ np.array(WRIST.eye) + np.array(pos)
        ahead = R @ np.array(WRIST.target) + np.array(pos)
        np.testing.assert_allclose(wrist.world_to_camera(eye), [[0, 0, 0]], atol=1e-5)
        p = wrist.world_to_camera(ahead)[0]
        assert p[2] == pytest.approx(0.2, abs=1e-5) and abs(p[0]) < 1e-5 and abs(p[1]) < 1e-5
        seen.append(wrist.extrinsics)
        for _ in range(4):
            env.step(np.array([1.0, -1.0, 0.5]))
    assert not np.allclose(seen[0], seen[-1], atol=1e-3)  # the hand moved, so did the camera
    assert env.cameras["front"].extrinsics.tolist() == env.camera.extrinsics.tolist()


def test_wrist_camera_sees_the_fingers(make_env) -> None:
    env = make_env("domrand/Lift-v0", obs_mode="rgb", cameras={"front": FRONT, "wrist": WRIST})
    env.reset(seed=0)
    seg = env.render_labels("wrist")["segmentation"]
    assert (seg == env.robot.id).mean() > 0.02


def test_unknown_mount_link_lists_the_robots_links() -> None:
    bad = CameraConfig(mount="panda_palm")
    with pytest.raises(ValueError) as info:
        gym.make("domrand/Reach-v0", cameras={"front": FRONT, "wrist": bad})
    text = str(info.value)
    assert "camera 'wrist'" in text and "'panda_palm'" in text
    assert "panda_hand" in text and "panda_link0" in text and "panda_grasptarget" in text


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"camera": FRONT, "cameras": {"front": FRONT}}, "not both"),
     ({"cameras": {}}, "non-empty dict"),
     ({"cameras": {"a/b": FRONT}}, "without '/'"),
     ({"cameras": {"front": "front"}}, "must be an envs.CameraConfig")],
)  # fmt: skip
def test_bad_cameras_argument(kwargs: dict, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        gym.make("domrand/Reach-v0", **kwargs)


def test_unknown_camera_name_in_render_labels(make_env) -> None:
    env = make_env("domrand/Reach-v0", cameras={"front": FRONT, "side": SIDE})
    env.reset(seed=0)
    with pytest.raises(KeyError, match="this env's cameras: \\['front', 'side'\\]"):
        env.render_labels("wrist")
