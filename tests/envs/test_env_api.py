"""Gymnasium and Stable-Baselines3 API conformance, spaces, determinism, bad input."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from envs.events import EVENT_NAMES
from envs.panda_env import OBS_MODES, StepBeforeResetError
from tests.conftest import SMALL


@pytest.mark.parametrize("obs_mode", OBS_MODES)
def test_gymnasium_and_sb3_checkers_pass(make_env, env_id: str, obs_mode: str) -> None:
    env = make_env(env_id, obs_mode=obs_mode, image_size=SMALL, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # infinite Box bounds, float depth "image"
        check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=False)


@pytest.mark.parametrize(
    ("obs_mode", "expected"),
    [
        ("rgb", {"": ((24, 40, 3), np.uint8)}),
        ("rgbd", {"rgb": ((24, 40, 3), np.uint8), "depth": ((24, 40, 1), np.float32)}),
        ("state+rgb", {"rgb": ((24, 40, 3), np.uint8)}),
    ],
)
def test_image_observation_shapes(make_env, obs_mode: str, expected: dict) -> None:
    env = make_env("domrand/Push-v0", obs_mode=obs_mode, image_size=(24, 40))
    obs, _ = env.reset(seed=0)
    for key, (shape, dtype) in expected.items():
        arr = obs if key == "" else obs[key]
        assert arr.shape == shape and arr.dtype == dtype
    if obs_mode == "rgbd":
        depth = obs["depth"]
        assert 0.3 < depth.min() and depth.max() <= 4.0  # metres; background pixels are at far
    if obs_mode == "state+rgb":
        assert obs["state"].shape == env.observation_space["state"].shape
        assert obs["state"].dtype == np.float32


def test_state_matches_declared_names(make_env, env_id: str) -> None:
    env = make_env(env_id)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (len(env.task.state_names),)
    names = env.task.state_names
    ee = env.privileged_state()["ee_pos"]
    np.testing.assert_allclose(obs[names.index("ee_x") : names.index("ee_z") + 1], ee, atol=1e-6)


def _rollout(env, seed: int, n: int = 50) -> tuple[list[np.ndarray], list[float]]:
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    observations, rewards = [obs], []
    for _ in range(n):
        obs, r, term, trunc, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
        observations.append(obs)
        rewards.append(r)
        if term or trunc:
            obs, _ = env.reset()
            observations.append(obs)
    return observations, rewards


def _as_bytes(obs_list: list) -> bytes:
    return b"".join(
        b"".join(o[k].tobytes() for k in sorted(o)) if isinstance(o, dict) else o.tobytes()
        for o in obs_list
    )


def test_same_seed_same_bytes_different_seed_differs(make_env, env_id: str) -> None:
    a = make_env(env_id, obs_mode="state+rgb", image_size=SMALL)
    b = make_env(env_id, obs_mode="state+rgb", image_size=SMALL)
    obs_a, rew_a = _rollout(a, seed=7)
    obs_b, rew_b = _rollout(b, seed=7)
    assert _as_bytes(obs_a) == _as_bytes(obs_b)
    assert rew_a == rew_b
    obs_c, _ = _rollout(b, seed=8)
    assert _as_bytes(obs_c) != _as_bytes(obs_a)


def test_reset_does_not_depend_on_history(make_env, env_id: str) -> None:
    """An episode replays identically after other episodes ran in the same env."""
    env = make_env(env_id)
    first, rew_first = _rollout(env, seed=11, n=30)
    _rollout(env, seed=12, n=40)
    again, rew_again = _rollout(env, seed=11, n=30)
    assert _as_bytes(first) == _as_bytes(again)
    assert rew_first == rew_again


def test_step_info_and_time_limit(env_id: str) -> None:
    import importlib

    from envs.registration import ENTRY_POINTS

    module, cls = ENTRY_POINTS[env_id].split(":")
    env = getattr(importlib.import_module(module), cls)(max_episode_steps=5)
    _, info = env.reset(seed=0)
    assert list(info["randomization"]) == ["task"]  # no randomizer: the initial state only
    assert info["events"] == [] and info["is_success"] is False
    assert np.asarray(info["camera"]["K"]).shape == (3, 3)
    zero = np.zeros(env.action_space.shape, dtype=np.float32)
    for t in range(5):
        _, reward, term, trunc, info = env.step(zero)
        assert set(info["events"]) <= set(EVENT_NAMES)
        assert isinstance(reward, float) and not term
        assert trunc == (t == 4)
    assert "timeout" in info["events"] and info["episode_events"]["timeout"] == 1
    env.close()


def test_sparse_reward_is_minus_one_until_success(make_env) -> None:
    env = make_env("domrand/Reach-v0", reward_type="sparse")
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.zeros(3, dtype=np.float32))
    assert reward == -1.0 and not info["is_success"]
    env.task.goal = env.privileged_state()["ee_pos"]  # put the goal at the gripper
    _, reward, term, _, info = env.step(np.zeros(3, dtype=np.float32))
    assert reward == 0.0 and info["is_success"] and term


def test_action_moves_end_effector_in_commanded_direction(make_env) -> None:
    env = make_env("domrand/Reach-v0")
    env.reset(seed=0)
    start = env.privileged_state()["ee_pos"]
    for _ in range(3):
        env.step(np.array([0.0, 1.0, 0.0], dtype=np.float32))
    moved = env.privileged_state()["ee_pos"] - start
    assert 0.08 < moved[1] < 0.16  # 3 steps of at most 5 cm
    assert abs(moved[0]) < 0.02 and abs(moved[2]) < 0.02


def test_lift_gripper_action_sets_opening(make_env) -> None:
    env = make_env("domrand/Lift-v0")
    env.reset(seed=0)
    assert env.privileged_state()["finger_width"][0] == pytest.approx(0.08, abs=1e-3)
    for _ in range(5):
        env.step(np.array([0, 0, 0, -1], dtype=np.float32))
    assert env.privileged_state()["finger_width"][0] < 0.005
    for _ in range(5):
        env.step(np.array([0, 0, 0, 0], dtype=np.float32))
    assert env.privileged_state()["finger_width"][0] == pytest.approx(0.04, abs=2e-3)


def test_render_rgb_array(make_env, env_id: str) -> None:
    env = make_env(env_id, render_mode="rgb_array", render_size=(48, 64))
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
    assert frame.std() > 5  # a real image, not a blank one


def test_human_mode_without_display_falls_back(monkeypatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.warns(RuntimeWarning, match="needs a display"):
        env = gym.make("domrand/Reach-v0", render_mode="human")
    env.reset(seed=0)
    assert env.render() is None
    env.close()


def test_close_twice_is_fine(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    env.close()
    env.close()


# -- bad input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"obs_mode": "pixels"}, ValueError, "allowed: state, rgb, rgbd, state\\+rgb"),
        ({"image_size": 0}, ValueError, "image_size must be > 0"),
        ({"image_size": -5}, ValueError, "image_size must be > 0"),
        ({"image_size": (64, 0)}, ValueError, "image_size must be > 0"),
        ({"image_size": 64.0}, TypeError, "image_size must be an int"),
        ({"image_size": "64"}, TypeError, "image_size must be an int"),
        ({"reward_type": "shaped"}, ValueError, "allowed: dense, sparse"),
        ({"render_mode": "ansi"}, ValueError, "allowed: None, rgb_array, human"),
        ({"max_episode_steps": 0}, ValueError, "max_episode_steps must be > 0"),
        ({"max_episode_steps": 2.5}, TypeError, "max_episode_steps must be an int"),
        ({"render_size": 0}, ValueError, "render_size must be > 0"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict, error: type, match: str) -> None:
    from envs import ReachEnv

    with pytest.raises(error, match=match):
        ReachEnv(**kwargs)


def test_step_before_reset_is_a_clear_error() -> None:
    from envs import PushEnv

    env = PushEnv()
    with pytest.raises(ValueError, match=r"call env.reset\(\) first"):
        env.step(np.zeros(3))
    assert issubclass(StepBeforeResetError, gym.error.ResetNeeded)
    env.close()


def test_step_after_episode_end_needs_reset(make_env) -> None:
    env = make_env("domrand/Reach-v0", max_episode_steps=1)
    env.reset(seed=0)
    env.step(np.zeros(3))
    with pytest.raises(StepBeforeResetError):
        env.step(np.zeros(3))


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (np.zeros(4), "expected an action of shape \\(3,\\) with numbers in \\[-1, 1\\], got shape \\(4,\\)"),
        (np.zeros((1, 3)), "got shape \\(1, 3\\)"),
        (np.array([0.0, np.nan, 0.0]), "NaN or inf"),
    ],
)
def test_bad_actions(make_env, action: np.ndarray, match: str) -> None:
    env = make_env("domrand/Push-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step(action)


def test_out_of_range_actions_are_clipped(make_env) -> None:
    a, b = make_env("domrand/Reach-v0"), make_env("domrand/Reach-v0")
    a.reset(seed=0)
    b.reset(seed=0)
    oa = a.step(np.array([5.0, -9.0, 1.0]))[0]
    ob = b.step(np.array([1.0, -1.0, 1.0]))[0]
    np.testing.assert_array_equal(oa, ob)


def test_reset_options_are_validated(make_env) -> None:
    env = make_env("domrand/Reach-v0")
    _, info = env.reset(seed=0, options={"randomization": {}})
    assert list(info["randomization"]) == ["task"]  # the initial state, from the seed
    with pytest.raises(ValueError, match="unknown reset option\\(s\\) \\['colour'\\]"):
        env.reset(options={"colour": 1})
    with pytest.raises(TypeError, match="must be a dict of params, got list"):
        env.reset(options={"randomization": [1, 2]})
    with pytest.raises(ValueError, match=r"has no randomizer.*got keys \[.texture.\]"):
        env.reset(options={"randomization": {"texture": {}}})
