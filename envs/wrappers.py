"""Wrappers that ``gym.make`` adds to every ``domrand/*`` env."""

from __future__ import annotations

import gymnasium as gym
from gymnasium.utils import RecordConstructorArgs


class SyncTimeLimit(gym.Wrapper, RecordConstructorArgs):
    """Hand the limit of an inner ``TimeLimit`` (``gym.make(id, max_episode_steps=N)``) to
    the env, whose own limit then ends the episode on the same step and emits ``timeout``."""

    def __init__(self, env: gym.Env) -> None:
        RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        inner = env
        while isinstance(inner, gym.Wrapper):
            if isinstance(inner, gym.wrappers.TimeLimit):
                env.unwrapped.max_episode_steps = inner._max_episode_steps  # type: ignore[attr-defined]
                break
            inner = inner.env
