"""The Lift expert plans its grasp from the object's box, so it lifts every built-in object
(nominal physics): a 3-episode smoke per object here, 20 episodes each when slow."""

from __future__ import annotations

import numpy as np
import pytest

from agents.policies.experts import make_expert
from agents.rollout import RolloutConfig, run_rollouts
from envs.objects import BUILTIN_OBJECTS


def _success(name: str, episodes: int) -> float:
    config = RolloutConfig(env_id="domrand/Lift-v0", episodes=episodes, seed=0,
                           env_kwargs={"task_kwargs": {"object": name}})  # fmt: skip
    summary, _ = run_rollouts(config, progress=False)
    return summary.success_rate


@pytest.mark.parametrize("name", [n for n in BUILTIN_OBJECTS if n != "cube"])
def test_lift_expert_lifts_each_builtin_object(name: str) -> None:
    assert _success(name, 3) == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BUILTIN_OBJECTS))
def test_lift_expert_success_over_20_episodes(name: str) -> None:
    assert _success(name, 20) >= 0.9


def test_the_expert_aims_at_the_grasp_point() -> None:
    """With a grasp point the expert aims there, without one at the object's base."""
    zero = np.zeros(3)
    state = {"ee_pos": np.array([0.0, 0.0, 0.1]), "object_pos": zero,
             "goal_pos": np.array([0.0, 0.0, 0.1]), "finger_width": np.array([0.08])}  # fmt: skip
    plain = make_expert("domrand/Lift-v0")(state)
    grasp = make_expert("domrand/Lift-v0")({**state, "grasp_pos": np.array([0.0, 0.0, 0.05])})
    # both hover 8 cm above their point first: 0.08 above 0 vs above 0.05
    assert plain[2] == pytest.approx((0.08 - 0.1) / 0.05)
    assert grasp[2] == pytest.approx((0.13 - 0.1) / 0.05)
