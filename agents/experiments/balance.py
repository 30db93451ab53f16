"""Rare-event balancing runs: rollouts, SMOTE proposals in parameter space, re-simulation."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.episodes import EpisodeResult, labels_for
from agents.policies.contract import is_checkpoint
from agents.policies.loading import policy_meta
from agents.rollout import POLICIES, RolloutConfig, run_rollouts
from envs.events import check_event
from envs.files import write_atomic
from randomizers.compose import Compose
from randomizers.rare_events import BalanceReport, proposals_needed, propose


@dataclass(frozen=True)
class BalanceConfig:
    """What to balance."""

    env_id: str = "domrand/Lift-v0"
    preset: str = "slippery"
    policy: str = "expert"
    """``random``, ``expert`` or a policy checkpoint path (.zip / .pt)"""
    event: str = "object_dropped"
    rollouts: int = 200
    target_rate: float = 0.5
    k_neighbors: int = 5
    batch: int = 50
    max_rounds: int = 4
    method: str = "auto"
    seed: int = 0
    num_envs: int = 1

    def __post_init__(self) -> None:
        check_event(self.event)
        if is_checkpoint(self.policy):
            policy_meta(self.policy).check(env_id=self.env_id)
        elif self.policy not in POLICIES:
            raise ValueError(
                f"unknown policy {self.policy!r}; allowed: {', '.join(POLICIES)} or a "
                f"checkpoint path (.zip / .pt)"
            )
        if not 0 < self.target_rate < 1:
            raise ValueError(f"target_rate must be in (0, 1), got {self.target_rate}")
        for name in ("rollouts", "batch", "max_rounds", "k_neighbors"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def episode_space(env_id: str, preset: str) -> Compose:
    """The declared params of a whole episode: the preset's and the task's initial state."""
    import gymnasium as gym

    env = gym.make(env_id, randomization=preset)
    try:
        return env.unwrapped.episode_space()  # type: ignore[attr-defined, no-any-return]
    finally:
        env.close()


def _rollouts(
    config: BalanceConfig, n: int, seed: int, params: Any, progress: bool
) -> list[EpisodeResult]:
    rc = RolloutConfig(
        env_id=config.env_id, episodes=n, policy=config.policy, seed=seed,
        num_envs=config.num_envs, env_kwargs={"randomization": config.preset},
    )  # fmt: skip
    return run_rollouts(rc, progress=progress, randomizations=params)[1]


def balance(
    config: BalanceConfig, *, progress: bool = True
) -> tuple[BalanceReport, list[EpisodeResult], list[EpisodeResult]]:
    """Natural rollouts, then rounds of SMOTE proposals re-simulated until the balanced set
    reaches ``target_rate`` (or ``max_rounds``). Returns the report, the natural episodes
    and the re-simulated ones."""
    compose = episode_space(config.env_id, config.preset)  # SMOTE moves placement too
    natural = _rollouts(config, config.rollouts, config.seed, None, progress)
    resimulated: list[EpisodeResult] = []
    method, rounds = "", 0
    while rounds < config.max_rounds:
        episodes = natural + resimulated
        labels = labels_for(episodes, config.event)
        if labels.mean() >= config.target_rate:
            break
        n = config.batch
        if resimulated:
            rate = labels_for(resimulated, config.event).mean()
            needed = proposals_needed(len(labels), int(labels.sum()), config.target_rate, rate)
            n = needed if needed > 0 else config.batch
        proposals = propose(
            compose, [ep.params for ep in episodes], labels, n, k_neighbors=config.k_neighbors,
            seed=config.seed + rounds, method=config.method, event=repr(config.event),
        )  # fmt: skip
        method = proposals.method
        seed = config.seed + 7919 * (rounds + 1)  # fresh task seeds for the proposals
        resimulated += _rollouts(config, len(proposals.params), seed, proposals.params, progress)
        rounds += 1
    nat = labels_for(natural, config.event)
    prop = labels_for(resimulated, config.event) if resimulated else np.zeros(0)
    both = np.concatenate([nat, prop])
    report = BalanceReport(
        event=config.event,
        natural_rate=float(nat.mean()),
        proposal_rate=float(prop.mean()) if len(prop) else float("nan"),
        balanced_rate=float(both.mean()),
        n_natural=len(nat),
        n_proposals=len(prop),
        method=method or "none needed",
        rounds=rounds,
    )
    return report, natural, resimulated


def save_balanced(
    out: str | Path,
    config: BalanceConfig,
    report: BalanceReport,
    natural: list[EpisodeResult],
    resimulated: list[EpisodeResult],
) -> Path:
    """Write ``episodes.jsonl`` (params, seed, events, label, source) and ``summary.json``
    / ``summary.md``; returns the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for source, eps in (("natural", natural), ("proposal", resimulated)):
        for ep in eps:
            row = {
                "source": source, "index": ep.index, "seed": ep.seed,
                "label": int(ep.events.get(config.event, 0) > 0),
                "success": ep.success, "events": ep.events, "params": ep.params,
            }  # fmt: skip
            lines.append(json.dumps(row) + "\n")
    write_atomic(out / "episodes.jsonl", "".join(lines))
    summary = {"config": asdict(config), "report": asdict(report)}
    write_atomic(out / "summary.json", json.dumps(summary, indent=2))
    write_atomic(
        out / "summary.md",
        f"# Rare-event balancing: {config.event} on {config.env_id} ({config.preset})\n\n"
        f"```\n{report.table()}\n```\n",
    )
    return out
