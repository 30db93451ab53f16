"""The scripted experts solve Reach, Push and Lift with every shipped robot (nominal scene)."""

from __future__ import annotations

import pytest

from agents.rollout import RolloutConfig, run_rollouts
from envs.robots import ROBOTS

TASKS = ("domrand/Reach-v0", "domrand/Push-v0", "domrand/Lift-v0")


@pytest.mark.parametrize("robot", list(ROBOTS))
def test_lift_smoke(robot: str) -> None:
    config = RolloutConfig(
        env_id="domrand/Lift-v0", episodes=3, seed=0, env_kwargs={"robot": robot}
    )
    summary, _ = run_rollouts(config, progress=False)
    assert summary.success_rate == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("robot", list(ROBOTS))
@pytest.mark.parametrize("env_id", TASKS)
def test_expert_success_per_robot(robot: str, env_id: str) -> None:
    config = RolloutConfig(env_id=env_id, episodes=20, seed=0, env_kwargs={"robot": robot})
    summary, _ = run_rollouts(config, progress=False)
    assert summary.success_rate >= 0.9
