"""Train an event predictor on per-step states with and without SMOTE; print both rows.

Example:
    python scripts/train_failure_predictor.py --env domrand/Lift-v0 --preset slippery \
        --event object_dropped --episodes 400 --horizon 5
"""

from __future__ import annotations

import argparse
import json
import sys

from agents.cli.args import EnvIdAction, env_help
from agents.failure_predictor import collect_steps, evaluate
from agents.rollout import POLICIES
from randomizers.errors import PresetError


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--env", default="domrand/Lift-v0", action=EnvIdAction, metavar="ENV",
                   help=env_help())  # fmt: skip
    p.add_argument("--preset", default="slippery")
    p.add_argument("--policy", default="expert", choices=POLICIES)
    p.add_argument("--event", default="object_dropped")
    p.add_argument("--episodes", type=int, default=400)
    p.add_argument("--horizon", type=int, default=5, help="predict the event within k steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        data = collect_steps(
            args.env, args.preset, args.event, episodes=args.episodes, horizon=args.horizon,
            policy=args.policy, seed=args.seed, progress=not args.no_progress,
        )  # fmt: skip
        rows = {
            "without SMOTE": evaluate(data, use_smote=False, seed=args.seed),
            "with SMOTE": evaluate(data, use_smote=True, seed=args.seed),
        }
    except (ValueError, PresetError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'':16}{'recall':>10}{'bal. acc.':>12}{'PR-AUC':>10}{'train +':>10}{'test +':>9}")
    for name, r in rows.items():
        print(f"{name:16}{r['recall']:>10.3f}{r['balanced_accuracy']:>12.3f}{r['pr_auc']:>10.3f}"
              f"{r['train_positives']:>10}{r['test_positives']:>9}")  # fmt: skip
    return 0

