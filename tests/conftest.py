"""Shared fixtures: env ids, small image sizes, env factory that always closes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import pytest

from envs import ENV_IDS

SMALL = 32  # image size that keeps image tests fast


@pytest.fixture
def make_env() -> Iterator[Any]:
    """``make_env(env_id, **kwargs)`` -> the unwrapped env; closed after the test."""
    made: list[gym.Env] = []

    def factory(env_id: str, **kwargs: Any) -> Any:
        env = gym.make(env_id, **kwargs)
        made.append(env)
        return env.unwrapped

    yield factory
    for env in made:
        env.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize any test that takes ``env_id`` over every registered id."""
    already = any(
        m.args and "env_id" in m.args[0] for m in metafunc.definition.iter_markers("parametrize")
    )
    if "env_id" in metafunc.fixturenames and not already:
        metafunc.parametrize("env_id", ENV_IDS)
