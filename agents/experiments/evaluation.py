"""Policy evaluation: seeded episodes on a preset, success rate with a Wilson 95% interval.

Episode ``i`` uses ``envs.seeding.episode_seed(seed, i)`` (through
:func:`agents.rollout.run_rollouts`), so two policies evaluated with the same seed face the
same task placements and the same sampled domains.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

from agents.episodes import EpisodeResult, event_lines
from agents.rollout import RolloutConfig, run_rollouts


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (sound at 0 % and 100 %, unlike the
    normal approximation)."""
    if n < 1:
        raise ValueError(f"need at least one trial, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n={n}], got {successes}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate (validated on construction, through :class:`RolloutConfig`)."""

    policy: str
    """a checkpoint path (.zip / .pt), or ``random`` / ``expert`` for reference rows"""
    env_id: str = "domrand/Push-v0"
    preset: str | None = None
    """randomization preset of the evaluation envs (name or .yaml path); None: nominal"""
    episodes: int = 100
    seed: int = 0
    num_envs: int = 1

    def rollout_config(self) -> RolloutConfig:
        """The rollout that this evaluation runs."""
        return RolloutConfig(
            env_id=self.env_id, episodes=self.episodes, policy=self.policy, seed=self.seed,
            num_envs=self.num_envs,
            env_kwargs={} if self.preset is None else {"randomization": self.preset},
        )  # fmt: skip


@dataclass
class EvalReport:
    """Success rate with its Wilson 95% interval, returns and events."""

    policy: str
    env_id: str
    preset: str | None
    episodes: int
    seed: int
    successes: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_return: float
    std_return: float
    mean_length: float
    event_counts: dict[str, int]
    episodes_with_event: dict[str, int]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    def table(self) -> str:
        """Human-readable summary."""
        lines = [
            f"policy         {self.policy}",
            f"env            {self.env_id}",
            f"preset         {self.preset if self.preset is not None else 'none (nominal)'}",
            f"episodes       {self.episodes} (seed {self.seed})",
            f"success rate   {self.success_rate:.3f}  "
            f"[95% CI {self.ci_low:.3f}, {self.ci_high:.3f}]  ({self.successes}/{self.episodes})",
            f"mean return    {self.mean_return:.3f} +- {self.std_return:.3f}",
            f"mean length    {self.mean_length:.1f} steps",
            f"time           {self.seconds:.1f} s",
            "",
            *event_lines(self.event_counts, self.episodes_with_event),
        ]
        return "\n".join(lines)


def evaluate(
    config: EvalConfig, *, progress: bool = True
) -> tuple[EvalReport, list[EpisodeResult]]:
    """Run the seeded evaluation episodes; returns the report and every episode."""
    summary, results = run_rollouts(config.rollout_config(), progress=progress)
    successes = sum(r.success for r in results)
    low, high = wilson_interval(successes, len(results))
    report = EvalReport(
        policy=config.policy,
        env_id=config.env_id,
        preset=config.preset,
        episodes=len(results),
        seed=config.seed,
        successes=successes,
        success_rate=summary.success_rate,
        ci_low=low,
        ci_high=high,
        mean_return=summary.mean_return,
        std_return=summary.std_return,
        mean_length=summary.mean_length,
        event_counts=summary.event_counts,
        episodes_with_event=summary.episodes_with_event,
        seconds=summary.seconds,
    )
    return report, results
