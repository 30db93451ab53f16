"""Randomizers: declared spaces, real effects on the simulation, nominal restore, replay."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from randomizers import (
    KINDS,
    Compose,
    PresetError,
    Randomizer,
    decode,
    encode,
    load_preset,
)
from randomizers.spaces import encoded_size

# One small, fully-configured preset per kind (fast: small texture banks).
KIND_PRESETS: dict[str, dict] = {
    "object_pose": {"object_pose": {"x": [0.4, 0.6], "y": [-0.1, 0.1], "yaw": [-1.0, 1.0]}},
    "distractors": {"distractors": {"count": [1, 4], "bank_size": 8, "tint": [0.2, 1.0]}},
    "physics": {
        "physics": {
            "mass": [2.0, 3.0],
            "lateral_friction": [0.2, 0.4],
            "restitution": [0.1, 0.3],
            "gravity": [-6.0, -5.0],
            "joint_damping": [0.1, 0.2],
            "actuator_force": [0.5, 0.6],
            "latency": {"dist": "choice", "values": [1, 2]},
            "action_noise": [0.01, 0.02],
            "observation_noise": [0.01, 0.02],
        }
    },
    "texture": {"texture": {"bank_size": 8, "tint": [0.2, 1.0]}},
    "lighting": {
        "lighting": {
            "azimuth": [0, 360],
            "elevation": [20, 80],
            "color": [0.5, 1.0],
            "ambient": [0.2, 0.8],
            "diffuse": [0.2, 0.8],
            "specular": [0.0, 0.5],
            "distance": [1, 4],
            "shadow_probability": 0.5,
        }
    },
    "camera": {
        "camera": {
            "eye_offset": [-0.05, 0.05],
            "target_offset": [-0.03, 0.03],
            "roll": [-5, 5],
            "fov_scale": [0.9, 1.1],
        }
    },
    "image_noise": {
        "image_noise": {
            "gaussian_std": [2, 8],
            "blur_sigma": [0.5, 1.0],
            "brightness": [-0.1, 0.1],
            "contrast": [0.8, 1.2],
            "saturation": [0.5, 1.5],
        }
    },
}


def test_every_kind_has_a_test_preset() -> None:
    assert set(KIND_PRESETS) == set(KINDS)


@pytest.mark.parametrize("kind", list(KINDS))
def test_samples_lie_in_the_declared_space(kind: str) -> None:
    r = load_preset(KIND_PRESETS[kind])
    rng = np.random.default_rng(0)
    specs = r.space()
    assert specs, f"{kind} declares no parameters"
    for _ in range(20):
        params = r.sample(rng)
        assert r.validate(params) == params
        flat = r.flatten(params)
        vec = encode(specs, flat)
        assert vec.shape == (encoded_size(specs),)
        np.testing.assert_allclose(encode(specs, decode(specs, vec)), vec)
        assert decode(specs, vec).keys() == flat.keys()


@pytest.mark.parametrize("kind", list(KINDS))
def test_sampling_is_pure_and_seeded(kind: str) -> None:
    a, b = load_preset(KIND_PRESETS[kind]), load_preset(KIND_PRESETS[kind])
    pa = a.sample(np.random.default_rng(5))
    assert pa == b.sample(np.random.default_rng(5))
    assert pa != a.sample(np.random.default_rng(6))


def _env(preset, **kw):
    return gym.make("domrand/Push-v0", randomization=preset, **kw).unwrapped


def _dynamics(env) -> dict:
    c, cube = env.scene.client, env.scene.sim.body("cube")
    d = c.getDynamicsInfo(cube, -1)
    finger = c.getDynamicsInfo(env.robot.id, 9)
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


def test_tobin_same_seed_same_bytes_and_replay() -> None:
    a = _env("tobin", obs_mode="rgb", image_size=64)
    b = _env("tobin", obs_mode="rgb", image_size=64)
    oa, ia = a.reset(seed=3)
    ob, ib = b.reset(seed=3)
    assert ia["randomization"] == ib["randomization"] and np.array_equal(oa, ob)
    for s in (4, 5):
        a.reset(seed=s)
    replay, ir = a.reset(seed=3, options={"randomization": ia["randomization"]})
    assert np.array_equal(replay, oa)
    assert ir["randomization"] == ia["randomization"]
    # the params alone reproduce the appearance even under another task seed
    other, _ = b.reset(seed=8, options={"randomization": ia["randomization"]})
    plain_other, _ = b.reset(seed=8)
    assert not np.array_equal(other, plain_other)
    a.close()
    b.close()


def test_replayed_params_are_validated() -> None:
    env = _env(KIND_PRESETS["camera"])
    _, info = env.reset(seed=0)
    bad = {"camera": {**info["randomization"]["camera"], "fov_scale": 5.0}}
    with pytest.raises(
        PresetError,
        match=r"camera\.fov_scale: 5\.0 is outside the allowed range; expected numbers in \[0\.9, 1\.1\]",
    ):
        env.reset(options={"randomization": bad})
    with pytest.raises(PresetError, match=r"unknown randomizer\(s\) \['texture'\]"):
        env.reset(options={"randomization": {**info["randomization"], "texture": {}}})
    with pytest.raises(PresetError, match=r"missing param\(s\) \['roll'\]"):
        params = dict(info["randomization"]["camera"])
        del params["roll"]
        env.reset(options={"randomization": {"camera": params}})
    env.close()


def test_step_schedule_resamples_during_the_episode() -> None:
    preset = {"camera": {"eye_offset": [-0.02, 0.02], "every_n_steps": 2}}
    env = _env(preset)
    _, info = env.reset(seed=0)
    first = env.camera.extrinsics
    updates = []
    for _ in range(4):
        _, _, _, _, info = env.step(np.zeros(3))
        updates.append("randomization_update" in info)
    assert updates == [False, True, False, True]
    assert not np.allclose(env.camera.extrinsics, first)
    env.close()


def test_compose_rejects_duplicate_names() -> None:
    r = load_preset(KIND_PRESETS["lighting"]).randomizers[0]
    with pytest.raises(PresetError, match="repeated: \\['lighting'\\]"):
        Compose([r, r])


def test_a_user_randomizer_plugs_in() -> None:
    """Anything implementing the protocol works, not only the built-in kinds."""
    from randomizers.spaces import ParamSpec

    class CubeColour(Randomizer):
        kind = "cube_colour"

        @classmethod
        def _from_options(cls, config, where):
            return cls()

        def space(self):
            return [ParamSpec("red", "continuous", 0.0, 1.0)]

        def sample(self, rng):
            return {"red": float(rng.uniform())}

        def apply(self, scene, params):
            scene.client.changeVisualShape(
                scene.sim.body("cube"), -1, rgbaColor=[params["red"], 0, 0, 1]
            )

    env = _env(CubeColour())
    _, info = env.reset(seed=0)
    red = env.scene.client.getVisualShapeData(env.scene.sim.body("cube"))[0][7][0]
    assert red == pytest.approx(info["randomization"]["cube_colour"]["red"])
    env.close()


def test_replay_reproduces_a_noisy_episode_step_by_step() -> None:
    env = _env("physics")
    _, info = env.reset(seed=5)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (20, 3))
    first = [env.step(a)[0] for a in actions]
    env.reset(seed=6)
    env.reset(seed=5, options={"randomization": info["randomization"]})
    again = [env.step(a)[0] for a in actions]
    assert np.array_equal(np.stack(first), np.stack(again))
    env.close()


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
