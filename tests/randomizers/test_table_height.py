"""Table height: the table and what stands on it move, heights are read from the scene
(the Lift expert still lifts), replay is exact, the nominal scene comes back after a reset."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from agents.policies.experts import make_expert
from envs.scene import TABLE_TOP
from randomizers import PresetError, load_preset

LOWER = {"table_height": {"offset": [-0.1, 0.0]}}


def _solve(env: Any, env_id: str, seed: int, options: dict | None = None) -> tuple[bool, dict]:
    expert = make_expert(env_id)
    _, info = env.reset(seed=seed, options=options)
    start = info
    for _ in range(env.unwrapped.max_episode_steps):
        _, _, term, trunc, info = env.step(expert(env.unwrapped.privileged_state()))
        if term or trunc:
            break
    return bool(info["is_success"]), start


def _lift_success(n: int) -> int:
    env = gym.make("domrand/Lift-v0", randomization=LOWER)
    wins = sum(_solve(env, "domrand/Lift-v0", seed)[0] for seed in range(n))
    env.close()
    return wins


def test_lift_expert_lifts_from_a_lowered_table_smoke() -> None:
    assert _lift_success(3) == 3


@pytest.mark.slow
def test_lift_expert_lifts_from_a_lowered_table_20_episodes() -> None:
    assert _lift_success(20) >= 18


@pytest.mark.parametrize("env_id", ["domrand/Push-v0", "domrand/Reach-v0"])
def test_push_and_reach_experts_work_on_a_moved_table(env_id: str) -> None:
    env = gym.make(env_id, randomization={"table_height": {"offset": [-0.1, 0.05]}})
    assert sum(_solve(env, env_id, seed)[0] for seed in range(3)) == 3
    env.close()


def test_the_table_and_what_stands_on_it_move_together() -> None:
    env = gym.make("domrand/Lift-v0", randomization={"table_height": {"offset": -0.08}})
    u = env.unwrapped
    obs, info = env.reset(seed=0)
    assert info["randomization"]["table_height"] == {"offset": -0.08}
    scene = u.scene
    assert scene.table_top == pytest.approx(TABLE_TOP - 0.08)
    assert u.scene.sim.pose("table")[0][2] == pytest.approx(-0.08)
    assert u.robot.base_position[2] == pytest.approx(TABLE_TOP - 0.08)
    assert u.robot.ee_low[2] == pytest.approx(TABLE_TOP + 0.005 - 0.08)
    cube_z = u.scene.sim.pose("cube")[0][2]
    assert cube_z == pytest.approx(TABLE_TOP - 0.08 + 0.02)
    assert u.task.target_z == pytest.approx(cube_z + 0.1)
    assert obs[-1] == pytest.approx(cube_z + 0.1)  # lift_target_z in the state
    assert u.privileged_state()["table_top"][0] == pytest.approx(TABLE_TOP - 0.08)
    for _ in range(5):  # the cube rests: no fall, no jump through the moved table
        env.step(np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32))
    assert u.scene.sim.pose("cube")[0][2] == pytest.approx(cube_z, abs=1e-3)
    env.close()


def test_a_nominal_episode_after_a_moved_one_is_exactly_nominal() -> None:
    plain = gym.make("domrand/Lift-v0")
    moved = gym.make("domrand/Lift-v0", randomization=LOWER)
    _, info = moved.reset(seed=1)
    assert moved.unwrapped.scene.table_offset != 0.0
    nominal = {**info["randomization"], "table_height": {"offset": 0.0}}
    obs_a, _ = moved.reset(options={"randomization": nominal})
    obs_b, _ = plain.reset(seed=1)
    np.testing.assert_array_equal(obs_a, obs_b)
    assert moved.unwrapped.scene.table_top == TABLE_TOP
    np.testing.assert_array_equal(
        moved.unwrapped.robot.base_position, plain.unwrapped.robot.base_position
    )
    plain.close()
    moved.close()


def test_replay_is_exact() -> None:
    env = gym.make("domrand/Push-v0", randomization=LOWER)
    win, info = _solve(env, "domrand/Push-v0", 4)
    first = env.unwrapped.privileged_state()["object_pos"]
    again, _ = _solve(env, "domrand/Push-v0", 77, {"randomization": info["randomization"]})
    np.testing.assert_array_equal(env.unwrapped.privileged_state()["object_pos"], first)
    assert again == win
    env.close()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"offset": [-1.0, 0.0]}, r"table_height\.offset"),
        ({"ofset": [-0.1, 0.0]}, r"unknown option\(s\) \['ofset'\]"),
    ],
)
def test_bad_options_fail_at_load(options: dict, match: str) -> None:
    with pytest.raises(PresetError, match=match):
        load_preset({"table_height": options})
