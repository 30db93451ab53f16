"""What a rollout tells recorders and viewers as it runs: one :class:`StepEvent` per reset and
per step of every episode (``agents.rollout.run_rollouts(on_step=...)``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.seeding import episode_seed


@dataclass(frozen=True)
class StepEvent:
    """One moment of an episode for ``run_rollouts(on_step=...)`` (recorders, viewers): the
    reset (``t == 0``, no action) or the step that took the episode to ``t`` steps."""

    episode: int
    seed: int
    t: int
    observation: Any
    """this env's observation (no batch axis) after the reset or the step"""
    params: dict[str, Any]
    env: Any
    """the unwrapped env when it runs in this process (one env), else None"""
    action: np.ndarray | None = None
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    success: bool = False
    events: tuple[str, ...] = ()


def take_row(obs: Any, i: int) -> Any:
    """Env ``i``'s observation without the batch axis (dicts of cameras too)."""
    if isinstance(obs, Mapping):
        return {k: take_row(v, i) for k, v in obs.items()}
    return obs[i]


def report_steps(
    on_step: Callable[[StepEvent], None],
    obs: Any,
    actions: np.ndarray,
    rewards: np.ndarray,
    terms: np.ndarray,
    truncs: np.ndarray,
    infos: dict[str, Any],
    slot_episode: list[int],
    lengths: np.ndarray,
    slot_params: list[dict[str, Any]],
    run_seed: int,
    local_env: Any,
) -> None:
    """One :class:`StepEvent` per env that ran an episode of the run this step."""
    for i, idx in enumerate(slot_episode):
        if idx < 0:
            continue
        events = infos["events"][i] if "events" in infos else []
        on_step(StepEvent(idx, episode_seed(run_seed, idx), int(lengths[i]), take_row(obs, i),
                          slot_params[i], local_env, actions[i].copy(), float(rewards[i]),
                          bool(terms[i]), bool(truncs[i]), bool(infos["is_success"][i]),
                          tuple(events)))  # fmt: skip
