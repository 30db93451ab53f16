"""Randomizers change the simulation for real: physics, texture, lighting, camera, object
poses, distractors and image noise, each next to the nominal scene, and nominal params
restore it exactly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from tests.randomizers.kind_presets import KIND_PRESETS
from tests.randomizers.kind_presets import push_env as _env


def _dynamics(env) -> dict:
    c, cube = env.scene.client, env.scene.sim.body("cube")
    d = c.getDynamicsInfo(cube, -1)
    finger = c.getDynamicsInfo(env.robot.id, env.robot.link_roles["fingers"][0])
    return {
        "mass": d[0], "friction": d[1], "restitution": d[5], "finger_friction": finger[1],
        "joint_damping": c.getJointInfo(env.robot.id, 1)[6], "forces": list(env.robot._forces),
        "latency": env.scene.effects.action_latency, "noise": env.scene.effects.action_noise,
    }  # fmt: skip


def test_physics_changes_dynamics_and_nominal_params_restore_exactly() -> None:
    env = _env(KIND_PRESETS["physics"])
    nominal_env = _env(None)
    nominal_env.reset(seed=0)
    before = _dynamics(nominal_env)
    _, info = env.reset(seed=0)
    p = info["randomization"]["physics"]
    after = _dynamics(env)
    assert after["mass"] == pytest.approx(0.1 * p["mass"])
    assert after["friction"] == pytest.approx(1.0 * p["lateral_friction"])
    assert after["finger_friction"] == pytest.approx(1.0 * p["lateral_friction"])
    assert after["restitution"] == pytest.approx(p["restitution"])
    assert after["forces"][0] == pytest.approx(87.0 * p["actuator_force"])
    assert after["latency"] == p["latency"] and after["noise"] == p["action_noise"]
    # A "none" sample: identity values (scale 1, nominal gravity, no latency or noise),
    # applied after many randomized episodes, gives back the nominal simulation exactly:
    # the same dynamics and the same trajectory bytes as an env that was never randomized.
    identity = _env(
        {
            "physics": {
                "mass": 1.0,
                "lateral_friction": 1.0,
                "restitution": 0.0,
                "joint_damping": 0.0,
                "actuator_force": 1.0,
                "gravity": -9.81,
            }
        }
    )
    for _ in range(3):
        identity.reset()
        identity.randomizer.apply(identity.scene, env.randomizer.sample(np.random.default_rng(1)))
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (15, 3))
    traj = []
    for e in (identity, nominal_env):
        obs, _ = e.reset(seed=0)
        assert _dynamics(e)["mass"] == before["mass"]
        seq = [obs]
        for a in actions:
            seq.append(e.step(a)[0])
        traj.append(np.stack(seq))
    assert _dynamics(identity) == _dynamics(nominal_env)
    assert traj[0].tobytes() == traj[1].tobytes()
    for e in (env, nominal_env, identity):
        e.close()


def test_joint_damping_changes_motion() -> None:
    moved = []
    for damping in (0.0, 5.0):
        env = gym.make("domrand/Reach-v0", randomization={"physics": {"joint_damping": damping}})
        env.reset(seed=0)
        start = env.unwrapped.privileged_state()["ee_pos"]
        env.step(np.array([0.0, 1.0, 0.0]))
        moved.append(env.unwrapped.privileged_state()["ee_pos"] - start)
        env.close()
    assert moved[1][1] < moved[0][1]


def test_latency_delays_the_action() -> None:
    env = _env({"physics": {"latency": 2}})
    env.reset(seed=0)
    start = env.privileged_state()["ee_pos"]
    env.step(np.array([0.0, 1.0, 0.0]))
    env.step(np.zeros(3))
    assert np.linalg.norm(env.privileged_state()["ee_pos"] - start) < 0.005  # not yet
    env.step(np.zeros(3))
    assert env.privileged_state()["ee_pos"][1] - start[1] > 0.01  # executed two steps late
    env.close()


def test_texture_assigns_bank_textures_and_tints() -> None:
    env = _env(KIND_PRESETS["texture"], obs_mode="rgb", image_size=48)
    plain = _env(None, obs_mode="rgb", image_size=48)
    obs0, _ = plain.reset(seed=0)
    obs, info = env.reset(seed=0)
    p = info["randomization"]["texture"]
    rgba = env.scene.client.getVisualShapeData(env.scene.sim.body("table"))[0][7]
    np.testing.assert_allclose(rgba[:3], p["table.tint"], atol=1e-6)
    assert np.abs(obs.astype(int) - obs0).mean() > 10
    obs2, _ = env.reset(seed=1)
    assert not np.array_equal(obs, obs2)
    env.close()
    plain.close()


def test_lighting_changes_the_image_and_nominal_restores() -> None:
    env = _env(KIND_PRESETS["lighting"], obs_mode="rgb", image_size=48)
    obs, info = env.reset(seed=0)
    assert set(env.scene.effects.light) >= {"lightDirection", "lightColor", "lightAmbientCoeff"}
    plain = _env(None, obs_mode="rgb", image_size=48)
    obs0, _ = plain.reset(seed=0)
    assert not np.array_equal(obs, obs0)
    # a lighting randomizer with nothing configured leaves the renderer's defaults
    env2 = _env({"lighting": {}}, obs_mode="rgb", image_size=48)
    obs_none, info = env2.reset(seed=0)
    assert {k: v for k, v in info["randomization"].items() if k != "task"} == {"lighting": {}}
    assert np.array_equal(obs_none, obs0)
    for e in (env, plain, env2):
        e.close()


def test_camera_moves_extrinsics_and_reports_them() -> None:
    env = _env(KIND_PRESETS["camera"])
    plain = _env(None)
    _, info0 = plain.reset(seed=0)
    _, info = env.reset(seed=0)
    p = info["randomization"]["camera"]
    assert info["camera"]["extrinsics"] != info0["camera"]["extrinsics"]
    fy = info["camera"]["K"][1][1]
    expected_fov = 55.0 * p["fov_scale"]
    assert fy == pytest.approx(
        info["camera"]["height"] / (2 * np.tan(np.deg2rad(expected_fov) / 2))
    )
    np.testing.assert_allclose(env.camera.config.eye, np.add((0.95, 0.0, 1.2), p["eye_offset"]))
    zero = {"eye_offset": [0.0] * 3, "target_offset": [0.0] * 3, "roll": 0.0, "fov_scale": 1.0}
    _, info = env.reset(seed=0, options={"randomization": {"camera": zero}})
    assert info["camera"] == info0["camera"]
    env.close()
    plain.close()


def test_object_pose_places_the_target() -> None:
    env = _env(KIND_PRESETS["object_pose"])
    _, info = env.reset(seed=0)
    p = info["randomization"]["object_pose"]
    pos, orn = env.scene.sim.pose("cube")
    assert pos[:2] == pytest.approx([p["target.x"], p["target.y"]])
    assert pos[2] == pytest.approx(env.task.cube_rest_z)
    yaw = env.scene.client.getEulerFromQuaternion(orn.tolist())[2]
    assert yaw == pytest.approx(p["target.yaw"], abs=1e-6)
    env.close()


def test_reach_goal_follows_a_moved_target() -> None:
    env = gym.make("domrand/Reach-v0", randomization=KIND_PRESETS["object_pose"]).unwrapped
    _, info = env.reset(seed=0)
    p = info["randomization"]["object_pose"]
    assert env.task.goal[:2] == pytest.approx([p["target.x"], p["target.y"]])
    env.close()


def test_distractors_place_count_bodies_and_park_the_rest() -> None:
    env = _env(KIND_PRESETS["distractors"])
    for seed in range(3):
        _, info = env.reset(seed=seed)
        p = info["randomization"]["distractors"]
        on_table = [
            n for n in env.scene.body_names("distractors")
            if env.scene.sim.pose(n)[0][2] > env.scene.table_top - 0.05
        ]  # fmt: skip
        assert len(on_table) == p["count"]
        for i in range(p["count"]):
            name = f"distractors{p[f'slot{i}.body']}"
            assert env.scene.sim.pose(name)[0][:2] == pytest.approx(
                [p[f"slot{i}.x"], p[f"slot{i}.y"]], abs=1e-6
            )
    n_bodies = env.scene.client.getNumBodies()
    env.reset(seed=99)
    assert env.scene.client.getNumBodies() == n_bodies  # a reset loads nothing
    env.close()


def test_non_colliding_primitive_distractors_rest_on_the_table_with_their_real_size() -> None:
    """Visual-only spheres and cylinders keep a (filtered) collision shape: without one a
    body's AABB is a point, so they sank to their centres and had point-sized 3D boxes."""
    from envs.dataset.labels import local_box

    preset = {"distractors": {"count": [6, 6], "shapes": ["sphere", "cylinder"], "bank_size": 4}}
    env = _env(preset)
    env.reset(seed=0)
    c, top = env.scene.client, env.scene.table_top
    placed = [n for n in env.scene.body_names("distractors")
              if env.scene.sim.pose(n)[0][2] > top - 0.05]  # fmt: skip
    assert len(placed) == 6
    for name in placed:
        body = env.scene.sim.body(name)
        lo, hi = (np.array(v) for v in c.getAABB(body))
        half = 0.5 * (hi - lo)
        assert half.min() > 0.015  # radius 0.02 x scale 0.8-1.5
        assert lo[2] == pytest.approx(top, abs=2e-3)  # resting on the table top, not in it
        own = local_box(env, name)[1]  # in the body's frame: the yawed AABB is wider
        assert own.min() > 0.015 and own[2] == pytest.approx(half[2], abs=1e-6)
        x, y, z = env.scene.sim.pose(name)[0]
        assert c.rayTest([x, y, z + 0.5], [x, y, z - 0.5])[0][0] != body  # rays pass through
    env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    for name in placed:
        assert not c.getContactPoints(env.scene.sim.body(name))  # nothing touches them
    env.close()


