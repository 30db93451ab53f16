"""Drawing up to a fixed number of items evenly from several folders (renders for the
translator and its keep loss): the same seed draws the same items."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class EvenDraw:
    """Up to ``limit`` items spread evenly over ``sources`` (folders, read in order): each
    gets at most ``ceil(limit / len(sources))`` of its items, drawn without replacement."""

    def __init__(self, sources: Sequence[object], limit: int, seed: int = 0) -> None:
        if not sources:
            raise ValueError("no export folders given to read renders from")
        self.rng = np.random.default_rng(seed)
        self.per = -(-limit // len(sources))

    def indices(self, count: int) -> np.ndarray:
        """Sorted indices of the items to take from the next source, which holds ``count``."""
        return np.sort(self.rng.choice(count, min(self.per, count), replace=False))


__all__ = ["EvenDraw"]
