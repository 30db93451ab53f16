"""What a run of episodes produces: one :class:`EpisodeResult` per episode and the
:class:`RolloutSummary` over all of them (success rate, return, length, event counts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from envs.events import EVENT_NAMES, check_event


@dataclass
class EpisodeResult:
    """One finished episode."""

    index: int
    seed: int
    success: bool
    episode_return: float
    length: int
    events: dict[str, int]
    params: dict[str, Any] = field(default_factory=dict)
    """the randomization params the episode ran with (``info["randomization"]``)"""


@dataclass
class RolloutSummary:
    """Aggregates over all episodes of a run."""

    env_id: str
    policy: str
    episodes: int
    success_rate: float
    mean_return: float
    std_return: float
    mean_length: float
    event_counts: dict[str, int]
    episodes_with_event: dict[str, int]
    seconds: float
    steps_per_second: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    def table(self) -> str:
        """Human-readable summary."""
        lines = [
            f"env            {self.env_id}",
            f"policy         {self.policy}",
            f"episodes       {self.episodes}",
            f"success rate   {self.success_rate:.3f}",
            f"mean return    {self.mean_return:.3f} +- {self.std_return:.3f}",
            f"mean length    {self.mean_length:.1f} steps",
            f"throughput     {self.steps_per_second:,.0f} env steps/s ({self.seconds:.1f} s)",
            "",
            *event_lines(self.event_counts, self.episodes_with_event),
        ]
        return "\n".join(lines)


def event_lines(counts: dict[str, int], episodes_with: dict[str, int]) -> list[str]:
    """The event table of a summary: each event's count and how many episodes had it."""
    return [f"{'event':<24}{'count':>8}{'episodes':>10}"] + [
        f"{name:<24}{counts[name]:>8}{episodes_with[name]:>10}" for name in EVENT_NAMES
    ]


def labels_for(episodes: Sequence[EpisodeResult], event: str) -> np.ndarray:
    """1 for episodes in which ``event`` happened at least once."""
    check_event(event)
    return np.array([int(ep.events.get(event, 0) > 0) for ep in episodes], dtype=int)
