"""Params alone reproduce an episode: the task's initial state, noise and randomization,
whatever the seed; and a diverging episode raises with its params instead of returning NaN."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from envs.panda_env import NonFiniteError
from randomizers.errors import PresetError
from randomizers.physics import Physics
from randomizers.presets import load_preset
from randomizers.rare_events import propose

NOISY = {  # every per-episode draw that is not a randomizer param: action and observation noise
    "physics": {"action_noise": [0.05, 0.1], "observation_noise": [0.001, 0.01], "latency": 0}
}
INT_CHOICE = {  # a continuous param sampled as an int: the replayed, validated value is a float
    "physics": {"mass": {"dist": "choice", "values": [1, 2]}, "action_noise": 0.05}
}
TASK_NAMES = {
    "domrand/Reach-v0": ["target.x", "target.y", "target.z"],
    "domrand/Push-v0": ["cube.x", "cube.y", "cube.yaw", "goal.x", "goal.y"],
    "domrand/Lift-v0": ["cube.x", "cube.y", "cube.yaw"],
}
CASES = [
    ("domrand/Reach-v0", None, "state"),
    ("domrand/Push-v0", None, "state"),
    ("domrand/Lift-v0", None, "state"),
    ("domrand/Push-v0", NOISY, "state"),
    ("domrand/Lift-v0", NOISY, "state"),
    ("domrand/Lift-v0", INT_CHOICE, "state"),
    ("domrand/Push-v0", "tobin", "rgb"),
    ("domrand/Lift-v0", "tobin", "state+rgb"),
]


def _make(env_id: str, preset, obs_mode: str) -> gym.Env:
    return gym.make(env_id, randomization=preset, obs_mode=obs_mode, image_size=32)


def _bytes(obs) -> bytes:
    if isinstance(obs, dict):
        return b"".join(np.ascontiguousarray(obs[k]).tobytes() for k in sorted(obs))
    return np.ascontiguousarray(obs).tobytes()


def _episode(env: gym.Env, actions: np.ndarray, **reset) -> tuple[list[bytes], dict]:
    obs, info = env.reset(**reset)
    frames = [_bytes(obs)]
    for a in actions:
        obs, *_ = env.step(a)
        frames.append(_bytes(obs))
    return frames, info


@pytest.mark.parametrize(
    ("env_id", "preset", "obs_mode"),
    CASES,
    ids=[
        f"{e.split('/')[1]}-{'noisy' if p is NOISY else 'int-choice' if p is INT_CHOICE else p}"
        for e, p, _ in CASES
    ],
)
def test_params_alone_replay_the_episode_whatever_the_seed(env_id, preset, obs_mode) -> None:
    env = _make(env_id, preset, obs_mode)
    actions = np.random.default_rng(0).uniform(-1, 1, (5, *env.action_space.shape))
    original, info = _episode(env, actions, seed=11)
    params = json.loads(json.dumps(info["randomization"]))  # as stored in a file
    assert sorted(params["task"]) == sorted(TASK_NAMES[env_id])
    for other_seed in (12, None):
        replayed, again = _episode(env, actions, seed=other_seed, options={"randomization": params})
        assert replayed == original  # first observation and the whole trajectory, byte for byte
        assert json.loads(json.dumps(again["randomization"])) == params
    fresh, _ = _episode(env, actions, seed=12)
    assert fresh[0] != original[0]  # another seed alone is another episode
    env.close()


def test_the_initial_state_in_params_places_the_objects() -> None:
    env = _make("domrand/Push-v0", None, "state")
    state = {"cube.x": 0.4, "cube.y": -0.1, "cube.yaw": 0.3, "goal.x": 0.6, "goal.y": 0.15}
    env.reset(seed=3, options={"randomization": {"task": state}})
    priv = env.unwrapped.privileged_state()
    np.testing.assert_allclose(priv["object_pos"][:2], [0.4, -0.1], atol=1e-9)
    np.testing.assert_allclose(priv["object_yaw"], [0.3], atol=1e-6)
    np.testing.assert_allclose(priv["goal_pos"][:2], [0.6, 0.15], atol=1e-9)
    env.close()


def test_params_without_the_task_entry_still_replay_the_domain() -> None:
    """Params written before the initial state was recorded: placement from the seed."""
    env = _make("domrand/Lift-v0", "physics", "state")
    obs, info = env.reset(seed=5)
    old_style = {k: v for k, v in info["randomization"].items() if k != "task"}
    obs2, info2 = env.reset(seed=5, options={"randomization": old_style})
    assert np.array_equal(obs, obs2) and info2["randomization"] == info["randomization"]
    env.close()


BAD_TASK_STATES = {
    "outside-workspace": ({"cube.x": 2.0, "cube.y": 0.0, "cube.yaw": 0.0}, "outside the allowed"),
    "missing-key": ({"cube.x": 0.5, "cube.y": 0.0}, "missing param"),
    "unknown-key": ({"cube.x": 0.5, "cube.y": 0.0, "cube.yaw": 0.0, "cube.z": 1}, "unknown"),
    "not-a-number": ({"cube.x": "left", "cube.y": 0.0, "cube.yaw": 0.0}, "expected numbers"),
    "nan": ({"cube.x": float("nan"), "cube.y": 0.0, "cube.yaw": 0.0}, "outside the allowed"),
    "yaw-beyond-task": ({"cube.x": 0.5, "cube.y": 0.0, "cube.yaw": 3.0}, "cube.yaw"),
    "not-a-dict": ([0.5, 0.0, 0.0], "expected a dict"),
}


@pytest.mark.parametrize("case", list(BAD_TASK_STATES))
def test_bad_initial_states_are_refused_naming_the_key(case: str) -> None:
    state, words = BAD_TASK_STATES[case]
    env = _make("domrand/Lift-v0", None, "state")
    with pytest.raises(PresetError, match=r"options\['randomization'\]\.task") as err:
        env.reset(seed=0, options={"randomization": {"task": state}})
    assert words in str(err.value)
    env.close()


def test_a_randomizer_may_not_take_the_task_name() -> None:
    with pytest.raises(ValueError, match="may not be named 'task'"):
        gym.make("domrand/Lift-v0", randomization=Physics(name="task"))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_diverging_episode_raises_with_its_params() -> None:
    env = _make("domrand/Lift-v0", "physics", "state")
    _, info = env.reset(seed=0)
    env.unwrapped.scene.effects.observation_noise = 1e300  # what an unchecked preset once did
    with pytest.raises(NonFiniteError, match=r"NaN or infinite") as err:
        env.step(env.action_space.sample())
    assert "cube_x" in str(err.value) and '"task"' in str(err.value)
    assert f"{info['randomization']['task']['cube.x']}" in str(err.value)
    env.reset(seed=0)
    env.unwrapped.task.dense_reward = lambda: float("nan")
    with pytest.raises(NonFiniteError, match="the reward is NaN or infinite at step 1"):
        env.step(env.action_space.sample())
    env.close()


def test_smote_proposals_move_the_placement_and_are_re_simulated_there() -> None:
    env = gym.make("domrand/Lift-v0", randomization="physics")
    space = env.unwrapped.episode_space()
    params = [env.reset(seed=s)[1]["randomization"] for s in range(40)]
    # "rare": the cube on the left quarter of the workspace
    labels = np.array([int(p["task"]["cube.y"] < -0.1) for p in params])
    assert 6 <= labels.sum() < 40
    out = propose(space, params, labels, 20, k_neighbors=3, seed=0)
    ys = [p["task"]["cube.y"] for p in out.params]
    assert max(ys) < -0.05  # interpolated between rare episodes, so near them
    for p in out.params[:5]:
        env.reset(seed=99, options={"randomization": p})
        pos = env.unwrapped.privileged_state()["object_pos"]
        np.testing.assert_allclose(pos[:2], [p["task"]["cube.x"], p["task"]["cube.y"]], atol=1e-9)
    assert load_preset("physics").space()  # the preset alone keeps its own space
    env.close()
