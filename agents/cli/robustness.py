"""Does physics randomization buy robustness? Train one policy at nominal physics and one
with the `physics` preset (or pass existing checkpoints), evaluate both on nominal and on
held-out shifted dynamics, and write a Markdown table and a bar chart.

Writes OUT/robustness.md, OUT/robustness.json and OUT/robustness.png and prints the table.

Examples:
    python scripts/robustness.py --env domrand/Push-v0 --steps 100000 --num-envs 4 \
        --demos 200 --pretrain-steps 5000 --bc-weight 1 --episodes 200 --out runs/robustness
    python scripts/robustness.py --checkpoint none=runs/push_none.zip \
        --checkpoint physics=runs/push_physics.zip --episodes 200
"""

from __future__ import annotations

import argparse
import sys

from agents.cli.args import EnvIdAction, env_help
from agents.cli.train_policy import parse_hyperparams
from agents.experiments.robustness import RobustnessConfig, run_robustness
from agents.outputs import check_output_dir
from agents.policies.loading import policy_meta
from agents.rl.config import ALGOS, TrainConfig
from agents.vector import VectorEnvWorkerError
from randomizers.errors import PresetError


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--env", default="domrand/Push-v0", action=EnvIdAction, metavar="ENV",
                   help=env_help())  # fmt: skip
    p.add_argument("--train-presets", nargs="+", default=["none", "physics"])
    p.add_argument("--eval-presets", nargs="+", default=["none", "shifted_dynamics"])
    p.add_argument(
        "--checkpoint", action="append", default=[], metavar="PRESET=CKPT",
        help="use this checkpoint for the policy of a training preset instead of training",
    )  # fmt: skip
    p.add_argument("--algo", default="sac", choices=ALGOS)
    p.add_argument("--steps", type=int, default=100_000, help="training env steps per policy")
    p.add_argument("--num-envs", type=int, default=4, help="training envs")
    p.add_argument("--demos", type=int, default=200, help="SAC: expert demo episodes")
    p.add_argument("--pretrain-steps", type=int, default=5000, help="SAC: BC + critic warm-up")
    p.add_argument("--bc-weight", type=float, default=1.0, help="SAC: Q-filtered BC weight")
    p.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--episodes", type=int, default=100, help="evaluation episodes per cell")
    p.add_argument("--eval-seed", type=int, default=1000, help="evaluation run seed")
    p.add_argument("--eval-envs", type=int, default=1, help="parallel evaluation envs")
    p.add_argument("--no-expert", action="store_true", help="leave out the expert reference row")
    p.add_argument("--out", default="runs/robustness", help="output folder")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        checkpoints = {}
        for item in args.checkpoint:
            preset, sep, path = item.partition("=")
            if not sep or not preset or not path:
                raise ValueError(f"--checkpoint expects PRESET=PATH, got {item!r}")
            checkpoints[preset] = path
        needs_training = any(p not in checkpoints for p in args.train_presets)
        train = TrainConfig(
            env_id=args.env, algo=args.algo, steps=args.steps, num_envs=args.num_envs,
            seed=args.seed, demos=args.demos if args.algo == "sac" else 0,
            pretrain_steps=args.pretrain_steps if args.algo == "sac" else 0,
            bc_weight=args.bc_weight if args.algo == "sac" else 0.0,
            hyperparams=parse_hyperparams(args.hp), tensorboard=needs_training,
        )  # fmt: skip
        config = RobustnessConfig(
            train=train, train_presets=tuple(args.train_presets),
            eval_presets=tuple(args.eval_presets), checkpoints=checkpoints,
            episodes=args.episodes, eval_seed=args.eval_seed, num_envs=args.eval_envs,
            expert_reference=not args.no_expert, out=args.out,
        )  # fmt: skip
        from randomizers.presets import load_preset

        for preset in args.train_presets:
            if preset not in checkpoints:
                load_preset(preset)  # a bad training preset fails now, not after other runs
        for path in checkpoints.values():
            policy_meta(path).check(env_id=args.env)  # a wrong checkpoint fails before training
        check_output_dir(args.out)
        result = run_robustness(config, progress=not args.no_progress)
    except (ValueError, PresetError, ImportError, VectorEnvWorkerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = result.save()
    print(result.markdown())
    print(f"\nwrote {out / 'robustness.md'}, robustness.json and robustness.png")
    return 0

