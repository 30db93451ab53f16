"""Dynamics robustness: policies trained with and without physics randomization, each
evaluated on nominal and on held-out shifted dynamics (the sim-to-real stand-in).

Every policy faces the same seeded episodes in each evaluation preset (episode ``i`` seeded
from ``(eval_seed, i)``), so differences come from the policies, not from the draws.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from agents.experiments.evaluation import EvalConfig, EvalReport, evaluate
from agents.plots import bar_chart
from agents.policies.loading import policy_meta
from agents.rl.config import TrainConfig
from agents.rl.train import train
from envs.files import write_atomic


@dataclass(frozen=True)
class RobustnessConfig:
    """What to train and evaluate."""

    train: TrainConfig = field(default_factory=TrainConfig)
    """template for every training run (its ``preset`` and ``out`` are replaced)"""
    train_presets: tuple[str, ...] = ("none", "physics")
    """one policy per training preset"""
    eval_presets: tuple[str, ...] = ("none", "shifted_dynamics")
    """evaluation presets (the columns of the table)"""
    checkpoints: dict[str, str] = field(default_factory=dict)
    """training preset -> an existing checkpoint to use instead of training one"""
    episodes: int = 100
    """evaluation episodes per (policy, preset)"""
    eval_seed: int = 1000
    """evaluation run seed (distinct from training seeds)"""
    num_envs: int = 1
    """parallel evaluation envs"""
    expert_reference: bool = True
    """add the scripted expert as a reference row"""
    out: str = "runs/robustness"
    """output folder: checkpoints, robustness.md / .json / .png"""

    def __post_init__(self) -> None:
        if not self.train_presets or not self.eval_presets:
            raise ValueError("train_presets and eval_presets must each name at least one preset")
        unknown = sorted(set(self.checkpoints) - set(self.train_presets))
        if unknown:
            raise ValueError(
                f"checkpoints given for {unknown}, which are not training presets "
                f"{list(self.train_presets)}; use PRESET=PATH with PRESET in that list"
            )
        if self.episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {self.episodes}")
        from randomizers.presets import load_preset

        for preset in self.eval_presets:
            load_preset(preset)

    def checkpoint_for(self, preset: str) -> Path:
        """The checkpoint used for the policy trained with ``preset``."""
        if preset in self.checkpoints:
            return Path(self.checkpoints[preset])
        stem = Path(self.train.env_id.split("/")[-1]).stem.lower()
        return Path(self.out) / f"{stem}_{self.train.algo}_{Path(preset).stem}.zip"


@dataclass
class Row:
    """One policy evaluated on every evaluation preset."""

    label: str
    checkpoint: str | None
    train_seconds: float | None
    reports: dict[str, EvalReport]


@dataclass
class RobustnessResult:
    """The table's rows and where the files went."""

    config: RobustnessConfig
    rows: list[Row]

    def markdown(self) -> str:
        """The result as a Markdown table: success [95% CI] and mean return per preset."""
        presets = self.config.eval_presets
        head = (
            "| policy | "
            + " | ".join(f"success on `{p}` [95% CI] | return on `{p}`" for p in presets)
            + " |"
        )
        sep = "|---|" + "|".join("---:|---:" for _ in presets) + "|"
        lines = [head, sep]
        for row in self.rows:
            cells = []
            for p in presets:
                r = row.reports[p]
                cells.append(f"{r.success_rate:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]")
                cells.append(f"{r.mean_return:.1f}")
            lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
        n = self.config.episodes
        lines.append("")
        lines.append(
            f"{n} episodes per cell, the same seeded episodes for every policy "
            f"(seed {self.config.eval_seed}); 95% CI: Wilson score interval."
        )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "config": _jsonable(asdict(self.config)),
            "rows": [
                {"label": r.label, "checkpoint": r.checkpoint, "train_seconds": r.train_seconds,
                 "reports": {p: rep.as_dict() for p, rep in r.reports.items()}}
                for r in self.rows
            ],
        }  # fmt: skip

    def save(self) -> Path:
        """Write ``robustness.md``, ``robustness.json`` and ``robustness.png``; returns the folder."""
        out = Path(self.config.out)
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "robustness.md", self.markdown() + "\n")
        write_atomic(out / "robustness.json", json.dumps(self.as_dict(), indent=2))
        presets = list(self.config.eval_presets)
        chart = bar_chart(
            presets,
            {r.label.replace("`", ""): [100 * r.reports[p].success_rate for p in presets]
             for r in self.rows},
            errors={r.label.replace("`", ""): [
                [100 * (r.reports[p].success_rate - r.reports[p].ci_low) for p in presets],
                [100 * (r.reports[p].ci_high - r.reports[p].success_rate) for p in presets]]
                for r in self.rows},
            error_label="95% Wilson interval",
            title=f"{self.config.train.env_id}: success rate by evaluation preset",
            ylabel="success rate (%)",
        )  # fmt: skip
        chart.save(out / "robustness.png")
        return out


def run_robustness(config: RobustnessConfig, *, progress: bool = True) -> RobustnessResult:
    """Train (or reuse) one policy per training preset, evaluate each on every evaluation
    preset, and add the scripted expert as a reference row."""
    rows: list[Row] = []
    for preset in config.train_presets:
        path = config.checkpoint_for(preset)
        seconds: float | None = None
        if preset not in config.checkpoints:
            result = train(replace(config.train, preset=preset, out=str(path)), progress=progress)
            seconds = result.seconds
        label = f"{policy_meta(path).algo.upper()} trained on `{preset}`"
        rows.append(Row(label, str(path), seconds, _evaluate_all(config, str(path), progress)))
    if config.expert_reference:
        from agents.policies.experts import EXPERTS

        if config.train.env_id in EXPERTS:
            reports = _evaluate_all(config, "expert", progress)
            rows.append(Row("scripted expert (reference)", None, None, reports))
    return RobustnessResult(config, rows)


def _evaluate_all(config: RobustnessConfig, policy: str, progress: bool) -> dict[str, EvalReport]:
    out = {}
    for preset in config.eval_presets:
        eval_config = EvalConfig(
            policy=policy, env_id=config.train.env_id, preset=preset, episodes=config.episodes,
            seed=config.eval_seed, num_envs=config.num_envs,
        )  # fmt: skip
        out[preset] = evaluate(eval_config, progress=progress)[0]
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