def test_image_noise_is_replayable_and_changes_pixels() -> None:
    env = _env(KIND_PRESETS["image_noise"], obs_mode="rgb", image_size=48)
    obs, info = env.reset(seed=0)
    plain = _env(None, obs_mode="rgb", image_size=48)
    obs0, _ = plain.reset(seed=0)
    assert not np.array_equal(obs, obs0)
    env.reset(seed=1)
    again, _ = env.reset(seed=0, options={"randomization": info["randomization"]})
    assert np.array_equal(again, obs)
    env.close()
    plain.close()


def test_camera_light_and_randomized_light_merge() -> None:
    """A light set on the camera config and one from the lighting randomizer combine
    (the randomized value wins) instead of clashing as duplicate keyword arguments."""
    from envs.camera import CameraConfig

    cam = CameraConfig(light={"lightAmbientCoeff": 0.2, "shadow": 0})
    env = _env({"lighting": {"ambient": [0.7, 0.8]}}, obs_mode="rgb", image_size=32, camera=cam)
    obs, _ = env.reset(seed=0)
    plain = _env(None, obs_mode="rgb", image_size=32, camera=cam)
    obs0, _ = plain.reset(seed=0)
    assert obs.mean() > obs0.mean()  # the brighter randomized ambient term took effect
    env.close()
    plain.close()
