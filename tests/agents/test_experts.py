"""Scripted experts solve their tasks under nominal physics."""

from __future__ import annotations

import numpy as np
import pytest

from agents.policies.experts import EXPERTS, make_expert
from agents.rollout import RolloutConfig, run_rollouts
from envs import ENV_IDS


def test_every_env_has_an_expert() -> None:
    assert set(EXPERTS) == set(ENV_IDS)


def test_expert_success_on_seeded_episodes(env_id: str) -> None:
    summary, _ = run_rollouts(RolloutConfig(env_id=env_id, episodes=20, seed=0), progress=False)
    assert summary.success_rate >= 0.95


@pytest.mark.slow
def test_expert_success_on_100_episodes(env_id: str) -> None:
    summary, _ = run_rollouts(RolloutConfig(env_id=env_id, episodes=100, seed=0), progress=False)
    assert summary.success_rate >= 0.95


def test_expert_noise_is_seeded() -> None:
    state = {"ee_pos": np.zeros(3), "goal_pos": np.full(3, 0.01)}
    a = make_expert("domrand/Reach-v0", noise=0.3, rng=np.random.default_rng(0))(state)
    b = make_expert("domrand/Reach-v0", noise=0.3, rng=np.random.default_rng(0))(state)
    c = make_expert("domrand/Reach-v0")(state)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and np.all(np.abs(a) <= 1)


def test_unknown_expert_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="known: domrand/Reach-v0"):
        make_expert("user/Nope-v0")
    with pytest.raises(ValueError, match="rng"):
        make_expert("domrand/Reach-v0", noise=0.1)


def _lift_state(width: float) -> dict[str, np.ndarray]:
    zero = np.zeros(3)
    return {"ee_pos": zero, "object_pos": zero, "goal_pos": np.array([0.0, 0.0, 0.1]),
            "finger_width": np.array([width])}  # fmt: skip


def test_lift_expert_closes_until_the_fingers_stop() -> None:
    """A slow gripper (1 cm per step) gets closing steps until it stops; a fast one leaves
    after ``close_steps``; one that never stops leaves after ``max_close_steps``."""
    slow = make_expert("domrand/Lift-v0")
    slow.phase = 2
    widths = [0.1 - 0.01 * i for i in range(9)] + [0.02, 0.02]
    phases = []
    for w in widths:
        assert slow(_lift_state(w))[3] == -1.0  # closing
        phases.append(slow.phase)
    assert phases == [2] * 9 + [3, 3]  # 10 closing steps, past close_steps = 6
    fast = make_expert("domrand/Lift-v0")
    fast.phase = 2
    steps = 0
    while fast.phase == 2:
        fast(_lift_state(0.04))
        steps += 1
    assert steps == fast.close_steps == 6
    never = make_expert("domrand/Lift-v0")
    never.phase = 2
    steps = 0
    while never.phase == 2:
        never(_lift_state(0.5 - 0.01 * steps))
        steps += 1
    assert steps == never.max_close_steps == 18
