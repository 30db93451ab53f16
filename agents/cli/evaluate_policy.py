"""Evaluate a policy checkpoint on seeded episodes of an env and preset.

Prints the success rate with a Wilson 95% confidence interval, the mean return and the
episode events. Episode i is seeded from (seed, i), so two checkpoints evaluated with the
same seed face the same episodes.

Example:
    python scripts/evaluate_policy.py --model runs/push_physics.zip --env domrand/Push-v0 \
        --preset shifted_dynamics --episodes 200
"""

from __future__ import annotations

import argparse
import json
import sys

from agents.cli.args import EnvIdAction, env_help
from agents.experiments.evaluation import EvalConfig, evaluate
from agents.vector import VectorEnvWorkerError
from randomizers.errors import PresetError


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument(
        "--model", required=True, metavar="CKPT|random|expert",
        help="checkpoint (.zip SB3, .pt behaviour cloning), or random / expert for reference",
    )  # fmt: skip
    p.add_argument("--env", default=None, action=EnvIdAction, metavar="ENV",
                   help=env_help("default: the checkpoint's"))  # fmt: skip
    p.add_argument("--preset", default="none", help="randomization preset name or .yaml path")
    p.add_argument("--episodes", type=int, default=100, help="number of episodes")
    p.add_argument("--seed", type=int, default=0, help="run seed; episode i uses (seed, i)")
    p.add_argument("--num-envs", type=int, default=1, help="parallel envs (AsyncVectorEnv)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        env_id = args.env
        if env_id is None:
            from agents.policies.contract import is_checkpoint
            from agents.policies.loading import policy_meta

            if not is_checkpoint(args.model):
                raise ValueError(f"--env is required with --model {args.model}")
            env_id = policy_meta(args.model).env_id
        config = EvalConfig(
            policy=args.model, env_id=env_id, preset=args.preset, episodes=args.episodes,
            seed=args.seed, num_envs=args.num_envs,
        )  # fmt: skip
        config.rollout_config()  # validates policy, env and obs mode before anything runs
        from randomizers.presets import load_preset

        load_preset(args.preset)
        report, _ = evaluate(config, progress=not args.no_progress)
    except (ValueError, PresetError, ImportError, VectorEnvWorkerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict()) if args.json else report.table())
    return 0

