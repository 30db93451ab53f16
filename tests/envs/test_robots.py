"""Robots as configuration: every shipped robot builds, resets, steps and takes the physics
and texture presets; link roles resolve from names; bad configs name the real joints."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

from envs.robot import ControlConfig
from envs.robots import KUKA, LINK_ROLES, PANDA, ROBOTS, XARM6, GripperJoint
from envs.scene import TABLE_TOP
from randomizers import load_preset
from tests.randomizers.kind_presets import KIND_PRESETS

HOME_TCP = (0.4466, 0.0, TABLE_TOP + 0.3246)  # every shipped robot starts its TCP here


@pytest.fixture(params=list(ROBOTS))
def robot(request: pytest.FixtureRequest) -> str:
    return request.param


def test_every_robot_resets_and_steps(robot: str, make_env) -> None:
    env = make_env("domrand/Lift-v0", robot=robot)
    obs, _ = env.reset(seed=0)
    assert env.robot.config is ROBOTS[robot]
    assert obs.shape == env.observation_space.shape and np.isfinite(obs).all()
    np.testing.assert_allclose(env.robot.ee_position(), HOME_TCP, atol=0.01)
    assert env.robot.finger_width() == pytest.approx(ROBOTS[robot].max_width, abs=1e-3)
    for action in ([1.0, 0.0, -1.0, -1.0], [0.0, 1.0, 0.0, 1.0], [-1.0, -1.0, 1.0, 0.0]):
        obs, reward, *_ = env.step(np.array(action, dtype=np.float32))
        assert np.isfinite(obs).all() and np.isfinite(reward)
    down = np.array(ROBOTS[robot].ee_orientation)
    assert abs(float(env.robot.ee_orientation() @ down)) > 0.99  # still pointing down (< 16 deg)


def test_push_starts_with_closed_fingers(robot: str, make_env) -> None:
    env = make_env("domrand/Push-v0", robot=robot)
    env.reset(seed=0)
    assert env.robot.finger_width() == pytest.approx(0.0, abs=1e-3)


def test_roles_resolve_to_the_named_links(robot: str, make_env) -> None:
    env = make_env("domrand/Reach-v0", robot=robot)
    r, c = env.robot, env.scene.client
    config = ROBOTS[robot]
    assert set(r.link_roles) == set(LINK_ROLES)
    for role, names in config.link_roles.items():
        for name, link in zip(names, r.link_roles[role], strict=True):
            actual = c.getBodyInfo(r.id)[0] if link == -1 else c.getJointInfo(r.id, link)[12]
            assert actual.decode() == name
    assert r.visual_links == sorted({i for links in r.link_roles.values() for i in links})
    assert len(r.link_roles["fingers"]) % 2 == 0


def test_panda_roles_are_the_links_it_always_used(make_env) -> None:
    """The Panda's roles give the indices the randomizers once hard-coded (so its params,
    textures and physics stay byte-identical)."""
    r = make_env("domrand/Reach-v0").robot
    assert r.link_roles["fingers"] == [9, 10]
    assert r.link_roles["base"] == [-1, 0]
    assert r.visual_links == [-1, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10]
    assert r.ee_link == 11 and r._joint_ids == [0, 1, 2, 3, 4, 5, 6, 9, 10]


@pytest.mark.parametrize("robot", ["xarm6", "kuka"])
def test_physics_preset_changes_the_robots_fingers(robot: str, make_env) -> None:
    env = make_env("domrand/Push-v0", robot=robot, randomization=KIND_PRESETS["physics"])
    _, info = env.reset(seed=0)
    p = info["randomization"]["physics"]
    c = env.scene.client
    fingers = env.robot.link_roles["fingers"]
    assert len(fingers) >= 2
    for link in fingers:
        assert c.getDynamicsInfo(env.robot.id, link)[1] == pytest.approx(p["lateral_friction"])
    assert env.robot._forces[0] == pytest.approx(ROBOTS[robot].arm_force[0] * p["actuator_force"])


@pytest.mark.parametrize("robot", ["xarm6", "kuka"])
def test_texture_preset_paints_every_robot_link(robot: str, make_env) -> None:
    env = make_env("domrand/Reach-v0", robot=robot, randomization=KIND_PRESETS["texture"])
    _, info = env.reset(seed=0)
    params = info["randomization"]["texture"]
    links = env.robot.visual_links
    assert sorted(k for k in params if k.startswith("robot.") and k.endswith(".texture")) == sorted(
        f"robot.link{i}.texture" for i in links
    )
    shapes = {s[1]: s[7] for s in env.scene.client.getVisualShapeData(env.robot.id)}
    painted = [i for i in links if i in shapes]
    assert len(painted) >= len(links) - 1  # a base without a visual shape may be listed
    for i in painted:
        np.testing.assert_allclose(shapes[i][:3], params[f"robot.link{i}.tint"], atol=1e-6)


def test_texture_randomizer_refuses_a_second_robot(make_env) -> None:
    texture = load_preset(KIND_PRESETS["texture"]).randomizers[0]
    make_env("domrand/Reach-v0", robot="panda", randomization=texture)
    with pytest.raises(ValueError, match="build one randomizer per robot"):
        make_env("domrand/Reach-v0", robot="xarm6", randomization=texture)


def test_a_custom_config_is_accepted(make_env) -> None:
    mine = dataclasses.replace(PANDA, name="my_panda", base_position=(0.0, 0.05, 0.0))
    env = make_env("domrand/Reach-v0", robot=mine)
    env.reset(seed=0)
    assert env.robot.config.name == "my_panda"
    np.testing.assert_allclose(env.robot.base_position, (0.0, 0.05, TABLE_TOP))
    np.testing.assert_allclose(env.scene.world_to_robot(np.array([0.5, 0.05, TABLE_TOP])),
                               [0.5, 0.0, 0.0])  # fmt: skip


def test_unknown_robot_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown robot 'ur5'; known robots: panda, xarm6, kuka"):
        gym.make("domrand/Reach-v0", robot="ur5")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"arm_joints": (*XARM6.arm_joints[:5], "joint_6")},
         "no joint named 'joint_6' in 'xarm/xarm6_with_gripper.urdf'; its joints: world_joint, joint1"),
        ({"ee_link": "tool0"}, "no link named 'tool0'.*; its links: world, link_base, link1"),
        ({"link_roles": {**XARM6.link_roles, "fingers": ("left_finger", "right_fingr")}},
         "no link named 'right_fingr'.*its links: world, link_base"),
        ({"gripper_joints": (GripperJoint("gripper_fix", open=0.0, closed=0.8, force=1.0),)},
         r"joints \['gripper_fix'\] are fixed .* cannot be driven; its movable joints: joint1"),
    ],
)  # fmt: skip
def test_a_wrong_name_lists_the_robots_real_names(change: dict, message: str) -> None:
    bad = dataclasses.replace(XARM6, **change)
    with pytest.raises(ValueError, match=message):
        gym.make("domrand/Reach-v0", robot=bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"home": (0.0,) * 5}, "home .*needs 7 finite numbers"),
        ({"arm_force": (1.0,) * 6 + (-1.0,)}, "arm_force .*needs 7 numbers > 0"),
        ({"path": "kuka.obj"}, "path must be a .urdf or .sdf file, got 'kuka.obj'"),
        ({"max_width": 0.0}, r"max_width must be in \(0, 0.5\] metres, got 0.0"),
        ({"ee_orientation": (1.0, 1.0, 0.0, 0.0)}, "ee_orientation must be a unit quaternion"),
        ({"link_roles": {"fingers": ("a", "b")}}, r"link_roles lacks \['base', 'arm', 'hand'\]"),
        ({"link_roles": {**KUKA.link_roles, "fingers": ("a", "b", "c")}},
         "left links then the right ones, as many on each side; got 3"),
        ({"gripper_joints": (GripperJoint("J7", open=0.0, closed=0.0, force=1.0),)},
         "needs at least one joint that moves"),
    ],
)  # fmt: skip
def test_a_bad_config_fails_where_it_is_built(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(KUKA, **change)


def test_a_missing_model_file_is_named() -> None:
    bad = dataclasses.replace(PANDA, name="ghost", path="nowhere/ghost.urdf", low_poly=False)
    with pytest.raises(
        ValueError, match=r"robot 'ghost': model file 'nowhere/ghost\.urdf' not found"
    ):
        gym.make("domrand/Reach-v0", robot=bad)


def test_arm_force_must_match_the_robots_arm() -> None:
    with pytest.raises(ValueError, match="arm_force needs 6 values for robot 'xarm6'"):
        gym.make("domrand/Reach-v0", robot="xarm6", control=ControlConfig(arm_force=(10.0,) * 7))
