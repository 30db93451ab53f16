"""Does visual randomization make image behaviour cloning transfer? For each task: record
expert demonstrations with and without the ``tobin`` preset, train the same BC network on
each, and evaluate both on the held-out ``target`` domain (and on the training look)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agents.demos import load_demonstrations, record_demonstrations
from agents.experiments.evaluation import EvalConfig, evaluate
from agents.policies.bc import OBS_MODE, BCConfig, check_bc_image_size, save_bc, train_bc
from agents.policies.contract import PolicyMeta
from envs.files import write_atomic

TRAIN_PRESETS = ("tobin", None)
EVAL_PRESETS = ("target", "target_camera_shift", None)


@dataclass(frozen=True)
class TransferConfig:
    """Budgets of the comparison."""

    out: str = "runs/bc_transfer"
    tasks: tuple[str, ...] = ("domrand/Reach-v0", "domrand/Push-v0")
    demos: tuple[int, ...] = (300, 200)  # expert episodes per task
    eval_episodes: int = 50
    image_size: int = 64
    epochs: int = 30
    seed: int = 0

    def __post_init__(self) -> None:
        from agents.policies.experts import EXPERTS
        from agents.vector import check_image_size

        if not self.tasks:
            raise ValueError(f"tasks must name at least one env id; allowed: {', '.join(EXPERTS)}")
        unknown = [t for t in self.tasks if t not in EXPERTS]
        if unknown:
            raise ValueError(
                f"unknown task(s) {unknown}: expert demonstrations exist for {', '.join(EXPERTS)}"
            )
        if len(self.demos) != len(self.tasks):
            raise ValueError(
                f"demos ({len(self.demos)}) needs one count per task ({len(self.tasks)})"
            )
        if min(self.demos) < 1 or self.eval_episodes < 1 or self.epochs < 1:
            raise ValueError("demos, eval_episodes and epochs must be >= 1")
        check_image_size(self.image_size)
        check_bc_image_size(self.image_size)


def _name(preset: str | None) -> str:
    return preset or "none"


def dataset_id(env_id: str, preset: str | None, config: TransferConfig, episodes: int) -> str:
    """A Minari id that names everything the recording depends on."""
    task = env_id.split("/")[-1].split("-")[0].lower()
    return f"domrand/{task}-expert-{_name(preset)}-{config.image_size}px-{episodes}ep-s{config.seed}-v0"


def run_transfer(
    config: TransferConfig,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Record, train, evaluate; write ``table.md`` and ``results.json`` into ``config.out``."""
    import minari

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for env_id, n_demos in zip(config.tasks, config.demos, strict=True):
        for train_preset in TRAIN_PRESETS:
            did = dataset_id(env_id, train_preset, config, n_demos)
            if did not in minari.list_local_datasets():
                record_demonstrations(env_id, did, episodes=n_demos, preset=train_preset,
                                      image_size=config.image_size, seed=config.seed,
                                      progress=progress)  # fmt: skip
            demos = load_demonstrations(did)
            meta = PolicyMeta(kind="bc", algo="bc", env_id=env_id, preset=train_preset,
                              obs_mode=OBS_MODE, image_size=config.image_size,
                              extra={"dataset": did})  # fmt: skip
            t0 = time.perf_counter()
            policy = train_bc(demos, BCConfig(epochs=config.epochs, seed=config.seed), meta,
                              progress=progress)  # fmt: skip
            train_s = time.perf_counter() - t0
            ckpt = save_bc(policy, out / f"{env_id.split('/')[-1]}_{_name(train_preset)}.pt")
            for eval_preset in EVAL_PRESETS:
                report, _ = evaluate(
                    EvalConfig(policy=str(ckpt), env_id=env_id, preset=eval_preset,
                               episodes=config.eval_episodes, seed=10_000 + config.seed),
                    progress=progress,
                )  # fmt: skip
                lo, hi = report.ci_low, report.ci_high
                row = {"env_id": env_id, "trained_on": _name(train_preset),
                       "evaluated_on": _name(eval_preset), "success_rate": report.success_rate,
                       "ci95": [lo, hi], "episodes": report.episodes, "demo_steps": int(demos.images.shape[0]),
                       "train_s": round(train_s, 1), "checkpoint": str(ckpt)}  # fmt: skip
                rows.append(row)
                log(f"{env_id} trained on {row['trained_on']:<6} evaluated on "
                    f"{row['evaluated_on']:<6}: success {report.success_rate:.2f} "
                    f"[{lo:.2f}, {hi:.2f}]")  # fmt: skip
    results = {"config": asdict(config), "rows": rows, "wall_s": time.perf_counter() - t_start}
    write_atomic(out / "results.json", json.dumps(results, indent=1))
    write_atomic(out / "table.md", markdown_table(results))
    return results


def markdown_table(results: dict[str, Any]) -> str:
    """Success rates with 95% Wilson intervals, one row per task and training data."""
    lines = ["| task | demonstrations | success on `target` | on `target_camera_shift` "
             "| on nominal visuals |", "|---|---|---:|---:|---:|"]  # fmt: skip
    by = {(r["env_id"], r["trained_on"], r["evaluated_on"]): r for r in results["rows"]}
    pairs = dict.fromkeys((env, trained) for env, trained, _ in by)
    for env_id, trained in pairs:
        cells = []
        for ev in ("target", "target_camera_shift", "none"):
            r = by.get((env_id, trained, ev))
            if r is None:  # results written before target_camera_shift was evaluated
                cells.append("-")
                continue
            cells.append(f"{r['success_rate']:.2f} [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]")
        label = "randomized (`tobin`)" if trained == "tobin" else "nominal visuals"
        lines.append(f"| {env_id} | {label} | " + " | ".join(cells) + " |")
    n = results["rows"][0]["episodes"] if results["rows"] else 0
    lines += ["", f"Success rate over {n} episodes each, 95% Wilson interval; whole run "
                  f"{results['wall_s'] / 60:.1f} min."]  # fmt: skip
    return "\n".join(lines) + "\n"
