"""Balance a rare event by SMOTE in randomization-parameter space, with re-simulation.

Prints the event's natural rate, its rate among the re-simulated proposals and in the
final balanced set, and writes the balanced episodes' params to OUT/episodes.jsonl.

Example:
    python scripts/balance_rare_events.py --env domrand/Lift-v0 --preset slippery \
        --policy expert --event object_dropped --rollouts 300 --target-rate 0.3 --out runs/drops
"""

from __future__ import annotations

import argparse
import sys

from agents.cli.args import EnvIdAction, env_help
from agents.experiments.balance import BalanceConfig, balance, save_balanced
from agents.outputs import check_output_dir
from agents.rollout import POLICIES
from agents.vector import VectorEnvWorkerError, check_image_size
from envs.events import EVENT_NAMES
from randomizers.errors import PresetError


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--env", default="domrand/Lift-v0", action=EnvIdAction, metavar="ENV",
                   help=env_help())  # fmt: skip
    p.add_argument("--preset", default="slippery", help="preset name or .yaml path")
    p.add_argument(
        "--policy",
        default="expert",
        metavar="|".join((*POLICIES, "CKPT")),
        help="who acts: random, expert, or a checkpoint path (.zip SB3, .pt behaviour cloning)",
    )
    p.add_argument("--event", default="object_dropped", help=f"one of {', '.join(EVENT_NAMES)}")
    p.add_argument("--rollouts", type=int, default=200, help="natural rollouts")
    p.add_argument("--target-rate", type=float, default=0.5, help="event rate to reach")
    p.add_argument("--k-neighbors", type=int, default=5, help="SMOTE neighbours")
    p.add_argument("--batch", type=int, default=50, help="proposals in the first round")
    p.add_argument("--max-rounds", type=int, default=4, help="proposal rounds at most")
    p.add_argument("--method", default="auto", choices=["auto", "smote", "borderline"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-envs", type=int, default=1, help="parallel envs")
    p.add_argument("--out", default="runs/balance", help="output folder")
    p.add_argument(
        "--export",
        default=None,
        metavar="DIR",
        help="also export an image dataset of the balanced episodes into DIR",
    )
    p.add_argument("--size", type=int, default=128, help="image size for --export")
    p.add_argument("--workers", type=int, default=1, help="export processes for --export")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        config = BalanceConfig(
            env_id=args.env, preset=args.preset, policy=args.policy, event=args.event,
            rollouts=args.rollouts, target_rate=args.target_rate, k_neighbors=args.k_neighbors,
            batch=args.batch, max_rounds=args.max_rounds, method=args.method, seed=args.seed,
            num_envs=args.num_envs,
        )  # fmt: skip
        check_output_dir(args.out)  # before the rollouts, not after them
        if args.export:
            check_image_size(args.size, "--size")
            if args.workers < 1:
                raise ValueError(f"--workers must be >= 1, got {args.workers}")
            check_output_dir(args.export, flag="--export")
        report, natural, resimulated = balance(config, progress=not args.no_progress)
    except (ValueError, PresetError, ImportError, VectorEnvWorkerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = save_balanced(args.out, config, report, natural, resimulated)
    print(report.table())
    print(f"\nwrote {out / 'episodes.jsonl'} and {out / 'summary.md'}")
    if args.export:
        from envs.dataset.config import ExportConfig, ExportError
        from envs.dataset.export import export_dataset

        n = len(natural) + len(resimulated)
        try:
            dataset = export_dataset(
                ExportConfig(
                    env_id=args.env, preset=args.preset, num_images=n, size=args.size,
                    out=args.export, workers=args.workers,
                    episodes_file=str(out / "episodes.jsonl"),
                ),
                progress=not args.no_progress,
            )  # fmt: skip
        except (ValueError, ExportError) as exc:
            print(f"error: --export: {exc}", file=sys.stderr)
            return 2
        print(f"exported {n} images of the balanced episodes to {dataset}")
    return 0

