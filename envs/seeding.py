"""Per-episode seeds derived from a run seed and an index, so any sharding gives the same episodes."""

from __future__ import annotations

import numpy as np


def episode_seed(run_seed: int, index: int) -> int:
    """A 32-bit seed for episode ``index`` of a run seeded ``run_seed`` (pure function)."""
    if index < 0:
        raise ValueError(f"episode index must be >= 0, got {index}")
    return int(np.random.SeedSequence([int(run_seed), int(index)]).generate_state(1)[0])


def action_rng(seed: int) -> np.random.Generator:
    """The generator of a random policy's actions in the episode seeded ``seed``.

    It is child 0 of ``SeedSequence(seed)``, a stream independent of the one that
    ``reset(seed=seed)`` draws the domain and the initial state from (using
    ``default_rng(seed)`` for both made the first action a function of the cube position).
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(1)[0])
