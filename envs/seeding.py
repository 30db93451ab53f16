"""Per-episode seeds derived from a run seed and an index, so any sharding gives the same episodes."""

from __future__ import annotations

import numpy as np


def episode_seed(run_seed: int, index: int) -> int:
    """A 32-bit seed for episode ``index`` of a run seeded ``run_seed`` (pure function)."""
    if index < 0:
        raise ValueError(f"episode index must be >= 0, got {index}")
    return int(np.random.SeedSequence([int(run_seed), int(index)]).generate_state(1)[0])
